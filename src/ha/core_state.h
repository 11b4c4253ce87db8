// The decision core's memory: what earlier cycles learned that later decisions depend on (a failed start as
// primary, a failed rewind, a vetoed promotion, ...). The core owns it, as raft's state machine owns its state:
//
//   state := ObservePostgres(state, local)        a cycle begins: what the new observation of PostgreSQL settles
//   in.state := ObserveGate(in)                   the client gate's grace, from the cycle's whole input
//   Decide(in)                                    reads in.state
//   state := Record(state, action, report, ...)   after each action the executor carried out, from its report
//
// The executor never writes the state: it reports what happened (ActionReport) and the core folds that in. Pure
// functions, like the rest of the core: no I/O, no clock reads (times arrive in the inputs and reports). The agent
// (agent/agent.cc) and the simulator (tests/scenario/sim_agent.cc) both keep one CoreState and go through these
// functions, so the simulator runs the real rules.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/config.h"
#include "pg/controller.h"

namespace pgw::ha {

struct Action;
struct Inputs;

struct CoreState {
  bool primary_start_failed = false;  // the last start as primary (holding the lock) failed
  bool rewind_failed = false;         // the last pg_rewind failed
  MonoTime no_race_until{};           // the leader key was given up (release, pre_promote veto): no race until then
  bool clean_demote = false;          // we shut down gracefully and a replica confirmed our last WAL: no rewind
  // This node was a primary and was started as a replica before any leader was known: its timeline is not yet
  // reconciled with the leader's (it may hold WAL the new leader never had).
  bool unreconciled_primary = false;
  // Why this node's bootstrap failed (initdb, the first start, post_bootstrap, the roles), after the executor
  // removed the initialize key and the data directory; "" when it did not. The agent stops, as Patroni does.
  std::string bootstrap_failed;
  // When the client gate was closed (or first seen closed by this agent), moved to the last cycle in which a
  // synchronous candidate streamed: the non-strict grace ("no candidate streamed for a ttl") counts from here.
  // Zero while the gate is open.
  MonoTime gate_since{};
  // Synchronous mode (safety rule 9, ha/sync.h): for each member added to synchronous_standby_names
  // (kSetSyncNames), the primary's WAL position measured right after the change. Such a member is published in
  // `sync` only once its flush position has reached it. Forgotten when PostgreSQL changes role (start, promote).
  std::map<std::string, int64_t> sync_added_lsn;

  bool operator==(const CoreState&) const = default;
};

// What the executor reports about one action it carried out: whether it succeeded and what it saw on the way.
// Each field names the actions that fill it in; for the others it keeps its default.
struct ActionReport {
  bool ok = false;  // the action succeeded
  // The executor's monotonic clock at the moment that counts: kReleaseLeader (before the key is deleted), a failed
  // kPrePromote (after the script), a kStartPrimary that closed the client gate (after closing it).
  MonoTime at{};
  bool start_attempted = false;         // kStartPrimary/kStartReplica: PostgreSQL's start was attempted (after the
                                        // client gate closed, when the action asked for it)
  bool promoted = false;                // kPromote: PostgreSQL was promoted (a later step may still have failed)
  std::optional<bool> handed_over;      // graceful kDemote: PostgreSQL stopped, and whether a candidate confirmed
                                        // the shutdown checkpoint
  std::optional<int64_t> wal_position;  // kSetSyncNames: the primary's WAL position measured after the change
  std::string bootstrap_failed;         // kBootstrap/kBootstrapStandby: why it failed, after the clean-up
};

// A cycle begins: once PostgreSQL runs and answers, a failed start as primary and a clean demotion are history.
CoreState ObservePostgres(CoreState s, const LocalView& local);

// The client gate's grace at the start of a cycle, from in.state as the last cycle left it and this cycle's view:
// returns the state to decide on (and to keep). Zero while the gate is open; set to in.now when this agent first
// sees it closed (an agent restarted behind a closed gate) and whenever a synchronous candidate streams.
CoreState ObserveGate(const Inputs& in);

// Folds the executor's report about action `a`, carried out on `local` (the observation it was decided on) under
// `dyn`, into the state.
CoreState Record(CoreState s, const Action& a, const ActionReport& r, const LocalView& local, const DynamicConfig& dyn);

}  // namespace pgw::ha
