// pgwardenctl: the operator's CLI: patronictl's verbs (ctl/ctl.h) and the local sandbox.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent/status_json.h"
#include "ctl/ctl.h"
#include "ctl/sandbox.h"
#include "torture/torture.h"

namespace {

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: pgwardenctl sandbox up   [--dir DIR] [--nodes N] [--scope NAME] [--user OSUSER]\n"
               "                                [--ttl S] [--loop-wait S] [--retry-timeout S] [--sync | --sync-strict]\n"
               "                                [--no-router]\n"
               "       pgwardenctl sandbox down [--dir DIR] [--wipe]\n"
               "       pgwardenctl sandbox status [--dir DIR]\n"
               "       pgwardenctl --version\n"
               "       pgwardenctl [-c patroni.yml | --dcs-url URL] list|switchover|failover|restart|reinit|reload|\n"
               "                   pause|resume|edit-config|show-config|history|dsn|topology|remove|check ...\n"
               "       pgwardenctl [-c patroni.yml] check [--router HOST:PORT] [--max-lag-bytes 10MB]\n"
               "                   [--max-lag-seconds 5] [--canary-timeout S] [--no-canary] [-f json]\n"
               "       pgwardenctl torture (--sandbox DIR --fault NAME | --dsn DSN --fault-cmd CMD) [--rounds R]\n"
               "                   [--json FILE] ...   (pgwardenctl torture --help)\n"
               "DIR defaults to ./sandbox. 'up' starts etcd, N pgwarden nodes (default 3) and a pgwarden-router\n"
               "(unless --no-router) on free loopback ports, waits until one leader streams to every replica and\n"
               "the router sends writes to it, and prints how to connect. Timing defaults:\n"
               "ttl 10, loop_wait 1, retry_timeout 3 (--ttl 5 --retry-timeout 2 fails over in about 4 s).\n"
               "--sync turns synchronous_mode on, --sync-strict also synchronous_mode_strict.\n");
}

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  buf[n] = 0;
  std::string p(buf);
  return p.substr(0, p.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    Usage(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::printf("pgwardenctl %s\n", pgw::kPgwardenVersion);
    return 0;
  }
  if (args[0] == "torture") {
    pgw::torture::RunEnv env;
    env.pgwarden_bin = SelfDir() + "/pgwarden";
    return pgw::torture::Main(std::vector<std::string>(args.begin() + 1, args.end()), env);
  }
  if (args[0] != "sandbox") return pgw::ctl::Main(args, stdout, stderr);
  if (args.size() < 2) {
    Usage(stderr);
    return 2;
  }
  std::string verb = args[1];
  pgw::SandboxSpec spec;
  spec.dir = "sandbox";
  spec.pgwarden_bin = SelfDir() + "/pgwarden";
  spec.router_bin = SelfDir() + "/pgwarden-router";
  spec.start_router = true;
  bool wipe = false;
  for (size_t i = 2; i < args.size(); ++i) {
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "pgwardenctl: %s needs a value\n", flag);
        std::exit(2);
      }
      return args[++i];
    };
    // A whole number from `lo` to `hi` for `flag`, or exit 2 naming the problem.
    auto number = [&](const char* flag, long lo, long hi) -> int {
      std::string v = value(flag);
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != 0 || n < lo || n > hi) {
        std::fprintf(stderr, "pgwardenctl: %s must be a number from %ld to %ld, got '%s'\n", flag, lo, hi, v.c_str());
        std::exit(2);
      }
      return static_cast<int>(n);
    };
    if (args[i] == "--dir") spec.dir = value("--dir");
    else if (args[i] == "--nodes") spec.nodes = number("--nodes", 1, 9);
    else if (args[i] == "--ttl") spec.ttl = number("--ttl", 1, 3600);
    else if (args[i] == "--loop-wait") spec.loop_wait = number("--loop-wait", 1, 3600);
    else if (args[i] == "--retry-timeout") spec.retry_timeout = number("--retry-timeout", 1, 3600);
    else if (args[i] == "--sync") spec.extra_dcs = "    synchronous_mode: true\n";
    else if (args[i] == "--sync-strict") spec.extra_dcs = "    synchronous_mode: true\n    synchronous_mode_strict: true\n";
    else if (args[i] == "--scope") spec.scope = value("--scope");
    else if (args[i] == "--user") spec.run_as = value("--user");
    else if (args[i] == "--wipe") wipe = true;
    else if (args[i] == "--no-router") spec.start_router = false;
    else {
      std::fprintf(stderr, "pgwardenctl: unknown option '%s' for sandbox %s\n", args[i].c_str(), verb.c_str());
      return 2;
    }
  }
  char cwd[PATH_MAX];
  if (spec.dir[0] != '/' && getcwd(cwd, sizeof cwd)) spec.dir = std::string(cwd) + "/" + spec.dir;
  pgw::Logger log(stderr);
  if (verb == "up") {
    auto sb = pgw::Sandbox::Up(spec, log);
    if (!sb.ok()) {
      std::fprintf(stderr, "pgwardenctl: sandbox up failed: %s\n", sb.status().message().c_str());
      auto partial = pgw::Sandbox::Load(spec.dir);
      if (partial.ok()) partial->Down(false).ok();
      return 1;
    }
    std::fprintf(stderr, "waiting for the cluster to become healthy...\n");
    pgw::Status s = sb->WaitHealthy(pgw::Duration(180000));
    if (!s.ok()) {
      std::fprintf(stderr, "pgwardenctl: %s\n(the sandbox is left running for inspection; logs under %s; stop it "
                   "with: pgwardenctl sandbox down --dir %s)\n", s.message().c_str(), spec.dir.c_str(),
                   spec.dir.c_str());
      return 1;
    }
    std::printf("%s", sb->Describe().c_str());
    std::printf("stop with: pgwardenctl sandbox down --dir %s --wipe\n", spec.dir.c_str());
    return 0;
  }
  if (verb == "down" || verb == "status") {
    auto sb = pgw::Sandbox::Load(spec.dir);
    if (!sb.ok()) {
      std::fprintf(stderr, "pgwardenctl: %s\n", sb.status().message().c_str());
      return 1;
    }
    if (verb == "status") {
      std::printf("%s", sb->Describe().c_str());
      return 0;
    }
    pgw::Status s = sb->Down(wipe);
    if (!s.ok()) {
      std::fprintf(stderr, "pgwardenctl: sandbox down: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("sandbox in %s stopped%s\n", spec.dir.c_str(), wipe ? " and removed" : "");
    return 0;
  }
  std::fprintf(stderr, "pgwardenctl: unknown sandbox verb '%s' (up, down, status)\n", verb.c_str());
  return 2;
}
