// The decision core when PostgreSQL runs in recovery: follow the leader, or race for the leader key when nobody
// holds it (reference §3.5).
#include <algorithm>
#include <utility>

#include "ha/decide_internal.h"
#include "ha/standby.h"
#include "ha/sync.h"

namespace pgw::ha {

// In failsafe mode only the members listed in the failsafe key may race for the leader key: the primary asks
// exactly those to confirm it is alive, so an unlisted member cannot know whether a failsafe primary still runs.
bool FailsafeExcludes(const Inputs& in, const std::string& name) {
  const ClusterView& c = *in.cluster;
  return in.dynamic.failsafe_mode && c.failsafe && !c.failsafe->empty() && !c.failsafe->contains(name);
}

// In synchronous mode only the former leader and its synchronous standbys may be promoted (reference §3.5).
bool SyncForbids(const Inputs& in, const std::string& name) {
  if (!in.dynamic.synchronous_mode) return false;
  std::string former = SyncLeader(*in.cluster);
  if (former.empty() || name == former) return false;
  auto standbys = SyncStandbys(*in.cluster, former);
  return std::find(standbys.begin(), standbys.end(), name) == standbys.end();
}

std::string TimelineForbids(const Inputs& in, const Member& m) {
  const int64_t cluster = in.cluster->timeline;
  if (!in.dynamic.check_timeline || (m.timeline && *m.timeline > 0 && *m.timeline >= cluster)) return "";
  return "Timeline " + (m.timeline ? std::to_string(*m.timeline) : std::string("None")) + " of member " + m.name +
         " is behind the cluster timeline " + std::to_string(cluster);
}

namespace {

// Election among replicas when nobody holds the leader key (reference §3.5). Returns the reason we are not the
// healthiest node, or Reason::kNone when we may race.
std::pair<Reason, std::string> NotHealthiestReason(const Inputs& in) {
  const LocalView& l = *in.local;
  if (in.cluster->last_lsn && *in.cluster->last_lsn - l.wal_position > in.dynamic.maximum_lag_on_failover) {
    return {Reason::kTooFarBehind, "My wal position exceeds maximum replication lag"};
  }
  // Not in a standby cluster (Patroni's rule): its timelines follow the remote primary's, not the `history` key.
  if (in.dynamic.check_timeline && !IsStandbyCluster(in.dynamic) && l.timeline < in.cluster->timeline) {
    return {Reason::kTimelineBehind, "My timeline " + std::to_string(l.timeline) +
                                         " is behind last known cluster timeline " +
                                         std::to_string(in.cluster->timeline)};
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
    if (p.is_primary) return {Reason::kPrimaryStillAlive, "Primary (" + p.name + ") is still alive"};
    // A member that may not race does not hold the others back (scenario failsafe_unlisted_member_ahead: both
    // nodes waited for each other for good).
    if (p.nofailover || p.name == former || !may_race(p.name) || FailsafeExcludes(in, p.name)) continue;
    if (p.wal_position > l.wal_position) {
      return {Reason::kPeerAhead, "Wal position of " + p.name + " is ahead of my wal position"};
    }
    if (p.wal_position == l.wal_position && p.failover_priority > my_priority) {
      return {Reason::kPeerPriority, p.name + " has equally tolerable WAL position and priority " +
                                         std::to_string(p.failover_priority) + ", while this node has priority " +
                                         std::to_string(my_priority)};
    }
  }
  return {Reason::kNone, ""};
}

}  // namespace

Decision DecideReplica(const Inputs& in, bool dcs_ok, bool have_lock, bool lock_on_my_lease) {
  const Config& cfg = *in.config;
  const ClusterView& c = *in.cluster;
  const LocalView& l = *in.local;
  Decision d;
  if (!dcs_ok) {
    d.actions.push_back(Wait{});
    d.reason = Reason::kDcsUnreachable;
    d.message = "DCS is not accessible";
    return d;
  }
  bool standby = IsStandbyCluster(in.dynamic);
  if (have_lock && standby) return DecideStandbyLeader(in, lock_on_my_lease);
  if (have_lock) {
    if (in.dynamic.pause) {
      d.actions.push_back(ReleaseLeader{});
      d.reason = Reason::kPausedReleaseLock;
      d.message = "removed leader lock because postgres is not running as primary";
      return d;
    }
    if (in.watchdog_unusable) {
      d.actions.push_back(ReleaseLeader{});
      d.reason = Reason::kWatchdogNoPromote;
      d.message = "Not promoting self because watchdog could not be activated";
      return d;
    }
    if (!lock_on_my_lease) d.actions.push_back(RefreshLeader{});
    AddPromotion(in, &d);
    d.reason = Reason::kPromoteWithLock;
    d.message = "promoted self to leader because I had the session lock";
    return d;
  }
  if (c.leader) {
    const Member* lm = c.LeaderMember();
    if (in.state.unreconciled_primary && lm != nullptr) {
      // Started as a replica while nobody led; the leader that appeared since is on another timeline. Stop
      // cleanly so that the next cycle can pg_rewind (or re-clone) before streaming (safety rule 6).
      Demote a;
      a.mode = DemoteMode::kOffline;
      d.actions.push_back(a);
      d.reason = Reason::kReconcileTimeline;
      d.message = "stopping to reconcile with the timeline of the new leader (" + c.leader->name + ")";
      return d;
    }
    auto up = UpstreamMember(cfg, c);
    std::optional<Upstream> want = up ? UpstreamFor(in, *up) : std::nullopt;
    if (!want) {
      d.actions.push_back(Wait{});
      d.reason = Reason::kWaitLeaderAddress;
      d.message = "no action. I am " + Me(in) + ", a secondary, and waiting for the leader (" + c.leader->name +
                  ") to publish its address";
      return d;
    }
    if (l.upstream != want) {
      Follow f;
      f.upstream = *want;
      f.target = *up;
      d.actions.push_back(f);
    }
    AddSlotSync(in, false, &d);
    if (in.restart_requested) {
      d.actions = {RestartInPlace(in)};
      d.reason = Reason::kRestartRequested;
      d.message = "restarting after a request";
      return d;
    }
    d.reason = Reason::kFollowing;
    d.message = "no action. I am " + Me(in) + ", a secondary, and following a " +
                (standby ? "standby leader (" : "leader (") + c.leader->name + ")";
    return d;
  }

  // Winning the race: a primary is promoted; in a standby cluster the winner becomes the standby leader and streams
  // from the remote primary instead (Patroni never promotes there).
  auto take_over = [&]() {
    if (!standby) {
      d.actions = {AttemptLeader{}};
      AddPromotion(in, &d);
      d.reason = Reason::kPromoteRace;
      d.message = "promoted self to leader by acquiring session lock";
      return d;
    }
    d.actions = {AttemptLeader{}};
    Upstream remote = RemoteUpstream(in);
    if (l.upstream != remote) {
      Follow f;
      f.upstream = remote;
      f.target = RemoteName(in);
      d.actions.push_back(f);
    }
    d.reason = Reason::kStandbyLeaderRace;
    d.message = "promoted self to a standby leader by acquiring session lock";
    return d;
  };
  auto not_healthiest = [&](Reason reason, const std::string& why) {
    d.actions.push_back(Wait{});
    d.reason = reason;
    d.message = "following a different leader because i am not the healthiest node (" + why + ")";
    return d;
  };
  // A primary that vouched for itself through POST /failsafe still runs (etcd is out of reach for it), and a node
  // backing off must let the others go first: neither may promote, not even when the `failover` key names it.
  if (in.now < in.state.no_race_until)
    return not_healthiest(Reason::kBackingOff,
                          "backing off: this node gave the leader key up or its pre_promote script failed");
  if (in.now < in.failsafe_primary_until) {
    if (in.failsafe_restart_hold) {
      return not_healthiest(Reason::kFailsafeRestartHold,
                            "failsafe mode: a ttl has not passed since this agent started");
    }
    return not_healthiest(Reason::kFailsafePrimaryAlive,
                          "the primary confirmed through POST /failsafe that it is alive");
  }
  // Nobody holds the lock: the leader race. A manual failover names who should win.
  if (c.failover) {
    const auto& f = c.failover->request;
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
        d.actions.push_back(Wait{});
        d.reason = Reason::kSwitchoverElsewhere;
        d.message = "following a different leader because i am not the healthiest node (manual failover to " +
                    f->member + " in progress)";
        return d;
      }
    }
  }
  if (in.dynamic.pause) return not_healthiest(Reason::kPausedNoFailover, "no automatic failover in maintenance mode");
  if (cfg.tags.NeverPromote()) {
    d.actions.push_back(Wait{});
    d.reason = Reason::kNofailoverTag;
    d.message = "following a different leader because I am not allowed to promote";
    return d;
  }
  // A standby leader is never writable: it needs no watchdog.
  if (in.watchdog_unusable && !standby)
    return not_healthiest(Reason::kWatchdogUnusable, "Watchdog device is not usable");
  if (std::string former = SyncLeader(c); in.dynamic.synchronous_mode && !former.empty()) {
    auto standbys = SyncStandbys(c, former);
    if (former != cfg.name && std::find(standbys.begin(), standbys.end(), cfg.name) == standbys.end()) {
      return not_healthiest(Reason::kSyncNotCandidate,
                            "synchronous mode: only the former leader " + former +
                                (standbys.empty() ? std::string() : " or a synchronous standby") + " may be promoted");
    }
  }
  if (FailsafeExcludes(in, cfg.name))
    return not_healthiest(Reason::kFailsafeUnlisted, "not listed in the failsafe key");
  if (!in.peers_checked) {
    d.actions.push_back(CheckPeers{});
    d.reason = Reason::kCheckPeers;
    d.message = "no leader: checking the other members before the leader race";
    return d;
  }
  auto [reason, why] = NotHealthiestReason(in);
  if (reason != Reason::kNone) return not_healthiest(reason, why);
  return take_over();
}

}  // namespace pgw::ha
