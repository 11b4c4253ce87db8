#include "agent/api.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/truthy.h"

namespace pgw::api {

HttpServerResponse Text(int code, std::string body) {
  HttpServerResponse r;
  r.status = code;
  r.content_type = "text/html";
  r.body = std::move(body);
  return r;
}

HttpServerResponse JsonBody(int code, const Json& j) {
  HttpServerResponse r;
  r.status = code;
  r.content_type = "application/json";
  r.body = j.dump();
  return r;
}

Json ClusterJson(const Config& cfg, const ClusterView& c, bool paused) {
  nlohmann::ordered_json out;
  nlohmann::ordered_json members = nlohmann::ordered_json::array();
  // As Patroni: the standbys the `sync` key names, whichever leader wrote it.
  const std::vector<std::string> standbys = ha::SyncStandbys(c, ha::SyncLeader(c));
  const bool standby_cluster = ha::IsStandbyCluster(c);
  for (const auto& [name, m] : c.members) {  // std::map: sorted by name, as Patroni sorts
    nlohmann::ordered_json j;
    bool leader = c.leader && c.leader->name == name;
    bool sync = std::find(standbys.begin(), standbys.end(), name) != standbys.end();
    j["name"] = name;
    j["role"] = leader ? (standby_cluster ? "standby_leader" : "leader") : sync ? "sync_standby" : "replica";
    auto rs = m.raw.is_object() ? m.raw.find("replication_state") : m.raw.end();
    std::string repl = rs != m.raw.end() && rs->is_string() ? rs->get<std::string>() : "";
    j["state"] = !leader && !repl.empty() ? repl : m.state;
    j["api_url"] = m.api_url;
    if (m.conn) {
      j["host"] = m.conn->host;
      j["port"] = m.conn->port;
    }
    if (m.timeline) j["timeline"] = *m.timeline;
    if (PyTruthyField(m.raw, "pending_restart")) j["pending_restart"] = true;
    if (!m.tags.empty()) j["tags"] = m.tags;
    if (!leader) {
      if (c.last_lsn && m.xlog_location)
        j["lag"] = std::max<int64_t>(0, *c.last_lsn - *m.xlog_location);
      else
        j["lag"] = "unknown";
    }
    members.push_back(j);
  }
  out["members"] = members;
  out["scope"] = cfg.scope;
  if (paused) out["pause"] = true;
  if (c.failover) {
    const auto& f = c.failover->request;
    if (f && f->scheduled_at) {
      nlohmann::ordered_json s;
      s["at"] = IsoTimestamp(*f->scheduled_at);
      if (!f->leader.empty()) s["from"] = f->leader;
      if (!f->member.empty()) s["to"] = f->member;
      out["scheduled_switchover"] = s;
    }
  }
  return Json::parse(out.dump());
}

namespace {
// Python's str() of a JSON scalar, which Patroni compares to decide whether a value changed.
std::string PyStr(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  return v.dump();
}
}  // namespace

namespace {
bool PatchInto(Json& target, const Json& patch) {
  bool changed = false;
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null()) {
      if (target.contains(k)) {
        changed = changed || !target[k].is_null();
        target.erase(k);
      }
    } else if (!target.contains(k)) {
      target[k] = v;
      changed = true;
    } else if (v.is_object() && target[k].is_object()) {
      changed = PatchInto(target[k], v) || changed;
    } else if (v.is_structured() || target[k].is_structured() ? v != target[k] : PyStr(v) != PyStr(target[k])) {
      target[k] = v;
      changed = true;
    }
  }
  return changed;
}
}  // namespace

Json MergePatch(Json target, const Json& patch, bool* changed) {
  bool c = true;
  if (!patch.is_object() || !target.is_object()) {
    c = target != patch;
    target = patch;
  } else {
    c = PatchInto(target, patch);
  }
  if (changed) *changed = c;
  return target;
}

