// The decision core when PostgreSQL runs as a primary: keep the lock and the leader's housekeeping, hand over on
// a switchover request, failsafe mode, demote when the lock is lost (reference §3.4, §3.5).
#include <algorithm>

#include "ha/decide_internal.h"
#include "ha/standby.h"
#include "ha/sync.h"

namespace pgw::ha {

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
      SetSyncNames a;
      a.sync_names = configured;
      d->actions.push_back(a);
    }
    if (in.cluster->sync) d->actions.push_back(DeleteSync{});
  }
  const LocalView& l = *in.local;
  auto published = PublishedSlots(*in.config, in.dynamic, *in.cluster, l);
  if (!in.cluster->last_lsn || *in.cluster->last_lsn != l.wal_position || in.cluster->status.slots != published) {
    WriteStatus a;
    a.optime = l.wal_position;
    a.slot_lsns = published;
    d->actions.push_back(a);
  }
  AddSlotSync(in, true, d);
}

// The leader's side of a planned switchover (reference §3.5): validate the request in the `failover` key, then
// demote gracefully so that the candidate can take over. Returns false when the key does not concern this cycle
// (scheduled later): the leader then carries on as usual.
bool ManualFailoverFromLeader(const Inputs& in, Decision* d) {
  const ClusterView& c = *in.cluster;
  const std::string& me = in.config->name;
  const auto& f = c.failover->request;
  auto cleanup = [&](Reason reason, const std::string& why) {
    d->actions = {DeleteFailover{}};
    d->reason = reason;
    d->message = why;
    return true;
  };
  if (!f)
    return cleanup(Reason::kFailoverKeyInvalid, "Cleaning up failover key: it cannot be parsed or asks for nothing");
  if ((!f->leader.empty() && f->leader != me) || f->member == me) {
    // A request for another leader, or the one that made us leader: done.
    LeaderHousekeeping(in, d);
    d->actions.insert(d->actions.begin(), DeleteFailover{});
    d->reason = Reason::kFailoverKeyDone;
    d->message = "no action. I am " + Me(in) + ", the leader with the lock (cleaning up failover key)";
    return true;
  }
  if (f->scheduled_at) {
    if (*f->scheduled_at > in.wall_now) return false;
    if (in.wall_now - *f->scheduled_at > 1.5 * std::max(in.dynamic.loop_wait, 1) + 5) {
      return cleanup(Reason::kFailoverKeyStale,
                     "Cleaning up failover key: the scheduled switchover time passed long ago");
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
      return cleanup(
          Reason::kSwitchoverCandidateNotSync,
          "manual failover: candidate " + candidate + " is not a synchronous standby; cleaning up failover key");
    }
    if (m == nullptr || !m->IsRunning() || m->NoFailover()) {
      return cleanup(Reason::kSwitchoverCandidateUnhealthy,
                     "manual failover: member " + candidate + " is not healthy; cleaning up failover key");
    }
    if (std::string why = TimelineForbids(in, *m); !why.empty()) {
      return cleanup(Reason::kSwitchoverCandidateUnhealthy, "manual failover: " + why + "; cleaning up failover key");
    }
  } else {
    int64_t best = -1;
    for (const auto& [name, m] : c.members) {
      if (name == me || !m.IsRunning() || m.NoFailover() || !allowed(name) || !TimelineForbids(in, m).empty()) continue;
      // The flush position pg_stat_replication reports on this primary is fresher than the member key's.
      auto flushed = in.local->replication_flush.find(name);
      int64_t pos = flushed != in.local->replication_flush.end() ? flushed->second : m.xlog_location.value_or(0);
      if (pos > best) {
        best = pos;
        candidate = name;
      }
    }
    if (candidate.empty())
      return cleanup(Reason::kSwitchoverNoCandidate, "manual failover: no healthy candidate; cleaning up failover key");
  }
  Demote a;
  a.mode = DemoteMode::kGraceful;
  a.target = candidate;
  d->actions = {a};
  d->reason = Reason::kSwitchoverDemote;
  d->message = "manual failover: demoting myself";
  return true;
}

