// The kernel timers an armed fence sleeps on (agent/fence_wakeups.h), and the Fencer and supervisor on them with the
// real clock. Waits are polls with a timeout: a timer that must not fire is given the time to do so.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "agent/fence_supervisor.h"
#include "agent/fence_wakeups.h"
#include "agent/fencer.h"
#include "agent/pause_detector.h"
#include "common/wait.h"

namespace pgw {
namespace {

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

std::unique_ptr<FenceWakeups> Kernel() {
  auto w = MakeKernelFenceWakeups();
  EXPECT_TRUE(w.ok()) << w.status().message();
  return std::move(*w);
}

TEST(KernelFenceWakeupsTest, NothingSetNeverWakes) {
  auto w = Kernel();
  EXPECT_FALSE(Readable(w->fd(), 100));
}

TEST(KernelFenceWakeupsTest, DeadlineWakesAtItsTimeAndNotBefore) {
  RealClock clock;
  auto w = Kernel();
  MonoTime at = clock.Now() + Duration(100);
  w->SetDeadline(at);
  EXPECT_FALSE(Readable(w->fd(), 0));
  ASSERT_TRUE(Readable(w->fd(), 5000));
  EXPECT_GE(clock.Now(), at);
  w->Ack();
  EXPECT_FALSE(Readable(w->fd(), 0)) << "Ack() consumes the expiry";
}

TEST(KernelFenceWakeupsTest, ADeadlineMovedLaterDoesNotFireAtTheOldOne) {
  RealClock clock;
  auto w = Kernel();
  w->SetDeadline(clock.Now() + Duration(50));
  MonoTime later = clock.Now() + Duration(400);
  w->SetDeadline(later);  // as a renewal does, from another thread
  EXPECT_FALSE(Readable(w->fd(), 250));
  ASSERT_TRUE(Readable(w->fd(), 5000));
  EXPECT_GE(clock.Now(), later);
  w->SetDeadline(std::nullopt);
  w->Ack();
  EXPECT_FALSE(Readable(w->fd(), 100));
}

TEST(KernelFenceWakeupsTest, ADeadlineAtTheClocksEpochFiresAtOnce) {
  auto w = Kernel();
  w->SetDeadline(MonoTime{});  // an all-zero timerfd value would disarm instead
  EXPECT_TRUE(Readable(w->fd(), 1000));
}

TEST(KernelFenceWakeupsTest, PauseChecksTickOnBoottimeWhileSetAndStopWhenCleared) {
  auto w = Kernel();
  w->SetPauseChecks(Duration(30));
  int64_t b0 = BootTimeMs();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Readable(w->fd(), 2000)) << "tick " << i;
    w->Ack();
  }
  EXPECT_GE(BootTimeMs() - b0, 89);
  EXPECT_FALSE(Readable(w->fd(), 0)) << "no wall clock change, no wake-up";
  w->SetPauseChecks(std::nullopt);
  w->Ack();
  EXPECT_FALSE(Readable(w->fd(), 150));
}

TEST(PauseCheckPeriodTest, HalfTheThresholdSoThatAnyLongerSuspendContainsAnExpiry) {
  EXPECT_EQ(PauseCheckPeriod(Duration(750)), Duration(375));  // ttl 3: margin 1.5 s
  EXPECT_EQ(PauseCheckPeriod(Duration(2500)), Duration(1250));
  EXPECT_EQ(PauseCheckPeriod(Duration(1)), Duration(1));
}

