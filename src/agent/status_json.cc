#include "agent/status_json.h"

#include <cmath>

namespace pgw {

std::string RoleOf(const NodeState& s) {
  if (s.local.data != LocalView::Data::kValid) return "uninitialized";
  if (s.local.running && s.local.query_ok && !s.local.in_recovery) return "primary";
  return "replica";
}

nlohmann::json StatusJson(const Config& cfg, const NodeState& s) {
  nlohmann::ordered_json j;
  const LocalView& l = s.local;
  j["state"] = s.pg_state;
  if (!l.postmaster_start_time.empty()) j["postmaster_start_time"] = l.postmaster_start_time;
  j["role"] = RoleOf(s);
  if (l.server_version) j["server_version"] = l.server_version;
  if (l.query_ok) {
    if (!l.in_recovery) {
      j["xlog"] = {{"location", l.wal_position}};
    } else {
      nlohmann::ordered_json x;
      x["received_location"] = l.received_location;
      x["replayed_location"] = l.replayed_location;
      x["replayed_timestamp"] = l.replayed_timestamp ? nlohmann::json(*l.replayed_timestamp) : nlohmann::json();
      x["paused"] = l.replay_paused;
      j["xlog"] = x;
    }
  }
  if (l.timeline) j["timeline"] = l.timeline;
  if (l.in_recovery && !l.replication_state.empty()) j["replication_state"] = l.replication_state;
  if (!l.replication.empty()) j["replication"] = l.replication;
  if (s.cluster_unlocked) j["cluster_unlocked"] = true;
  if (s.failsafe_active) j["failsafe_mode_is_active"] = true;
  if (s.dcs_last_seen > 0) j["dcs_last_seen"] = static_cast<long long>(std::floor(s.dcs_last_seen));
  if (!cfg.tags.published.empty()) j["tags"] = cfg.tags.published;
  if (!l.sysid.empty()) j["database_system_identifier"] = l.sysid;
  if (s.paused) j["pause"] = true;
  j["patroni"] = {{"version", kPatroniCompatVersion}, {"scope", cfg.scope}, {"name", cfg.name}};
  return nlohmann::json::parse(j.dump());
}

int HealthCheckCode(const Config& cfg, const NodeState& s, const std::string& path, const std::string& query) {
  bool running = s.pg_state == "running";
  std::string role = RoleOf(s);
  bool primary_with_lock = s.is_leader && role == "primary";
  bool replica_ok = role == "replica" && running && !cfg.tags.noloadbalance;
  if (replica_ok && query.rfind("lag=", 0) == 0 && s.last_lsn) {
    // ?lag=<bytes|16kB|64MB|1GB>
    std::string v = query.substr(4);
    auto amp = v.find('&');
    if (amp != std::string::npos) v = v.substr(0, amp);
    double n = std::atof(v.c_str());
    if (v.find("kB") != std::string::npos) n *= 1024;
    else if (v.find("MB") != std::string::npos) n *= 1024 * 1024;
    else if (v.find("GB") != std::string::npos) n *= 1024.0 * 1024 * 1024;
    if (static_cast<double>(*s.last_lsn - s.local.replayed_location) > n) replica_ok = false;
  }
  auto code = [](bool ok) { return ok ? 200 : 503; };
  if (path == "/" || path == "/primary" || path == "/master" || path == "/read-write") return code(primary_with_lock);
  if (path == "/leader") return code(s.is_leader);
  if (path == "/replica") return code(replica_ok);
  if (path == "/read-only") return code(primary_with_lock || replica_ok);
  if (path == "/health") return code(running);
  if (path == "/patroni") return 200;
  return 0;
}

}  // namespace pgw
