#include "router/topology.h"

#include <algorithm>
#include <limits>

namespace pgw::router {

namespace {
std::string Ms(Duration d) { return std::to_string(d.count()) + " ms"; }
}  // namespace

const ServerInfo* Topology::Find(const std::string& name) const {
  for (const auto& s : servers) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const ServerInfo* Topology::Leader() const { return leader ? Find(*leader) : nullptr; }

Topology BuildTopology(const ClusterView& view) {
  Topology t;
  t.revision = view.revision;
  t.dcs_ready = true;
  if (view.leader) t.leader = view.leader->name;
  if (view.config && view.config->is_object()) {
    auto it = view.config->find("ttl");
    if (it != view.config->end() && it->is_number_integer() && it->get<int64_t>() > 0 && it->get<int64_t>() < 1000000) {
      t.ttl_seconds = static_cast<int>(it->get<int64_t>());
    }
  }
  std::optional<int64_t> reference = view.last_lsn;
  if (const Member* lm = view.LeaderMember(); lm && lm->xlog_location) {
    reference = std::max(reference.value_or(0), *lm->xlog_location);
  }
  t.leader_position = reference;
  for (const auto& [name, m] : view.members) {
    ServerInfo s;
    s.name = name;
    s.addr = m.conn;
    s.role = m.role;
    s.state = m.state;
    s.xlog_location = m.xlog_location;
    s.replay_lsn = m.replay_lsn;
    s.noloadbalance = m.NoLoadBalance();
    s.leader = t.leader && *t.leader == name;
    std::optional<int64_t> position = m.replay_lsn ? m.replay_lsn : m.xlog_location;
    if (reference && position) s.lag_bytes = std::max<int64_t>(0, *reference - *position);
    t.servers.push_back(std::move(s));
  }
  return t;
}

bool WriteTargetChanged(const Topology& a, const Topology& b) {
  const ServerInfo* la = a.Leader();
  const ServerInfo* lb = b.Leader();
  if (a.leader != b.leader) return true;
  if ((la == nullptr) != (lb == nullptr)) return true;
  return la && la->addr != lb->addr;
}

RouteDecision RouteWrite(const Topology& t, MonoTime now, const std::set<std::string>& excluded) {
  if (!t.dcs_ready) return {nullptr, "no view of etcd yet"};
  auto age = now - t.fresh_at;
  if (age > std::chrono::seconds(t.ttl_seconds)) {
    return {nullptr, "etcd has not been read for " + std::to_string(age.count() / 1000) + " s (more than the ttl, " +
                         std::to_string(t.ttl_seconds) + " s): the leader is unknown"};
  }
  if (!t.leader) return {nullptr, "the cluster has no leader"};
  const ServerInfo* l = t.Leader();
  if (!l) return {nullptr, "the leader " + *t.leader + " has no member key"};
  if (!l->addr) return {nullptr, "the leader " + l->name + " has no usable conn_url"};
  if (excluded.count(l->name)) return {nullptr, "the leader " + l->name + " could not be reached"};
  return {l, "leader " + l->name};
}

void LeaderPositionHistory::Observe(const std::optional<std::string>& leader, std::optional<int64_t> position,
                                    MonoTime now) {
  if (!leader || !position) return;
  if (*leader != leader_ || (!entries_.empty() && *position < entries_.back().second)) {
    leader_ = *leader;
    entries_.clear();
  }
  if (!entries_.empty() && *position == entries_.back().second) return;
  if (entries_.size() >= kMaxEntries) entries_.erase(entries_.begin(), entries_.begin() + kMaxEntries / 2);
  entries_.emplace_back(now, *position);
}

std::optional<Duration> LeaderPositionHistory::Behind(int64_t position, MonoTime now) const {
  if (entries_.empty()) return std::nullopt;
  if (position >= entries_.back().second) return Duration(0);
  // The first position seen past `position` (entries ascend in both time and position).
  auto it = std::upper_bound(entries_.begin(), entries_.end(), position,
                             [](int64_t p, const std::pair<MonoTime, int64_t>& e) { return p < e.second; });
  return std::max(Duration(0), std::chrono::duration_cast<Duration>(now - it->first));
}

void AddLagTimes(Topology* t, LeaderPositionHistory* history, MonoTime now) {
  history->Observe(t->leader, t->leader_position, now);
  if (!t->leader_position) return;
  for (auto& s : t->servers) {
    if (s.leader) continue;
    std::optional<int64_t> position = s.replay_lsn ? s.replay_lsn : s.xlog_location;
    if (position) s.lag_time = history->Behind(*position, now);
  }
}

int64_t ReadPolicy::ReturnLag() const {
  if (return_lag_bytes < 0) return max_lag_bytes / 2;
  return std::min(return_lag_bytes, max_lag_bytes);
}

std::set<std::string> NextLagging(const Topology& t, const ReadPolicy& policy, const std::set<std::string>& lagging) {
  std::set<std::string> next;
  for (const auto& s : t.servers) {
    if (s.leader) continue;  // lag is measured from it; a read session there is the fallback, never a replica
    bool was = lagging.count(s.name) > 0;
    if (!t.leader_position || !s.lag_bytes) {
      if (was) next.insert(s.name);
      continue;
    }
    bool timed = policy.max_lag_time.count() > 0 && s.lag_time;
    bool over = *s.lag_bytes > policy.max_lag_bytes || (timed && *s.lag_time > policy.max_lag_time);
    bool not_back = *s.lag_bytes > policy.ReturnLag() || (timed && *s.lag_time > policy.ReturnLagTime());
    if (over || (was && not_back)) next.insert(s.name);
  }
  return next;
}

std::optional<std::string> ReplicaRefusal(const Topology& t, const ServerInfo& s, const ReadPolicy& policy,
                                          const std::set<std::string>& lagging) {
  if (s.leader || s.role == "primary" || s.role == "master") return s.name + " is the primary";
  if (s.state != "running" && s.state != "streaming") return s.name + " is not running (state " + s.state + ")";
  if (s.noloadbalance) return s.name + " has the noloadbalance tag";
  if (!s.addr) return s.name + " has no usable conn_url";
  if (t.leader_position) {
    if (!s.lag_bytes) return s.name + " reports no WAL position to measure its lag";
    if (*s.lag_bytes > policy.max_lag_bytes) {
      return s.name + " is " + std::to_string(*s.lag_bytes) + " bytes behind the leader (read_max_lag " +
             std::to_string(policy.max_lag_bytes) + ")";
    }
    bool timed = policy.max_lag_time.count() > 0 && s.lag_time;
    if (timed && *s.lag_time > policy.max_lag_time) {
      return s.name + " is " + Ms(*s.lag_time) + " behind the leader (read_max_lag_time " + Ms(policy.max_lag_time) +
             ")";
    }
    if (lagging.count(s.name) && *s.lag_bytes > policy.ReturnLag()) {
      return s.name + " is " + std::to_string(*s.lag_bytes) +
             " bytes behind the leader and has not caught up since "
             "it left the read pool (returns at read_return_lag " +
             std::to_string(policy.ReturnLag()) + ")";
    }
    if (lagging.count(s.name) && timed && *s.lag_time > policy.ReturnLagTime()) {
      return s.name + " is " + Ms(*s.lag_time) +
             " behind the leader and has not caught up since it left the read "
             "pool (returns at half of read_max_lag_time, " +
             Ms(policy.ReturnLagTime()) + ")";
    }
  }
  return std::nullopt;
}

RouteDecision RouteRead(const Topology& t, const ReadPolicy& policy, const std::set<std::string>& lagging,
                        const std::function<int64_t(const std::string&)>& outstanding,
                        const std::set<std::string>& excluded) {
  if (!t.dcs_ready) return {nullptr, "no view of etcd yet"};
  const ServerInfo* best = nullptr;
  int64_t best_load = std::numeric_limits<int64_t>::max();
  for (const auto& s : t.servers) {
    if (excluded.count(s.name) || ReplicaRefusal(t, s, policy, lagging)) continue;
    int64_t load = outstanding ? outstanding(s.name) : 0;
    if (load < best_load) {  // servers are in name order: ties go to the first name
      best = &s;
      best_load = load;
    }
  }
  if (best) return {best, "replica " + best->name};
  if (policy.fallback_to_primary) {
    const ServerInfo* l = t.Leader();
    if (l && l->addr && !excluded.count(l->name)) return {l, "no replica qualifies: the primary " + l->name};
  }
  return {nullptr, "no replica is running within the lag threshold"};
}

std::optional<std::string> ReadEvictionReason(const Topology& t, const std::string& server, const ReadPolicy& policy,
                                              const std::set<std::string>& lagging) {
  // Before the first read of etcd nothing is known; sessions are only routed after it anyway.
  if (!t.dcs_ready) return std::nullopt;
  const ServerInfo* s = t.Find(server);
  if (!s) return server + " is no longer a member of the cluster";
  if (s->leader && policy.fallback_to_primary) return std::nullopt;
  auto why = ReplicaRefusal(t, *s, policy, lagging);
  if (why && s->leader) return *why + " (and read_fallback_to_primary is off)";
  return why;
}

}  // namespace pgw::router