SwitchoverPlan PlanSwitchover(const std::string& action, const Json& body, const ClusterView& c, bool paused,
                              double wall_now) {
  SwitchoverPlan p;
  auto refuse = [&](int code, std::string msg) {
    p.code = code;
    p.message = std::move(msg);
    return p;
  };
  std::string title = action == "switchover" ? "Switchover" : "Failover";
  if (!body.is_object()) return refuse(400, "the request body must be a JSON object");
  auto str = [&](const char* k) {
    return body.contains(k) && body[k].is_string() ? body[k].get<std::string>() : std::string();
  };
  p.leader = str("leader");
  p.candidate = str("candidate");
  if (p.candidate.empty()) p.candidate = str("member");
  std::string scheduled = str("scheduled_at");
  if (action == "failover" && p.candidate.empty()) {
    return refuse(400, "Failover could be performed only to a specific candidate");
  }
  if (action == "switchover" && p.leader.empty()) {
    return refuse(400, "Switchover could be performed only from a specific leader");
  }
  if (!scheduled.empty()) {
    if (p.leader.empty()) return refuse(400, "Scheduled " + action + " is possible only from a specific leader");
    if (paused) return refuse(400, "Can't schedule " + action + " in the paused state");
    bool zone = false;
    auto t = ParseIsoTimestamp(scheduled, &zone);
    if (!t)
      return refuse(422, "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601");
    if (!zone) return refuse(400, "Timezone information is mandatory for the scheduled " + action);
    if (*t < wall_now) return refuse(422, "Cannot schedule " + action + " in the past");
    p.scheduled_at = *t;
  }
  if (paused && p.candidate.empty()) {
    return refuse(400, title + " is possible only to a specific candidate in a paused state");
  }
  if (!p.scheduled_at) {
    if (!p.leader.empty() && (!c.leader || c.leader->name != p.leader))
      return refuse(412, "leader name does not match");
    if (!p.candidate.empty()) {
      if (action == "switchover" && c.sync && c.leader) {
        auto standbys = ha::SyncStandbys(c, c.leader->name);
        if (std::find(standbys.begin(), standbys.end(), p.candidate) == standbys.end()) {
          return refuse(412, "candidate name does not match with sync_standby");
        }
      }
      if (action == "failover" && !c.leader && c.sync) {
        // With no leader the candidate takes over on its own: in synchronous mode only the former leader or a
        // synchronous standby has every acknowledged commit (the agents refuse any other candidate as well).
        std::string former = ha::SyncLeader(c);
        auto standbys = former.empty() ? std::vector<std::string>{} : ha::SyncStandbys(c, former);
        if (!former.empty() && p.candidate != former &&
            std::find(standbys.begin(), standbys.end(), p.candidate) == standbys.end()) {
          return refuse(412, "candidate name does not match with sync_standby");
        }
      }
      if (!c.FindMember(p.candidate)) return refuse(412, "candidate does not exists");
      if (c.leader && c.leader->name == p.candidate) {
        return refuse(412, action + " is not possible: the candidate is already the leader");
      }
      p.to_check = {p.candidate};
    } else {
      for (const auto& [name, m] : c.members) {
        if ((!c.leader || name != c.leader->name) && !m.api_url.empty()) p.to_check.push_back(name);
      }
      if (p.to_check.empty())
        return refuse(412, action + " is not possible: cluster does not have members except leader");
    }
  }
  p.key = Json::object();
  if (!p.leader.empty()) p.key["leader"] = p.leader;
  if (!p.candidate.empty()) p.key["member"] = p.candidate;
  if (p.scheduled_at) p.key["scheduled_at"] = IsoTimestamp(*p.scheduled_at);
  return p;
}

std::string CandidateProblem(const std::string& action, const std::vector<ha::PeerStatus>& statuses) {
  for (const auto& s : statuses) {
    if (s.reachable && !s.nofailover) return "";
  }
  return action + " is not possible: no good candidates have been found";
}

std::optional<std::string> QueryParam(const std::string& query, const std::string& key) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = kv.find('=');
    if (kv.substr(0, eq) == key) return eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return std::nullopt;
}

namespace {

// "1MB", "16kB", "1024" -> bytes; nullopt when unparsable.
std::optional<double> ParseSize(const std::string& v) {
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  if (end == v.c_str()) return std::nullopt;
  std::string unit(end);
  if (unit.empty() || unit == "B") return n;
  if (unit == "kB" || unit == "KB") return n * 1024;
  if (unit == "MB") return n * 1024 * 1024;
  if (unit == "GB") return n * 1024.0 * 1024 * 1024;
  if (unit == "TB") return n * 1024.0 * 1024 * 1024 * 1024;
  return std::nullopt;
}

}  // namespace

