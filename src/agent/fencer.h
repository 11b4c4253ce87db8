// Fencing a primary whose lease may lapse (DESIGN.md safety rule 3, docs/fencing.md).
//
// While this node runs PostgreSQL as primary, the Fencer is armed with the lease that holds the leader key. Every
// acknowledged keepalive of that lease moves the fence time to (lease deadline - margin). If the fence time is
// reached, PostgreSQL is killed (pg/fence.h) by whichever of these acts first:
//   1. the Fencer's own thread, inside the agent (covers an HA loop stuck in a slow call);
//   2. the fence supervisor process (covers an agent that is frozen, SIGSTOPped or dead);
//   3. the watchdog device, when configured (covers a frozen machine: it resets it).
// The HA loop normally demotes well before, once renewals have failed for retry_timeout; the Fencer is the bound.
// A fence that could not kill every process of the data directory stays armed and is retried. A detected pause of
// the machine (agent/pause_detector.h) longer than half the margin fences at once while armed. The thread sleeps on
// kernel timers (agent/fence_wakeups.h): a renewal moves its deadline timer without waking it.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "agent/fence_supervisor.h"
#include "agent/fence_wakeups.h"
#include "agent/pause_detector.h"
#include "agent/watchdog.h"
#include "common/clock.h"
#include "common/log.h"

namespace pgw {

// How long before the lease deadline PostgreSQL is fenced: watchdog.safety_margin seconds (-1: ttl/2), capped at
// ttl/2 and at least 250 ms.
Duration FenceMargin(int ttl_s, int safety_margin_s);

struct FenceOptions {
  std::string data_dir;
  int safety_margin_s = 5;
  std::string watchdog_mode = "automatic";  // off | automatic | required
  std::string watchdog_device = "/dev/watchdog";
  bool supervisor = true;  // off only in unit tests
  // CLOCK_BOOTTIME for the pause detector. Empty: the real one when the clock is a RealClock, none otherwise (a
  // fake monotonic clock must not be compared with the real boot time).
  std::function<int64_t()> boottime_ms;
  // Kills every process of the data directory. Empty: pg/fence.h's FenceDataDir (tests inject failures).
  std::function<Result<int>(const std::string& data_dir)> fence;
  // What the thread sleeps on. Empty: the kernel timers (MakeKernelFenceWakeups), which need a RealClock; a test
  // with an injected clock passes a ManualFenceWakeups that it pokes when it moves the clock.
  std::shared_ptr<FenceWakeups> wakeups;
};

// The pause that makes an armed fence act at once: half the margin (the other half still absorbs the kill).
inline Duration PauseThreshold(Duration margin) { return margin / 2; }

class Fencer {
 public:
  Fencer(const Clock& clock, Logger& log, FenceOptions opts);
  ~Fencer();

  Status Start();
  // Clean shutdown (PostgreSQL stopped or left running in pause): disarm everything, the supervisor exits.
  void Stop();

  // Arms for lease `lease_id` with deadline `lease_deadline`. Fails only when watchdog.mode is required and the
  // device cannot be activated: the node must then not run as primary.
  Status Arm(int64_t lease_id, MonoTime lease_deadline, int ttl_s);
  void Disarm();
  // From the lease keeper thread after each acknowledged keepalive.
  void OnLeaseRenewed(int64_t lease_id, MonoTime deadline);
  // Failsafe mode: every member promised not to race until `until` (POST /failsafe), so the primary may run until
  // then even without a lease.
  void ExtendUntil(MonoTime until);

  bool armed() const;
  MonoTime FenceAt() const;
  Duration margin() const;
  uint64_t fences() const { return fences_.load(); }
  uint64_t failed_fences() const { return failed_fences_.load(); }
  // Whether watchdog.mode is required and the device is unusable (the node must not race for leadership).
  bool WatchdogRequiredButUnusable();
  FenceSupervisorClient* supervisor() { return supervisor_.get(); }

 private:
  void Loop();
  // Sleeps (mutex released) until the wake-ups fire or Wake() is called.
  void Sleep(std::unique_lock<std::mutex>& l);
  void Wake();
  // After a change of the deadline: moves the thread's deadline timer when it sleeps until the fence time and
  // `state_changed` is false (a renewal), wakes the thread otherwise; tells the supervisor.
  void PushLocked(bool state_changed);
  MonoTime FenceAtLocked() const;

  const Clock& clock_;
  Logger& log_;
  FenceOptions opts_;
  std::unique_ptr<FenceSupervisorClient> supervisor_;
  Watchdog watchdog_;

  mutable std::mutex mu_;
  std::shared_ptr<FenceWakeups> wakeups_;
  int wake_fd_ = -1;  // eventfd: Arm, Disarm, Stop
  bool stop_ = false;
  bool sleeping_until_fence_at_ = false;  // the thread sleeps until FenceAtLocked() on wakeups_
  bool armed_ = false;
  int64_t lease_id_ = 0;
  int ttl_s_ = 30;
  MonoTime lease_deadline_{};
  MonoTime failsafe_until_{};
  bool watchdog_warned_ = false;
  std::atomic<uint64_t> fences_{0};
  std::atomic<uint64_t> failed_fences_{0};
  PauseDetector pauses_;
  std::thread thread_;
};

}  // namespace pgw
