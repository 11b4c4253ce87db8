#include "ha/decide.h"

#include <algorithm>

#include "ha/standby.h"
#include "ha/sync.h"

namespace pgw::ha {

Action Act(ActionType t) { return Action{t, std::nullopt, "", std::nullopt, {}, 0, "", {}, "", {}, {}}; }

std::string Me(const Inputs& in) { return "(" + in.config->name + ")"; }

namespace {

std::optional<Upstream> UpstreamFor(const Inputs& in, const std::string& member) {
  const Member* m = in.cluster->FindMember(member);
  if (m == nullptr || !m->conn) return std::nullopt;
  std::string slot = in.dynamic.use_slots ? SlotNameFromMemberName(in.config->name) : "";
  return WithRecovery(in, Upstream{*m->conn, slot}, false);
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Adds kSyncSlots when the local slots differ from what this node should hold (ha/slots.h).
void AddSlotSync(const Inputs& in, bool leader, Decision* d) {
  if (!in.dynamic.use_slots) return;  // slots are not managed at all then
  SlotPlan plan = PlanSlots(*in.config, in.dynamic, *in.cluster, *in.local, leader);
  if (plan.Empty()) return;
  Action a = Act(ActionType::kSyncSlots);
  a.slots = plan.hold;
  if (!plan.copy.empty()) {
    const Member* lm = in.cluster->LeaderMember();
    if (lm == nullptr || !lm->conn) {
      plan.copy.clear();  // nobody to copy from yet
      if (plan.Empty()) return;
    } else {
      a.target = lm->name;
      a.address = lm->conn;
    }
  }
  a.slot_plan = plan;
  d->actions.push_back(a);
}

}  // namespace

// Adds the leader's housekeeping: status optime, slots, synchronous replication (not on a standby leader: its
// PostgreSQL is in recovery, nobody's commits wait for its replicas).
void LeaderHousekeeping(const Inputs& in, Decision* d) {
  if (IsStandbyCluster(in.dynamic)) {
  } else if (in.dynamic.synchronous_mode) {
    SyncHousekeeping(in, d);
  } else {
    // Synchronous mode turned off: commits must stop waiting for the former synchronous standbys (PostgreSQL gets
    // the configured synchronous_standby_names back, '' unless the user set one), and `sync` goes away.
    Json p = EffectiveParameters(*in.config, in.dynamic);
    auto it = p.find("synchronous_standby_names");
    std::string configured = it != p.end() && it->is_string() ? it->get<std::string>() : "";
    if (in.local->sync_names != configured) {
      Action a = Act(ActionType::kSetSyncNames);
      a.sync_names = configured;
      d->actions.push_back(a);
    }
    if (in.cluster->sync) d->actions.push_back(Act(ActionType::kDeleteSync));
  }
  const LocalView& l = *in.local;
  auto published = PublishedSlots(*in.config, in.dynamic, *in.cluster, l);
  if (!in.cluster->last_lsn || *in.cluster->last_lsn != l.wal_position || StatusSlots(*in.cluster) != published) {
    Action a = Act(ActionType::kWriteStatus);
    a.optime = l.wal_position;
    a.slot_lsns = published;
    d->actions.push_back(a);
  }
  AddSlotSync(in, true, d);
}

namespace {

// In failsafe mode only the members listed in the failsafe key may race for the leader key: the primary asks
// exactly those to confirm it is alive, so an unlisted member cannot know whether a failsafe primary still runs.
bool FailsafeExcludes(const Inputs& in, const std::string& name) {
  const ClusterView& c = *in.cluster;
  return in.dynamic.failsafe_mode && c.failsafe && c.failsafe->is_object() && !c.failsafe->empty() &&
         !c.failsafe->contains(name);
}

// In synchronous mode only the former leader and its synchronous standbys may be promoted (reference §3.5).
bool SyncForbids(const Inputs& in, const std::string& name) {
  if (!in.dynamic.synchronous_mode) return false;
  std::string former = SyncLeader(*in.cluster);
  if (former.empty() || name == former) return false;
  auto standbys = SyncStandbys(*in.cluster, former);
  return std::find(standbys.begin(), standbys.end(), name) == standbys.end();
}

// Election among replicas when nobody holds the leader key (reference §3.5). Returns the reason we are not the
// healthiest node, or "" when we may race.
std::string NotHealthiestReason(const Inputs& in) {
  const LocalView& l = *in.local;
  if (in.cluster->last_lsn && *in.cluster->last_lsn - l.wal_position > in.dynamic.maximum_lag_on_failover) {
    return "My wal position exceeds maximum replication lag";
  }
  int my_priority = in.config->tags.failover_priority.value_or(1);
  // In synchronous mode the former leader's WAL may hold commits nobody acknowledged: a synchronous standby is not
  // behind it in any way that matters (reference §3.5).
  std::string former = in.dynamic.synchronous_mode ? SyncLeader(*in.cluster) : "";
  // Only the members that may be promoted take part in the comparison (Patroni too): an asynchronous standby can
  // have received more WAL than the synchronous one, but it may not be promoted, so it must not hold the
  // synchronous standby back either.
  std::vector<std::string> racers = former.empty() ? std::vector<std::string>{} : SyncStandbys(*in.cluster, former);
  auto may_race = [&](const std::string& n) {
    return former.empty() || std::find(racers.begin(), racers.end(), n) != racers.end();
  };
  for (const auto& p : in.peers) {
    if (!p.reachable || p.name == in.config->name) continue;
    if (p.is_primary) return "Primary (" + p.name + ") is still alive";
    // A member that may not race does not hold the others back (scenario failsafe_unlisted_member_ahead: both
    // nodes waited for each other for good).
    if (p.nofailover || p.name == former || !may_race(p.name) || FailsafeExcludes(in, p.name)) continue;
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
  bool standby = IsStandbyCluster(in.dynamic);
  std::string waiting = standby ? "waiting for standby_leader to bootstrap" : "waiting for leader to bootstrap";
  if (!c.initialize) {
    if (in.config->tags.NeverPromote()) {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = waiting;
      return d;
    }
    if (standby) return BootstrapStandbyLeader(in);
    d.actions = {Act(ActionType::kAttemptInitialize), Act(ActionType::kBootstrap)};
    d.message = "trying to bootstrap a new cluster";
    return d;
  }
  const Member* leader = c.LeaderMember();
  if (!c.leader || leader == nullptr || !leader->conn) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = waiting;
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

}  // namespace

bool Crashed(const LocalView& l) {
  if (l.backup_label) return false;
  return l.cluster_state == "in production" || l.cluster_state == "in crash recovery";
}

bool WasPrimary(const LocalView& l) {
  if (l.backup_label) return false;  // a clone that never started: pg_control is the source primary's
  return l.cluster_state == "in production" || l.cluster_state == "shut down" ||
         l.cluster_state == "in crash recovery" || l.cluster_state == "shutting down";
}

namespace {

Decision DecideStopped(const Inputs& in, bool have_lock, bool lock_on_my_lease) {
  const LocalView& l = *in.local;
  const ClusterView& c = *in.cluster;
  Decision d;
  if (in.dynamic.pause) {
    if (have_lock) {
      d.actions.push_back(Act(ActionType::kReleaseLeader));
      d.message = "removed leader lock because postgres is not running";
    } else {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "postgres is not running";
    }
    return d;
  }
  if (!DcsReachable(in)) {
    // Never start a primary on a stale view; a read-only start can wait for etcd too.
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "DCS is not accessible";
    return d;
  }
  bool standby = IsStandbyCluster(in.dynamic);
  if (have_lock && standby) {
    // The standby leader: back into recovery, streaming from the remote primary (never started as a primary).
    if (!lock_on_my_lease) d.actions.push_back(Act(ActionType::kRefreshLeader));
    Action start = Act(ActionType::kStartReplica);
    start.upstream = RemoteUpstream(in);
    d.actions.push_back(start);
    d.message = "starting as a standby leader because i had the session lock";
    return d;
  }
  if (have_lock) {
    if (in.primary_start_failed) {
      d.actions.push_back(Act(ActionType::kReleaseLeader));
      d.message = "removed leader key after trying and failing to start postgres";
      return d;
    }
    bool sync_standby_ready = false;
    if (in.dynamic.synchronous_mode) {
      for (const auto& n : SyncStandbys(*in.cluster, in.config->name)) {
        const Member* m = in.cluster->FindMember(n);
        // A nofailover standby cannot take over: handing the key to it would only delay the restart in place.
        sync_standby_ready = sync_standby_ready || (m != nullptr && m->IsRunning() && !m->NoFailover());
      }
    }
    if (WasPrimary(l) && (in.dynamic.primary_start_timeout == 0 || sync_standby_ready)) {
      d.actions.push_back(Act(ActionType::kReleaseLeader));
      d.message = "stopped PostgreSQL to fail over after a crash";
      return d;
    }
    if (!lock_on_my_lease) d.actions.push_back(Act(ActionType::kRefreshLeader));
    if (WasPrimary(l)) {
      Action start = Act(ActionType::kStartPrimary);
      d.message = "starting primary after failure";
      if (in.dynamic.synchronous_mode && Crashed(l)) {
        // Crash recovery will bring back commits that were waiting for a standby: nobody acknowledged them, so
        // no client may see them until a synchronous standby has them too.
        start.mode = "gated";
        d.message += "; clients wait until a synchronous standby has caught up";
      }
      d.actions.push_back(start);
    } else {
      d.actions.push_back(Act(ActionType::kStartReplica));
      d.message = "starting as readonly because i had the session lock";
    }
    return d;
  }
  if (!c.leader && WasPrimary(l) && in.now < in.no_race_until) {
    // We gave the key up so that another member takes over: starting PostgreSQL now would only mean stopping it
    // again for pg_rewind once the new leader is known (and exposes a read-only server at the old address).
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "waiting for another member to take the leader key";
    return d;
  }
  Action start = Act(ActionType::kStartReplica);
  std::optional<std::string> up;
  if (c.leader) {
    up = UpstreamMember(*in.config, c);
    if (up) start.upstream = UpstreamFor(in, *up);
  } else if (standby) {
    start.upstream = RemoteUpstream(in);
    d.actions.push_back(start);
    d.message = "trying to follow a remote member because standby cluster is unhealthy";
    return d;
  }
  if (in.dynamic.synchronous_mode && Crashed(l) && !start.upstream) {
    // Crash recovery brings back commits nobody acknowledged; following nobody, this node may later win the race
    // and promote: the client gate must hold across the read-only start (and is honoured after the promotion).
    start.mode = "gated";
  }
  // A former primary (stopped in production or crashed) that did not hand over cleanly has, or may have, WAL the
  // new leader never saw: reconcile before streaming (safety rule 6). It rewinds whatever the timelines in the
  // member keys say (pg_rewind itself says when nothing diverged), but only once the leader has finished its
  // promotion: pg_rewind against a source still on the old timeline finds "no rewind required" and the diverged
  // node would follow it. Without pg_rewind, only a visibly different timeline re-clones.
  const Member* leader = c.LeaderMember();
  bool rewind = in.dynamic.use_pg_rewind || in.config->postgresql.use_pg_rewind;
  if (!standby && c.leader && leader != nullptr && leader->conn && leader->name != in.config->name && !in.clean_demote &&
      (in.unreconciled_primary || WasPrimary(l))) {
    if (!leader->IsPrimaryRole()) {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "waiting for leader " + leader->name + " to finish its promotion before reconciling with it";
      return d;
    }
    bool other_timeline = !leader->timeline || *leader->timeline != l.timeline;
    const auto& pg = in.config->postgresql;
    if (rewind && in.rewind_failed) {
      if (pg.remove_data_directory_on_rewind_failure) {
        d.actions.push_back(Act(ActionType::kReinitialize));
        d.message = "reinitializing because pg_rewind failed";
        return d;
      }
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "pg_rewind from " + leader->name + " failed; reinitialize this member (pgwardenctl reinit) or set "
                  "remove_data_directory_on_rewind_failure";
      return d;
    }
    if (rewind) {
      Action r = Act(ActionType::kRewind);
      r.target = leader->name;
      r.address = leader->conn;
      d.actions = {r, start};
      d.message = "running pg_rewind from " + leader->name;
      return d;
    }
    if (other_timeline && pg.remove_data_directory_on_diverged_timelines) {
      d.actions.push_back(Act(ActionType::kReinitialize));
      d.message = "reinitializing due to diverged timelines";
      return d;
    }
  }
  d.actions.push_back(start);
  d.message = "starting as a secondary";
  return d;
}

Decision Paused(const Inputs& in, Decision d) {
  if (in.dynamic.pause) d.message = "PAUSE: " + d.message;
  return d;
}

}  // namespace

// The leader's side of a planned switchover (reference §3.5): validate the request in the `failover` key, then
// demote gracefully so that the candidate can take over. Returns false when the key does not concern this cycle
// (scheduled later): the leader then carries on as usual.
bool ManualFailoverFromLeader(const Inputs& in, Decision* d) {
  const ClusterView& c = *in.cluster;
  const std::string& me = in.config->name;
  auto f = ParseFailover(*c.failover);
  auto cleanup = [&](const std::string& why) {
    d->actions = {Act(ActionType::kDeleteFailover)};
    d->message = why;
    return true;
  };
  if (!f) return cleanup("Cleaning up failover key: it cannot be parsed");
  if ((!f->leader.empty() && f->leader != me) || f->member == me) {
    // A request for another leader, or the one that made us leader: done.
    LeaderHousekeeping(in, d);
    d->actions.insert(d->actions.begin(), Act(ActionType::kDeleteFailover));
    d->message = "no action. I am " + Me(in) + ", the leader with the lock (cleaning up failover key)";
    return true;
  }
  if (f->scheduled_at) {
    if (*f->scheduled_at > in.wall_now) return false;
    if (in.wall_now - *f->scheduled_at > 1.5 * std::max(in.dynamic.loop_wait, 1) + 5) {
      return cleanup("Cleaning up failover key: the scheduled switchover time passed long ago");
    }
  }
  std::string candidate = f->member;
  std::vector<std::string> sync = SyncStandbys(c, me);
  auto allowed = [&](const std::string& n) {
    return !in.dynamic.synchronous_mode || std::find(sync.begin(), sync.end(), n) != sync.end();
  };
  if (!candidate.empty()) {
    const Member* m = c.FindMember(candidate);
    if (!allowed(candidate)) {
      return cleanup("manual failover: candidate " + candidate + " is not a synchronous standby; cleaning up failover key");
    }
    if (m == nullptr || !m->IsRunning() || m->NoFailover()) {
      return cleanup("manual failover: member " + candidate + " is not healthy; cleaning up failover key");
    }
  } else {
    int64_t best = -1;
    for (const auto& [name, m] : c.members) {
      if (name == me || !m.IsRunning() || m.NoFailover() || !allowed(name)) continue;
      // The flush position pg_stat_replication reports on this primary is fresher than the member key's.
      auto flushed = in.local->replication_flush.find(name);
      int64_t pos = flushed != in.local->replication_flush.end() ? flushed->second : m.xlog_location.value_or(0);
      if (pos > best) {
        best = pos;
        candidate = name;
      }
    }
    if (candidate.empty()) return cleanup("manual failover: no healthy candidate; cleaning up failover key");
  }
  Action a = Act(ActionType::kDemote);
  a.mode = "graceful";
  a.target = candidate;
  d->actions = {a};
  d->message = "manual failover: demoting myself";
  return true;
}

namespace {

Decision DecidePrimary(const Inputs& in, bool dcs_ok, bool have_lock, bool lock_on_my_lease) {
  const ClusterView& c = *in.cluster;
  Decision d;
  // Failsafe: ask the members as soon as one keepalive went unanswered, so that their confirmations arrive well
  // before the fence time (lease deadline - margin), not only once the lease is declared stale.
  bool suspect = LeaseSuspect(in);
  if (in.dynamic.failsafe_mode && !in.dynamic.pause && (suspect || !dcs_ok) && (have_lock || !dcs_ok)) {
    if (!in.failsafe_checked) {
      d.actions.push_back(Act(ActionType::kCheckFailsafe));
      d.message = "DCS is not accessible: asking every member for failsafe confirmation";
      return d;
    }
    if (in.failsafe_ok) {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "continue to run as a leader because failsafe mode is enabled and all members are accessible";
      return d;
    }
  }
  if (IsStandbyCluster(in.dynamic) && !in.dynamic.pause && dcs_ok) {
    // As Patroni: a cluster configured as a standby cluster has no writable primary. With the lock, the next cycle
    // starts PostgreSQL again as the standby leader.
    Action a = Act(ActionType::kDemote);
    a.mode = "offline";
    d.actions.push_back(a);
    d.message = "cannot be a real primary in a standby cluster";
    return d;
  }
  if (!dcs_ok) {
    if (in.dynamic.pause) {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "continue to run as primary after failing to update leader lock in DCS";
      return d;
    }
    Action a = Act(ActionType::kDemote);
    a.mode = "offline";
    d.actions.push_back(a);
    d.message = "demoting self because DCS is not accessible and I was a leader";
    return d;
  }
  if (have_lock) {
    if (!lock_on_my_lease) d.actions.push_back(Act(ActionType::kRefreshLeader));
    if (suspect) {
      // A keepalive went unanswered: etcd writes would only block this loop for their timeout.
      d.message = "no action. I am " + Me(in) + ", the leader with the lock (etcd is slow to answer)";
      return d;
    }
    // The failsafe key lists who may take over (FailsafeExcludes). Patroni rewrites it with every leader update;
    // here it is refreshed before a handover too, or a candidate left out while it was down would refuse the key
    // the leader hands it, the leader would take it back and hand it over again, for good (random seed 300111).
    bool failsafe_stale = in.dynamic.failsafe_mode && (!c.failsafe || *c.failsafe != FailsafeMembers(c));
    if (c.failover) {
      Decision manual;
      if (ManualFailoverFromLeader(in, &manual)) {
        if (failsafe_stale) manual.actions.insert(manual.actions.begin(), Act(ActionType::kWriteFailsafe));
        return manual;
      }
    }
    if (in.restart_requested) {
      d.actions.push_back(Act(ActionType::kRestart));
      d.message = "restarting after a request";
      return d;
    }
    LeaderHousekeeping(in, &d);
    if (failsafe_stale) d.actions.push_back(Act(ActionType::kWriteFailsafe));
    d.message = "no action. I am " + Me(in) + ", the leader with the lock";
    std::string note = SynchronousNote(in.dynamic, c, in.config->name);
    if (note == "waiting") d.message += " (synchronous_mode_strict: writes wait until a synchronous standby connects)";
    if (note == "alone") d.message += " (running without a synchronous standby: commits are not replicated synchronously)";
    d.message += ClientGate(in, &d);
    return d;
  }
  if (!c.leader) {
    if (in.watchdog_unusable && !in.dynamic.pause) {
      Action a = Act(ActionType::kDemote);
      a.mode = "immediate-nolock";
      d.actions.push_back(a);
      d.message = "Demoting self because watchdog could not be activated";
      return d;
    }
    d.actions.push_back(Act(ActionType::kAttemptLeader));
    LeaderHousekeeping(in, &d);
    d.message = "acquired session lock as a leader";
    return d;
  }
  if (in.dynamic.pause) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "continue to run as primary without lock";
    return d;
  }
  Action demote = Act(ActionType::kDemote);
  demote.mode = "immediate-nolock";
  d.actions.push_back(demote);
  d.message = "demoting self because I do not have the lock and I was a leader";
  return d;
}

Decision DecideReplica(const Inputs& in, bool dcs_ok, bool have_lock, bool lock_on_my_lease) {
  const Config& cfg = *in.config;
  const ClusterView& c = *in.cluster;
  const LocalView& l = *in.local;
  Decision d;
  if (!dcs_ok) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "DCS is not accessible";
    return d;
  }
  bool standby = IsStandbyCluster(in.dynamic);
  if (have_lock && standby) return DecideStandbyLeader(in, lock_on_my_lease);
  if (have_lock) {
    if (in.dynamic.pause) {
      d.actions.push_back(Act(ActionType::kReleaseLeader));
      d.message = "removed leader lock because postgres is not running as primary";
      return d;
    }
    if (in.watchdog_unusable) {
      d.actions.push_back(Act(ActionType::kReleaseLeader));
      d.message = "Not promoting self because watchdog could not be activated";
      return d;
    }
    if (!lock_on_my_lease) d.actions.push_back(Act(ActionType::kRefreshLeader));
    d.actions.push_back(Act(ActionType::kPromote));
    d.message = "promoted self to leader because I had the session lock";
    return d;
  }
  if (c.leader) {
    const Member* lm = c.LeaderMember();
    if (in.unreconciled_primary && lm != nullptr) {
      // Started as a replica while nobody led; the leader that appeared since is on another timeline. Stop
      // cleanly so that the next cycle can pg_rewind (or re-clone) before streaming (safety rule 6).
      Action a = Act(ActionType::kDemote);
      a.mode = "offline";
      d.actions.push_back(a);
      d.message = "stopping to reconcile with the timeline of the new leader (" + c.leader->name + ")";
      return d;
    }
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
    AddSlotSync(in, false, &d);
    if (in.restart_requested) {
      d.actions = {Act(ActionType::kRestart)};
      d.message = "restarting after a request";
      return d;
    }
    d.message = "no action. I am " + Me(in) + ", a secondary, and following a " +
                (standby ? "standby leader (" : "leader (") + c.leader->name + ")";
    return d;
  }

  // Winning the race: a primary is promoted; in a standby cluster the winner becomes the standby leader and streams
  // from the remote primary instead (Patroni never promotes there).
  auto take_over = [&]() {
    if (!standby) {
      d.actions = {Act(ActionType::kAttemptLeader), Act(ActionType::kPromote)};
      d.message = "promoted self to leader by acquiring session lock";
      return d;
    }
    d.actions = {Act(ActionType::kAttemptLeader)};
    Upstream remote = RemoteUpstream(in);
    if (l.upstream != remote) {
      Action f = Act(ActionType::kFollow);
      f.upstream = remote;
      f.target = RemoteName(in);
      d.actions.push_back(f);
    }
    d.message = "promoted self to a standby leader by acquiring session lock";
    return d;
  };
  auto not_healthiest = [&](const std::string& why) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "following a different leader because i am not the healthiest node (" + why + ")";
    return d;
  };
  // A primary that vouched for itself through POST /failsafe still runs (etcd is out of reach for it), and a node
  // backing off must let the others go first: neither may promote, not even when the `failover` key names it.
  if (in.now < in.no_race_until) return not_healthiest("backing off: this node gave the leader key up or its pre_promote script failed");
  if (in.now < in.failsafe_primary_until) {
    return not_healthiest(in.failsafe_restart_hold ? "failsafe mode: a ttl has not passed since this agent started"
                                                   : "the primary confirmed through POST /failsafe that it is alive");
  }
  // Nobody holds the lock: the leader race. A manual failover names who should win.
  if (c.failover) {
    auto f = ParseFailover(*c.failover);
    if (f && (!f->scheduled_at || *f->scheduled_at <= in.wall_now)) {
      // A candidate outside the failsafe key may not take over either (scenario failsafe_failover_to_unlisted: it
      // promoted next to the failsafe primary), and nobody waits for it.
      // Nor, in synchronous mode, one that is neither the former leader nor a synchronous standby: it may lack
      // acknowledged commits (random seed 58536: a failover key naming an asynchronous member lost 44 of them).
      bool excluded = FailsafeExcludes(in, f->member) || SyncForbids(in, f->member);
      if (f->member == cfg.name && !cfg.tags.NeverPromote() && (standby || !in.watchdog_unusable) && !excluded) {
        return take_over();
      }
      const Member* cand = f->member.empty() || excluded ? nullptr : c.FindMember(f->member);
      if (cand != nullptr && cand->IsRunning()) {
        d.actions.push_back(Act(ActionType::kWait));
        d.message = "following a different leader because i am not the healthiest node (manual failover to " +
                    f->member + " in progress)";
        return d;
      }
    }
  }
  if (in.dynamic.pause) return not_healthiest("no automatic failover in maintenance mode");
  if (cfg.tags.NeverPromote()) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "following a different leader because I am not allowed to promote";
    return d;
  }
  // A standby leader is never writable: it needs no watchdog.
  if (in.watchdog_unusable && !standby) return not_healthiest("Watchdog device is not usable");
  if (std::string former = SyncLeader(c); in.dynamic.synchronous_mode && !former.empty()) {
    auto standbys = SyncStandbys(c, former);
    if (former != cfg.name && std::find(standbys.begin(), standbys.end(), cfg.name) == standbys.end()) {
      return not_healthiest("synchronous mode: only the former leader " + former +
                            (standbys.empty() ? std::string() : " or a synchronous standby") + " may be promoted");
    }
  }
  if (FailsafeExcludes(in, cfg.name)) return not_healthiest("not listed in the failsafe key");
  if (!in.peers_checked) {
    d.actions.push_back(Act(ActionType::kCheckPeers));
    d.message = "no leader: checking the other members before the leader race";
    return d;
  }
  std::string why = NotHealthiestReason(in);
  if (!why.empty()) return not_healthiest(why);
  return take_over();
}

}  // namespace

