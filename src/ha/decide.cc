#include "ha/decide.h"

#include <algorithm>

namespace pgw::ha {
namespace {

Action Act(ActionType t) { return Action{t, std::nullopt, "", std::nullopt, {}, 0}; }

std::string Me(const Inputs& in) { return "(" + in.config->name + ")"; }

std::optional<Upstream> UpstreamFor(const Inputs& in, const std::string& member) {
  const Member* m = in.cluster->FindMember(member);
  if (m == nullptr || !m->conn) return std::nullopt;
  std::string slot = in.dynamic.use_slots ? SlotNameFromMemberName(in.config->name) : "";
  return Upstream{*m->conn, slot};
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Adds the leader's housekeeping: status optime and slots.
void LeaderHousekeeping(const Inputs& in, Decision* d) {
  const LocalView& l = *in.local;
  if (!in.cluster->last_lsn || *in.cluster->last_lsn != l.wal_position) {
    Action a = Act(ActionType::kWriteStatus);
    a.optime = l.wal_position;
    d->actions.push_back(a);
  }
  if (in.dynamic.use_slots) {
    auto wanted = WantedSlots(*in.config, *in.cluster, true);
    if (wanted != Sorted(l.physical_slots)) {
      Action a = Act(ActionType::kSyncSlots);
      a.slots = wanted;
      d->actions.push_back(a);
    }
  }
}

// Election among replicas when nobody holds the leader key (reference §3.5). Returns the reason we are not the
// healthiest node, or "" when we may race.
std::string NotHealthiestReason(const Inputs& in) {
  const LocalView& l = *in.local;
  if (in.cluster->last_lsn && *in.cluster->last_lsn - l.wal_position > in.dynamic.maximum_lag_on_failover) {
    return "My wal position exceeds maximum replication lag";
  }
  int my_priority = in.config->tags.failover_priority.value_or(1);
  for (const auto& p : in.peers) {
    if (!p.reachable || p.name == in.config->name) continue;
    if (p.is_primary) return "Primary (" + p.name + ") is still alive";
    if (p.nofailover) continue;
    if (p.wal_position > l.wal_position) return "Wal position of " + p.name + " is ahead of my wal position";
    if (p.wal_position == l.wal_position && p.failover_priority > my_priority) {
      return p.name + " has equally tolerable WAL position and priority " + std::to_string(p.failover_priority) +
             ", while this node has priority " + std::to_string(my_priority);
    }
  }
  return "";
}

Decision DecideEmptyDataDir(const Inputs& in) {
  const ClusterView& c = *in.cluster;
  Decision d;
  if (!c.initialize) {
    if (in.config->tags.NeverPromote()) {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "waiting for leader to bootstrap";
      return d;
    }
    d.actions = {Act(ActionType::kAttemptInitialize), Act(ActionType::kBootstrap)};
    d.message = "trying to bootstrap a new cluster";
    return d;
  }
  const Member* leader = c.LeaderMember();
  if (!c.leader || leader == nullptr || !leader->conn) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "waiting for leader to bootstrap";
    return d;
  }
  // Prefer a running replica tagged clonefrom (first by name, so the choice is deterministic), else the leader.
  const Member* source = leader;
  for (const auto& [name, m] : c.members) {
    if (name != in.config->name && name != leader->name && m.CloneFrom() && m.IsRunning() && m.conn) {
      source = &m;
      break;
    }
  }
  Action clone = Act(ActionType::kClone);
  clone.target = source->name;
  clone.address = source->conn;
  Action start = Act(ActionType::kStartReplica);
  auto up = UpstreamMember(*in.config, c);
  if (up) start.upstream = UpstreamFor(in, *up);
  d.actions = {clone, start};
  d.message = source == leader ? "trying to bootstrap from leader '" + leader->name + "'"
                               : "trying to bootstrap from replica '" + source->name + "'";
  return d;
}

Decision DecideStopped(const Inputs& in, bool have_lock, bool lock_on_my_lease) {
  const LocalView& l = *in.local;
  Decision d;
  if (have_lock) {
    if (!lock_on_my_lease) d.actions.push_back(Act(ActionType::kRefreshLeader));
    bool was_primary = l.cluster_state == "in production" || l.cluster_state == "shut down" ||
                       l.cluster_state == "in crash recovery" || l.cluster_state == "shutting down";
    if (was_primary) {
      d.actions.push_back(Act(ActionType::kStartPrimary));
      d.message = "starting primary after failure";
    } else {
      d.actions.push_back(Act(ActionType::kStartReplica));
      d.message = "starting as readonly because i had the session lock";
    }
    return d;
  }
  Action start = Act(ActionType::kStartReplica);
  if (in.cluster->leader) {
    auto up = UpstreamMember(*in.config, *in.cluster);
    if (up) start.upstream = UpstreamFor(in, *up);
  }
  d.actions.push_back(start);
  d.message = "starting as a secondary";
  return d;
}

}  // namespace

const char* ActionName(ActionType t) {
  switch (t) {
    case ActionType::kAttemptInitialize: return "attempt_initialize";
    case ActionType::kBootstrap: return "bootstrap";
    case ActionType::kClone: return "clone";
    case ActionType::kStartPrimary: return "start_primary";
    case ActionType::kStartReplica: return "start_replica";
    case ActionType::kFollow: return "follow";
    case ActionType::kAttemptLeader: return "attempt_leader";
    case ActionType::kRefreshLeader: return "refresh_leader";
    case ActionType::kPromote: return "promote";
    case ActionType::kDemote: return "demote";
    case ActionType::kWriteStatus: return "write_status";
    case ActionType::kSyncSlots: return "sync_slots";
    case ActionType::kCheckPeers: return "check_peers";
    case ActionType::kWait: return "wait";
    case ActionType::kFatal: return "fatal";
  }
  return "?";
}

std::optional<std::string> UpstreamMember(const Config& cfg, const ClusterView& cluster) {
  const std::string& from = cfg.tags.replicatefrom;
  if (!from.empty() && from != cfg.name) {
    const Member* m = cluster.FindMember(from);
    if (m != nullptr && m->IsRunning() && m->conn) return from;
  }
  if (cluster.leader && cluster.leader->name != cfg.name) return cluster.leader->name;
  return std::nullopt;
}

std::vector<std::string> WantedSlots(const Config& cfg, const ClusterView& cluster, bool i_am_leader) {
  std::vector<std::string> out;
  for (const auto& [name, m] : cluster.members) {
    if (name == cfg.name) continue;
    std::string from = m.ReplicateFrom();
    const Member* src = from.empty() || from == name ? nullptr : cluster.FindMember(from);
    bool cascades = src != nullptr && src->IsRunning() && src->conn;
    if (i_am_leader ? (!cascades || from == cfg.name) : (cascades && from == cfg.name)) {
      out.push_back(SlotNameFromMemberName(name));
    }
  }
  return Sorted(out);
}

Decision Decide(const Inputs& in) {
  const Config& cfg = *in.config;
  const ClusterView& c = *in.cluster;
  const LocalView& l = *in.local;
  Decision d;

  if (l.data == LocalView::Data::kInvalid) {
    d.actions.push_back(Act(ActionType::kFatal));
    d.message = l.data_problem;
    return d;
  }
  if (l.data == LocalView::Data::kEmpty) return DecideEmptyDataDir(in);

  if (c.initialize && !c.initialize->empty() && !l.sysid.empty() && *c.initialize != l.sysid) {
    d.actions.push_back(Act(ActionType::kFatal));
    d.message = "system ID mismatch, node " + cfg.name + " belongs to a different cluster: " + l.sysid +
                " != " + *c.initialize;
    return d;
  }

  bool have_lock = c.leader && c.leader->name == cfg.name;
  bool lock_on_my_lease = have_lock && in.my_lease != 0 && c.leader->lease == in.my_lease;

  if (!l.running) return DecideStopped(in, have_lock, lock_on_my_lease);
  if (!l.query_ok) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "Error communicating with PostgreSQL. Will try again later";
    return d;
  }

