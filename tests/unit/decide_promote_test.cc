// The plans of a promotion, of a start as primary and of a requested restart (ha/decide.h): every step the
// executor once took on its own (the pre_promote veto, the `sync` reset, synchronous_standby_names, arming the
// fence, the role a restart starts PostgreSQL in) is an action of the core, and the core states which failures give
// the leader key up.
#include <gtest/gtest.h>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

class PromotePlanTest : public DecideTest {
 protected:
  // pg0, a streaming replica, wins the race: nobody else is reachable.
  void Race() {
    cluster_.initialize = "42";
    RunningReplica(1000);
    local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
    peers_checked_ = true;
  }
  void WithPrePromote() {
    auto c = std::make_shared<Config>(*cfg_);
    c->postgresql.pre_promote = "/usr/local/bin/may-promote";
    cfg_ = c;
  }
  void SyncMode(bool strict) {
    tweak_ = [strict](Inputs& in) {
      in.dynamic.synchronous_mode = true;
      in.dynamic.synchronous_mode_strict = strict;
    };
  }
  static std::vector<OnFailure> Failures(const Decision& d) {
    std::vector<OnFailure> f;
    for (const auto& a : d.actions) f.push_back(a.on_failure);
    return f;
  }
  static constexpr OnFailure kStop = OnFailure::kStop;
  static constexpr OnFailure kRelease = OnFailure::kReleaseLeader;
};

TEST_F(PromotePlanTest, WithoutHookOrSyncModeTheFenceIsArmedThenPostgresPromoted) {
  Race();
  Decision d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kArmFencing, AT::kPromote}));
  EXPECT_EQ(Failures(d), (std::vector<OnFailure>{kStop, kRelease, kStop}))
      << "a fence that cannot be armed gives the key up; a failed promotion keeps it";
  EXPECT_TRUE(As<ArmFencing>(d.actions[1]).promotion);
}

TEST_F(PromotePlanTest, PrePromoteScriptComesFirstAndItsVetoReleasesTheKey) {
  WithPrePromote();
  Race();
  Decision d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kPrePromote, AT::kArmFencing, AT::kPromote}));
  EXPECT_EQ(Failures(d), (std::vector<OnFailure>{kStop, kRelease, kRelease, kStop}));
}

TEST_F(PromotePlanTest, SyncModeResetsTheSyncKeyAndTheStandbyNamesBeforeArming) {
  WithPrePromote();
  Race();
  SyncMode(false);
  Decision d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kPrePromote, AT::kWriteSync, AT::kSetSyncNames,
                                       AT::kArmFencing, AT::kPromote}));
  EXPECT_EQ(Failures(d), (std::vector<OnFailure>{kStop, kRelease, kRelease, OnFailure::kContinue, kRelease, kStop}))
      << "a lost compare-and-swap on `sync` gives the key up; synchronous_standby_names is only warned about";
  const auto& reset = As<WriteSync>(d.actions[2]);
  EXPECT_TRUE(reset.promotion);
  EXPECT_TRUE(reset.sync.empty()) << "nobody is a synchronous standby of the new leader yet";
  const auto& names = As<SetSyncNames>(d.actions[3]);
  EXPECT_EQ(names.sync_names, "");
  EXPECT_TRUE(names.sync.empty()) << "nothing to measure";
  EXPECT_EQ(names.upstream, local_.upstream) << "still a replica: its recovery settings stay";
  SyncMode(true);
  EXPECT_EQ(As<SetSyncNames>(Run().actions[3]).sync_names, "*")
      << "strict: no commit acknowledged before a standby is back";
}

TEST_F(PromotePlanTest, ReplicaHoldingTheLockPromotesWithTheSamePlan) {
  WithPrePromote();
  cluster_.initialize = "42";
  SetLeader("pg0", 7);  // on an older lease: re-attached first
  RunningReplica();
  SyncMode(true);
  Decision d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kRefreshLeader, AT::kPrePromote, AT::kWriteSync, AT::kSetSyncNames,
                                       AT::kArmFencing, AT::kPromote}));
  EXPECT_EQ(Failures(d), (std::vector<OnFailure>{kStop, kRelease, kRelease, OnFailure::kContinue, kRelease, kStop}));
}

