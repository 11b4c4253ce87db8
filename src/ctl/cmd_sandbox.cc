// sandbox up|down|status: a local cluster on loopback (testkit/sandbox.h). Unlike the cluster verbs it loads no
// configuration and reads no etcd before it runs, so it is not in the table of command.h.
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "common/config.h"
#include "ctl/ctl.h"
#include "testkit/sandbox.h"

namespace pgw::ctl {

namespace {

// Fills `spec` and `wipe` from the options after the sandbox verb; the message says what is wrong.
Status ParseSandboxOptions(const std::vector<std::string>& args, SandboxSpec* spec, bool* wipe) {
  const std::string& verb = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    auto value = [&](std::string* v) -> Status {
      if (i + 1 >= args.size()) return InvalidArgument(flag + " needs a value");
      *v = args[++i];
      return Status::Ok();
    };
    // A whole number from `lo` to `hi`.
    auto number = [&](int* n, long lo, long hi) -> Status {
      std::string v;
      PGW_RETURN_IF_ERROR(value(&v));
      char* end = nullptr;
      long parsed = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != 0 || parsed < lo || parsed > hi) {
        return InvalidArgument(flag + " must be a number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                               ", got '" + v + "'");
      }
      *n = static_cast<int>(parsed);
      return Status::Ok();
    };
    // Seconds with decimals (retry_timeout: ttl 2 needs 0.5), from `lo` to `hi`.
    auto seconds = [&](double* n, double lo, double hi) -> Status {
      std::string v;
      PGW_RETURN_IF_ERROR(value(&v));
      char* end = nullptr;
      double parsed = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != 0 || !(parsed >= lo && parsed <= hi)) {
        return InvalidArgument(flag + " must be a number of seconds from " + FormatSeconds(lo) + " to " +
                               FormatSeconds(hi) + ", got '" + v + "'");
      }
      *n = parsed;
      return Status::Ok();
    };
    Status st;
    if (flag == "--dir")
      st = value(&spec->dir);
    else if (flag == "--nodes")
      st = number(&spec->nodes, 1, 9);
    else if (flag == "--ttl")
      st = number(&spec->ttl, 1, 3600);
    else if (flag == "--loop-wait")
      st = number(&spec->loop_wait, 1, 3600);
    else if (flag == "--retry-timeout")
      st = seconds(&spec->retry_timeout, 0.1, 3600);
    else if (flag == "--sync")
      spec->extra_dcs = "    synchronous_mode: true\n";
    else if (flag == "--sync-strict")
      spec->extra_dcs = "    synchronous_mode: true\n    synchronous_mode_strict: true\n";
    else if (flag == "--scope")
      st = value(&spec->scope);
    else if (flag == "--user")
      st = value(&spec->run_as);
    else if (flag == "--wipe")
      *wipe = true;
    else if (flag == "--no-router")
      spec->start_router = false;
    else
      st = InvalidArgument("unknown option '" + flag + "' for sandbox " + verb);
    PGW_RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

int Up(const SandboxSpec& spec, FILE* out, FILE* err) {
  Logger log(err);
  auto sb = Sandbox::Up(spec, log);
  if (!sb.ok()) {
    std::fprintf(err, "pgwardenctl: sandbox up failed: %s\n", sb.status().message().c_str());
    auto partial = Sandbox::Load(spec.dir);
    if (partial.ok()) partial->Down(false).ok();
    return 1;
  }
  std::fprintf(err, "waiting for the cluster to become healthy...\n");
  Status s = sb->WaitHealthy(Duration(180000));
  if (!s.ok()) {
    std::fprintf(err,
                 "pgwardenctl: %s\n(the sandbox is left running for inspection; logs under %s; stop it "
                 "with: pgwardenctl sandbox down --dir %s)\n",
                 s.message().c_str(), spec.dir.c_str(), spec.dir.c_str());
    return 1;
  }
  std::fprintf(out, "%s", sb->Describe().c_str());
  std::fprintf(out, "stop with: pgwardenctl sandbox down --dir %s --wipe\n", spec.dir.c_str());
  return 0;
}

int DownOrStatus(const std::string& verb, const std::string& dir, bool wipe, FILE* out, FILE* err) {
  auto sb = Sandbox::Load(dir);
  if (!sb.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", sb.status().message().c_str());
    return 1;
  }
  if (verb == "status") {
    std::fprintf(out, "%s", sb->Describe().c_str());
    return 0;
  }
  Status s = sb->Down(wipe);
  if (!s.ok()) {
    std::fprintf(err, "pgwardenctl: sandbox down: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(out, "sandbox in %s stopped%s\n", dir.c_str(), wipe ? " and removed" : "");
  return 0;
}

constexpr const char* kSandboxUsage =
    "usage: pgwardenctl sandbox up|down|status [options]\n"
    "  up       start etcd, a cluster and pgwarden-router on loopback, wait until healthy, print the ports\n"
    "  status   print the ports and processes of a running sandbox\n"
    "  down     stop everything the sandbox started (--wipe also removes its directory)\n"
    "options:\n"
    "  --dir DIR             sandbox directory (default ./sandbox)\n"
    "  --nodes N             PostgreSQL nodes, 1 to 9 (default 3)\n"
    "  --ttl S --loop-wait S --retry-timeout S   the cluster's timing\n"
    "  --sync | --sync-strict                     synchronous_mode (strict)\n"
    "  --scope NAME          cluster name\n"
    "  --user NAME           OS user for PostgreSQL and the agents (default postgres)\n"
    "  --no-router           do not start pgwarden-router\n"
    "  --wipe                (down) remove the directory\n";

bool WantsHelp(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--help" || a == "-h" || a == "help") return true;
  }
  return false;
}

}  // namespace

int RunSandbox(const std::vector<std::string>& args, const std::string& bin_dir, FILE* out, FILE* err) {
  if (WantsHelp(args)) {
    std::fprintf(out, "%s", kSandboxUsage);
    return 0;
  }
  if (args.empty()) {
    std::fprintf(err, "pgwardenctl: sandbox needs a verb (up, down, status)\n%s", kSandboxUsage);
    return 2;
  }
  const std::string& verb = args[0];
  SandboxSpec spec;
  spec.dir = "sandbox";
  spec.pgwarden_bin = bin_dir + "/pgwarden";
  spec.router_bin = bin_dir + "/pgwarden-router";
  spec.start_router = true;
  bool wipe = false;
  if (Status st = ParseSandboxOptions(args, &spec, &wipe); !st.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", st.message().c_str());
    return 2;
  }
  char cwd[PATH_MAX];
  if (spec.dir[0] != '/' && getcwd(cwd, sizeof cwd)) spec.dir = std::string(cwd) + "/" + spec.dir;
  if (verb == "up") return Up(spec, out, err);
  if (verb == "down" || verb == "status") return DownOrStatus(verb, spec.dir, wipe, out, err);
  std::fprintf(err, "pgwardenctl: unknown sandbox verb '%s' (up, down, status)\n", verb.c_str());
  return 2;
}

}  // namespace pgw::ctl
