#include "ha/pg_state.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace pgw::ha {
namespace {

TEST(PgStateTest, NamesArePatronisWordsAndDistinct) {
  std::set<std::string> names;
  for (size_t i = 0; i < kPgStateCount; ++i) names.insert(PgStateName(static_cast<PgState>(i)));
  EXPECT_EQ(names.size(), kPgStateCount);
  EXPECT_EQ(names.count("unknown"), 0U);
  EXPECT_STREQ(PgStateName(PgState::kCreatingReplica), "creating replica");
  EXPECT_STREQ(PgStateName(PgState::kInitializing), "initializing new cluster");
  EXPECT_STREQ(PgStateName(PgState::kCustomBootstrap), "running custom bootstrap script");
  std::set<std::string> causes;
  for (size_t i = 0; i < kPgCauseCount; ++i) causes.insert(PgCauseName(static_cast<PgCause>(i)));
  EXPECT_EQ(causes.size(), kPgCauseCount);
  EXPECT_EQ(causes.count("unknown"), 0U);
}

TEST(PgStateTest, EveryMoveIsCountedWithItsCauseAndStayingPutIsNot) {
  PgStateMachine m;
  EXPECT_EQ(m.state(), PgState::kStopped);
  EXPECT_TRUE(m.Counted().empty());
  m.Move(PgState::kStarting, PgCause::kStart);
  m.Move(PgState::kStarting, PgCause::kStart);  // no move
  m.Observe(/*running=*/true, /*query_ok=*/true);
  m.Move(PgState::kStopped, PgCause::kStop);
  m.Move(PgState::kStarting, PgCause::kStart);
  EXPECT_EQ(m.state(), PgState::kStarting);
  EXPECT_STREQ(m.name(), "starting");
  EXPECT_EQ(m.Count(PgState::kStopped, PgState::kStarting, PgCause::kStart), 2U);
  EXPECT_EQ(m.Count(PgState::kStarting, PgState::kRunning, PgCause::kObserved), 1U);
  EXPECT_EQ(m.Count(PgState::kRunning, PgState::kStopped, PgCause::kStop), 1U);
  EXPECT_EQ(m.Count(PgState::kRunning, PgState::kStopped, PgCause::kObserved), 0U);
  auto all = m.Counted();
  ASSERT_EQ(all.size(), 3U);
  uint64_t total = 0;
  for (const auto& t : all) total += t.count;
  EXPECT_EQ(total, 4U);
}

TEST(PgStateTest, ObservationFollowsThePostmasterButKeepsLongOperations) {
  PgStateMachine m;
  m.Observe(true, false);
  EXPECT_EQ(m.state(), PgState::kStarting) << "up but not answering yet";
  m.Observe(true, true);
  EXPECT_EQ(m.state(), PgState::kRunning);
  m.Observe(false, false);
  EXPECT_EQ(m.state(), PgState::kStopped);
  EXPECT_EQ(m.Count(PgState::kRunning, PgState::kStopped, PgCause::kObserved), 1U) << "a crash is seen as observed";

  // While a replica is being created or a cluster initialised, no postmaster runs yet: the state stays.
  for (PgState busy : {PgState::kCreatingReplica, PgState::kInitializing}) {
    m.Move(busy, PgCause::kClone);
    m.Observe(false, false);
    EXPECT_EQ(m.state(), busy) << PgStateName(busy);
    m.Observe(true, true);
    EXPECT_EQ(m.state(), PgState::kRunning) << "once it runs, it is running";
    m.Move(PgState::kStopped, PgCause::kStop);
  }
  // Any other state of a stopped postmaster becomes "stopped".
  for (PgState other : {PgState::kStarting, PgState::kRestarting, PgState::kCustomBootstrap}) {
    m.Move(other, PgCause::kStart);
    m.Observe(false, false);
    EXPECT_EQ(m.state(), PgState::kStopped) << PgStateName(other);
  }
}

}  // namespace
}  // namespace pgw::ha
