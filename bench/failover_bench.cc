// Failover benchmark: how long writes are unavailable when the leader's machine dies, measured by a client that
// writes through a libpq multi-host connection string (target_session_attrs=read-write), and how many
// acknowledged rows the new primary does not have (asynchronous replication can lose some).
//
// Runs pgwarden with its fast profile and with Patroni's timing, and, as the baseline, the real Patroni from
// Debian's `patroni` package when it is installed, started on the very same configuration files. Each system
// gets a fresh sandbox; every round crash-kills the current leader (agent, fence supervisor, postmaster), waits
// for writes to resume, then restarts the dead node and waits until it streams again.
//
//   failover_bench [--rounds N] [--dir DIR] [--no-patroni]
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/process.h"
#include "ctl/probe.h"
#include "ctl/sandbox.h"
#include "pg/libpq.h"

namespace pgw {
namespace {

using Json = nlohmann::json;

MonoTime Now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

bool WaitUntil(Duration timeout, const std::function<bool()>& cond) {
  MonoTime end = Now() + timeout;
  while (Now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

std::string Query(const std::string& conninfo, const std::string& sql) {
  PgConnection c;
  if (!c.Connect(conninfo, Duration(3000)).ok()) return "";
  auto r = c.Query(sql);
  if (!r.ok() || r->empty() || !r->front()[0]) return "";
  return *r->front()[0];
}

struct System {
  std::string label;
  std::string binary;
  int ttl, loop_wait, retry_timeout;
};

struct Round {
  Duration gap{0};
  size_t lost = 0;
  size_t acked = 0;
};

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

class Bench {
 public:
  Bench(System sys, std::string dir, Logger& log) : sys_(std::move(sys)), dir_(std::move(dir)), log_(log) {}

  Status Start() {
    SandboxSpec spec;
    spec.dir = dir_;
    spec.nodes = 3;
    spec.scope = "bench";
    spec.pgwarden_bin = sys_.binary;
    spec.ttl = sys_.ttl;
    spec.loop_wait = sys_.loop_wait;
    spec.retry_timeout = sys_.retry_timeout;
    auto sb = Sandbox::Up(spec, log_);
    if (!sb.ok()) return sb.status();
    sb_ = std::make_unique<Sandbox>(std::move(*sb));
    PGW_RETURN_IF_ERROR(sb_->WaitHealthy(Duration(180000)));
    std::string hosts, ports;
    for (const auto& n : sb_->nodes()) {
      hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1");
      ports += (ports.empty() ? "" : ",") + std::to_string(n.pg_port);
    }
    multi_ = "host=" + hosts + " port=" + ports + " user=postgres password=" + Sandbox::kSuperuserPassword +
             " dbname=postgres target_session_attrs=read-write";
    return WriteProbe::CreateTable(multi_, "bench");
  }

  // Keeps the directory (logs) when the run failed.
  void Stop(bool keep) {
    if (sb_) {
      Status s = sb_->Down(!keep);
      if (keep) std::fprintf(stderr, "logs kept in %s\n", dir_.c_str());
      if (!s.ok()) log_.Warn(s.message());
    }
  }

  std::string Leader() {
    for (const auto& n : sb_->nodes()) {
      if (Query(sb_->Conninfo(n.name), "SELECT pg_is_in_recovery()") == "f") return n.name;
    }
    return "";
  }

  long AgentRssKb() {
    long total = 0;
    for (const auto& n : sb_->nodes()) total += RssKb(n.pid);
    return total / static_cast<long>(sb_->nodes().size());
  }

  Result<Round> CrashRound(int64_t first_id) {
    std::string leader = Leader();
    if (leader.empty()) return Unavailable("no writable leader before the round");
    WriteProbe probe(multi_, "bench", first_id, Duration(10));
    probe.Start();
    if (!WaitUntil(Duration(10000), [&] { return probe.Acks().size() >= 20; })) {
      probe.Stop();
      return Unavailable("the probe could not write before the crash");
    }
    const SandboxNode* n = sb_->Node(leader);
    auto pm = sb_->PostmasterPid(leader);
    MonoTime crash = Now();
    kill(n->pid, SIGKILL);
    for (pid_t p : FenceSupervisorsOf(n->data_dir)) kill(p, SIGKILL);
    if (pm) kill(*pm, SIGKILL);
    Status s = sb_->SignalNode(leader, SIGKILL, true, Duration(10000));
    int old_port = n->pg_port;
    bool resumed = WaitUntil(Duration(120000), [&] {
      auto acks = probe.Acks();
      return !acks.empty() && acks.back().at > crash && acks.back().server_port != old_port;
    });
    // One more second of writes on the new primary, so the gap is measured between real acknowledgements.
    MonoTime resumed_at = Now();
    WaitUntil(Duration(1000), [&] { return Now() - resumed_at >= Duration(1000); });
    probe.Stop();
    if (!resumed) return Timeout("writes did not resume within 120 s");
    auto acks = probe.Acks();
    Round r;
    r.acked = acks.size();
    r.gap = WriteProbe::LongestGap(acks, crash - Duration(1000), acks.back().at);
    std::string fresh = Leader();
    auto missing = WriteProbe::Missing(sb_->Conninfo(fresh), "bench", acks);
    if (!missing.ok()) return missing.status();
    r.lost = missing->size();
    // Bring the dead node back and wait until it streams again before the next round.
    PGW_RETURN_IF_ERROR(sb_->StartNode(leader));
    Status h = sb_->WaitHealthy(Duration(180000));
    if (!h.ok()) return h.Context(leader + " did not rejoin");
    return r;
  }

 private:
  System sys_;
  std::string dir_;
  Logger& log_;
  std::unique_ptr<Sandbox> sb_;
  std::string multi_;
};

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string p(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return p.substr(0, p.rfind('/'));
}

int Main(int argc, char** argv) {
  int rounds = 3;
  std::string dir = "/tmp/pgwarden-failover-bench";
  bool patroni = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--no-patroni") patroni = false;
    else {
      std::fprintf(stderr, "usage: failover_bench [--rounds N] [--dir DIR] [--no-patroni]\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 50) {
    std::fprintf(stderr, "failover_bench: --rounds must be between 1 and 50\n");
    return 2;
  }
  Logger log(stderr, LogLevel::kWarning);
  std::string pgwarden = SelfDir() + "/../apps/pgwarden";
  std::vector<System> systems = {{"pgwarden fast (ttl 3, loop 1, retry 1)", pgwarden, 3, 1, 1},
                                 {"pgwarden (ttl 5, loop 1, retry 2)", pgwarden, 5, 1, 2}};
  if (patroni && PathExists("/usr/bin/patroni")) {
    systems.push_back({"Patroni baseline (ttl 5, loop 1, retry 2)", "/usr/bin/patroni", 5, 1, 2});
  } else if (patroni) {
    std::fprintf(stderr, "note: /usr/bin/patroni not found (apt-get install patroni): no Patroni baseline\n");
  }
  struct Summary {
    std::string label;
    std::vector<Round> rounds;
    long rss_kb = 0;
    std::string error;
  };
  std::vector<Summary> out;
  int sys_index = 0;
  for (const auto& sys : systems) {
    Summary sum;
    sum.label = sys.label;
    std::string sdir = dir + "/" + std::to_string(sys_index++);
    RemoveAll(sdir).ok();
    Bench b(sys, sdir, log);
    Status s = b.Start();
    if (!s.ok()) {
      sum.error = s.message();
    } else {
      sum.rss_kb = b.AgentRssKb();
      for (int r = 0; r < rounds; ++r) {
        auto res = b.CrashRound(int64_t{r + 1} * 10000000);
        if (!res.ok()) {
          sum.error = res.status().message();
          break;
        }
        std::fprintf(stderr, "%s round %d: %lld ms without writes, %zu of %zu acknowledged rows lost\n",
                     sys.label.c_str(), r + 1, static_cast<long long>(res->gap.count()), res->lost, res->acked);
        sum.rounds.push_back(*res);
      }
    }
    b.Stop(!sum.error.empty());
    out.push_back(sum);
  }
  auto median = [](std::vector<Round> v) {
    std::sort(v.begin(), v.end(), [](const Round& a, const Round& b) { return a.gap < b.gap; });
    return v.empty() ? Duration(0) : v[v.size() / 2].gap;
  };
  std::printf("\nCrash failover (leader machine killed), writes through a libpq multi-host connection string\n");
  std::printf("%-45s %8s %8s %8s %10s\n", "system", "median", "max", "lost", "agent RSS");
  for (const auto& s : out) {
    if (!s.error.empty()) {
      std::printf("%-45s error: %s\n", s.label.c_str(), s.error.c_str());
      continue;
    }
    Duration mx(0);
    size_t lost = 0;
    for (const auto& r : s.rounds) {
      mx = std::max(mx, r.gap);
      lost += r.lost;
    }
    std::printf("%-45s %6lldms %6lldms %8zu %8ld kB\n", s.label.c_str(), static_cast<long long>(median(s.rounds).count()),
                static_cast<long long>(mx.count()), lost, s.rss_kb);
  }
  if (out.size() >= 3 && out[2].error.empty() && !out[2].rounds.empty()) {
    double base = static_cast<double>(median(out[2].rounds).count());
    for (size_t i = 0; i < 2; ++i) {
      if (!out[i].error.empty() || out[i].rounds.empty()) continue;
      std::printf("%s: %.2fx the baseline's write-unavailable window, %.2fx its agent memory\n", out[i].label.c_str(),
                  static_cast<double>(median(out[i].rounds).count()) / base,
                  static_cast<double>(out[i].rss_kb) / static_cast<double>(std::max(1L, out[2].rss_kb)));
    }
  }
  bool ok = std::all_of(out.begin(), out.end(), [](const Summary& s) { return s.error.empty(); });
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
