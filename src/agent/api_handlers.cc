#include "agent/api_handlers.h"

#include <cctype>
#include <cstdio>
#include <thread>

#include "agent/failover_api.h"
#include "common/truthy.h"

namespace pgw {

namespace {

// The first path segment decides the handler, as in Patroni (GET /config/anything -> /config).
std::string Route(const std::string& path) {
  auto slash = path.find('/', 1);
  return slash == std::string::npos ? path : path.substr(0, slash);
}

// The JSON object a request carries in its body, or the answer to give instead: 411 without Content-Length (as
// Patroni), 400 when the body is not a JSON object.
std::optional<HttpServerResponse> ReadBodyObject(const HttpServerRequest& req, Json* out) {
  if (!req.headers.count("content-length")) return api::Text(411, "Length Required");
  *out = Json::parse(req.body, nullptr, false);
  if (out->is_discarded() || !out->is_object()) return api::Text(400, "the request body must be a JSON object");
  return std::nullopt;
}

HttpServerResponse Deferred(std::function<HttpServerResponse()> job) {
  HttpServerResponse r;
  r.deferred = std::move(job);
  return r;
}

}  // namespace

HttpServerResponse ApiHandlers::Handle(const HttpServerRequest& req) {
  ControlSnapshot snap = control_.Snapshot();
  const ClusterView* cv = snap.cluster.get();
  const Config& cfg = *snap.cfg;
  // The `failsafe` key as last seen: the loop's copy when the view is gone (etcd down is when it matters).
  std::optional<FailsafeTopology> failsafe_key = cv ? cv->failsafe : snap.failsafe_members;
  snap.state.sync_standby = api::IsSyncStandby(cv, cfg.name);
  std::string route = Route(req.path);

  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") {
    return HandleGet(req, route, snap, failsafe_key);
  }
  if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH" && req.method != "DELETE") {
    return api::Text(501, "Unsupported method (" + req.method + ")");
  }
  auto lookup = [this](const std::string& host) { return hosts_.Lookup(host); };
  if (auto refused = api::CheckAccess(cfg, req, cv, lookup)) return *refused;

  if (req.method == "POST" && route == "/failsafe") {
    if (!snap.failsafe_enabled) return api::Text(502, "Failsafe mode is not enabled");
    if (RoleOf(snap.state) == MemberRole::kPrimary) return api::Text(500, "Running as a leader");
    Json body;
    if (auto refused = ReadBodyObject(req, &body)) return *refused;
    if (auto refused = api::CheckFailsafeSender(body, failsafe_key, cv, cfg.name)) return *refused;
    control_.VouchFailsafe();
    return api::Text(200, "Accepted");
  }
  if (req.method == "POST" && (route == "/switchover" || route == "/failover")) {
    return HandleSwitchover(route.substr(1), req);
  }
  if (req.method == "DELETE" && route == "/switchover") {
    if (!cv || !cv->failover) return api::Text(404, "no switchover is scheduled");
    const auto& f = cv->failover->request;
    if (!f || !f->scheduled_at) return api::Text(404, "no switchover is scheduled");
    return Deferred([this]() -> HttpServerResponse {  // an etcd write: never on the server thread
      Status d = control_.DeleteFailover();
      return d.ok() ? api::Text(200, "scheduled switchover deleted") : api::Text(503, d.message());
    });
  }
  if ((req.method == "PATCH" || req.method == "PUT") && route == "/config") return HandleConfigWrite(req);
  if (req.method == "POST" && route == "/restart") return HandleRestart(req, snap);
  if (req.method == "DELETE" && route == "/restart") {
    if (!control_.CancelScheduledRestart()) return api::Text(404, "no restarts are scheduled");
    return api::Text(200, "scheduled restart deleted");
  }
  if (req.method == "POST" && route == "/reload") return HandleReload();
  if (req.method == "POST" && route == "/reinitialize") return HandleReinitialize(snap);
  return api::Text(501, "Unsupported method (" + req.method + " " + req.path + ")");
}

