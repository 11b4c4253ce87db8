// common/wait.h: the one poll-until-deadline loop of the tests, benchmarks, torture tool and test kit. On a manual
// clock: how often the predicate runs, how long each sleep is, and that the deadline is neither overshot nor cut
// short; on the real clock: that WaitFor really returns at once, or after its timeout.
#include "common/wait.h"

#include <gtest/gtest.h>

#include <vector>

namespace pgw {
namespace {

struct Recorder {
  ManualClock clock;
  std::vector<Duration> sleeps;
  std::function<void(Duration)> Sleep() {
    return [this](Duration d) {
      sleeps.push_back(d);
      clock.Advance(d);
    };
  }
};

TEST(WaitTest, ReturnsAsSoonAsThePredicateHolds) {
  Recorder r;
  int calls = 0;
  MonoTime start = r.clock.Now();
  bool held = WaitUntil([&] { return ++calls == 3; }, start + Duration(10000), Duration(100), r.clock, r.Sleep());
  EXPECT_TRUE(held);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.sleeps, (std::vector<Duration>{Duration(100), Duration(100)}));
  EXPECT_EQ(r.clock.Now() - start, Duration(200));
}

TEST(WaitTest, GivesUpAtTheDeadlineWithoutSleepingPastIt) {
  Recorder r;
  int calls = 0;
  MonoTime start = r.clock.Now();
  bool held = WaitUntil(
      [&] {
        ++calls;
        return false;
      },
      start + Duration(250), Duration(100), r.clock, r.Sleep());
  EXPECT_FALSE(held);
  // At 0, 100 and 200 ms, then once more at the deadline.
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(r.sleeps, (std::vector<Duration>{Duration(100), Duration(100), Duration(50)}));
  EXPECT_EQ(r.clock.Now() - start, Duration(250));
}

TEST(WaitTest, SeesAConditionThatBecameTrueDuringTheLastSleep) {
  Recorder r;
  MonoTime start = r.clock.Now();
  MonoTime deadline = start + Duration(300);
  bool held = WaitUntil([&] { return r.clock.Now() >= deadline; }, deadline, Duration(100), r.clock, r.Sleep());
  EXPECT_TRUE(held);
  EXPECT_EQ(r.clock.Now(), deadline);
}

TEST(WaitTest, APassedDeadlineStillEvaluatesOnceAndNeverSleeps) {
  Recorder r;
  int calls = 0;
  bool held = WaitUntil(
      [&] {
        ++calls;
        return true;
      },
      r.clock.Now() - Duration(5), Duration(100), r.clock, r.Sleep());
  EXPECT_TRUE(held);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(r.sleeps.empty());
}

TEST(WaitTest, AZeroPollIsNotABusyLoop) {
  Recorder r;
  int calls = 0;
  MonoTime start = r.clock.Now();
  EXPECT_FALSE(WaitUntil(
      [&] {
        ++calls;
        return false;
      },
      start + Duration(5), Duration(0), r.clock, r.Sleep()));
  EXPECT_EQ(calls, 6);
  for (Duration d : r.sleeps) EXPECT_EQ(d, Duration(1));
}

TEST(WaitTest, WaitForOnTheRealClock) {
  RealClock clock;
  MonoTime t0 = clock.Now();
  EXPECT_TRUE(WaitFor([] { return true; }, Duration(60000)));
  EXPECT_LT(clock.Now() - t0, Duration(1000)) << "a predicate that holds at once must not wait";

  t0 = clock.Now();
  int calls = 0;
  EXPECT_FALSE(WaitFor(
      [&] {
        ++calls;
        return false;
      },
      Duration(200), Duration(20)));
  Duration took = clock.Now() - t0;
  EXPECT_GE(took, Duration(200));
  EXPECT_LT(took, Duration(5000));  // generous: the machine is shared
  EXPECT_GE(calls, 2);
  EXPECT_LE(calls, 12);
}

}  // namespace
}  // namespace pgw
