// Why the decision core decided what it did: one code per decision (ha::Decision::reason), for the log, the
// simulator's traces and the agent's /metrics (pgwarden_ha_decisions_total{reason="..."}). The message says the
// same in words and may carry names and figures; the code is stable and countable.
#pragma once

#include <cstddef>

namespace pgw::ha {

enum class Reason {
  kNone,                          // no reason given (a bug: every decision names one)
  kBootstrapFailed,               // this node's bootstrap failed; the agent stops
  kInvalidDataDir,                // the data directory is unusable
  kPausedEmptyDataDir,            // maintenance mode with an empty data directory
  kSysidMismatch,                 // the data directory belongs to another cluster
  kPgUnreachable,                 // PostgreSQL does not answer queries
  kDcsUnreachable,                // the view of etcd is too old to act on
  kFailoverKeyInvalid,            // the failover key cannot be parsed
  kFailoverKeyDone,               // the failover key names another leader or made us leader
  kFailoverKeyStale,              // the scheduled switchover time passed long ago
  kSwitchoverCandidateNotSync,    // the switchover candidate is not a synchronous standby
  kSwitchoverCandidateUnhealthy,  // the switchover candidate is not running or may not be promoted
  kSwitchoverNoCandidate,         // no member can take over in a switchover
  kSwitchoverDemote,              // the leader demotes itself for a switchover
  kFailsafeCheck,                 // etcd is unreachable: the leader asks the members to confirm it
  kFailsafeHold,                  // every member confirmed: the leader keeps running without etcd
  kStandbyClusterDemote,          // a standby cluster has no writable primary
  kPausedDcsLost,                 // maintenance mode: the leader keeps running without etcd
  kDcsLostDemote,                 // the leader lost etcd and demotes
  kLeaderEtcdSlow,                // the leader keeps the lock while a keepalive is unanswered
  kRestartRequested,              // a restart was requested
  kReinitializeRequested,         // POST /reinitialize on a replica: stop, wipe, clone
  kLeader,                        // the leader holds the lock
  kWatchdogDemote,                // the watchdog could not be activated: the primary demotes
  kAcquiredLock,                  // a running primary took the free leader key
  kPausedPrimaryWithoutLock,      // maintenance mode: a primary without the lock keeps running
  kLockLostDemote,                // a primary without the lock demotes
  kPausedReleaseLock,             // maintenance mode: the lock goes to nobody while PostgreSQL is not a primary
  kWatchdogNoPromote,             // the watchdog could not be activated: no promotion
  kPromoteWithLock,               // a replica holding the lock promotes
  kReconcileTimeline,             // a former primary stops to reconcile with the new leader's timeline
  kWaitLeaderAddress,             // the leader has not published its address
  kFollowing,                     // a replica follows the leader
  kPromoteRace,                   // won the leader race and promotes
  kStandbyLeaderRace,             // won the leader race as standby leader
  kBackingOff,                    // this node gave the key up or a pre_promote script vetoed: others go first
  kFailsafePrimaryAlive,          // a failsafe primary still runs: no race
  kFailsafeRestartHold,           // failsafe mode: a ttl has not passed since this agent started
  kSwitchoverElsewhere,           // a switchover to another member is in progress
  kPausedNoFailover,              // maintenance mode: no automatic failover
  kNofailoverTag,                 // tags forbid this node to promote
  kWatchdogUnusable,              // the watchdog cannot be used: no promotion
  kSyncNotCandidate,              // synchronous mode: only the former leader or a synchronous standby may be promoted
  kFailsafeUnlisted,              // failsafe mode: members not listed in the failsafe key may not race
  kTooFarBehind,                  // this node lags more than maximum_lag_on_failover
  kTimelineBehind,                // check_timeline: this node's timeline is older than the cluster's
  kPrimaryStillAlive,             // a peer still runs as primary
  kPeerAhead,                     // a peer has more WAL
  kPeerPriority,                  // a peer has the same WAL and a higher failover priority
  kCheckPeers,                    // no leader: asking the members before the race
  kBootstrapWithoutLeader,        // an empty data directory is created without a leader (no_leader method)
  kWaitingForBootstrap,           // an empty data directory waits for the leader to bootstrap
  kBootstrapRace,                 // racing to bootstrap a new cluster
  kClone,                         // an empty data directory is cloned
  kPausedStopped,                 // maintenance mode: PostgreSQL is not running
  kStartStandbyLeader,            // the lock holder starts as standby leader
  kPrimaryStartFailed,            // the last start as primary failed: the lock goes
  kCrashHandover,                 // a crashed primary hands the lock over
  kStartPrimary,                  // the lock holder starts PostgreSQL as primary
  kStartReadonlyWithLock,         // the lock holder starts read-only
  kWaitForNewLeader,              // a former primary waits for another member to take the key
  kFollowRemote,                  // a standby cluster without leader follows the remote
  kWaitPromotionBeforeRewind,     // waits for the new leader to finish promoting before pg_rewind
  kReinitAfterRewindFailure,      // pg_rewind failed: reinitializing
  kRewindFailed,                  // pg_rewind failed: waiting for the operator
  kRewind,                        // reconciling with pg_rewind
  kReinitDiverged,                // timelines diverged: reinitializing
  kStartReplica,                  // starting as a replica
  kBootstrapStandbyLeader,        // bootstrapping a standby cluster's leader
  kStandbyLeader,                 // the standby leader holds the lock
  // kStandbyLeader stays last (add new codes above it): kReasonCount is derived from it, and the agent's
  // per-reason counters (agent.h) are an array of that size.
};

inline constexpr std::size_t kReasonCount = static_cast<std::size_t>(Reason::kStandbyLeader) + 1;

// snake_case name of a reason ("crash_handover"), as /metrics and the traces print it.
const char* ReasonName(Reason r);

}  // namespace pgw::ha