HttpServerResponse ApiHandlers::HandleGet(const HttpServerRequest& req, const std::string& route,
                                          const ControlSnapshot& snap,
                                          const std::optional<FailsafeTopology>& failsafe_key) {
  const ClusterView* cv = snap.cluster.get();
  const Config& cfg = *snap.cfg;
  const NodeState& s = snap.state;
  if (route == "/cluster") {
    if (!cv) return api::Text(503, "DCS is not accessible");
    return api::JsonBody(200, api::ClusterJson(cfg, *cv, s.paused));
  }
  if (route == "/history") return api::JsonBody(200, cv ? cv->history_raw : Json::array());
  // pgwarden's record of every leader change (docs/rest-api.md): /history keeps Patroni's format.
  if (route == "/failovers") return api::FailoversResponse(cv);
  if (route == "/config") {
    if (!cv || !cv->config) return api::Text(502, "No configuration in DCS");
    return api::JsonBody(200, *cv->config);
  }
  if (route == "/failsafe" && req.method == "GET") return api::FailsafeListing(snap.failsafe_enabled, failsafe_key);
  if (route == "/metrics") {
    HttpServerResponse r =
        api::Text(200, api::MetricsText(cfg, s, cv, control_.MetricsCounters(), s.paused, snap.failsafe_enabled) +
                           api::FailoverMetricsText(cfg, cv));
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  api::HealthInputs hi;
  hi.cfg = &cfg;
  hi.state = &s;
  hi.cluster = cv;
  hi.loop_alive = snap.loop_alive;
  int code = api::HealthCode(hi, route, req.query);
  if (route == "/liveness" || route == "/readiness") {
    HttpServerResponse r = api::Text(code, "");
    r.status_line_only = true;
    return r;
  }
  if (code == 0) code = 503;  // unknown GET path: Patroni's generic health handler answers 503
  HttpServerResponse r;
  r.status = code;
  r.content_type = "application/json";
  r.body = StatusBody(snap);
  r.status_line_only = req.method != "GET";  // HEAD and OPTIONS: the status line alone
  return r;
}

std::string ApiHandlers::StatusBody(const ControlSnapshot& snap) {
  const NodeState& s = snap.state;
  std::lock_guard<std::mutex> l(cache_mu_);
  StatusCache& c = cache_;
  if (c.gen != snap.generation || c.failsafe_active != s.failsafe_active || c.sync_standby != s.sync_standby) {
    c = StatusCache{snap.generation, s.failsafe_active, s.sync_standby, StatusJson(*snap.cfg, s).dump()};
  }
  return c.body;
}

HttpServerResponse ApiHandlers::HandleSwitchover(const std::string& action, const HttpServerRequest& req) {
  Json body;
  if (auto refused = ReadBodyObject(req, &body)) return *refused;
  return Deferred([this, action, body] { return RunSwitchover(action, body); });
}

HttpServerResponse ApiHandlers::RunSwitchover(const std::string& action, const Json& body) {
  auto view = control_.ReadCluster();
  if (!view.ok()) return api::Text(503, "DCS is not accessible");
  ControlSnapshot snap = control_.Snapshot();
  auto plan = api::PlanSwitchover(action, body, *view, snap.state.paused, clock_.WallSeconds());
  log_.Info("received " + action + " request with leader=" + plan.leader + " candidate=" + plan.candidate);
  if (plan.code != 0) return api::Text(plan.code, plan.message);
  if (!plan.to_check.empty()) {
    std::string problem = api::CandidateProblem(action, control_.CheckMembers(*view, plan.to_check));
    if (!problem.empty()) return api::Text(412, problem);
  }
  Status w = control_.WriteFailover(plan.key.dump());
  if (!w.ok()) return api::Text(503, "failed to write " + action + " key into DCS");
  control_.RequestWake();
  std::string title = action == "switchover" ? "Switchover" : "Failover";
  if (plan.scheduled_at) return api::Text(202, title + " scheduled");
  std::string old = view->leader ? view->leader->name : "";
  std::string verb = action == "switchover" ? "switched" : "failed";
  MonoTime until = clock_.Now() + Duration(std::max<int64_t>(10, snap.loop_wait_s) * 2000);
  while (clock_.Now() < until && !control_.Stopping()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = control_.ReadCluster();
    if (!now.ok()) continue;
    if (now->leader && now->leader->name != old) {
      if (plan.candidate.empty() || plan.candidate == now->leader->name) {
        return api::Text(200, "Successfully " + verb + " over to \"" + now->leader->name + "\"");
      }
      std::string t = verb;
      t[0] = static_cast<char>(std::toupper(t[0]));
      return api::Text(200, t + " over to \"" + now->leader->name + "\" instead of \"" + plan.candidate + "\"");
    }
    if (!now->failover) return api::Text(503, title + " failed");
  }
  return api::Text(503, title + " status unknown");
}

HttpServerResponse ApiHandlers::HandleConfigWrite(const HttpServerRequest& req) {
  Json body;
  if (auto refused = ReadBodyObject(req, &body)) return *refused;
  // The etcd write (up to the client's deadline, and a wait for the watch to show it) runs on a worker.
  return Deferred([this, method = req.method, body = std::move(body)] { return WriteConfig(method, body); });
}

HttpServerResponse ApiHandlers::WriteConfig(const std::string& method, const Json& body) {
  auto view = control_.ReadCluster();
  if (!view.ok()) return api::Text(503, "DCS is not accessible");
  Json next;
  int64_t expect = 0;
  bool changed = true;
  if (method == "PATCH") {
    if (!view->config) return api::Text(503, "The configuration was removed from DCS");
    next = api::MergePatch(*view->config, body, &changed);
    expect = view->config_mod_revision;
  } else {
    next = body;
    changed = !view->config || *view->config != next;
  }
  // As in Patroni, an unchanged configuration is not written again.
  if (!changed) return api::JsonBody(200, next);
  // Only what this request introduces is refused: a configuration written by Patroni may hold values pgwarden
  // refuses, and the other keys must stay editable.
  std::string problem = DynamicConfig::IntroducedProblem(view->config ? *view->config : Json::object(), next, false);
  if (!problem.empty()) return api::Text(400, problem);
  Status w = control_.WriteConfig(next.dump(), expect);
  if (w.code() == Code::kConflict) return api::Text(409, "Conflict: the configuration was modified concurrently");
  if (!w.ok()) return api::Text(method == "PUT" ? 502 : 503, w.message());
  control_.RequestWake();
  return api::JsonBody(200, next);
}

HttpServerResponse ApiHandlers::HandleReload() {
  return Deferred([this]() -> HttpServerResponse {  // reads the configuration files: never on the server thread
    std::vector<std::string> errors = control_.ReloadConfig();
    if (errors.empty()) return api::Text(202, "reload scheduled");
    // Patroni answers 202 and only logs a file it cannot load; saying so here lets patronictl print why.
    std::string text = "reload refused: the configuration is invalid, the running one stays in force:";
    for (const auto& e : errors) text += "\n" + e;
    return api::Text(500, text);
  });
}

HttpServerResponse ApiHandlers::HandleReinitialize(const ControlSnapshot& snap) {
  const ClusterView* cv = snap.cluster.get();
  if (cv && cv->leader && cv->leader->name == snap.cfg->name) {
    return api::Text(503, "I am the leader, can not reinitialize");
  }
  if (!cv || !cv->leader) return api::Text(503, "Cluster has no leader, can not reinitialize");
  control_.RequestReinitialize();
  return api::Text(200, "reinitialize started");
}

HttpServerResponse ApiHandlers::HandleRestart(const HttpServerRequest& req, const ControlSnapshot& snap) {
  Json body = Json::object();
  if (!req.body.empty()) {
    body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) return api::Text(400, "the request body must be a JSON object");
  }
  for (const auto& [k, v] : body.items()) {
    if (k != "role" && k != "restart_pending" && k != "postgres_version" && k != "timeout" && k != "schedule") {
      return api::Text(400, "Unknown filter for the scheduled restart: " + k);
    }
  }
  const NodeState& s = snap.state;
  if (body.contains("role")) {
    std::string role = body["role"].is_string() ? body["role"].get<std::string>() : "";
    if (role == "master") role = "primary";
    if (role != "primary" && role != "replica")
      return api::Text(400, "PostgreSQL role should be either primary or replica");
    if (role != RoleName(RoleOf(s))) return api::Text(503, "restart conditions are not satisfied");
  }
  if (body.contains("timeout") && (!body["timeout"].is_number() || body["timeout"].get<double>() <= 0)) {
    return api::Text(400, "Timeout should be a positive number of seconds");
  }
  if (body.contains("postgres_version")) {
    // Restart only when the running server is older than the given version ("15.2" -> 150002).
    std::string v = body["postgres_version"].is_string() ? body["postgres_version"].get<std::string>() : "";
    int major = 0, minor = 0;
    if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) < 1)
      return api::Text(400, "postgres_version must look like 15.2");
    if (s.local.server_version >= major * 10000 + minor) return api::Text(503, "restart conditions are not satisfied");
  }
  // Patroni tests it with `if request.get('restart_pending')`: truthiness (a string here used to throw).
  if (PyTruthyField(body, "restart_pending") && !(s.local.query_ok && s.local.pending_restart)) {
    return api::Text(503, "restart conditions are not satisfied");
  }
  if (body.contains("schedule")) {
    if (s.paused) return api::Text(500, "Can't schedule restart in the paused state");
    bool zone = false;
    auto t =
        body["schedule"].is_string() ? ParseIsoTimestamp(body["schedule"].get<std::string>(), &zone) : std::nullopt;
    if (!t || !zone) return api::Text(400, "schedule must be an ISO 8601 timestamp with a time zone");
    if (*t < clock_.WallSeconds()) return api::Text(422, "Cannot schedule restart in the past");
    if (!control_.ScheduleRestart(*t)) return api::Text(409, "Another restart is already scheduled");
    return api::Text(202, "Restart scheduled");
  }
  if (s.pg_state == ha::PgState::kStarting) return api::Text(503, "postgres is still starting");
  std::optional<uint64_t> before = control_.RequestRestart();
  if (!before) return api::Text(503, "restart already in progress");
  double timeout_s = body.value("timeout", 0.0);
  if (timeout_s <= 0) timeout_s = snap.cfg->postgresql.pg_ctl_timeout * 2 + 10;
  return Deferred([this, timeout_s, before = *before]() -> HttpServerResponse {
    control_.RequestWake();
    MonoTime until = clock_.Now() + Duration(static_cast<int64_t>(timeout_s * 1000));
    while (clock_.Now() < until && !control_.Stopping()) {
      RestartProgress p = control_.Restarts();
      if (p.finished != before) {
        return p.last_ok ? api::Text(200, "restarted successfully") : api::Text(503, "restart failed");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return api::Text(503, "restart failed");
  });
}

}  // namespace pgw
