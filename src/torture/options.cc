#include "torture/options.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>

#include "common/shlex.h"
#include "torture/faults.h"

namespace pgw::torture {

std::string TortureUsage() {
  std::string faults;
  for (const auto& f : SandboxFaultNames()) faults += (faults.empty() ? "" : " | ") + f;
  return "usage: pgwardenctl torture --sandbox DIR --fault NAME[,NAME...] [options]\n"
         "       pgwardenctl torture --dsn DSN --fault-cmd CMD [--recover-cmd CMD] [--health-cmd CMD] [options]\n"
         "N writers insert uniquely numbered rows through the DSN into a table, recording which server (system\n"
         "identifier, timeline, address) acknowledged each one and when. Each round: writes steady, the fault,\n"
         "writes resuming (the downtime), recovery, the cluster healthy again; then every acknowledged row must be\n"
         "on the current primary (lost), none twice (duplicates), and no two servers may have accepted writes at\n"
         "the same time (split brain). Exit 0: passed; 1: split brain, duplicates, or lost rows in synchronous\n"
         "mode; 2: bad arguments; 3: a round could not be completed (see its errors).\n"
         "  --sandbox DIR        a sandbox (pgwardenctl sandbox up); when DIR holds none, one is started there\n"
         "                       (3 nodes, ttl 5, etcd through forwarders) and taken down at the end\n"
         "  --fault NAME         built-in, on the sandbox's leader: " +
         faults +
         "\n"
         "                       (a comma-separated list rotates across rounds)\n"
         "  --dsn DSN            libpq keyword/value string the writers use: the router's write port, a multi-host\n"
         "                       string with target_session_attrs=read-write, or a node (default for a sandbox:\n"
         "                       its router, else all its nodes)\n"
         "  --fault-cmd CMD      any cluster: a command that injects the fault (split into words, no shell)\n"
         "  --recover-cmd CMD    run after the hold, or once writes resumed\n"
         "  --health-cmd CMD     with --dsn: run until it exits 0 to decide the cluster is healthy (default: the\n"
         "                       DSN reaches a primary)\n"
         "  --rounds R           rounds (default 1, at most 1000)\n"
         "  --writers N          concurrent writers (default 4, at most 64)\n"
         "  --interval MS        pause between a writer's inserts (default 10)\n"
         "  --reconnect-every MS writer i of N opens a fresh connection every MS * (1 + i/N), so that writers move\n"
         "                       between servers at different moments (default 1000; 0: only after a failure)\n"
         "  --table NAME         default pgwarden_torture (created when missing; rows are never deleted)\n"
         "  --hold S             keep the fault S seconds before recovering (default: the fault's own; for\n"
         "                       --fault-cmd, recover once writes resume)\n"
         "  --steady S           writes flowing before the fault (default 2)\n"
         "  --resume-timeout S   bound on writes resuming (default 120)\n"
         "  --heal-timeout S     bound on the cluster becoming healthy (default 120)\n"
         "  --command-timeout S  bound on each --fault-cmd / --recover-cmd run (default 60)\n"
         "  --sync               a started sandbox runs synchronous_mode; every round counts lost rows as failures\n"
         "                       (otherwise a round is synchronous when the primary's synchronous_standby_names is\n"
         "                       set as it begins)\n"
         "  --json FILE          one object per round and a summary\n"
         "  --keep               keep the directory of a sandbox this run started (it is always stopped; its\n"
         "                       directory is kept anyway when a round fails)\n";
}

Result<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  std::map<std::string, bool> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return o;
    }
    if (seen[flag] && flag.rfind("--", 0) == 0) return InvalidArgument(flag + " is given twice");
    seen[flag] = true;
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return InvalidArgument(flag + " needs a value");
      return args[++i];
    };
    auto number = [&](long lo, long hi, const char* unit) -> Result<long> {
      auto v = value();
      if (!v.ok()) return v.status();
      char* end = nullptr;
      long n = std::strtol(v->c_str(), &end, 10);
      if (v->empty() || *end != 0 || n < lo || n > hi) {
        return InvalidArgument(flag + " must be a whole number of " + unit + " from " + std::to_string(lo) + " to " +
                               std::to_string(hi) + ", got '" + *v + "'");
      }
      return n;
    };
    auto command = [&]() -> Result<std::vector<std::string>> {
      auto v = value();
      if (!v.ok()) return v.status();
      auto words = SplitCommandLine(*v);
      if (!words.ok()) return InvalidArgument(flag + ": " + words.status().message());
      return *words;
    };
    auto seconds = [&](long lo, long hi) -> Result<Duration> {
      auto n = number(lo, hi, "seconds");
      if (!n.ok()) return n.status();
      return Duration(*n * 1000);
    };
    Status st = Status::Ok();
    auto take = [&](auto result, auto& into) {
      if (result.ok())
        into = *result;
      else
        st = result.status();
    };
    if (flag == "--sandbox") {
      take(value(), o.sandbox_dir);
    } else if (flag == "--dsn") {
      take(value(), o.dsn);
    } else if (flag == "--table") {
      take(value(), o.table);
    } else if (flag == "--fault") {
      std::string list;
      take(value(), list);
      for (size_t p = 0; st.ok() && p <= list.size();) {
        size_t c = list.find(',', p);
        std::string f = list.substr(p, c == std::string::npos ? std::string::npos : c - p);
        const auto& names = SandboxFaultNames();
        if (std::find(names.begin(), names.end(), f) == names.end()) {
          std::string known;
          for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
          st = InvalidArgument("--fault: unknown fault '" + f + "' (known: " + known + ")");
        }
        o.faults.push_back(f);
        if (c == std::string::npos) break;
        p = c + 1;
      }
    } else if (flag == "--fault-cmd") {
      take(command(), o.fault_cmd);
    } else if (flag == "--recover-cmd") {
      take(command(), o.recover_cmd);
    } else if (flag == "--health-cmd") {
      take(command(), o.health_cmd);
    } else if (flag == "--rounds") {
      take(number(1, 1000, "rounds"), o.rounds);
    } else if (flag == "--writers") {
      take(number(1, 64, "writers"), o.writers);
    } else if (flag == "--interval") {
      long ms = 0;
      take(number(0, 10000, "milliseconds"), ms);
      o.interval = Duration(ms);
    } else if (flag == "--reconnect-every") {
      long ms = 0;
      take(number(0, 3600000, "milliseconds"), ms);
      o.reconnect_every = Duration(ms);
    } else if (flag == "--hold") {
      Duration d{0};
      take(seconds(0, 3600), d);
      o.hold = d;
    } else if (flag == "--steady") {
      take(seconds(1, 3600), o.steady);
    } else if (flag == "--resume-timeout") {
      take(seconds(1, 3600), o.resume_timeout);
    } else if (flag == "--heal-timeout") {
      take(seconds(1, 3600), o.heal_timeout);
    } else if (flag == "--command-timeout") {
      take(seconds(1, 3600), o.command_timeout);
    } else if (flag == "--json") {
      take(value(), o.json_path);
    } else if (flag == "--sync") {
      o.sync = true;
    } else if (flag == "--keep") {
      o.keep = true;
    } else {
      st = InvalidArgument("unknown option '" + flag + "' (see pgwardenctl torture --help)");
    }
    if (!st.ok()) return st;
  }
  if (o.sandbox_dir.empty() && o.dsn.empty()) return InvalidArgument("give --sandbox DIR or --dsn DSN");
  if (!o.faults.empty() && !o.fault_cmd.empty()) return InvalidArgument("give --fault or --fault-cmd, not both");
  if (o.faults.empty() && o.fault_cmd.empty()) {
    return InvalidArgument("no fault: give --fault NAME (with --sandbox) or --fault-cmd CMD");
  }
  if (!o.faults.empty() && o.sandbox_dir.empty()) {
    return InvalidArgument(
        "--fault acts on a sandbox's processes and needs --sandbox DIR; for another cluster use "
        "--fault-cmd CMD");
  }
  if (!o.recover_cmd.empty() && o.fault_cmd.empty()) return InvalidArgument("--recover-cmd needs --fault-cmd");
  if (!o.health_cmd.empty() && !o.sandbox_dir.empty()) {
    return InvalidArgument("--health-cmd is for a cluster given by --dsn; a sandbox's health comes from its agents");
  }
  if (o.dsn.rfind("postgres://", 0) == 0 || o.dsn.rfind("postgresql://", 0) == 0) {
    return InvalidArgument("--dsn takes a libpq keyword/value string (host=... port=... user=...), not a URI");
  }
  if (o.table.empty()) return InvalidArgument("--table needs a name");
  return o;
}

}  // namespace pgw::torture
