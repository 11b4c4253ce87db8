// The decision core in a planned switchover (the failover key): the leader's hand-over and the candidate's take-over.
#include <gtest/gtest.h>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

// ---- Issue 4: planned switchover through the failover key ----

class SwitchoverTest : public DecideTest {};

TEST_F(SwitchoverTest, LeaderDemotesGracefullyForAHealthyCandidate) {
  SteadyLeader();
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}});
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).mode, DemoteMode::kGraceful);
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg1");
  EXPECT_EQ(d.message, "manual failover: demoting myself");
}

// Random seed 300111: a failsafe key written while the other agents were down listed only the leader; a failover
// key then named a member that had come back. The leader handed over, the candidate (not listed) refused, the
// leader took the key back and handed over again, for good. The leader refreshes the list before it hands over.
TEST_F(SwitchoverTest, FailsafeLeaderListsTheMembersBeforeItHandsOver) {
  SteadyLeader();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  cluster_.failsafe = FailsafeTopology{{"pg0", "http://x/patroni"}};
  cluster_.failover = DecodeFailover(Json{{"member", "pg1"}});
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kWriteFailsafe, AT::kDemote})) << d.message;
  EXPECT_EQ(As<Demote>(d.actions[1]).target, "pg1");
  cluster_.failsafe = FailsafeMembers(cluster_);
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDemote}) << "an up-to-date list is not written again";
}

TEST_F(SwitchoverTest, UnhealthyOrIneligibleCandidateClearsTheRequest) {
  SteadyLeader();
  cluster_.members["pg1"].state = "stopped";
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}});
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
  cluster_.members["pg1"].state = "running";
  cluster_.members["pg1"].tags = Json{{"nofailover", true}};
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}});  // any candidate: none is eligible
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
}

// A failover key naming neither a leader nor a candidate asks for nothing (Patroni's Failover.__len__ is 0 and it
// ignores the key). The leader used to read `{}` as a switchover to any candidate and demoted itself.
TEST_F(SwitchoverTest, AKeyThatAsksForNothingIsCleanedUpNotObeyed) {
  SteadyLeader();
  for (const char* value : {"{}", R"({"leader":"","member":""})", "[]", ""}) {
    cluster_.failover = DecodeFailover(std::string(value));
    auto d = Run();
    EXPECT_EQ(Types(d), std::vector<AT>{AT::kDeleteFailover}) << value << ": " << d.message;
    EXPECT_EQ(d.reason, Reason::kFailoverKeyInvalid) << value;
  }
  // Not JSON at all: Patroni's legacy "leader:candidate", here a request from another leader, so done with.
  cluster_.failover = DecodeFailover(std::string("{garbage"));
  auto d = Run();
  ASSERT_FALSE(d.actions.empty());
  EXPECT_EQ(d.actions[0].type(), AT::kDeleteFailover) << d.message;
  EXPECT_EQ(d.reason, Reason::kFailoverKeyDone);
}

TEST_F(SwitchoverTest, WithoutCandidateTheMostAdvancedEligibleReplicaIsChosen) {
  SteadyLeader();
  AddMember("pg2", 5434);
  cluster_.members["pg1"].xlog_location = 100;
  cluster_.members["pg2"].xlog_location = 900;
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}});
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg2");
  // pg_stat_replication on the primary is fresher than the member keys: its flush positions decide.
  local_.replication_flush = {{"pg1", 1000}, {"pg2", 950}};
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg1");
}

TEST_F(SwitchoverTest, ScheduledSwitchoverWaitsForItsTime) {
  SteadyLeader();
  tweak_ = [](Inputs& in) { in.wall_now = 1000; };
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}, {"scheduled_at", IsoTimestamp(1010)}});
  EXPECT_TRUE(Types(Run()).empty()) << "before its time the leader carries on";
  tweak_ = [](Inputs& in) { in.wall_now = 1010.5; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDemote});
  tweak_ = [](Inputs& in) { in.wall_now = 1100; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover}) << "long past: stale";
}

TEST_F(SwitchoverTest, RequestForAnotherLeaderOrFulfilledIsCleanedUp) {
  SteadyLeader();
  cluster_.failover = DecodeFailover(Json{{"leader", "pgX"}, {"member", "pg1"}});
  EXPECT_EQ(Types(Run()).front(), AT::kDeleteFailover);
  cluster_.failover = DecodeFailover(Json{{"leader", "pgX"}, {"member", "pg0"}});  // the switchover that made us leader
  EXPECT_EQ(Types(Run()).front(), AT::kDeleteFailover);
}

TEST_F(SwitchoverTest, CandidatePromotesAtOnceAndOthersStepAside) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  cluster_.failover = DecodeFailover(Json{{"leader", "pg9"}, {"member", "pg0"}});
  RunningReplica();
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kArmFencing, AT::kPromote}))
      << "no peer check for the candidate";
  cluster_.failover = DecodeFailover(Json{{"leader", "pg9"}, {"member", "pg1"}});
  d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("manual failover to pg1 in progress"), std::string::npos);
  cluster_.members["pg1"].state = "stopped";  // candidate unhealthy: an ordinary race
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
}

TEST_F(SwitchoverTest, CleanlyDemotedLeaderFollowsWithoutRewind) {
  FormerPrimaryStopped(2);
  tweak_ = [](Inputs& in) {
    in.dynamic.use_pg_rewind = true;
    in.state.clean_demote = true;
  };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartReplica});
}

}  // namespace
}  // namespace pgw::ha
