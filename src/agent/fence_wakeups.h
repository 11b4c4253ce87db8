// What an armed fence sleeps on (docs/fencing.md, "Pauses of the whole machine"): its fence time on
// CLOCK_MONOTONIC, and the kernel events after which its clocks may reveal a pause of the machine. The Fencer thread
// and the fence supervisor used to sample their clocks every 50 ms while armed (20 wake-ups a second each); they now
// sleep until one of these is due, then look at their clocks (PauseDetector::Sample, the time) as before.
//
// The kernel implementation holds three timerfds behind one epoll descriptor:
//   - the deadline, absolute on CLOCK_MONOTONIC;
//   - while pause checks are on, a CLOCK_REALTIME timer set far ahead with TFD_TIMER_CANCEL_ON_SET: the kernel
//     cancels it, waking us at once, whenever the wall clock's offset from CLOCK_MONOTONIC changes (clock_settime,
//     settimeofday, adjtimex ADJ_SETOFFSET, a leap second, and resume from suspend, which injects the sleep time);
//     these are the only events that move that offset, which is what PauseDetector compares;
//   - while pause checks are on, a periodic CLOCK_BOOTTIME timer: that clock counts suspend, so a suspend longer
//     than the period contains an expiry and the timer fires as soon as the machine resumes, independently of the
//     wall clock watch. Between events it bounds the time to the next sample by the period.
#pragma once

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

// The CLOCK_BOOTTIME period of the pause checks while armed, for a pause threshold: a suspend longer than the
// threshold contains an expiry, so it is seen on resume; a wall clock step that the kernel did not report is seen
// within this period.
inline Duration PauseCheckPeriod(Duration threshold) { return std::max(threshold / 2, Duration(1)); }

// Calls are serialized by the owner (the Fencer holds its mutex); fd() may be polled from any thread.
class FenceWakeups {
 public:
  virtual ~FenceWakeups() = default;
  // Readable when the deadline passed or a pause check is due. Poll it, then call Ack().
  virtual int fd() const = 0;
  // Wake at `at` on the monotonic clock (at once when it has passed); nullopt: no deadline.
  virtual void SetDeadline(std::optional<MonoTime> at) = 0;
  // While set: wake at once when the wall clock's offset from CLOCK_MONOTONIC changes, and every `period` of
  // CLOCK_BOOTTIME. nullopt: neither (a disarmed fence sleeps until told otherwise).
  virtual void SetPauseChecks(std::optional<Duration> period) = 0;
  // Consumes what made fd() readable; re-arms the wall clock watch first, so that a change after Ack() (and before
  // the clocks are read) wakes again.
  virtual void Ack() = 0;
};

// The timerfd implementation above, for RealClock.
Result<std::unique_ptr<FenceWakeups>> MakeKernelFenceWakeups();

// For tests on an injected clock: readable when Poke()d (the test changed its clock); records what was set.
// Thread-safe.
class ManualFenceWakeups final : public FenceWakeups {
 public:
  ManualFenceWakeups();
  ~ManualFenceWakeups() override;
  ManualFenceWakeups(const ManualFenceWakeups&) = delete;
  ManualFenceWakeups& operator=(const ManualFenceWakeups&) = delete;

  int fd() const override { return fd_; }
  void SetDeadline(std::optional<MonoTime> at) override;
  void SetPauseChecks(std::optional<Duration> period) override;
  void Ack() override;

  void Poke();
  std::optional<MonoTime> deadline() const;
  std::optional<Duration> pause_period() const;
  // How many times the owner was woken (Ack() calls).
  int acks() const;

 private:
  int fd_ = -1;
  mutable std::mutex mu_;
  std::optional<MonoTime> deadline_;
  std::optional<Duration> period_;
  int acks_ = 0;
};

}  // namespace pgw