std::optional<FailoverRequest> ParseFailover(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  FailoverRequest f;
  if (j.contains("leader") && j["leader"].is_string()) f.leader = j["leader"];
  if (j.contains("member") && j["member"].is_string()) f.member = j["member"];
  if (f.member.empty() && j.contains("candidate") && j["candidate"].is_string()) f.member = j["candidate"];
  if (j.contains("scheduled_at") && j["scheduled_at"].is_string()) {
    bool zone = false;
    auto t = ParseIsoTimestamp(j["scheduled_at"].get<std::string>(), &zone);
    if (!t) return std::nullopt;
    f.scheduled_at = *t;
  }
  return f;
}

Json FailsafeMembers(const ClusterView& c) {
  Json j = Json::object();
  for (const auto& [name, m] : c.members) {
    if (!m.api_url.empty()) j[name] = m.api_url;
  }
  return j;
}

// When the lease keeper last had a keepalive acknowledged: the deadline is that send time plus ttl.
MonoTime LastRenewal(const Inputs& in) {
  return in.lease_deadline - Duration(int64_t{in.dynamic.ttl} * 1000);
}

bool LeaseSuspect(const Inputs& in) {
  return in.my_lease == 0 || in.now - LastRenewal(in) > SuspectAfter(in.dynamic);
}

