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
  if (const auto* start = a.Get<StartPrimary>()) {  // carried out only once kArmFencing succeeded
    s.sync_added_lsn.clear();
    if (!r.start_attempted) return s;  // the client gate could not be closed
    if (start->gated) s.gate_since = r.at;
    if (!r.ok) s.primary_start_failed = true;
  } else if (const auto* replica = a.Get<StartReplica>()) {
    s.sync_added_lsn.clear();
    // A former primary started before any leader is known has not been reconciled with the leader to come.
    if (r.start_attempted && WasPrimary(local) && !replica->upstream && !s.clean_demote) s.unreconciled_primary = true;
  } else if (a.Get<ReleaseLeader>() != nullptr) {
    s.no_race_until = r.at + ttl;  // given up on purpose: let the others take it before racing again
  } else if (a.Get<PrePromote>() != nullptr) {
    if (!r.ok) s.no_race_until = r.at + ttl;  // vetoed: the key was given up, let the others take it first
  } else if (const auto* write = a.Get<WriteSync>()) {
    // A promotion that got past its pre_promote script: nobody is a synchronous standby of the new leader yet,
    // whether or not this step (or a later one) succeeds.
    if (write->promotion) s.sync_added_lsn.clear();
  } else if (const auto* arm = a.Get<ArmFencing>()) {
    if (arm->promotion) s.sync_added_lsn.clear();
  } else if (a.Get<Promote>() != nullptr) {
    s.sync_added_lsn.clear();
    if (r.promoted) s.unreconciled_primary = false;
  } else if (const auto* demote = a.Get<Demote>()) {
    if (demote->mode == DemoteMode::kGraceful && r.handed_over) s.clean_demote = *r.handed_over;
  } else if (a.Get<Rewind>() != nullptr) {
    s.rewind_failed = !r.ok;
    if (r.ok) s.unreconciled_primary = false;
  } else if (a.Get<Reinitialize>() != nullptr) {
    s.rewind_failed = false;
    s.unreconciled_primary = false;
  } else if (const auto* names = a.Get<SetSyncNames>()) {
    for (const auto& n : names->sync) s.sync_added_lsn.erase(n);
    if (r.wal_position) {
      for (const auto& n : names->sync) s.sync_added_lsn[n] = *r.wal_position;
    }
  } else if (const auto* restart = a.Get<Restart>()) {
    if (!r.ok && restart->primary) s.primary_start_failed = true;
  } else if (a.Get<Bootstrap>() != nullptr || a.Get<BootstrapStandby>() != nullptr) {
    if (!r.bootstrap_failed.empty()) s.bootstrap_failed = r.bootstrap_failed;
  }
  return s;
}

}  // namespace pgw::ha
