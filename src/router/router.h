// pgwarden-router assembled: the topology thread, N workers and the admin HTTP server (/health, /stats,
// /metrics). apps/pgwarden-router only parses the configuration and runs this.
//
// Threading: Start() and Stop() from one thread (main). The admin server runs on its own thread and reads only
// atomics and immutable snapshots.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "router/config.h"
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

  // The bodies of GET /stats (JSON) and GET /metrics (Prometheus text format 0.0.4).
  std::string StatsJson() const;
  std::string Metrics() const;
  // GET /health: 200 while etcd has been read within the ttl, else 503; the body says what routes.
  std::pair<int, std::string> Health() const;

 private:
  std::shared_ptr<const RouterConfig> cfg_;
  const Clock& clock_;
  Logger& log_;
  RouterShared shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<TopologyWatcher> topology_;
  std::unique_ptr<RestServer> admin_;
  MonoTime started_at_{};
};

}  // namespace pgw::router
