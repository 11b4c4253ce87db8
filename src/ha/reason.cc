#include "ha/reason.h"

namespace pgw::ha {

const char* ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "none";
    case Reason::kBootstrapFailed: return "bootstrap_failed";
    case Reason::kInvalidDataDir: return "invalid_data_dir";
    case Reason::kPausedEmptyDataDir: return "paused_empty_data_dir";
    case Reason::kSysidMismatch: return "sysid_mismatch";
    case Reason::kPgUnreachable: return "pg_unreachable";
    case Reason::kDcsUnreachable: return "dcs_unreachable";
    case Reason::kFailoverKeyInvalid: return "failover_key_invalid";
    case Reason::kFailoverKeyDone: return "failover_key_done";
    case Reason::kFailoverKeyStale: return "failover_key_stale";
    case Reason::kSwitchoverCandidateNotSync: return "switchover_candidate_not_sync";
    case Reason::kSwitchoverCandidateUnhealthy: return "switchover_candidate_unhealthy";
    case Reason::kSwitchoverNoCandidate: return "switchover_no_candidate";
    case Reason::kSwitchoverDemote: return "switchover_demote";
    case Reason::kFailsafeCheck: return "failsafe_check";
    case Reason::kFailsafeHold: return "failsafe_hold";
    case Reason::kStandbyClusterDemote: return "standby_cluster_demote";
    case Reason::kPausedDcsLost: return "paused_dcs_lost";
    case Reason::kDcsLostDemote: return "dcs_lost_demote";
    case Reason::kLeaderEtcdSlow: return "leader_etcd_slow";
    case Reason::kRestartRequested: return "restart_requested";
    case Reason::kReinitializeRequested: return "reinitialize_requested";
    case Reason::kLeader: return "leader";
    case Reason::kWatchdogDemote: return "watchdog_demote";
    case Reason::kAcquiredLock: return "acquired_lock";
    case Reason::kPausedPrimaryWithoutLock: return "paused_primary_without_lock";
    case Reason::kLockLostDemote: return "lock_lost_demote";
    case Reason::kPausedReleaseLock: return "paused_release_lock";
    case Reason::kWatchdogNoPromote: return "watchdog_no_promote";
    case Reason::kPromoteWithLock: return "promote_with_lock";
    case Reason::kReconcileTimeline: return "reconcile_timeline";
    case Reason::kWaitLeaderAddress: return "wait_leader_address";
    case Reason::kFollowing: return "following";
    case Reason::kPromoteRace: return "promote_race";
    case Reason::kStandbyLeaderRace: return "standby_leader_race";
    case Reason::kBackingOff: return "backing_off";
    case Reason::kFailsafePrimaryAlive: return "failsafe_primary_alive";
    case Reason::kFailsafeRestartHold: return "failsafe_restart_hold";
    case Reason::kSwitchoverElsewhere: return "switchover_elsewhere";
    case Reason::kPausedNoFailover: return "paused_no_failover";
    case Reason::kNofailoverTag: return "nofailover_tag";
    case Reason::kWatchdogUnusable: return "watchdog_unusable";
    case Reason::kSyncNotCandidate: return "sync_not_candidate";
    case Reason::kFailsafeUnlisted: return "failsafe_unlisted";
    case Reason::kTooFarBehind: return "too_far_behind";
    case Reason::kTimelineBehind: return "timeline_behind";
    case Reason::kPrimaryStillAlive: return "primary_still_alive";
    case Reason::kPeerAhead: return "peer_ahead";
    case Reason::kPeerPriority: return "peer_priority";
    case Reason::kCheckPeers: return "check_peers";
    case Reason::kBootstrapWithoutLeader: return "bootstrap_without_leader";
    case Reason::kWaitingForBootstrap: return "waiting_for_bootstrap";
    case Reason::kBootstrapRace: return "bootstrap_race";
    case Reason::kClone: return "clone";
    case Reason::kPausedStopped: return "paused_stopped";
    case Reason::kStartStandbyLeader: return "start_standby_leader";
    case Reason::kPrimaryStartFailed: return "primary_start_failed";
    case Reason::kCrashHandover: return "crash_handover";
    case Reason::kStartPrimary: return "start_primary";
    case Reason::kStartReadonlyWithLock: return "start_readonly_with_lock";
    case Reason::kWaitForNewLeader: return "wait_for_new_leader";
    case Reason::kFollowRemote: return "follow_remote";
    case Reason::kWaitPromotionBeforeRewind: return "wait_promotion_before_rewind";
    case Reason::kReinitAfterRewindFailure: return "reinit_after_rewind_failure";
    case Reason::kRewindFailed: return "rewind_failed";
    case Reason::kRewind: return "rewind";
    case Reason::kReinitDiverged: return "reinit_diverged";
    case Reason::kStartReplica: return "start_replica";
    case Reason::kBootstrapStandbyLeader: return "bootstrap_standby_leader";
    case Reason::kStandbyLeader: return "standby_leader";
  }
  return "?";
}

}  // namespace pgw::ha
