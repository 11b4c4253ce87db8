#include "ha/core_state.h"

#include "ha/decide.h"
#include "ha/sync.h"

namespace pgw::ha {

CoreState ObservePostgres(CoreState s, const LocalView& local) {
  if (local.running && local.query_ok) {
    s.primary_start_failed = false;
    s.clean_demote = false;
  }
  return s;
}

CoreState ObserveGate(const Inputs& in) {
  CoreState s = in.state;
  if (!in.local->gated)
    s.gate_since = MonoTime{};
  else if (s.gate_since == MonoTime{})
    s.gate_since = in.now;  // an agent restarted behind a closed gate
  else if (!SyncCandidates(in).empty())
    s.gate_since = in.now;  // the grace restarts: a candidate streams
  return s;
}

CoreState Record(CoreState s, const Action& a, const ActionReport& r, const LocalView& local,
                 const DynamicConfig& dyn) {
  const Duration ttl(int64_t{dyn.ttl} * 1000);
  switch (a.type) {
    case ActionType::kStartPrimary:  // carried out only once kArmFencing succeeded
      s.sync_added_lsn.clear();
      if (!r.start_attempted) break;  // the client gate could not be closed
      if (a.mode == Mode::kGated) s.gate_since = r.at;
      if (!r.ok) s.primary_start_failed = true;
      break;
    case ActionType::kStartReplica:
      s.sync_added_lsn.clear();
      // A former primary started before any leader is known has not been reconciled with the leader to come.
      if (r.start_attempted && WasPrimary(local) && !a.upstream && !s.clean_demote) s.unreconciled_primary = true;
      break;
    case ActionType::kReleaseLeader:
      s.no_race_until = r.at + ttl;  // given up on purpose: let the others take it before racing again
      break;
    case ActionType::kPrePromote:
      if (!r.ok) s.no_race_until = r.at + ttl;  // vetoed: the key was given up, let the others take it first
      break;
    // A promotion that got past its pre_promote script: nobody is a synchronous standby of the new leader yet,
    // whether or not this step (or a later one) succeeds.
    case ActionType::kWriteSync:
      if (a.mode == Mode::kPromotion) s.sync_added_lsn.clear();
      break;
    case ActionType::kArmFencing:
      if (a.mode == Mode::kPromotion) s.sync_added_lsn.clear();
      break;
    case ActionType::kPromote:
      s.sync_added_lsn.clear();
      if (r.promoted) s.unreconciled_primary = false;
      break;
    case ActionType::kDemote:
      if (a.mode == Mode::kGraceful && r.handed_over) s.clean_demote = *r.handed_over;
      break;
    case ActionType::kRewind:
      s.rewind_failed = !r.ok;
      if (r.ok) s.unreconciled_primary = false;
      break;
    case ActionType::kReinitialize:
      s.rewind_failed = false;
      s.unreconciled_primary = false;
      break;
    case ActionType::kSetSyncNames:
      for (const auto& n : a.sync) s.sync_added_lsn.erase(n);
      if (r.wal_position) {
        for (const auto& n : a.sync) s.sync_added_lsn[n] = *r.wal_position;
      }
      break;
    case ActionType::kRestart:
      if (!r.ok && a.mode == Mode::kPrimary) s.primary_start_failed = true;
      break;
    case ActionType::kBootstrap:
    case ActionType::kBootstrapStandby:
      if (!r.bootstrap_failed.empty()) s.bootstrap_failed = r.bootstrap_failed;
      break;
    default: break;
  }
  return s;
}

}  // namespace pgw::ha
