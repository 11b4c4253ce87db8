// SIGHUP: what a new configuration changes in a running router, as a pure diff. Settings read per connection or
// per topology change (lag threshold, read fallback, waits, timeouts, log level, TLS files) and the etcd endpoints
// and credentials (the topology thread moves to them once they answer) are applied live; those bound at start
// (listening addresses, worker count, scope, namespace) are reported as needing a restart and keep their running
// values until then.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "router/config.h"

namespace pgw::router {

struct ReloadPlan {
  // The configuration to run with: the new one, with the restart-only settings kept from the running one.
  std::shared_ptr<const RouterConfig> next;
  std::vector<std::string> applied;        // "read_max_lag: 1048576 -> 2097152"
  std::vector<std::string> needs_restart;  // "workers: 2 -> 4 (needs a restart; 2 until then)"
  bool etcd_changed = false;               // endpoints, protocol, credentials or etcd TLS files differ
};

ReloadPlan PlanReload(const RouterConfig& running, const RouterConfig& loaded);

}  // namespace pgw::router