Duration SuspectAfter(const DynamicConfig& d) {
  // One renewal period (ttl/4, as the lease keeper renews) plus half a period of grace.
  return Duration(std::max<int64_t>(200, int64_t{d.ttl} * 1000 / 4) * 3 / 2);
}

bool DcsReachable(const Inputs& in) {
  return in.my_lease != 0 && in.now - LastRenewal(in) <= Duration(int64_t{in.dynamic.retry_timeout} * 1000);
}

const char* ActionName(ActionType t) {
  switch (t) {
    case ActionType::kAttemptInitialize: return "attempt_initialize";
    case ActionType::kBootstrap: return "bootstrap";
    case ActionType::kBootstrapStandby: return "bootstrap_standby";
    case ActionType::kClone: return "clone";
    case ActionType::kStartPrimary: return "start_primary";
    case ActionType::kStartReplica: return "start_replica";
    case ActionType::kFollow: return "follow";
    case ActionType::kAttemptLeader: return "attempt_leader";
    case ActionType::kRefreshLeader: return "refresh_leader";
    case ActionType::kPromote: return "promote";
    case ActionType::kDemote: return "demote";
    case ActionType::kReleaseLeader: return "release_leader";
    case ActionType::kRewind: return "rewind";
    case ActionType::kReinitialize: return "reinitialize";
    case ActionType::kCheckFailsafe: return "check_failsafe";
    case ActionType::kWriteFailsafe: return "write_failsafe";
    case ActionType::kDeleteFailover: return "delete_failover";
    case ActionType::kRestart: return "restart";
    case ActionType::kSetSyncNames: return "set_sync_names";
    case ActionType::kWriteSync: return "write_sync";
    case ActionType::kDeleteSync: return "delete_sync";
    case ActionType::kWriteStatus: return "write_status";
    case ActionType::kSyncSlots: return "sync_slots";
    case ActionType::kOpenGate: return "open_gate";
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

  if (!in.bootstrap_failed.empty()) {
    // Patroni too stops after a failed bootstrap instead of trying again: the same configuration would fail the
    // same way, and the initialize key is free for another member.
    Action fatal = Act(ActionType::kFatal);
    fatal.target = "Failed to bootstrap cluster: " + in.bootstrap_failed +
                   "; the initialize key and the data directory were removed, so another member may bootstrap; "
                   "fix the cause and start pgwarden again";
    d.actions.push_back(fatal);
    d.message = "stopping after a failed bootstrap";
    return d;
  }
  if (l.data == LocalView::Data::kInvalid) {
    d.actions.push_back(Act(ActionType::kFatal));
    d.message = l.data_problem;
    return d;
  }
  if (l.data == LocalView::Data::kEmpty) {
    if (in.dynamic.pause) {
      d.actions.push_back(Act(ActionType::kWait));
      d.message = "PAUSE: running with empty data directory";
      return d;
    }
    return DecideEmptyDataDir(in);
  }

  if (c.initialize && !c.initialize->empty() && !l.sysid.empty() && *c.initialize != l.sysid) {
    d.actions.push_back(Act(ActionType::kFatal));
    d.message = "system ID mismatch, node " + cfg.name + " belongs to a different cluster: " + l.sysid +
                " != " + *c.initialize;
    return d;
  }

  bool dcs_ok = DcsReachable(in);
  bool have_lock = dcs_ok && c.leader && c.leader->name == cfg.name;
  bool lock_on_my_lease = have_lock && in.my_lease != 0 && c.leader->lease == in.my_lease;

  if (!l.running) return Paused(in, DecideStopped(in, have_lock, lock_on_my_lease));
  if (!l.query_ok) {
    d.actions.push_back(Act(ActionType::kWait));
    d.message = "Error communicating with PostgreSQL. Will try again later";
    return Paused(in, d);
  }

  if (!l.in_recovery) return Paused(in, DecidePrimary(in, dcs_ok, have_lock, lock_on_my_lease));
  return Paused(in, DecideReplica(in, dcs_ok, have_lock, lock_on_my_lease));
}

}  // namespace pgw::ha
