// The decision core when PostgreSQL is not running: bootstrap or clone an empty data directory, start as primary
// or replica, reconcile a former primary with pg_rewind (reference §3.3, safety rule 6).
#include <algorithm>

#include "ha/decide_internal.h"
#include "ha/standby.h"
#include "ha/sync.h"
#include "pg/methods.h"

namespace pgw::ha {

bool Crashed(const LocalView& l) {
  if (l.backup_label) return false;
  return l.cluster_state == "in production" || l.cluster_state == "in crash recovery";
}

bool WasPrimary(const LocalView& l) {
  if (l.backup_label) return false;  // a clone that never started: pg_control is the source primary's
  return l.cluster_state == "in production" || l.cluster_state == "shut down" ||
         l.cluster_state == "in crash recovery" || l.cluster_state == "shutting down";
}

Decision DecideEmptyDataDir(const Inputs& in) {
  const ClusterView& c = *in.cluster;
  Decision d;
  bool standby = IsStandbyCluster(in.dynamic);
  std::string waiting = standby ? "waiting for standby_leader to bootstrap" : "waiting for leader to bootstrap";
  const Member* leader = c.LeaderMember();
  const bool no_leader = !c.leader || leader == nullptr || !leader->conn;
  // Patroni: with no leader to copy from, a replica creation method marked no_leader (no_master) may create the
  // data directory (a restore from a backup), unless a bootstrap is under way (initialize ""). It then starts in
  // recovery following nobody, and may be elected.
  auto without_leader = [&]() -> std::optional<Decision> {
    if (c.initialize && c.initialize->empty()) return std::nullopt;
    auto methods = ReplicaMethodsInForce(*in.config, in.dynamic);
    if (std::none_of(methods.begin(), methods.end(),
                     [&](const std::string& m) { return WorksWithoutLeader(*in.config, m); })) {
      return std::nullopt;
    }
    Decision w;
    Clone clone;
    StartReplica start;
    if (standby) {
      // Patroni's leaderless clone in a standby cluster has the remote primary as its source (all methods may
      // run, with its connection string), and the new member follows the remote like any leaderless one.
      clone.address = RemoteAddress(in);
      if (clone.address) clone.target = RemoteName(in);
      start.upstream = RemoteUpstream(in);
    }
    w.actions = {clone, start};
    w.reason = Reason::kBootstrapWithoutLeader;
    w.message = "trying to bootstrap (without leader)";
    return w;
  };
  if (!c.initialize) {
    if (in.config->tags.NeverPromote()) {
      if (no_leader) {
        if (auto w = without_leader()) return *w;
      }
      d.actions.push_back(Wait{});
      d.reason = Reason::kWaitingForBootstrap;
      d.message = waiting;
      return d;
    }
    if (standby) return BootstrapStandbyLeader(in);
    d.actions = {AttemptInitialize{}, Bootstrap{}};
    d.reason = Reason::kBootstrapRace;
    d.message = "trying to bootstrap a new cluster";
    return d;
  }
  if (no_leader) {
    if (auto w = without_leader()) return *w;
    d.actions.push_back(Wait{});
    d.reason = Reason::kWaitingForBootstrap;
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
  Clone clone;
  clone.target = source->name;
  clone.address = source->conn;
  StartReplica start;
  auto up = UpstreamMember(*in.config, c);
  if (up) start.upstream = UpstreamFor(in, *up);
  d.actions = {clone, start};
  d.reason = Reason::kClone;
  d.message = source == leader ? "trying to bootstrap from leader '" + leader->name + "'"
                               : "trying to bootstrap from replica '" + source->name + "'";
  return d;
}

Decision DecideStopped(const Inputs& in, bool have_lock, bool lock_on_my_lease) {
  const LocalView& l = *in.local;
  const ClusterView& c = *in.cluster;
  Decision d;
  if (in.dynamic.pause) {
    if (have_lock) {
      d.actions.push_back(ReleaseLeader{});
      d.reason = Reason::kPausedReleaseLock;
      d.message = "removed leader lock because postgres is not running";
    } else {
      d.actions.push_back(Wait{});
      d.reason = Reason::kPausedStopped;
      d.message = "postgres is not running";
    }
    return d;
  }
  if (!DcsReachable(in)) {
    // Never start a primary on a stale view; a read-only start can wait for etcd too.
    d.actions.push_back(Wait{});
    d.reason = Reason::kDcsUnreachable;
    d.message = "DCS is not accessible";
    return d;
  }
  bool standby = IsStandbyCluster(in.dynamic);
  if (have_lock && standby) {
    // The standby leader: back into recovery, streaming from the remote primary (never started as a primary).
    if (!lock_on_my_lease) d.actions.push_back(RefreshLeader{});
    StartReplica start;
    start.upstream = RemoteUpstream(in);
    d.actions.push_back(start);
    d.reason = Reason::kStartStandbyLeader;
    d.message = "starting as a standby leader because i had the session lock";
    return d;
  }
  if (have_lock) {
    if (in.state.primary_start_failed) {
      d.actions.push_back(ReleaseLeader{});
      d.reason = Reason::kPrimaryStartFailed;
      d.message = "removed leader key after trying and failing to start postgres";
      return d;
    }
    bool sync_standby_ready = false;
    if (in.dynamic.synchronous_mode) {
      for (const auto& n : SyncStandbys(*in.cluster, in.config->name)) {
        const Member* m = in.cluster->FindMember(n);
        // A nofailover standby cannot take over: handing the key to it would only delay the restart in place.
        sync_standby_ready = sync_standby_ready ||
                             (m != nullptr && m->IsRunning() && !m->NoFailover() && TimelineForbids(in, *m).empty());
      }
    }
    if (WasPrimary(l) && (in.dynamic.primary_start_timeout == 0 || sync_standby_ready)) {
      d.actions.push_back(ReleaseLeader{});
      d.reason = Reason::kCrashHandover;
      d.message = "stopped PostgreSQL to fail over after a crash";
      return d;
    }
    if (!lock_on_my_lease) d.actions.push_back(RefreshLeader{});
    if (WasPrimary(l)) {
      bool gated = false;
      d.reason = Reason::kStartPrimary;
      d.message = "starting primary after failure";
      if (in.dynamic.synchronous_mode && Crashed(l)) {
        // Crash recovery will bring back commits that were waiting for a standby: nobody acknowledged them, so
        // no client may see them until a synchronous standby has them too.
        gated = true;
        d.message += "; clients wait until a synchronous standby has caught up";
      }
      AddStartPrimary(in, gated, &d);
    } else {
      d.actions.push_back(StartReplica{});
      d.reason = Reason::kStartReadonlyWithLock;
      d.message = "starting as readonly because i had the session lock";
    }
    return d;
  }
  if (!c.leader && WasPrimary(l) && in.now < in.state.no_race_until) {
    // We gave the key up so that another member takes over: starting PostgreSQL now would only mean stopping it
    // again for pg_rewind once the new leader is known (and exposes a read-only server at the old address).
    d.actions.push_back(Wait{});
    d.reason = Reason::kWaitForNewLeader;
    d.message = "waiting for another member to take the leader key";
    return d;
  }
  StartReplica start;
  std::optional<std::string> up;
  if (c.leader) {
    up = UpstreamMember(*in.config, c);
    if (up) start.upstream = UpstreamFor(in, *up);
  } else if (standby) {
    start.upstream = RemoteUpstream(in);
    d.actions.push_back(start);
    d.reason = Reason::kFollowRemote;
    d.message = "trying to follow a remote member because standby cluster is unhealthy";
    return d;
  }
  if (in.dynamic.synchronous_mode && Crashed(l) && !start.upstream) {
    // Crash recovery brings back commits nobody acknowledged; following nobody, this node may later win the race
    // and promote: the client gate must hold across the read-only start (and is honoured after the promotion).
    start.gated = true;
  }
  // A former primary (stopped in production or crashed) that did not hand over cleanly has, or may have, WAL the
  // new leader never saw: reconcile before streaming (safety rule 6). It rewinds whatever the timelines in the
  // member keys say (pg_rewind itself says when nothing diverged), but only once the leader has finished its
  // promotion: pg_rewind against a source still on the old timeline finds "no rewind required" and the diverged
  // node would follow it. Without pg_rewind, only a visibly different timeline re-clones.
  const Member* leader = c.LeaderMember();
  bool rewind = in.dynamic.use_pg_rewind || in.config->postgresql.use_pg_rewind;
  if (!standby && c.leader && leader != nullptr && leader->conn && leader->name != in.config->name &&
      !in.state.clean_demote && (in.state.unreconciled_primary || WasPrimary(l))) {
    if (!leader->IsPrimaryRole()) {
      d.actions.push_back(Wait{});
      d.reason = Reason::kWaitPromotionBeforeRewind;
      d.message = "waiting for leader " + leader->name + " to finish its promotion before reconciling with it";
      return d;
    }
    bool other_timeline = !leader->timeline || *leader->timeline != l.timeline;
    const auto& pg = in.config->postgresql;
    if (rewind && in.state.rewind_failed) {
      if (pg.remove_data_directory_on_rewind_failure || in.dynamic.remove_data_directory_on_rewind_failure) {
        d.actions.push_back(Reinitialize{});
        d.reason = Reason::kReinitAfterRewindFailure;
        d.message = "reinitializing because pg_rewind failed";
        return d;
      }
      d.actions.push_back(Wait{});
      d.reason = Reason::kRewindFailed;
      d.message = "pg_rewind from " + leader->name +
                  " failed; reinitialize this member (pgwardenctl reinit) or set "
                  "remove_data_directory_on_rewind_failure";
      return d;
    }
    if (rewind) {
      Rewind r;
      r.target = leader->name;
      r.address = *leader->conn;  // checked above
      d.actions = {r, start};
      d.reason = Reason::kRewind;
      d.message = "running pg_rewind from " + leader->name;
      return d;
    }
    if (other_timeline &&
        (pg.remove_data_directory_on_diverged_timelines || in.dynamic.remove_data_directory_on_diverged_timelines)) {
      d.actions.push_back(Reinitialize{});
      d.reason = Reason::kReinitDiverged;
      d.message = "reinitializing due to diverged timelines";
      return d;
    }
  }
  d.actions.push_back(start);
  d.reason = Reason::kStartReplica;
  d.message = "starting as a secondary";
  return d;
}

}  // namespace pgw::ha
