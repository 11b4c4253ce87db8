// pgwarden-router: one endpoint that always reaches the current primary (read-write port) or a replica (read-only
// port), learning the topology from the etcd watch. Composition only: configuration, signals, run.
#include <signal.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "router/config.h"
#include "router/router.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  unsigned cores = std::thread::hardware_concurrency();
  auto r = pgw::router::LoadRouterConfig(args, cores == 0 ? 1 : static_cast<int>(cores));
  if (r.help) {
    std::printf("%s", pgw::router::RouterUsage().c_str());
    return 0;
  }
  for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (!r.config) {
    for (const auto& e : r.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
    std::fprintf(stderr, "(pgwarden-router --help lists the settings)\n");
    return 2;
  }
  // Block the signals we handle in every thread; this thread waits for them (no async signal handlers).
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  pgw::Logger log(stderr, r.config->log_level, "router: ");
  pgw::RealClock clock;
  pgw::router::Router router(r.config, clock, log);
  pgw::Status s = router.Start();
  if (!s.ok()) {
    log.Error(s.message());
    router.Stop();
    return 1;
  }
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // The file (-c, and a --patroni-config) is read again, with the same flags overriding it.
      log.Info("SIGHUP: reloading the configuration");
      router.Reload(pgw::router::LoadRouterConfig(args, cores == 0 ? 1 : static_cast<int>(cores)));
      continue;
    }
    log.Info(std::string("signal ") + strsignal(sig) + ": stopping");
    break;
  }
  router.Stop();
  return 0;
}