TEST_F(PromotePlanTest, StartAsPrimaryArmsTheFenceFirstAndReleasesTheKeyWhenItCannot) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  local_.cluster_state = "in production";
  tweak_ = [](Inputs& in) { in.dynamic.primary_start_timeout = 300; };
  Decision d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}));
  EXPECT_EQ(Failures(d), (std::vector<OnFailure>{kRelease, kStop}));
  EXPECT_FALSE(As<ArmFencing>(d.actions[0]).promotion)
      << "not a promotion: its failure reads 'not starting as primary'";
}

// synchronous_standby_names of a start as primary is the core's: the published synchronous standbys ('*' when
// strict and there are none), so that nobody else acknowledges a commit from the first moment on; outside
// synchronous mode it is not managed (the configured value).
TEST_F(PromotePlanTest, StartAsPrimaryInSynchronousModeCarriesThePublishedStandbys) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  cluster_.members["pg1"].state = "stopped";  // no synchronous standby to hand over to: restart in place
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  local_.cluster_state = "in production";  // crashed
  bool strict = false;
  tweak_ = [&strict](Inputs& in) {
    in.dynamic.primary_start_timeout = 300;
    in.dynamic.synchronous_mode = true;
    in.dynamic.synchronous_mode_strict = strict;
  };
  Decision d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary})) << d.message;
  EXPECT_TRUE(As<StartPrimary>(d.actions[1]).gated);
  EXPECT_EQ(As<StartPrimary>(d.actions[1]).sync_names, std::optional<std::string>("\"pg1\""));
  cluster_.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg0"}});  // not ours: nobody is published
  EXPECT_EQ(As<StartPrimary>(Run().actions[1]).sync_names, std::optional<std::string>(""));
  strict = true;
  EXPECT_EQ(As<StartPrimary>(Run().actions[1]).sync_names, std::optional<std::string>("*"));
  tweak_ = [](Inputs& in) { in.dynamic.primary_start_timeout = 300; };
  d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}));
  EXPECT_FALSE(As<StartPrimary>(d.actions[1]).gated);
  EXPECT_FALSE(As<StartPrimary>(d.actions[1]).sync_names) << "synchronous mode is off: not managed";
}

// A requested restart states the role PostgreSQL starts in again: the executor no longer reads it off the
// observation. A primary restarts as a primary (the fence armed again between the stop and the start, a failure
// there failing the restart), a replica with the recovery settings it runs with now.
TEST_F(PromotePlanTest, RequestedRestartOfThePrimaryRestartsItAsAPrimary) {
  SteadyLeader();
  tweak_ = [](Inputs& in) { in.restart_requested = true; };
  Decision d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kRestart});
  EXPECT_EQ(d.reason, Reason::kRestartRequested);
  EXPECT_TRUE(As<Restart>(d.actions[0]).primary);
  EXPECT_FALSE(As<Restart>(d.actions[0]).upstream) << "no recovery settings";
  EXPECT_EQ(d.actions[0].on_failure, kStop) << "a failed restart is a failed start as primary (CoreState)";
}

TEST_F(PromotePlanTest, RequestedRestartOfAReplicaKeepsItsRecoverySettings) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
  tweak_ = [](Inputs& in) { in.restart_requested = true; };
  Decision d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kRestart});
  EXPECT_FALSE(As<Restart>(d.actions[0]).primary);
  EXPECT_EQ(As<Restart>(d.actions[0]).upstream, local_.upstream);
  local_.upstream.reset();  // following nobody (read-only): started in recovery all the same
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kRestart});
  EXPECT_FALSE(As<Restart>(d.actions[0]).primary);
  EXPECT_FALSE(As<Restart>(d.actions[0]).upstream);
}

// Outside these two plans no action gives the key up on failure: the executor holds no such rule of its own.
TEST_F(PromotePlanTest, OtherPlansStopAtAFailureWithoutReleasingTheKey) {
  SteadyLeader();
  SyncMode(false);
  AddMember("pg2", 5434);
  local_.replication_flush["pg1"] = 1000;
  local_.replication.push_back({{"application_name", "pg1"}, {"state", "streaming"}, {"sync_state", "async"}});
  Decision d = Run();
  ASSERT_FALSE(d.actions.empty());
  for (const auto& a : d.actions) EXPECT_EQ(a.on_failure, kStop) << ActionName(a.type());
  for (const auto& a : d.actions) EXPECT_STRNE(ModeName(a), "promotion") << ActionName(a.type());
}

}  // namespace
}  // namespace pgw::ha
