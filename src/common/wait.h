// Waiting on a condition with a deadline, for tests, benchmarks, the torture tool and the test kit: the one poll
// loop they share instead of each writing its own.
//
// These block the calling thread (they sleep between polls): never call them on an event loop or in the agent's
// cycle. `pred` runs on the calling thread only.
#pragma once

#include <functional>

#include "common/clock.h"

namespace pgw {

// How often a wait evaluates its predicate unless told otherwise.
inline constexpr Duration kWaitPoll{100};

// Evaluates `pred` until it holds or `deadline` (a steady-clock instant) has passed, sleeping `poll` between two
// evaluations (never past the deadline). `pred` is evaluated at least once, and once more at the deadline, so that
// a condition that became true during the last sleep is seen. Returns whether it held.
bool WaitUntil(const std::function<bool()>& pred, MonoTime deadline, Duration poll = kWaitPoll);
// The same with a deadline `timeout` from now.
bool WaitFor(const std::function<bool()>& pred, Duration timeout, Duration poll = kWaitPoll);

// WaitUntil on any clock: `sleep` is how it lets time pass (the unit test advances a ManualClock with it).
bool WaitUntil(const std::function<bool()>& pred, MonoTime deadline, Duration poll, const Clock& clock,
               const std::function<void(Duration)>& sleep);

}  // namespace pgw
