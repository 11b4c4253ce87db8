// The agent's REST API (reference §1): routing, and the handlers that need the agent's state, over the narrow
// AgentControl (agent/control.h). Pure pieces (JSON, merge-patch, validation, health codes) live in agent/api.h.
//
// Handle runs on the REST server thread and answers GET from cached state; anything that calls etcd or waits
// (PATCH/PUT /config, DELETE /switchover, switchover, failover, restart, reload) returns a deferred job for the
// server's workers, so that health checks, peers' GET /patroni and POST /failsafe never wait behind it. Deferred
// jobs refer to this object: it must outlive the server that runs them.
#pragma once

#include <mutex>
#include <string>

#include "agent/control.h"
#include "common/clock.h"
#include "common/log.h"
#include "net/host_cache.h"
#include "net/http_server.h"

namespace pgw {

class ApiHandlers {
 public:
  ApiHandlers(AgentControl& control, const Clock& clock, Logger& log)
      : control_(control), clock_(clock), log_(log), hosts_(clock) {}

  // Server thread.
  HttpServerResponse Handle(const HttpServerRequest& req);

 private:
  HttpServerResponse HandleGet(const HttpServerRequest& req, const std::string& route, const ControlSnapshot& snap,
                               const std::optional<FailsafeTopology>& failsafe_key);
  // The status JSON (GET /patroni and every health check's body), rendered once per publication of the state.
  std::string StatusBody(const ControlSnapshot& snap);
  HttpServerResponse HandleSwitchover(const std::string& action, const HttpServerRequest& req);
  // Deferred: plans, checks the candidates, writes the `failover` key and waits for the leader to change.
  HttpServerResponse RunSwitchover(const std::string& action, const Json& body);
  HttpServerResponse HandleConfigWrite(const HttpServerRequest& req);
  // Deferred: PATCH (merge, compare-and-swap) or PUT `body` into the config key.
  HttpServerResponse WriteConfig(const std::string& method, const Json& body);
  HttpServerResponse HandleRestart(const HttpServerRequest& req, const ControlSnapshot& snap);
  HttpServerResponse HandleReload();
  HttpServerResponse HandleReinitialize(const ControlSnapshot& snap);

  AgentControl& control_;
  const Clock& clock_;
  Logger& log_;
  // Addresses of host names in restapi.allowlist and in the members' api_url (allowlist_include_members).
  net::HostAddressCache hosts_;

  std::mutex cache_mu_;  // guards cache_
  // The status JSON as last rendered: a load balancer's checks between two publications of the state get the same
  // bytes without rendering them again.
  struct StatusCache {
    uint64_t gen = 0;                                    // ControlSnapshot::generation; 0: empty
    bool failsafe_active = false, sync_standby = false;  // set per request, outside the published state
    std::string body;
  } cache_;
};

}  // namespace pgw
