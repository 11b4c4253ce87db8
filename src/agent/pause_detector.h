// Detecting that this process, or the whole machine, was paused while CLOCK_MONOTONIC stood still.
//
// Leases and fence deadlines are on CLOCK_MONOTONIC. When a virtual machine is paused (or the host suspended),
// that clock may stop with it while etcd and the other nodes go on: the lease can expire during the pause, and the
// fence, whose deadline is on the stopped clock, fires late by the whole pause. Other clocks may reveal the pause
// after resume: CLOCK_BOOTTIME counts system suspend, and the wall clock is often stepped back to the true time by
// the hypervisor's guest agent or NTP. PauseDetector samples them together; when one moved further than
// CLOCK_MONOTONIC since the previous sample by more than a threshold, a pause (or a forward step of the wall clock)
// happened, and an armed fence must act at once (docs/fencing.md). It cannot see a pause that no clock reveals.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "common/clock.h"

namespace pgw {

// CLOCK_BOOTTIME in milliseconds.
int64_t BootTimeMs();

class PauseDetector {
 public:
  // `clock`: Now() is CLOCK_MONOTONIC, WallSeconds() the wall clock. `boottime_ms`: CLOCK_BOOTTIME (may be empty).
  PauseDetector(const Clock& clock, std::function<int64_t()> boottime_ms, Duration threshold)
      : clock_(clock), boottime_ms_(std::move(boottime_ms)), threshold_(threshold) {}

  // Takes a sample. Returns how much further the other clocks moved than CLOCK_MONOTONIC since the previous sample
  // when that exceeds the threshold; nullopt otherwise (and on the first sample after Reset()). A sample whose two
  // CLOCK_MONOTONIC readings are far apart (this process was descheduled while reading) is discarded.
  std::optional<Duration> Sample();
  // Forgets the previous sample (the next one only sets the baseline).
  void Reset() { have_ = false; }
  void set_threshold(Duration t) { threshold_ = t; }
  Duration threshold() const { return threshold_; }

 private:
  const Clock& clock_;
  std::function<int64_t()> boottime_ms_;
  Duration threshold_;
  bool have_ = false;
  int64_t wall_offset_ = 0;  // wall - monotonic, ms
  int64_t boot_offset_ = 0;  // boottime - monotonic, ms
};

}  // namespace pgw
