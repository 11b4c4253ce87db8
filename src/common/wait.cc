#include "common/wait.h"

#include <algorithm>
#include <thread>

namespace pgw {

bool WaitUntil(const std::function<bool()>& pred, MonoTime deadline, Duration poll, const Clock& clock,
               const std::function<void(Duration)>& sleep) {
  // A poll below 1 ms would make this a busy loop.
  poll = std::max(poll, Duration(1));
  for (MonoTime now = clock.Now(); now < deadline; now = clock.Now()) {
    if (pred()) return true;
    sleep(std::min(poll, deadline - now));
  }
  return pred();
}

bool WaitUntil(const std::function<bool()>& pred, MonoTime deadline, Duration poll) {
  RealClock clock;
  return WaitUntil(pred, deadline, poll, clock, [](Duration d) { std::this_thread::sleep_for(d); });
}

bool WaitFor(const std::function<bool()>& pred, Duration timeout, Duration poll) {
  RealClock clock;
  return WaitUntil(pred, clock.Now() + timeout, poll, clock, [](Duration d) { std::this_thread::sleep_for(d); });
}

}  // namespace pgw