bool IsSyncStandby(const ClusterView* c, const std::string& name) {
  if (!c) return false;
  auto standbys = ha::SyncStandbys(*c, ha::SyncLeader(*c));
  return std::find(standbys.begin(), standbys.end(), name) != standbys.end();
}

int HealthCode(const HealthInputs& in, const std::string& path, const std::string& query) {
  const NodeState& s = *in.state;
  const Config& cfg = *in.cfg;
  bool running = s.pg_state == ha::PgState::kRunning;
  MemberRole role = RoleOf(s);
  // As Patroni: in a standby cluster the leader is never "primary", and it is not a "replica" either.
  bool primary_with_lock = s.is_leader && role == MemberRole::kPrimary && !s.standby_cluster;
  bool standby_leader =
      s.is_leader && s.standby_cluster && (role == MemberRole::kReplica || role == MemberRole::kStandbyLeader);
  bool replica_ok =
      role == MemberRole::kReplica && running && !cfg.tags.noloadbalance && !(s.is_leader && s.standby_cluster);
  if (replica_ok) {
    if (auto lag = QueryParam(query, "lag")) {
      auto max = ParseSize(*lag);
      if (max && s.last_lsn && static_cast<double>(*s.last_lsn - s.local.replayed_location) > *max) replica_ok = false;
    }
    // ?tag_<key>=<value>: the tag must exist with that value (booleans as true/false).
    size_t pos = 0;
    while (replica_ok && (pos = query.find("tag_", pos)) != std::string::npos) {
      if (pos != 0 && query[pos - 1] != '&') {
        pos += 4;
        continue;
      }
      size_t amp = query.find('&', pos);
      std::string kv = query.substr(pos + 4, amp == std::string::npos ? std::string::npos : amp - pos - 4);
      auto eq = kv.find('=');
      std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
      const Json& tags = cfg.tags.published;
      if (!tags.contains(k)) {
        replica_ok = false;
      } else {
        const Json& t = tags.at(k);
        std::string have = t.is_string()    ? t.get<std::string>()
                           : t.is_boolean() ? (t.get<bool>() ? "true" : "false")
                                            : t.dump();
        if (have != v) replica_ok = false;
      }
      pos += 4;
    }
  }
  bool sync = replica_ok && IsSyncStandby(in.cluster, cfg.name);
  auto code = [](bool ok) { return ok ? 200 : 503; };
  if (path == "/" || path == "/primary" || path == "/master" || path == "/read-write") return code(primary_with_lock);
  if (path == "/leader") return code(s.is_leader);
  if (path == "/standby-leader" || path == "/standby_leader") return code(standby_leader);
  if (path == "/replica") return code(replica_ok);
  if (path == "/read-only") return code(primary_with_lock || standby_leader || replica_ok);
  if (path == "/sync" || path == "/synchronous") return code(sync);
  if (path == "/read-only-sync" || path == "/read-only-synchronous") {
    return code(primary_with_lock || standby_leader || sync);
  }
  if (path == "/async" || path == "/asynchronous") return code(replica_ok && !sync);
  if (path == "/health") return code(running);
  if (path == "/liveness") return code(in.loop_alive);
  if (path == "/readiness") return code(s.is_leader || (running && s.dcs_ok));
  if (path == "/patroni") return 200;
  return 0;
}

