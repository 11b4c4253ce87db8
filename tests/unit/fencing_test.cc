// Pure parts of fencing: the supervisor's protocol and timer, the fence margin, callback command lines.
#include <gtest/gtest.h>

#include "agent/callbacks.h"
#include "agent/fence_supervisor.h"
#include "agent/fencer.h"

namespace pgw {
namespace {

TEST(FenceTimer, ArmDisarmAndDeadlines) {
  FenceTimer t;
  EXPECT_FALSE(t.FenceAt());
  EXPECT_FALSE(t.Done());
  ASSERT_TRUE(t.Apply("arm 123456"));
  ASSERT_TRUE(t.FenceAt());
  EXPECT_EQ(t.FenceAt()->time_since_epoch().count(), 123456);
  ASSERT_TRUE(t.Apply("arm 200000\r"));
  EXPECT_EQ(t.FenceAt()->time_since_epoch().count(), 200000);
  ASSERT_TRUE(t.Apply("disarm"));
  EXPECT_FALSE(t.FenceAt());
}

TEST(FenceTimer, MalformedLinesChangeNothing) {
  FenceTimer t;
  ASSERT_TRUE(t.Apply("arm 5000"));
  for (const char* bad : {"arm", "arm -1", "arm 0", "arm 12x", "ARM 5", "", "fence now", "arm 99999999999999999999"}) {
    EXPECT_FALSE(t.Apply(bad)) << bad;
    ASSERT_TRUE(t.FenceAt());
    EXPECT_EQ(t.FenceAt()->time_since_epoch().count(), 5000);
  }
}

TEST(FenceTimer, AgentGoneKeepsTheDeadlineUntilFenced) {
  FenceTimer t;
  ASSERT_TRUE(t.Apply("arm 5000"));
  t.OnEof();
  EXPECT_FALSE(t.Done()) << "an armed supervisor must outlive its agent until the deadline";
  EXPECT_TRUE(t.FenceAt());
  t.OnFenced();
  EXPECT_TRUE(t.Done());
}

TEST(FenceTimer, AgentGoneWhileDisarmedOrQuitEndsAtOnce) {
  FenceTimer a;
  a.OnEof();
  EXPECT_TRUE(a.Done());
  FenceTimer b;
  ASSERT_TRUE(b.Apply("arm 5000"));
  ASSERT_TRUE(b.Apply("quit"));
  EXPECT_TRUE(b.Done());
  EXPECT_FALSE(b.FenceAt());
}

TEST(FenceMarginTest, SafetyMarginCappedAtHalfTtlWithAFloor) {
  EXPECT_EQ(FenceMargin(30, 5), Duration(5000));   // Patroni's defaults
  EXPECT_EQ(FenceMargin(3, 5), Duration(1500));    // capped: ttl/2
  EXPECT_EQ(FenceMargin(10, -1), Duration(5000));  // -1: ttl/2, as Patroni
  EXPECT_EQ(FenceMargin(30, 0), Duration(250));    // floor
}

}  // namespace
}  // namespace pgw

namespace pgw {
namespace {

TEST(WatchdogTest, MissingOrNonWatchdogDevicesAreRefusedWithTheReason) {
  Watchdog missing("/nonexistent/watchdog");
  Status s = missing.Activate(10);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("/nonexistent/watchdog"), std::string::npos);
  EXPECT_FALSE(missing.active());
  Watchdog not_a_watchdog("/dev/null");
  s = not_a_watchdog.Activate(10);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("does not accept a timeout"), std::string::npos);
  EXPECT_FALSE(not_a_watchdog.active());
  EXPECT_TRUE(not_a_watchdog.Keepalive().ok()) << "keepalive on an inactive watchdog is a no-op";
}

TEST(FencerTest, RequiredWatchdogThatCannotBeActivatedRefusesToArm) {
  Logger log(stderr, LogLevel::kCritical);
  ManualClock clock;
  FenceOptions o;
  o.data_dir = "/nonexistent/data";
  o.watchdog_mode = "required";
  o.watchdog_device = "/dev/null";
  o.supervisor = false;
  Fencer f(clock, log, o);
  Status s = f.Arm(7, clock.Now() + Duration(30000), 30);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("watchdog.mode is required"), std::string::npos);
  EXPECT_FALSE(f.armed());
  o.watchdog_mode = "automatic";
  Fencer g(clock, log, o);
  EXPECT_TRUE(g.Arm(7, clock.Now() + Duration(30000), 30).ok()) << "automatic mode arms without a watchdog";
  EXPECT_TRUE(g.armed());
  EXPECT_EQ(g.FenceAt(), clock.Now() + Duration(25000));
  g.OnLeaseRenewed(8, clock.Now() + Duration(60000));  // another lease: ignored
  EXPECT_EQ(g.FenceAt(), clock.Now() + Duration(25000));
  g.OnLeaseRenewed(7, clock.Now() + Duration(40000));
  EXPECT_EQ(g.FenceAt(), clock.Now() + Duration(35000));
  g.ExtendUntil(clock.Now() + Duration(50000));  // failsafe confirmations
  EXPECT_EQ(g.FenceAt(), clock.Now() + Duration(45000));
  g.Disarm();
  EXPECT_FALSE(g.armed());
}

}  // namespace
}  // namespace pgw
