// The router's observability, declared in one place: the JSON of GET /stats and the Prometheus text of
// GET /metrics, rendered from immutable snapshots and counters (any thread).
#pragma once

#include <string>
#include <vector>

#include "router/config.h"
#include "router/shared.h"
#include "router/topology.h"
#include "router/topology_watcher.h"
#include "router/worker.h"

namespace pgw::router {

struct AdminView {
  bool dcs_fresh = false;     // etcd read within the ttl
  std::string write_target;   // member name, "" when writes are not routed
  std::string write_refusal;  // why not
};
AdminView MakeAdminView(const Topology& t, MonoTime now, const RouterConfig& cfg);

std::string RenderStatsJson(const Topology& t, MonoTime now, const RouterConfig& cfg, const RouterShared& shared,
                            const std::vector<const Worker*>& workers, const TopologyWatcher* watcher,
                            MonoTime started_at);
std::string RenderMetrics(const Topology& t, MonoTime now, const RouterConfig& cfg, const RouterShared& shared,
                          const std::vector<const Worker*>& workers, const TopologyWatcher* watcher);

}  // namespace pgw::router