std::string MetricsText(const Config& cfg, const NodeState& s, const ClusterView* c, const Counters& k, bool paused,
                        bool failsafe_enabled) {
  std::ostringstream o;
  std::string labels = "{scope=\"" + cfg.scope + "\",name=\"" + cfg.name + "\"}";
  auto gauge = [&](const char* name, const char* help, double v, const char* type = "gauge") {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n"
      << name << labels << " " << (std::floor(v) == v ? std::to_string(static_cast<long long>(v)) : std::to_string(v))
      << "\n";
  };
  const LocalView& l = s.local;
  MemberRole role = RoleOf(s);
  bool running = s.pg_state == ha::PgState::kRunning;
  gauge("patroni_version", "Patroni semver without periods (the Patroni generation pgwarden emulates).", 40000);
  gauge("patroni_postgres_running", "Value is 1 if Postgres is running, 0 otherwise.", running ? 1 : 0);
  double start = 0;
  if (!l.postmaster_start_time.empty()) {
    bool zone = false;
    start = ParseIsoTimestamp(l.postmaster_start_time, &zone).value_or(0);
  }
  gauge("patroni_postmaster_start_time", "Epoch seconds since Postgres started.", start);
  gauge("patroni_primary", "Value is 1 if this node is the leader, 0 otherwise.",
        s.is_leader && role == MemberRole::kPrimary);
  gauge("patroni_xlog_location", "Current location of the Postgres transaction log, 0 if this node is not the leader.",
        l.query_ok && !l.in_recovery ? static_cast<double>(l.wal_position) : 0);
  gauge("patroni_standby_leader", "Value is 1 if this node is the standby_leader, 0 otherwise.",
        role == MemberRole::kStandbyLeader);
  gauge("patroni_replica", "Value is 1 if this node is a replica, 0 otherwise.",
        role == MemberRole::kReplica && running);
  bool sync = IsSyncStandby(c, cfg.name);
  gauge("patroni_sync_standby", "Value is 1 if this node is a sync standby replica, 0 otherwise.", sync);
  gauge("patroni_xlog_received_location",
        "Current location of the received Postgres transaction log, 0 if this node is not a replica.",
        l.in_recovery ? static_cast<double>(l.received_location) : 0);
  gauge("patroni_xlog_replayed_location",
        "Current location of the replayed Postgres transaction log, 0 if this node is not a replica.",
        l.in_recovery ? static_cast<double>(l.replayed_location) : 0);
  double replayed_ts = 0;
  if (l.replayed_timestamp) {
    bool zone = false;
    replayed_ts = ParseIsoTimestamp(*l.replayed_timestamp, &zone).value_or(0);
  }
  gauge("patroni_xlog_replayed_timestamp", "Current timestamp of the replayed Postgres transaction log, 0 if null.",
        replayed_ts);
  gauge("patroni_xlog_paused", "Value is 1 if the Postgres xlog is paused, 0 otherwise.", l.replay_paused);
  gauge("patroni_postgres_streaming", "Value is 1 if Postgres is streaming, 0 otherwise.",
        l.in_recovery && l.replication_state == "streaming");
  gauge("patroni_postgres_in_archive_recovery", "Value is 1 if Postgres is replicating from archive, 0 otherwise.",
        l.in_recovery && l.replication_state == "in archive recovery");
  gauge("patroni_postgres_server_version", "Version of Postgres (if running), 0 otherwise.", l.server_version);
  gauge("patroni_cluster_unlocked", "Value is 1 if the cluster is unlocked, 0 if locked.", s.cluster_unlocked);
  gauge("patroni_failsafe_mode_is_active", "Value is 1 if failsafe mode is active, 0 if inactive.", s.failsafe_active);
  gauge("patroni_postgres_timeline", "Postgres timeline of this node (if running), 0 otherwise.", l.timeline);
  gauge("patroni_dcs_last_seen", "Epoch timestamp when DCS was last contacted successfully by Patroni.",
        std::floor(s.dcs_last_seen));
  gauge("patroni_pending_restart", "Value is 1 if the node needs a restart, 0 otherwise.",
        l.query_ok && l.pending_restart);
  gauge("patroni_is_paused", "Value is 1 if auto failover is disabled, 0 otherwise.", paused);
  gauge("patroni_failsafe_mode_enabled", "Value is 1 if failsafe mode is enabled, 0 otherwise.", failsafe_enabled);
  gauge("pgwarden_lease_renewals_total", "Lease keepalives acknowledged by etcd.",
        static_cast<double>(k.lease_renewals), "counter");
  gauge("pgwarden_lease_renewal_failures_total", "Lease keepalives that failed or timed out.",
        static_cast<double>(k.lease_failures), "counter");
  gauge("pgwarden_lease_remaining_seconds", "Seconds until this agent's lease expires, as the agent knows it.",
        k.lease_remaining_seconds);
  gauge("pgwarden_ha_cycles_total", "HA loop cycles run (observe, decide, act).", static_cast<double>(k.cycles),
        "counter");
  gauge("pgwarden_ha_cycle_duration_seconds", "Duration of the last HA loop cycle.", k.last_cycle_seconds);
  gauge("pgwarden_promotions_total", "Times this node promoted PostgreSQL to primary.",
        static_cast<double>(k.promotions), "counter");
  gauge("pgwarden_promotion_duration_seconds", "Duration of the last promotion (pg_promote until writable).",
        k.last_promotion_seconds);
  gauge("pgwarden_demotions_total", "Times this node demoted its primary.", static_cast<double>(k.demotions),
        "counter");
  // One sample per reason seen so far (label values appear once counted, as Prometheus client libraries do).
  bool any_decision = false;
  for (size_t i = 0; i < k.decisions.size(); ++i) {
    if (k.decisions[i] == 0) continue;
    if (!any_decision) {
      o << "# HELP pgwarden_ha_decisions_total Decisions of the HA loop, by reason code (one per logged decision).\n"
           "# TYPE pgwarden_ha_decisions_total counter\n";
      any_decision = true;
    }
    o << "pgwarden_ha_decisions_total{scope=\"" << cfg.scope << "\",name=\"" << cfg.name << "\",reason=\""
      << ha::ReasonName(static_cast<ha::Reason>(i)) << "\"} " << k.decisions[i] << "\n";
  }
  // PostgreSQL's state machine: every move counted with its cause (label sets appear once counted).
  for (size_t i = 0; i < k.pg_transitions.size(); ++i) {
    const auto& t = k.pg_transitions[i];
    if (i == 0) {
      o << "# HELP pgwarden_pg_state_transitions_total Moves of PostgreSQL's state (the member key's \"state\"), by "
           "cause.\n# TYPE pgwarden_pg_state_transitions_total counter\n";
    }
    o << "pgwarden_pg_state_transitions_total{scope=\"" << cfg.scope << "\",name=\"" << cfg.name << "\",from=\""
      << ha::PgStateName(t.from) << "\",to=\"" << ha::PgStateName(t.to) << "\",cause=\"" << ha::PgCauseName(t.cause)
      << "\"} " << t.count << "\n";
  }
  gauge("pgwarden_fences_total", "Times the agent's fence killed PostgreSQL because the lease lapsed.",
        static_cast<double>(k.fences), "counter");
  return o.str();
}

