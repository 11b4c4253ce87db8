// pgwarden-router assembled: the topology thread, N workers and the admin HTTP server (/health, /stats,
// /metrics). apps/pgwarden-router only parses the configuration and runs this.
//
// Threading: Start() and Stop() from one thread (main). The admin server runs on its own thread and reads only
// atomics and immutable snapshots.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "router/config.h"
#include "router/reload.h"
#include "router/shared.h"
#include "router/topology_watcher.h"
#include "router/worker.h"

namespace pgw {
class RestServer;
}

namespace pgw::router {

class Router {
 public:
  Router(std::shared_ptr<const RouterConfig> cfg, const Clock& clock, Logger& log);
  ~Router();

  // Binds every port (errors name the setting and address) and starts the threads.
  Status Start();
  void Stop();

  int write_port() const;
  int read_port() const;
  int admin_port() const;

  // SIGHUP: applies what can change live from a freshly loaded configuration (PlanReload) and logs, per setting,
  // what changed and what needs a restart. A load with errors (`loaded.config` unset) is refused: the errors are
  // logged and the running configuration is kept. Counted in /stats. From the thread that calls Start/Stop.
  ReloadPlan Reload(const RouterConfigResult& loaded);
  std::shared_ptr<const RouterConfig> config() const;

  // The bodies of GET /stats (JSON) and GET /metrics (Prometheus text format 0.0.4).
  std::string StatsJson() const;
  std::string Metrics() const;
  // GET /health: 200 while etcd has been read within the ttl, else 503; the body says what routes.
  std::pair<int, std::string> Health() const;

 private:
  mutable std::mutex cfg_mu_;
  std::shared_ptr<const RouterConfig> cfg_;  // under cfg_mu_ (replaced by Reload, read by the admin thread)
  const Clock& clock_;
  Logger& log_;
  RouterShared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<TopologyWatcher> topology_;
  std::unique_ptr<RestServer> admin_;
  MonoTime started_at_{};
};

}  // namespace pgw::router
