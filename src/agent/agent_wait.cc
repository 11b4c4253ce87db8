// The agent's wait between cycles: until loop_wait has passed, a change in etcd or a request wakes it, or, on an
// armed primary, its lease stops being fresh.
#include <vector>

#include "agent/agent.h"

namespace pgw {

MonoTime Agent::LastRenewal() const { return dcs_->LeaseDeadline() - Duration(dyn_.ttl * 1000); }

// The next moment after `now` at which an armed primary's lease stops being fresh (no renewal for retry_timeout)
// or, in failsafe mode, at which a keepalive counts as unanswered; nullopt when both lie in the past.
std::optional<MonoTime> Agent::NextFreshnessDeadline(MonoTime now) const {
  MonoTime last_renewal = LastRenewal();
  std::vector<MonoTime> at = {last_renewal + dyn_.RetryTimeout() + Duration(10)};
  if (dyn_.failsafe_mode) at.push_back(last_renewal + ha::SuspectAfter(dyn_) + Duration(10));
  std::optional<MonoTime> next;
  for (MonoTime t : at) {
    if (t > now && (!next || t < *next)) next = t;
  }
  return next;
}

void Agent::WaitUntilDue(MonoTime due) {
  while (!stop_) {
    MonoTime now = clock_.Now();
    if (now >= due) return;
    MonoTime until = due;
    bool for_freshness = false;
    if (fencer_->armed()) {
      // A primary re-decides the moment its lease stops being fresh, not up to loop_wait later.
      if (auto f = NextFreshnessDeadline(now); f && *f < due) {
        until = *f;
        for_freshness = true;
      }
    }
    MonoTime renewed = LastRenewal();
    if (WaitNextCycle(std::chrono::duration_cast<Duration>(until - now))) return;  // etcd changed, or a request
    // Woken for a freshness deadline: the cycle runs only when no renewal came meanwhile. Usually the keeper has
    // renewed well within retry_timeout, there is nothing to re-decide, and the primary goes back to waiting
    // (this wake used to cost an idle primary half a cycle more per second).
    if (for_freshness && LastRenewal() == renewed) return;
  }
}

bool Agent::WaitNextCycle(Duration d) {
  std::unique_lock<std::mutex> l(wake_mu_);
  bool woken = wake_cv_.wait_for(l, d, [&] { return wake_ || stop_.load(); });
  wake_ = false;
  return woken;
}

}  // namespace pgw
