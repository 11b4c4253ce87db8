// pgwarden: the HA agent, one per PostgreSQL node. Composition only: parse arguments, load the configuration,
// route signals to the agent, run it.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "agent/fence_supervisor.h"
#include "agent/status_json.h"
#include "common/config.h"
#include "pg/fence.h"

namespace {

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: pgwarden CONFIG               run the agent (CONFIG: patroni.yml, or a directory of *.yml)\n"
               "       pgwarden --validate-config CONFIG   check CONFIG, list every problem, exit non-zero if any\n"
               "       pgwarden --version\n"
               "PATRONI_* environment variables override the file, as with Patroni.\n");
}

int Validate(const std::string& path) {
  pgw::LoadOptions opts;
  opts.env = pgw::ProcessEnvironment();
  auto r = pgw::LoadConfigFile(path, opts);
  for (const auto& e : r.errors) std::fprintf(stderr, "%s: error: %s\n", path.c_str(), e.c_str());
  for (const auto& w : r.warnings) std::fprintf(stderr, "%s: warning: %s\n", path.c_str(), w.c_str());
  return r.errors.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    Usage(stdout);
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("pgwarden %s (Patroni %s compatible)\n", pgw::kPgwardenVersion, pgw::kPatroniCompatVersion);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--validate-config") == 0) return Validate(argv[2]);
  if (argc == 3 && std::strcmp(argv[1], pgw::kFenceSupervisorFlag) == 0) {
    // Started by the agent itself (agent/fence_supervisor.h); stdin is the agent's pipe.
    pgw::Logger log(stderr, pgw::LogLevel::kInfo, "fence-supervisor: ");
    return pgw::RunFenceSupervisor(argv[2], 0, log);
  }
  if (argc != 2 || argv[1][0] == '-') {
    Usage(stderr);
    return 2;
  }
  // Block the signals we handle in every thread; one thread waits for them (no async signal handlers).
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  pgw::LoadOptions opts;
  opts.env = pgw::ProcessEnvironment();
  auto loaded = pgw::LoadConfigFile(argv[1], opts);
  if (!loaded.errors.empty()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s: error: %s\n", argv[1], e.c_str());
    return 1;
  }
  pgw::Logger log(stderr, loaded.config->log.level);
  for (const auto& w : loaded.warnings) log.Warn("configuration: " + w);

  pgw::RealClock clock;
  pgw::Agent agent(loaded.config, clock, log);
  // SIGHUP and POST /reload read the same path with the environment of the start, as Patroni does.
  agent.SetConfigLoader([path = std::string(argv[1]), opts] { return pgw::LoadConfigFile(path, opts); });
  std::atomic<bool> exiting{false};
  std::thread signals([&] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (exiting) return;  // our own wake-up after Run() returned
      if (sig == SIGHUP) {
        log.Info("received SIGHUP, reloading the configuration");
        agent.ReloadConfig();
        continue;
      }
      log.Info(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", shutting down");
      agent.RequestStop();
      return;
    }
  });
  int rc = agent.Run();
  // Wake the signal thread if it is still waiting (we stopped for another reason).
  exiting = true;
  // SIGTERM is blocked in every thread and taken by that thread's sigwait: it wakes the thread, it cannot kill it.
  pthread_kill(signals.native_handle(), SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
  signals.join();
  return rc;
}