// A renewal moves the fence thread's timer without waking it; arming turns the pause checks on, disarming off.
TEST(FencerTest, RenewalMovesTheDeadlineTimerAndDisarmStopsThePauseChecks) {
  ManualClock clock;
  Logger log(stderr, LogLevel::kCritical);
  auto wakeups = std::make_shared<ManualFenceWakeups>();
  FenceOptions o;
  o.data_dir = "/nonexistent/data";
  o.watchdog_mode = "off";
  o.supervisor = false;
  o.boottime_ms = [&] { return clock.Now().time_since_epoch().count(); };
  o.wakeups = wakeups;
  Fencer f(clock, log, o);
  ASSERT_TRUE(f.Start().ok());
  ASSERT_TRUE(f.Arm(7, clock.Now() + Duration(30000), 30).ok());
  ASSERT_TRUE(WaitFor([&] { return wakeups->deadline() == clock.Now() + Duration(25000); }, Duration(5000)));
  EXPECT_EQ(wakeups->pause_period(), std::optional<Duration>(Duration(1250)));  // margin 5 s, threshold 2.5 s
  f.OnLeaseRenewed(7, clock.Now() + Duration(40000));
  EXPECT_EQ(wakeups->deadline(), clock.Now() + Duration(35000)) << "set by the renewing thread itself";
  f.ExtendUntil(clock.Now() + Duration(50000));
  EXPECT_EQ(wakeups->deadline(), clock.Now() + Duration(45000));
  f.Disarm();
  EXPECT_TRUE(WaitFor([&] { return !wakeups->pause_period() && !wakeups->deadline(); }, Duration(5000)));
  f.Stop();
}

// The counting fence of the tests below: when it was called.
struct FenceCalls {
  RealClock clock;
  std::atomic<int> calls{0};
  std::atomic<int64_t> first_ms{0};
  std::function<Result<int>(const std::string&)> Fn() {
    return [this](const std::string&) -> Result<int> {
      if (calls++ == 0) first_ms = clock.Now().time_since_epoch().count();
      return 0;
    };
  }
};

TEST(FencerTest, KernelTimersFenceAtTheDeadlineAfterRenewalsMovedIt) {
  RealClock clock;
  Logger log(stderr, LogLevel::kCritical);
  FenceCalls k;
  FenceOptions o;
  o.data_dir = "/nonexistent/data";
  o.watchdog_mode = "off";
  o.supervisor = false;
  o.fence = k.Fn();
  Fencer f(clock, log, o);
  ASSERT_TRUE(f.Start().ok());
  ASSERT_TRUE(f.Arm(7, clock.Now() + Duration(5000 + 200), 30).ok());  // margin 5 s: fence in 200 ms
  MonoTime at = clock.Now() + Duration(400);
  f.OnLeaseRenewed(7, at + Duration(5000));
  ASSERT_TRUE(WaitFor([&] { return k.calls > 0; }, Duration(5000)));
  EXPECT_GE(k.first_ms.load(), at.time_since_epoch().count()) << "not at the deadline before the renewal";
  EXPECT_LT(k.first_ms.load(), at.time_since_epoch().count() + 1000);
  EXPECT_TRUE(WaitFor([&] { return !f.armed(); }, Duration(5000)));
  EXPECT_EQ(f.fences(), 1u);
  f.Stop();
}

TEST(FenceSupervisorTest, KernelTimersFenceAtTheLastDeadlineTheAgentSent) {
  RealClock clock;
  Logger log(stderr, LogLevel::kCritical);
  FenceCalls k;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  std::thread t([&] {
    RunFenceSupervisor("/nonexistent/data", p[0], log, SupervisorSeams{clock, BootTimeMs, k.Fn()});
  });
  auto send = [&](const std::string& line) {
    std::string m = line + "\n";
    EXPECT_EQ(write(p[1], m.data(), m.size()), static_cast<ssize_t>(m.size()));
  };
  int64_t now = clock.Now().time_since_epoch().count();
  send("arm " + std::to_string(now + 200) + " 500");
  send("arm " + std::to_string(now + 400) + " 500");
  close(p[1]);  // the agent went away: the supervisor keeps the last deadline
  ASSERT_TRUE(WaitFor([&] { return k.calls > 0; }, Duration(5000)));
  EXPECT_GE(k.first_ms.load(), now + 400);
  EXPECT_LT(k.first_ms.load(), now + 1400);
  t.join();  // fenced with the agent gone: done
  close(p[0]);
  EXPECT_EQ(k.calls.load(), 1);
}

}  // namespace
}  // namespace pgw
