// Internal to the decision core (decide*.cc, standby.cc, sync.cc): the pieces one part of Decide() shares with
// another. Not for the agent: it sees only ha/decide.h.
//
// Decide() (decide.cc) dispatches on PostgreSQL's state:
//   not running          DecideEmptyDataDir / DecideStopped   decide_stopped.cc
//   running as primary   DecidePrimary                        decide_leader.cc
//   running in recovery  DecideReplica (and the leader race)  decide_replica.cc
//   standby cluster      the standby leader's variants        standby.cc
#pragma once

#include <optional>
#include <string>

#include "ha/decide.h"

namespace pgw::ha {

// Appends the steps of a promotion of this replica (ha/decide.h): [pre_promote] [write_sync() set_sync_names()]
// arm_fencing promote.
void AddPromotion(const Inputs& in, Decision* d);
// Appends a start as primary: arm_fencing start_primary (`gated`: behind the client gate; in synchronous mode with
// synchronous_standby_names naming the published synchronous standbys).
void AddStartPrimary(const Inputs& in, bool gated, Decision* d);
// A requested restart of the running PostgreSQL (kRestart) in the role it runs in now: a primary as a primary, a
// replica following the upstream it follows now.
Action RestartInPlace(const Inputs& in);
// "(name)", as Patroni writes this node in its messages.
std::string Me(const Inputs& in);

// What a replica of `member` streams from: its conn_url and this node's slot name (with use_slots), with the
// recovery settings. nullopt when the member has no conn_url.
std::optional<Upstream> UpstreamFor(const Inputs& in, const std::string& member);
// Adds kSyncSlots when the local slots differ from what this node should hold (ha/slots.h).
void AddSlotSync(const Inputs& in, bool leader, Decision* d);

// Status optime, slots for the members that stream from us and (not in a standby cluster) synchronous replication.
void LeaderHousekeeping(const Inputs& in, Decision* d);
// The leader's side of a planned switchover; false when the `failover` key does not concern this cycle.
bool ManualFailoverFromLeader(const Inputs& in, Decision* d);

// In failsafe mode only the members listed in the failsafe key may race for the leader key.
bool FailsafeExcludes(const Inputs& in, const std::string& name);
// In synchronous mode only the former leader and its synchronous standbys may be promoted.
bool SyncForbids(const Inputs& in, const std::string& name);
// With check_timeline, a member whose member key publishes no timeline, or one older than the cluster's, may not
// be handed the leader key (Patroni's is_failover_possible): Patroni's log line saying why, "" when it may.
std::string TimelineForbids(const Inputs& in, const Member& m);

Decision DecideEmptyDataDir(const Inputs& in);
Decision DecideStopped(const Inputs& in, bool have_lock, bool lock_on_my_lease);
Decision DecidePrimary(const Inputs& in, bool dcs_ok, bool have_lock, bool lock_on_my_lease);
Decision DecideReplica(const Inputs& in, bool dcs_ok, bool have_lock, bool lock_on_my_lease);

}  // namespace pgw::ha