  if (!l.in_recovery) {  // running as a primary
    if (have_lock) {
      if (!lock_on_my_lease) d.actions.push_back(Act(ActionType::kRefreshLeader));
      LeaderHousekeeping(in, &d);
      d.message = "no action. I am " + Me(in) + ", the leader with the lock";
      return d;
    }
    if (!c.leader) {
      d.actions.push_back(Act(ActionType::kAttemptLeader));
      LeaderHousekeeping(in, &d);
      d.message = "acquired session lock as a leader";
      return d;
    }
    Action demote = Act(ActionType::kDemote);
    auto up = UpstreamMember(cfg, c);
    if (up) demote.upstream = UpstreamFor(in, *up);
    d.actions.push_back(demote);
    d.message = "demoting self because I do not have the lock and I was a leader";
    return d;
  }

  // Running as a replica.
  if (have_lock) {
    if (!lock_on_my_lease) d.actions.push_back(Act(ActionType::kRefreshLeader));
    d.actions.push_back(Act(ActionType::kPromote));
    d.message = "promoted self to leader because I had the session lock";
    return d;
  }
  if (c.leader) {
    auto up = UpstreamMember(cfg, c);
    std::optional<Upstream> want = up ? UpstreamFor(in, *up) : std::nullopt;
    if (!want) {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "no action. I am " + Me(in) + ", a secondary, and waiting for the leader (" + c.leader->name +
                  ") to publish its address";
      return d;
    }
    if (l.upstream != want) {
      Action f = Act(ActionType::kFollow);
      f.upstream = want;
      f.target = *up;
      d.actions.push_back(f);
    }
    if (in.dynamic.use_slots) {
      auto wanted = WantedSlots(cfg, c, false);
      if (wanted != Sorted(l.physical_slots)) {
        Action a = Act(ActionType::kSyncSlots);
        a.slots = wanted;
        d.actions.push_back(a);
      }
    }
    d.message = "no action. I am " + Me(in) + ", a secondary, and following a leader (" + c.leader->name + ")";
    return d;
  }

  // Nobody holds the lock: the leader race.
  if (cfg.tags.NeverPromote()) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "following a different leader because I am not allowed to promote";
    return d;
  }
  if (!in.peers_checked) {
    d.actions.push_back(Act(ActionType::kCheckPeers));
    d.message = "no leader: checking the other members before the leader race";
    return d;
  }
  std::string why = NotHealthiestReason(in);
  if (!why.empty()) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "following a different leader because i am not the healthiest node (" + why + ")";
    return d;
  }
  d.actions = {Act(ActionType::kAttemptLeader), Act(ActionType::kPromote)};
  d.message = "promoted self to leader by acquiring session lock";
  return d;
}

}  // namespace pgw::ha
