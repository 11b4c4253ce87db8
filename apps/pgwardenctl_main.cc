// pgwardenctl: the operator's CLI: patronictl's verbs (ctl/ctl.h) and the local sandbox.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "agent/status_json.h"
#include "ctl/ctl.h"
#include "torture/torture.h"

namespace {

void Usage(FILE* out) {
  std::fprintf(
      out,
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
  return pgw::ctl::RunSandbox(std::vector<std::string>(args.begin() + 1, args.end()), SelfDir(), stdout, stderr);
}
