#include "router/admin.h"

#include <nlohmann/json.hpp>

namespace pgw::router {

namespace {
using Json = nlohmann::json;

uint64_t Sum(const std::vector<const Worker*>& ws, const std::atomic<uint64_t> WorkerStats::*field) {
  uint64_t n = 0;
  for (const Worker* w : ws) n += (w->stats().*field).load(std::memory_order_relaxed);
  return n;
}
int64_t SumGauge(const std::vector<const Worker*>& ws, const std::atomic<int64_t> WorkerStats::*field) {
  int64_t n = 0;
  for (const Worker* w : ws) n += (w->stats().*field).load(std::memory_order_relaxed);
  return n;
}

std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}
}  // namespace

AdminView MakeAdminView(const Topology& t, MonoTime now, const RouterConfig&) {
  AdminView v;
  v.dcs_fresh = t.dcs_ready && now - t.fresh_at <= std::chrono::seconds(t.ttl_seconds);
  auto d = RouteWrite(t, now);
  if (d.server)
    v.write_target = d.server->name;
  else
    v.write_refusal = d.reason;
  return v;
}

std::string RenderStatsJson(const Topology& t, MonoTime now, const RouterConfig& cfg, const RouterShared& shared,
                            const std::vector<const Worker*>& ws, const TopologyWatcher* watcher, MonoTime started_at) {
  AdminView v = MakeAdminView(t, now, cfg);
  Json j;
  j["uptime_s"] = std::chrono::duration_cast<Duration>(now - started_at).count() / 1000.0;
  j["scope"] = cfg.scope;
  j["dcs"] = {{"ready", t.dcs_ready},
              {"fresh", v.dcs_fresh},
              {"age_ms", t.dcs_ready ? std::chrono::duration_cast<Duration>(now - t.fresh_at).count() : -1},
              {"ttl_s", t.ttl_seconds},
              {"revision", t.revision}};
  j["leader"] = t.leader ? Json(*t.leader) : Json();
  j["write_target"] = v.write_target.empty() ? Json() : Json(v.write_target);
  if (!v.write_refusal.empty()) j["write_refusal"] = v.write_refusal;
  auto loads = shared.loads.All();
  Json servers = Json::array();
  for (const auto& s : t.servers) {
    Json e = {{"name", s.name},
              {"address", s.addr ? s.addr->ToString() : ""},
              {"role", s.role},
              {"state", s.state},
              {"leader", s.leader},
              {"lag_bytes", s.lag_bytes ? Json(*s.lag_bytes) : Json()},
              {"lag_time_ms", s.lag_time ? Json(s.lag_time->count()) : Json()},
              {"noloadbalance", s.noloadbalance}};
    auto it = loads.find(s.name);
    if (it != loads.end()) {
      e["connections"] = it->second->active.load();
      e["connections_total"] = it->second->total.load();
      e["bytes_to_server"] = it->second->bytes_to_server.load();
      e["bytes_to_client"] = it->second->bytes_to_client.load();
    } else {
      e["connections"] = 0;
    }
    servers.push_back(e);
  }
  j["servers"] = servers;
  j["connections"] = {{"clients", SumGauge(ws, &WorkerStats::clients)},
                      {"waiting", SumGauge(ws, &WorkerStats::waiting)},
                      {"accepted", Sum(ws, &WorkerStats::accepted)}};
  j["bytes"] = {{"to_server", Sum(ws, &WorkerStats::bytes_to_server)},
                {"to_client", Sum(ws, &WorkerStats::bytes_to_client)}};
  Json closed = Json::object();
  for (int r = 0; r < static_cast<int>(CloseReason::kCount); ++r) {
    uint64_t n = 0;
    for (const Worker* w : ws) n += w->stats().closed[r].load();
    closed[CloseReasonName(static_cast<CloseReason>(r))] = n;
  }
  j["routing"] = {{"write", Sum(ws, &WorkerStats::routed_write)},
                  {"read", Sum(ws, &WorkerStats::routed_read)},
                  {"connect_failures", Sum(ws, &WorkerStats::connect_failures)},
                  {"startup_retries", Sum(ws, &WorkerStats::startup_retries)},
                  {"recovery_queries", Sum(ws, &WorkerStats::recovery_queries)},
                  {"cancels_forwarded", Sum(ws, &WorkerStats::cancels_forwarded)},
                  {"cancels_unknown", Sum(ws, &WorkerStats::cancels_unknown)},
                  {"tls_clients", Sum(ws, &WorkerStats::tls_clients)},
                  {"tls_servers", Sum(ws, &WorkerStats::tls_servers)},
                  {"closed", closed}};
  j["topology"] = {{"changes", watcher ? watcher->topology_changes() : 0},
                   {"leader_changes", watcher ? watcher->leader_changes() : 0},
                   {"etcd_read_failures", watcher ? watcher->etcd_read_failures() : 0},
                   {"etcd_switches", watcher ? watcher->etcd_switches() : 0},
                   {"etcd_switch_failures", watcher ? watcher->etcd_switch_failures() : 0},
                   {"reroute_ms", shared.reroute_ms.load() >= 0 ? Json(shared.reroute_ms.load()) : Json()}};
  // The settings in force (after the last reload).
  j["config"] = {{"read_max_lag_bytes", cfg.read_max_lag_bytes},
                 {"read_return_lag_bytes", cfg.read_return_lag_bytes},
                 {"read_max_lag_time_ms", cfg.read_max_lag_time.count()},
                 {"read_fallback_to_primary", cfg.read_fallback_to_primary},
                 {"no_leader_wait_ms", cfg.no_leader_wait.count()},
                 {"connect_timeout_ms", cfg.connect_timeout.count()},
                 {"recovery_check", cfg.recovery_check == RecoveryCheck::kQuery ? "query" : "auto"},
                 {"log_level", LogLevelName(cfg.log_level)},
                 {"workers", cfg.workers},
                 {"client_tls", cfg.client_tls != nullptr},
                 {"client_tls_sslmode", ClientTlsModeName(cfg.client_tls_sslmode)},
                 {"server_tls_client_cert", !cfg.server_tls_cert_file.empty()},
                 {"server_tls_sslmode", ServerTlsModeName(cfg.server_tls_sslmode)},
                 {"reloads", shared.reloads.load()},
                 {"reload_failures", shared.reload_failures.load()}};
  Json workers = Json::array();
  for (const Worker* w : ws) {
    workers.push_back({{"index", w->index()},
                       {"clients", w->stats().clients.load()},
                       {"loop_lag_us", w->lag_last_us()},
                       {"loop_lag_max_us", w->lag_max_us()}});
  }
  j["workers"] = workers;
  return j.dump(2) + "\n";
}

