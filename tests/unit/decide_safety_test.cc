// The decision core's safety rules found missing by the fault review of issue 10: synchronous standbys published
// only once caught up (item 2), the client gate across a read-only start and nofailover standbys (item 3), the
// failsafe and back-off checks before the `failover` key (item 5b).
#include <gtest/gtest.h>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

// Issue 10 item 2, the reported history: the synchronous standby pg1 dies, the lagging pg2 replaces it. PostgreSQL
// calls pg2 "sync" at once, but it lacks commits pg1 acknowledged: publishing it would let it be promoted.
TEST_F(SyncDecideTest, LaggingReplacementOfADeadSyncStandbyIsPublishedOnlyOnceItHasFlushedTheLsnOfItsAddition) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  cluster_.sync_mod_revision = 3;
  local_.sync_names = "\"pg1\"";
  Streaming("pg2", 600);  // pg1 is gone from pg_stat_replication
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kWriteSync, AT::kSetSyncNames}));
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{});
  EXPECT_EQ(NamesOf(d), "\"pg2\"");
  EXPECT_EQ(SetSyncMeasures(d), std::vector<std::string>{"pg2"}) << "the executor measures pg2's addition";

  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  local_.sync_names = "\"pg2\"";
  sync_added_lsn_["pg2"] = 1000;  // the primary's WAL position right after the reload
  local_.replication = Json::array();
  Streaming("pg2", 600, "sync");
  d = Run();
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{"<none>"}) << "reported sync at 600 < 1000: not published";

  local_.replication = Json::array();
  Streaming("pg2", 999, "sync");
  EXPECT_EQ(SyncOf(Run()), std::vector<std::string>{"<none>"}) << "one byte short";

  local_.replication = Json::array();
  Streaming("pg2", 1000, "sync");
  EXPECT_EQ(SyncOf(Run()), std::vector<std::string>{"pg2"});
}

// An agent restarted (or synchronous_standby_names set by hand) does not know when a member was added: it sets the
// value again and measures now, which can only be later (stricter) than the real addition.
TEST_F(SyncDecideTest, StandbyNeverMeasuredIsMeasuredAgainBeforeItCanBePublished) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  local_.sync_names = "\"pg2\"";
  Streaming("pg2", 1000, "sync");
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kSetSyncNames});
  EXPECT_EQ(NamesOf(d), "\"pg2\"");
  EXPECT_EQ(SetSyncMeasures(d), std::vector<std::string>{"pg2"});
  sync_added_lsn_["pg2"] = 1000;
  EXPECT_EQ(SyncOf(Run()), std::vector<std::string>{"pg2"});
}

// A published standby keeps its place: the rule applies to additions only.
TEST_F(SyncDecideTest, PublishedStandbyNeedsNoMeasurement) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg2"}});
  local_.sync_names = "\"pg2\"";
  Streaming("pg2", 900, "sync");
  EXPECT_EQ(Types(Run()), std::vector<AT>{});
}

// Issue 10 item 3c: a nofailover member holds acknowledged commits but can never take over.
TEST_F(SyncDecideTest, NofailoverMemberIsNeverChosenAsSyncStandby) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  cluster_.members["pg2"].tags = Json{{"nofailover", true}};
  Streaming("pg1", 900);
  Streaming("pg2", 1000);
  EXPECT_EQ(NamesOf(Run()), "\"pg1\"") << "pg2 is further ahead but may not be promoted";
  local_.sync_names = "\"pg1\"";
  cluster_.members["pg1"].tags = Json{{"failover_priority", 0}};
  EXPECT_EQ(NamesOf(Run()), "") << "failover_priority 0 means nofailover too";
}

TEST_F(SyncDecideTest, PublishedStandbyTaggedNofailoverLeavesSyncFirst) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  local_.sync_names = "\"pg1\"";
  cluster_.members["pg1"].tags = Json{{"nofailover", true}};
  Streaming("pg1", 1000, "sync");
  Streaming("pg2", 1000);
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kWriteSync, AT::kSetSyncNames}));
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{});
  EXPECT_EQ(NamesOf(d), "\"pg2\"");
}

TEST_F(SyncDecideTest, CrashedPrimaryDoesNotHandOverToANofailoverSyncStandby) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  cluster_.members["pg1"].tags = Json{{"nofailover", true}};
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}))
      << "pg1 cannot take over: restart in place";
  EXPECT_TRUE(As<StartPrimary>(d.actions[1]).gated);
}

// Issue 10 items 3a and 3c: a crashed primary started read-only (nobody leads: it was away longer than the ttl, or
// it handed over and the target could not promote) may win the next race and promote. Crash recovery brought back
// commits nobody acknowledged: the gate must hold across the read-only start.
TEST_F(SyncDecideTest, CrashedPrimaryStartingReadOnlyKeepsTheClientGate) {
  FormerPrimaryStopped(1);
  cluster_.leader.reset();
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartReplica});
  EXPECT_FALSE(As<StartReplica>(d.actions[0]).upstream);
  EXPECT_TRUE(As<StartReplica>(d.actions[0]).gated);

  local_.cluster_state = "shut down";  // a clean shutdown brings nothing back
  EXPECT_FALSE(As<StartReplica>(Run().actions.at(0)).gated);
  local_.cluster_state = "in production";
  tweak_ = nullptr;  // asynchronous mode has no gate
  EXPECT_FALSE(As<StartReplica>(Run().actions.at(0)).gated);
}

TEST_F(SyncDecideTest, CrashedPrimaryAfterItsHandoverBackOffStartsReadOnlyGated) {
  FormerPrimaryStopped(1);
  cluster_.leader.reset();
  cluster_.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg0"}});
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  no_race_until_ = clock_.Now() + Duration(30000);
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kWait});
  clock_.Advance(Duration(30000));  // the handover target never promoted
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartReplica});
  EXPECT_TRUE(As<StartReplica>(d.actions[0]).gated);
}

// Issue 10 item 5b: the `failover` key must not let a candidate promote while a failsafe primary still runs.
TEST_F(DecideTest, FailoverKeyNamingMeWaitsWhileAFailsafePrimaryRuns) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  cluster_.failover = DecodeFailover(Json{{"leader", "pg1"}, {"member", "pg0"}});
  RunningReplica();
  failsafe_primary_until_ = clock_.Now() + Duration(1000);
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("POST /failsafe"), std::string::npos) << d.message;
  clock_.Advance(Duration(1000));
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kArmFencing, AT::kPromote}));
}

TEST_F(DecideTest, FailoverKeyNamingMeWaitsOutABackOff) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  cluster_.failover = DecodeFailover(Json{{"member", "pg0"}});
  RunningReplica();
  no_race_until_ = clock_.Now() + Duration(1000);  // e.g. its pre_promote script just vetoed
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("backing off"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace pgw::ha
