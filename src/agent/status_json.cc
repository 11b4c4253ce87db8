#include "agent/status_json.h"

#include <cmath>

namespace pgw {

const char* RoleName(MemberRole r) {
  switch (r) {
    case MemberRole::kUninitialized: return "uninitialized";
    case MemberRole::kPrimary: return "primary";
    case MemberRole::kReplica: return "replica";
    case MemberRole::kStandbyLeader: return "standby_leader";
  }
  return "uninitialized";
}

MemberRole RoleOf(const NodeState& s) {
  if (s.local.data != LocalView::Data::kValid) return MemberRole::kUninitialized;
  if (s.local.running && s.local.query_ok && !s.local.in_recovery) return MemberRole::kPrimary;
  return s.standby_leader ? MemberRole::kStandbyLeader : MemberRole::kReplica;
}

nlohmann::json StatusJson(const Config& cfg, const NodeState& s) {
  // Built as the sorted json it is returned as (it was built ordered, dumped and parsed back on every request).
  nlohmann::json j;
  const LocalView& l = s.local;
  j["state"] = ha::PgStateName(s.pg_state);
  if (!l.postmaster_start_time.empty()) j["postmaster_start_time"] = l.postmaster_start_time;
  j["role"] = RoleName(RoleOf(s));
  if (l.server_version) j["server_version"] = l.server_version;
  if (l.query_ok) {
    if (!l.in_recovery) {
      j["xlog"] = {{"location", l.wal_position}};
    } else {
      nlohmann::json x;
      x["received_location"] = l.received_location;
      x["replayed_location"] = l.replayed_location;
      x["replayed_timestamp"] = l.replayed_timestamp ? nlohmann::json(*l.replayed_timestamp) : nlohmann::json();
      x["paused"] = l.replay_paused;
      j["xlog"] = x;
    }
  }
  if (s.sync_standby && RoleOf(s) == MemberRole::kReplica) j["sync_standby"] = true;
  if (l.timeline) j["timeline"] = l.timeline;
  if (l.query_ok && l.pending_restart) j["pending_restart"] = true;
  if (l.in_recovery && !l.replication_state.empty()) j["replication_state"] = l.replication_state;
  if (!l.replication.empty()) j["replication"] = l.replication;
  if (s.cluster_unlocked) j["cluster_unlocked"] = true;
  if (s.failsafe_active) j["failsafe_mode_is_active"] = true;
  if (s.dcs_last_seen > 0) j["dcs_last_seen"] = static_cast<long long>(std::floor(s.dcs_last_seen));
  if (!cfg.tags.published.empty()) j["tags"] = cfg.tags.published;
  if (!l.sysid.empty()) j["database_system_identifier"] = l.sysid;
  if (s.paused) j["pause"] = true;
  if (!s.sync_note.empty()) j["synchronous"] = s.sync_note;
  if (l.gated) j["client_gate"] = "closed";
  j["patroni"] = {{"version", kPatroniCompatVersion}, {"scope", cfg.scope}, {"name", cfg.name}};
  return j;
}

MemberData MemberKeyData(const LocalView& local, const ha::PgStateMachine& pg_state, bool standby_leader,
                         const nlohmann::json& tags, bool pause, const std::string& sync_note) {
  MemberData m;
  m.state = pg_state.name();
  NodeState ns;
  ns.local = local;
  ns.pg_state = pg_state.state();
  ns.standby_leader = standby_leader;
  m.role = RoleName(RoleOf(ns));
  m.version = kPatroniCompatVersion;
  if (local.query_ok) m.xlog_location = local.wal_position;
  if (local.timeline) m.timeline = local.timeline;
  if (local.query_ok && local.in_recovery) {
    m.replication_state = local.replication_state;
    // As Patroni 4.1: what a read on this standby sees (replay) apart from what it holds (receive); the router
    // measures read lag from replay_lsn.
    if (local.replayed_location > 0) m.replay_lsn = local.replayed_location;
    if (local.received_location > 0) m.receive_lsn = local.received_location;
  }
  m.tags = tags;
  m.pending_restart = local.query_ok && local.pending_restart;
  m.pause = pause;
  m.synchronous = sync_note;
  m.client_gate_closed = local.gated;
  return m;
}

}  // namespace pgw
