// The agent's REST API (reference §1): routing, and the handlers that need the agent's state. Pure logic lives in
// agent/api.h. GET handlers answer from cached state on the server thread; anything that calls etcd or waits
// (PATCH/PUT /config, DELETE /switchover, switchover, restart) runs as a deferred job on the server's workers, so
// health checks, peers' GET /patroni and POST /failsafe never wait behind it.
#include <thread>

#include "agent/agent.h"
#include "agent/api.h"
#include "agent/failover_api.h"
#include "agent/peers.h"

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

}  // namespace

HttpServerResponse Agent::HandleHttp(const HttpServerRequest& req) {
  NodeState s;
  uint64_t gen;
  {
    std::lock_guard<std::mutex> l(state_mu_);
    s = state_;
    gen = state_gen_;
  }
  auto view = dcs_->ClusterSnapshot();  // not copied: most requests are health checks that only look
  const ClusterView* cv = view.get();
  // The `failsafe` key as last seen: the loop's copy when the view is gone (etcd down is when it matters).
  std::optional<FailsafeTopology> failsafe_key;
  if (cv && cv->failsafe) {
    failsafe_key = cv->failsafe;
  } else if (!cv) {
    failsafe_key = failsafe_->Members();
  }
  {
    // From the clocks, not only the loop's last cycle: the loop may be stuck in an etcd call while we run on
    // failsafe, and a replica reports the vouching it received as Patroni's does.
    api::FailsafeClock f;
    f.enabled = failsafe_->Enabled();
    f.primary = RoleOf(s) == MemberRole::kPrimary;
    f.now = clock_.Now();
    DynamicConfig timing;
    timing.ttl = ttl_s_.load();
    f.last_renewal = dcs_->LeaseDeadline() - Duration(int64_t{timing.ttl} * 1000);
    f.suspect_after = ha::SuspectAfter(timing);
    f.confirmed_until = failsafe_->ConfirmedUntil();
    f.vouched_until = failsafe_->VouchedUntil();
    s.failsafe_active = s.failsafe_active || api::FailsafeActive(f);
  }
  s.sync_standby = api::IsSyncStandby(cv, cfg_->name);
  std::string route = Route(req.path);
  bool status_only = req.method == "HEAD" || req.method == "OPTIONS";

  if (req.method == "GET" || status_only) {
    if (route == "/cluster") {
      if (!cv) return api::Text(503, "DCS is not accessible");
      return api::JsonBody(200, api::ClusterJson(*cfg_, *cv, s.paused));
    }
    if (route == "/history") {
      return api::JsonBody(200, cv ? cv->history_raw : Json::array());
    }
    // pgwarden's record of every leader change (docs/rest-api.md): /history keeps Patroni's format.
    if (route == "/failovers") return api::FailoversResponse(cv);
    if (route == "/config") {
      if (!cv || !cv->config) return api::Text(502, "No configuration in DCS");
      return api::JsonBody(200, *cv->config);
    }
    if (route == "/failsafe" && req.method == "GET") return api::FailsafeListing(failsafe_->Enabled(), failsafe_key);
    if (route == "/metrics") {
      api::Counters k;
      k.lease_renewals = dcs_->LeaseRenewals();
      k.lease_failures = dcs_->LeaseFailures();
      k.cycles = cycles_;
      k.promotions = promotions_;
      k.demotions = demotions_;
      k.fences = fencer_->fences();
      for (size_t i = 0; i < k.decisions.size(); ++i) k.decisions[i] = decisions_[i].load();
      k.pg_transitions = pg_state_.Counted();
      k.last_cycle_seconds = last_cycle_seconds_;
      k.last_promotion_seconds = last_promotion_seconds_;
      k.lease_remaining_seconds =
          std::max<double>(0, static_cast<double>((dcs_->LeaseDeadline() - clock_.Now()).count()) / 1000.0);
      HttpServerResponse r = api::Text(
          200, api::MetricsText(*cfg_, s, cv, k, s.paused, failsafe_->Enabled()) + api::FailoverMetricsText(*cfg_, cv));
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return r;
    }
    api::HealthInputs hi;
    hi.cfg = cfg_.get();
    hi.state = &s;
    hi.cluster = cv;
    // Liveness: the HA loop ran within ttl (primary) / 2*ttl (replica) of when it should have.
    int64_t ttl_ms = int64_t{ttl_s_.load()} * 1000 * (RoleOf(s) == MemberRole::kPrimary ? 1 : 2);
    int64_t since = clock_.Now().time_since_epoch().count() - last_cycle_end_ms_.load();
    hi.loop_alive = s.paused || last_cycle_end_ms_.load() == 0 || since <= loop_wait_s_.load() * 1000 + ttl_ms;
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
    {
      std::lock_guard<std::mutex> l(state_mu_);
      StatusCache& c = status_cache_;
      if (c.gen != gen || c.failsafe_active != s.failsafe_active || c.sync_standby != s.sync_standby) {
        c = StatusCache{gen, s.failsafe_active, s.sync_standby, StatusJson(*cfg_, s).dump()};
      }
      r.body = c.body;
    }
    r.status_line_only = status_only;
    return r;
  }

  if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH" && req.method != "DELETE") {
    return api::Text(501, "Unsupported method (" + req.method + ")");
  }
  if (auto refused = api::CheckAccess(*cfg_, req, cv)) return *refused;

  if (req.method == "POST" && route == "/failsafe") {
    if (!failsafe_->Enabled()) return api::Text(502, "Failsafe mode is not enabled");
    if (RoleOf(s) == MemberRole::kPrimary) return api::Text(500, "Running as a leader");
    Json body;
    if (auto refused = ReadBodyObject(req, &body)) return *refused;
    if (auto refused = api::CheckFailsafeSender(body, failsafe_key, cv, cfg_->name)) return *refused;
    failsafe_->Vouch();
    return api::Text(200, "Accepted");
  }
  if (req.method == "POST" && (route == "/switchover" || route == "/failover")) {
    return HandleSwitchover(route.substr(1), req);
  }
  if (req.method == "DELETE" && route == "/switchover") {
    if (!cv || !cv->failover) return api::Text(404, "no switchover is scheduled");
    const auto& f = cv->failover->request;
    if (!f || !f->scheduled_at) return api::Text(404, "no switchover is scheduled");
    HttpServerResponse r;
    r.deferred = [this]() -> HttpServerResponse {  // an etcd write: never on the server thread
      Status d = dcs_->ApiDeleteFailover();
      return d.ok() ? api::Text(200, "scheduled switchover deleted") : api::Text(503, d.message());
    };
    return r;
  }
  if ((req.method == "PATCH" || req.method == "PUT") && route == "/config") return HandleConfigWrite(req);
  if (req.method == "POST" && route == "/restart") return HandleRestart(req);
  if (req.method == "DELETE" && route == "/restart") {
    if (scheduled_restart_.exchange(0) == 0) return api::Text(404, "no restarts are scheduled");
    return api::Text(200, "scheduled restart deleted");
  }
  if (req.method == "POST" && route == "/reload") {
    HttpServerResponse r;
    r.deferred = [this]() -> HttpServerResponse {  // reads the configuration files: never on the server thread
      std::vector<std::string> errors = ReloadConfig();
      if (errors.empty()) return api::Text(202, "reload scheduled");
      // Patroni answers 202 and only logs a file it cannot load; saying so here lets patronictl print why.
      std::string text = "reload refused: the configuration is invalid, the running one stays in force:";
      for (const auto& e : errors) text += "\n" + e;
      return api::Text(500, text);
    };
    return r;
  }
  if (req.method == "POST" && route == "/reinitialize") {
    if (cv && cv->leader && cv->leader->name == cfg_->name)
      return api::Text(503, "I am the leader, can not reinitialize");
    if (!cv || !cv->leader) return api::Text(503, "Cluster has no leader, can not reinitialize");
    reinit_requested_ = true;
    RequestWake();
    return api::Text(200, "reinitialize started");
  }
  return api::Text(501, "Unsupported method (" + req.method + " " + req.path + ")");
}

