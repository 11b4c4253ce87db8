// The leader's synchronous replication and the client gate: the part of the decision core (decide.h) that decides
// which members PostgreSQL waits for and which are published in `sync`. Pure functions, like the rest of the core.
//
// Invariant kept (DESIGN.md safety rules 5 and 9): every member named in `sync` has every commit the primary
// acknowledged. A member is added to synchronous_standby_names first; it is published only once PostgreSQL reports
// it synchronous AND its flush position has reached the primary's WAL position measured when it was added
// (CoreState::sync_added_lsn, ha/core_state.h). A member leaves `sync` before PostgreSQL stops waiting for it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ha/decide.h"

namespace pgw::ha {

// Members that may be synchronous standbys of this leader, with their flush position: streaming from us, running,
// neither nosync nor nofailover (a synchronous standby must be able to take over), within
// maximum_lag_on_syncnode; current synchronous standbys first, then the most advanced.
std::vector<std::pair<std::string, int64_t>> SyncCandidates(const Inputs& in);

// Appends the actions that move synchronous replication one step towards the wanted state (one step per cycle).
void SyncHousekeeping(const Inputs& in, Decision* d);

// The client gate after a crash restart in synchronous mode: appends kOpenGate when it may open; returns a note
// for the loop line ("" when the gate is open).
std::string ClientGate(const Inputs& in, Decision* d);

}  // namespace pgw::ha
