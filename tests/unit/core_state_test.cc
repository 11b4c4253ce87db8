// The decision core's own state (ha/core_state.h): what a new observation settles, and how each action the
// executor reports on moves it. The agent and the simulator both go through these functions.
#include "ha/core_state.h"

#include <gtest/gtest.h>

#include "ha/decide.h"

namespace pgw::ha {
namespace {

MonoTime At(int64_t ms) { return MonoTime(Duration(ms)); }

class CoreStateTest : public ::testing::Test {
 protected:
  CoreStateTest() { dyn_.ttl = 30; }
  CoreState Rec(const Action& a, const ActionReport& r) { return Record(state_, a, r, local_, dyn_); }
  static ActionReport Ok() {
    ActionReport r;
    r.ok = true;
    return r;
  }

  CoreState state_;
  LocalView local_;
  DynamicConfig dyn_;
};

TEST_F(CoreStateTest, PostgresAnsweringClearsAFailedStartAndACleanDemotion) {
  state_.primary_start_failed = true;
  state_.clean_demote = true;
  state_.rewind_failed = true;
  local_.running = true;
  EXPECT_EQ(ObservePostgres(state_, local_), state_) << "running but not answering settles nothing";
  local_.query_ok = true;
  CoreState s = ObservePostgres(state_, local_);
  EXPECT_FALSE(s.primary_start_failed);
  EXPECT_FALSE(s.clean_demote);
  EXPECT_TRUE(s.rewind_failed);
}

TEST_F(CoreStateTest, GateSinceIsZeroWhileOpenAndStartsWhenFirstSeenClosed) {
  ClusterView c;
  Inputs in;
  in.dynamic = dyn_;
  in.cluster = &c;
  in.local = &local_;
  in.now = At(5000);
  in.state.gate_since = At(1000);
  EXPECT_EQ(ObserveGate(in).gate_since, MonoTime{});
  local_.gated = true;
  in.state.gate_since = MonoTime{};
  EXPECT_EQ(ObserveGate(in).gate_since, At(5000)) << "an agent restarted behind a closed gate";
}

TEST_F(CoreStateTest, FenceThatCouldNotBeArmedForAStartChangesNothing) {
  state_.sync_added_lsn["b"] = 7;
  EXPECT_EQ(Rec(Action(ArmFencing{}), ActionReport{}), state_) << "the key was released: nothing started";
  EXPECT_EQ(Rec(Action(ArmFencing{}), Ok()), state_) << "kStartPrimary, next, forgets the measurements";
}

TEST_F(CoreStateTest, GatedStartPrimaryThatFailsRecordsTheGateAndTheFailure) {
  state_.sync_added_lsn["b"] = 7;
  ActionReport r;
  r.start_attempted = true;
  r.at = At(4000);
  CoreState s = Rec(Action(StartPrimary{.gated = true, .sync_names = std::nullopt}), r);
  EXPECT_TRUE(s.sync_added_lsn.empty());
  EXPECT_EQ(s.gate_since, At(4000));
  EXPECT_TRUE(s.primary_start_failed);
  r.start_attempted = false;  // the gate could not be closed: PostgreSQL was not started
  s = Rec(Action(StartPrimary{.gated = true, .sync_names = std::nullopt}), r);
  EXPECT_TRUE(s.sync_added_lsn.empty());
  EXPECT_FALSE(s.primary_start_failed);
  EXPECT_EQ(s.gate_since, MonoTime{});
}

TEST_F(CoreStateTest, FormerPrimaryStartedWithoutALeaderIsUnreconciled) {
  local_.cluster_state = "in production";
  ActionReport r = Ok();
  r.start_attempted = true;
  EXPECT_TRUE(Rec(Action(StartReplica{}), r).unreconciled_primary);
  Action follow = StartReplica{.upstream = Upstream{}, .gated = false};
  EXPECT_FALSE(Rec(follow, r).unreconciled_primary) << "it follows a leader: the start reconciles it";
  state_.clean_demote = true;
  EXPECT_FALSE(Rec(Action(StartReplica{}), r).unreconciled_primary) << "a replica had all its WAL";
  state_.clean_demote = false;
  local_.cluster_state = "in archive recovery";
  EXPECT_FALSE(Rec(Action(StartReplica{}), r).unreconciled_primary);
}

TEST_F(CoreStateTest, ReleaseAndVetoKeepOutOfRacesForATtl) {
  ActionReport r = Ok();
  r.at = At(10000);
  EXPECT_EQ(Rec(Action(ReleaseLeader{}), r).no_race_until, At(40000));
  ActionReport veto;  // the pre_promote script failed: the executor released the key (OnFailure::kReleaseLeader)
  veto.at = At(12000);
  state_.sync_added_lsn["b"] = 7;
  CoreState s = Rec(Action(PrePromote{}), veto);
  EXPECT_EQ(s.no_race_until, At(42000));
  EXPECT_EQ(s.sync_added_lsn.size(), 1U) << "nothing changed in PostgreSQL";
  r.at = At(13000);
  EXPECT_EQ(Rec(Action(PrePromote{}), r), state_) << "allowed: the promotion goes on";
}

// Every step of a promotion after its pre_promote script forgets the synchronous measurements, whether it succeeds
// or not (as the single promote action did before its steps became actions); the same steps outside a promotion
// do not.
TEST_F(CoreStateTest, PromotionStepsForgetSyncMeasurementsAndPromotionReconciles) {
  state_.unreconciled_primary = true;
  state_.sync_added_lsn["b"] = 7;
  Action reset = WriteSync{.sync = {}, .promotion = true};
  Action arm = ArmFencing{.promotion = true};
  for (const Action& a : {reset, arm, Action(Promote{})}) {
    for (const ActionReport& r : {ActionReport{}, Ok()}) {
      CoreState s = Rec(a, r);
      EXPECT_TRUE(s.sync_added_lsn.empty()) << ActionName(a.type()) << " ok=" << r.ok;
      EXPECT_TRUE(s.unreconciled_primary) << ActionName(a.type()) << ": not promoted";
    }
  }
  EXPECT_EQ(Rec(Action(WriteSync{}), Ok()), state_) << "the leader's own publication";
  ActionReport r;
  r.promoted = true;  // promoted, though writing the history afterwards failed
  EXPECT_FALSE(Rec(Action(Promote{}), r).unreconciled_primary);
}

TEST_F(CoreStateTest, SetSyncNamesForgetsThenMeasuresItsMembers) {
  state_.sync_added_lsn = {{"b", 5}, {"c", 6}};
  Action a = SetSyncNames{.sync_names = "", .sync = {"b", "d"}, .upstream = std::nullopt};
  ActionReport failed;
  EXPECT_EQ(Rec(a, failed).sync_added_lsn, (std::map<std::string, int64_t>{{"c", 6}}));
  ActionReport r = Ok();
  r.wal_position = 900;
  EXPECT_EQ(Rec(a, r).sync_added_lsn, (std::map<std::string, int64_t>{{"b", 900}, {"c", 6}, {"d", 900}}));
}

TEST_F(CoreStateTest, RewindOutcomeAndReinitialize) {
  state_.unreconciled_primary = true;
  CoreState s = Rec(Action(Rewind{}), ActionReport{});
  EXPECT_TRUE(s.rewind_failed);
  EXPECT_TRUE(s.unreconciled_primary);
  s = Rec(Action(Rewind{}), Ok());
  EXPECT_FALSE(s.rewind_failed);
  EXPECT_FALSE(s.unreconciled_primary);
  state_.rewind_failed = true;
  s = Rec(Action(Reinitialize{}), ActionReport{});
  EXPECT_FALSE(s.rewind_failed);
  EXPECT_FALSE(s.unreconciled_primary);
}

TEST_F(CoreStateTest, FailedRestartOfAPrimaryIsAFailedStartAsPrimary) {
  // The role is the one the core planned the restart in (kRestart's mode).
  local_.running = local_.query_ok = true;
  local_.in_recovery = true;
  EXPECT_FALSE(Rec(Action(Restart{}), ActionReport{}).primary_start_failed);
  local_.in_recovery = false;
  EXPECT_FALSE(Rec(Action(Restart{.primary = true, .upstream = std::nullopt}), Ok()).primary_start_failed);
  EXPECT_TRUE(Rec(Action(Restart{.primary = true, .upstream = std::nullopt}), ActionReport{}).primary_start_failed);
}

TEST_F(CoreStateTest, GracefulDemotionRecordsWhetherACandidateConfirmed) {
  ActionReport r;
  EXPECT_FALSE(Rec(Action(Demote{.mode = DemoteMode::kGraceful, .target = ""}), r).clean_demote)
      << "PostgreSQL did not stop";
  r.handed_over = true;
  EXPECT_TRUE(Rec(Action(Demote{.mode = DemoteMode::kGraceful, .target = ""}), r).clean_demote);
  r.handed_over = false;
  state_.clean_demote = true;
  EXPECT_FALSE(Rec(Action(Demote{.mode = DemoteMode::kGraceful, .target = ""}), r).clean_demote);
}

TEST_F(CoreStateTest, FailedBootstrapIsKept) {
  ActionReport r;
  r.bootstrap_failed = "initdb failed";
  EXPECT_EQ(Rec(Action(Bootstrap{}), r).bootstrap_failed, "initdb failed");
  EXPECT_EQ(Rec(Action(BootstrapStandby{}), r).bootstrap_failed, "initdb failed");
  EXPECT_EQ(Rec(Action(Bootstrap{}), Ok()).bootstrap_failed, "");
}

}  // namespace
}  // namespace pgw::ha