Decision DecidePrimary(const Inputs& in, bool dcs_ok, bool have_lock, bool lock_on_my_lease) {
  const ClusterView& c = *in.cluster;
  Decision d;
  // Failsafe: ask the members as soon as one keepalive went unanswered, so that their confirmations arrive well
  // before the fence time (lease deadline - margin), not only once the lease is declared stale.
  bool suspect = LeaseSuspect(in);
  if (in.dynamic.failsafe_mode && !in.dynamic.pause && (suspect || !dcs_ok) && (have_lock || !dcs_ok)) {
    if (!in.failsafe_checked) {
      d.actions.push_back(CheckFailsafe{});
      d.reason = Reason::kFailsafeCheck;
      d.message = "DCS is not accessible: asking every member for failsafe confirmation";
      return d;
    }
    if (in.failsafe_ok) {
      d.actions.push_back(Wait{});
      d.reason = Reason::kFailsafeHold;
      d.message = "continue to run as a leader because failsafe mode is enabled and all members are accessible";
      return d;
    }
  }
  if (IsStandbyCluster(in.dynamic) && !in.dynamic.pause && dcs_ok) {
    // As Patroni: a cluster configured as a standby cluster has no writable primary. With the lock, the next cycle
    // starts PostgreSQL again as the standby leader.
    Demote a;
    a.mode = DemoteMode::kOffline;
    d.actions.push_back(a);
    d.reason = Reason::kStandbyClusterDemote;
    d.message = "cannot be a real primary in a standby cluster";
    return d;
  }
  if (!dcs_ok) {
    if (in.dynamic.pause) {
      d.actions.push_back(Wait{});
      d.reason = Reason::kPausedDcsLost;
      d.message = "continue to run as primary after failing to update leader lock in DCS";
      return d;
    }
    Demote a;
    a.mode = DemoteMode::kOffline;
    d.actions.push_back(a);
    d.reason = Reason::kDcsLostDemote;
    d.message = "demoting self because DCS is not accessible and I was a leader";
    return d;
  }
  if (have_lock) {
    if (!lock_on_my_lease) d.actions.push_back(RefreshLeader{});
    if (suspect) {
      // A keepalive went unanswered: etcd writes would only block this loop for their timeout.
      d.reason = Reason::kLeaderEtcdSlow;
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
        if (failsafe_stale) manual.actions.insert(manual.actions.begin(), WriteFailsafe{});
        return manual;
      }
    }
    if (in.restart_requested) {
      d.actions.push_back(RestartInPlace(in));
      d.reason = Reason::kRestartRequested;
      d.message = "restarting after a request";
      return d;
    }
    LeaderHousekeeping(in, &d);
    if (failsafe_stale) d.actions.push_back(WriteFailsafe{});
    d.reason = Reason::kLeader;
    d.message = "no action. I am " + Me(in) + ", the leader with the lock";
    std::string note = SynchronousNote(in.dynamic, c, in.config->name);
    if (note == "waiting") d.message += " (synchronous_mode_strict: writes wait until a synchronous standby connects)";
    if (note == "alone")
      d.message += " (running without a synchronous standby: commits are not replicated synchronously)";
    d.message += ClientGate(in, &d);
    return d;
  }
  if (!c.leader) {
    if (in.watchdog_unusable && !in.dynamic.pause) {
      Demote a;
      a.mode = DemoteMode::kImmediateNoLock;
      d.actions.push_back(a);
      d.reason = Reason::kWatchdogDemote;
      d.message = "Demoting self because watchdog could not be activated";
      return d;
    }
    d.actions.push_back(AttemptLeader{});
    LeaderHousekeeping(in, &d);
    d.reason = Reason::kAcquiredLock;
    d.message = "acquired session lock as a leader";
    return d;
  }
  if (in.dynamic.pause) {
    d.actions.push_back(Wait{});
    d.reason = Reason::kPausedPrimaryWithoutLock;
    d.message = "continue to run as primary without lock";
    return d;
  }
  Demote demote;
  demote.mode = DemoteMode::kImmediateNoLock;
  d.actions.push_back(demote);
  d.reason = Reason::kLockLostDemote;
  d.message = "demoting self because I do not have the lock and I was a leader";
  return d;
}

}  // namespace pgw::ha