std::optional<HttpServerResponse> CheckFailsafeSender(const Json& body,
                                                      const std::optional<FailsafeTopology>& failsafe_key,
                                                      const ClusterView* cluster, const std::string& self) {
  if (!body.is_object() || !body.contains("name") || !body.at("name").is_string() ||
      body.at("name").get<std::string>().empty()) {
    return Text(400, "POST /failsafe needs a JSON object with the sender's name");
  }
  const std::string name = body.at("name").get<std::string>();
  if (name == self) return Text(403, "POST /failsafe from \"" + name + "\": that is this node's own name");
  if (failsafe_key && !failsafe_key->empty()) {
    if (failsafe_key->contains(name)) return std::nullopt;
    return Text(403, "POST /failsafe from \"" + name +
                         "\", which is not listed in the failsafe key: only members "
                         "of this cluster may vouch for a primary");
  }
  if (!cluster) return Text(503, "POST /failsafe: cannot check the sender, no view of the cluster yet");
  if (cluster->FindMember(name)) return std::nullopt;
  return Text(403, "POST /failsafe from \"" + name + "\", which is not a member of this cluster");
}

HttpServerResponse FailsafeListing(bool failsafe_mode, const std::optional<FailsafeTopology>& failsafe_key) {
  if (!failsafe_mode) return Text(502, "Failsafe mode is not enabled");
  if (!failsafe_key) return Text(502, "No failsafe topology in DCS");
  return JsonBody(200, Json(*failsafe_key));
}

bool FailsafeActive(const FailsafeClock& f) {
  if (!f.enabled) return false;
  if (f.primary) return f.now - f.last_renewal > f.suspect_after && f.now < f.confirmed_until;
  return f.now < f.vouched_until;
}

bool LoopAlive(const LoopClock& l) {
  if (l.paused || !l.last_cycle_end) return true;
  int64_t ttl_ms = l.ttl_s * 1000 * (l.primary ? 1 : 2);
  return (l.now - *l.last_cycle_end).count() <= l.loop_wait_s * 1000 + ttl_ms;
}

}  // namespace pgw::api