HttpServerResponse Agent::HandleSwitchover(const std::string& action, const HttpServerRequest& req) {
  Json body;
  if (auto refused = ReadBodyObject(req, &body)) return *refused;
  HttpServerResponse r;
  r.deferred = [this, action, body]() -> HttpServerResponse {
    auto view = dcs_->Cluster();
    if (!view.ok()) return api::Text(503, "DCS is not accessible");
    bool paused = false;
    {
      std::lock_guard<std::mutex> l(state_mu_);
      paused = state_.paused;
    }
    auto plan = api::PlanSwitchover(action, body, *view, paused, clock_.WallSeconds());
    log_.Info("received " + action + " request with leader=" + plan.leader + " candidate=" + plan.candidate);
    if (plan.code != 0) return api::Text(plan.code, plan.message);
    if (!plan.to_check.empty()) {
      std::string problem = api::CandidateProblem(action, peers_->CheckMembers(*view, plan.to_check, Duration(2000)));
      if (!problem.empty()) return api::Text(412, problem);
    }
    Status w = dcs_->ApiSetFailover(plan.key.dump());
    if (!w.ok()) return api::Text(503, "failed to write " + action + " key into DCS");
    RequestWake();
    std::string title = action == "switchover" ? "Switchover" : "Failover";
    if (plan.scheduled_at) return api::Text(202, title + " scheduled");
    std::string old = view->leader ? view->leader->name : "";
    std::string verb = action == "switchover" ? "switched" : "failed";
    MonoTime until = clock_.Now() + Duration(std::max<int64_t>(10, loop_wait_s_.load()) * 2000);
    while (clock_.Now() < until && !stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      auto now = dcs_->Cluster();
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
  };
  return r;
}

HttpServerResponse Agent::HandleConfigWrite(const HttpServerRequest& req) {
  Json body;
  if (auto refused = ReadBodyObject(req, &body)) return *refused;
  HttpServerResponse r;
  // The etcd write (up to the client's deadline, and a wait for the watch to show it) runs on a worker.
  r.deferred = [this, method = req.method, body = std::move(body)] { return WriteConfig(method, body); };
  return r;
}

HttpServerResponse Agent::WriteConfig(const std::string& method, const Json& body) {
  auto view = dcs_->Cluster();
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
  Status w = dcs_->ApiWriteConfig(next.dump(), expect);
  if (w.code() == Code::kConflict) return api::Text(409, "Conflict: the configuration was modified concurrently");
  if (!w.ok()) return api::Text(method == "PUT" ? 502 : 503, w.message());
  RequestWake();
  return api::JsonBody(200, next);
}

HttpServerResponse Agent::HandleRestart(const HttpServerRequest& req) {
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
  NodeState s;
  {
    std::lock_guard<std::mutex> l(state_mu_);
    s = state_;
  }
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
  if (body.value("restart_pending", false) && !(s.local.query_ok && s.local.pending_restart)) {
    return api::Text(503, "restart conditions are not satisfied");
  }
  if (body.contains("schedule")) {
    if (s.paused) return api::Text(500, "Can't schedule restart in the paused state");
    bool zone = false;
    auto t =
        body["schedule"].is_string() ? ParseIsoTimestamp(body["schedule"].get<std::string>(), &zone) : std::nullopt;
    if (!t || !zone) return api::Text(400, "schedule must be an ISO 8601 timestamp with a time zone");
    if (*t < clock_.WallSeconds()) return api::Text(422, "Cannot schedule restart in the past");
    double none = 0;
    if (!scheduled_restart_.compare_exchange_strong(none, *t))
      return api::Text(409, "Another restart is already scheduled");
    return api::Text(202, "Restart scheduled");
  }
  if (s.pg_state == ha::PgState::kStarting) return api::Text(503, "postgres is still starting");
  if (restart_requested_.exchange(true)) return api::Text(503, "restart already in progress");
  HttpServerResponse r;
  double timeout_s = body.value("timeout", 0.0);
  r.deferred = [this, timeout_s]() -> HttpServerResponse {
    uint64_t before = restarts_done_.load();
    RequestWake();
    MonoTime until =
        clock_.Now() +
        Duration(static_cast<int64_t>((timeout_s > 0 ? timeout_s : cfg_->postgresql.pg_ctl_timeout * 2 + 10) * 1000));
    while (clock_.Now() < until && !stop_) {
      if (restarts_done_.load() != before) {
        return last_restart_ok_ ? api::Text(200, "restarted successfully") : api::Text(503, "restart failed");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return api::Text(503, "restart failed");
  };
  return r;
}

}  // namespace pgw