std::string RenderMetrics(const Topology& t, MonoTime now, const RouterConfig& cfg, const RouterShared& shared,
                          const std::vector<const Worker*>& ws, const TopologyWatcher* watcher) {
  AdminView v = MakeAdminView(t, now, cfg);
  std::string o;
  auto metric = [&o](const char* name, const char* type, const char* help) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  auto line = [&o](const std::string& name, const std::string& labels, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", value);
    o += name + (labels.empty() ? "" : "{" + labels + "}") + " " + buf + "\n";
  };
  metric("pgwarden_router_dcs_fresh", "gauge", "1 when etcd was read within the ttl");
  line("pgwarden_router_dcs_fresh", "", v.dcs_fresh ? 1 : 0);
  metric("pgwarden_router_writes_routable", "gauge", "1 when new read-write connections have a target");
  line("pgwarden_router_writes_routable", "", v.write_target.empty() ? 0 : 1);
  metric("pgwarden_router_server_connections", "gauge", "client sessions linked to each server");
  metric("pgwarden_router_server_role", "gauge", "1 for each server, labelled with its role and state");
  auto loads = shared.loads.All();
  for (const auto& s : t.servers) {
    auto it = loads.find(s.name);
    line("pgwarden_router_server_connections", "server=\"" + Label(s.name) + "\"",
         it == loads.end() ? 0 : static_cast<double>(it->second->active.load()));
    line("pgwarden_router_server_role",
         "server=\"" + Label(s.name) + "\",role=\"" + Label(s.role) + "\",state=\"" + Label(s.state) + "\",leader=\"" +
             (s.leader ? "true" : "false") + "\"",
         1);
  }
  metric("pgwarden_router_clients", "gauge", "client connections open");
  line("pgwarden_router_clients", "", static_cast<double>(SumGauge(ws, &WorkerStats::clients)));
  metric("pgwarden_router_clients_waiting", "gauge", "client connections waiting for a routable server");
  line("pgwarden_router_clients_waiting", "", static_cast<double>(SumGauge(ws, &WorkerStats::waiting)));
  metric("pgwarden_router_accepted_total", "counter", "client connections accepted");
  line("pgwarden_router_accepted_total", "", static_cast<double>(Sum(ws, &WorkerStats::accepted)));
  metric("pgwarden_router_bytes_total", "counter", "bytes relayed");
  line("pgwarden_router_bytes_total", "direction=\"to_server\"",
       static_cast<double>(Sum(ws, &WorkerStats::bytes_to_server)));
  line("pgwarden_router_bytes_total", "direction=\"to_client\"",
       static_cast<double>(Sum(ws, &WorkerStats::bytes_to_client)));
  metric("pgwarden_router_routed_total", "counter", "sessions linked to a server, by port");
  line("pgwarden_router_routed_total", "port=\"write\"", static_cast<double>(Sum(ws, &WorkerStats::routed_write)));
  line("pgwarden_router_routed_total", "port=\"read\"", static_cast<double>(Sum(ws, &WorkerStats::routed_read)));
  metric("pgwarden_router_connect_failures_total", "counter", "failed or timed-out TCP connects to servers");
  line("pgwarden_router_connect_failures_total", "", static_cast<double>(Sum(ws, &WorkerStats::connect_failures)));
  metric("pgwarden_router_startup_retries_total", "counter", "start-ups tried again before the client saw anything");
  line("pgwarden_router_startup_retries_total", "", static_cast<double>(Sum(ws, &WorkerStats::startup_retries)));
  metric("pgwarden_router_recovery_queries_total", "counter",
         "SELECT pg_is_in_recovery() checks sent to leaders (no in_hot_standby, or recovery_check query)");
  line("pgwarden_router_recovery_queries_total", "", static_cast<double>(Sum(ws, &WorkerStats::recovery_queries)));
  metric("pgwarden_router_cancels_total", "counter", "cancel requests, by outcome");
  line("pgwarden_router_cancels_total", "outcome=\"forwarded\"",
       static_cast<double>(Sum(ws, &WorkerStats::cancels_forwarded)));
  line("pgwarden_router_cancels_total", "outcome=\"unknown_key\"",
       static_cast<double>(Sum(ws, &WorkerStats::cancels_unknown)));
  metric("pgwarden_router_tls_handshakes_total", "counter", "TLS handshakes completed, by side");
  line("pgwarden_router_tls_handshakes_total", "side=\"client\"",
       static_cast<double>(Sum(ws, &WorkerStats::tls_clients)));
  line("pgwarden_router_tls_handshakes_total", "side=\"server\"",
       static_cast<double>(Sum(ws, &WorkerStats::tls_servers)));
  metric("pgwarden_router_sessions_closed_total", "counter", "sessions ended, by reason");
  for (int r = 0; r < static_cast<int>(CloseReason::kCount); ++r) {
    uint64_t n = 0;
    for (const Worker* w : ws) n += w->stats().closed[r].load();
    line("pgwarden_router_sessions_closed_total",
         std::string("reason=\"") + CloseReasonName(static_cast<CloseReason>(r)) + "\"", static_cast<double>(n));
  }
  metric("pgwarden_router_session_transitions_total", "counter", "session state transitions, by state entered");
  for (int st = 0; st < static_cast<int>(SessionState::kCount); ++st) {
    uint64_t n = 0;
    for (const Worker* w : ws) n += w->transitions(static_cast<SessionState>(st));
    line("pgwarden_router_session_transitions_total",
         std::string("state=\"") + SessionStateName(static_cast<SessionState>(st)) + "\"", static_cast<double>(n));
  }
  metric("pgwarden_router_reloads_total", "counter", "SIGHUP reloads, by outcome");
  line("pgwarden_router_reloads_total", "outcome=\"applied\"", static_cast<double>(shared.reloads.load()));
  line("pgwarden_router_reloads_total", "outcome=\"refused\"", static_cast<double>(shared.reload_failures.load()));
  metric("pgwarden_router_topology_changes_total", "counter", "topology snapshots that changed something");
  line("pgwarden_router_topology_changes_total", "", watcher ? static_cast<double>(watcher->topology_changes()) : 0);
  metric("pgwarden_router_leader_changes_total", "counter", "write target changes");
  line("pgwarden_router_leader_changes_total", "", watcher ? static_cast<double>(watcher->leader_changes()) : 0);
  metric("pgwarden_router_reroute_seconds", "gauge",
         "time from the last leader change to the first session linked to the new leader");
  if (shared.reroute_ms.load() >= 0) line("pgwarden_router_reroute_seconds", "", shared.reroute_ms.load() / 1000.0);
  metric("pgwarden_router_loop_lag_seconds", "gauge", "event-loop lag of each worker (last probe)");
  for (const Worker* w : ws) {
    line("pgwarden_router_loop_lag_seconds", "worker=\"" + std::to_string(w->index()) + "\"", w->lag_last_us() / 1e6);
  }
  metric("pgwarden_router_loop_lag_max_seconds", "gauge", "largest event-loop lag of each worker since start");
  for (const Worker* w : ws) {
    line("pgwarden_router_loop_lag_max_seconds", "worker=\"" + std::to_string(w->index()) + "\"",
         w->lag_max_us() / 1e6);
  }
  return o;
}

}  // namespace pgw::router
