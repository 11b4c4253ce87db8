// The decision core in synchronous mode: publishing standbys, who may race, the crash hand-over and the client gate.
#include <gtest/gtest.h>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

// ---- Issue 5: synchronous replication ----

TEST_F(SyncDecideTest, AddingAStandbyChangesPostgresFirstAndPublishesOnlyOnceItIsSyncAndCaughtUp) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  cluster_.sync_mod_revision = 7;
  Streaming("pg1", 900);
  Streaming("pg2", 950);
  // Step 1: PostgreSQL learns the most advanced candidate, to be measured by the executor; `sync` is not touched.
  auto d = Run();
  EXPECT_EQ(NamesOf(d), "\"pg2\"");
  EXPECT_EQ(SetSyncMeasures(d), std::vector<std::string>{"pg2"});
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{"<none>"});
  // Step 2: PostgreSQL has it (the executor measured the primary at 1000) but does not report it sync yet.
  local_.sync_names = "\"pg2\"";
  sync_added_lsn_["pg2"] = 1000;
  d = Run();
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{"<none>"});
  // Step 3: pg_stat_replication says sync, but pg2 has flushed only 950 of the 1000 the primary had written when
  // it was added: commits acknowledged before the change may be missing on it. Not published.
  local_.replication = Json::array();
  Streaming("pg1", 900);
  Streaming("pg2", 950, "sync");
  d = Run();
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{"<none>"});
  // Step 4: it has flushed the LSN of its addition: publish.
  local_.replication = Json::array();
  Streaming("pg1", 900);
  Streaming("pg2", 1000, "sync");
  d = Run();
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{"pg2"});
}

TEST_F(SyncDecideTest, RemovingAStandbyPublishesFirstThenChangesPostgres) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  local_.sync_names = "\"pg1\"";
  Streaming("pg2", 950);  // pg1 disconnected
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kWriteSync, AT::kSetSyncNames}))
      << "pg1 leaves `sync` before PostgreSQL stops waiting for it, and the replacement is added in the same cycle";
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{});
  EXPECT_EQ(NamesOf(d), "\"pg2\"");
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  local_.sync_names = "\"pg2\"";
  sync_added_lsn_["pg2"] = 950;
  local_.replication = Json::array();
  Streaming("pg2", 950, "sync");
  d = Run();
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{"pg2"})
      << "published once PostgreSQL reports it sync and it has flushed the LSN of its addition";
}

TEST_F(SyncDecideTest, NosyncAndLaggingMembersAreNeverChosen) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  cluster_.members["pg2"].tags = Json{{"nosync", true}};
  Streaming("pg1", 10);
  Streaming("pg2", 1000);
  local_.sync_names = "\"old\"";
  tweak_ = [](Inputs& in) {
    in.dynamic.synchronous_mode = true;
    in.dynamic.maximum_lag_on_syncnode = 100;
  };
  auto d = Run();
  EXPECT_EQ(NamesOf(d), "") << "pg1 lags 990 bytes > 100, pg2 is nosync: no candidate";
}

TEST_F(SyncDecideTest, StrictModeWithoutStandbyBlocksAndNonStrictRunsAloneSayingSo) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  local_.sync_names = "\"gone\"";
  auto d = Run();
  EXPECT_EQ(NamesOf(d), "");
  local_.sync_names = "";
  d = Run();
  EXPECT_NE(d.message.find("running without a synchronous standby"), std::string::npos);
  strict_ = true;
  local_.sync_names = "";
  d = Run();
  EXPECT_EQ(NamesOf(d), "*");
  local_.sync_names = "*";
  d = Run();
  EXPECT_NE(d.message.find("synchronous_mode_strict"), std::string::npos);
}

TEST_F(SyncDecideTest, OnlyTheFormerLeaderOrASyncStandbyMayRace) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  RunningReplica();
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  cluster_.sync = DecodeSync(Json{{"leader", "pgX"}, {"sync_standby", "pg1"}});
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("synchronous mode"), std::string::npos);
  cluster_.sync = DecodeSync(Json{{"leader", "pgX"}, {"sync_standby", "pg0,pg1"}});
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
  // Patroni strips each name of the list: " pg0" is pg0 (it used to be read as a member named " pg0").
  cluster_.sync = DecodeSync(Json{{"leader", "pgX"}, {"sync_standby", "pg1, pg0"}});
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
  cluster_.sync = DecodeSync(Json{{"leader", "pgX"}, {"sync_standby", nullptr}});
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kWait}) << "no synchronous standby: only the former leader";
}

TEST_F(SyncDecideTest, CrashedPrimaryHandsOverToARunningSyncStandby) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReleaseLeader})
      << "its unacknowledged commits must not be served: the sync standby has every acknowledged one";
  cluster_.members["pg1"].state = "stopped";
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}))
      << "no standby to hand over to: restart in place";
}

TEST_F(SyncDecideTest, SwitchoverOnlyToASyncStandby) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg2"}});
  local_.sync_names = "\"pg2\"";
  Streaming("pg2", 1000, "sync");
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}});
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}});
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg2");
}

TEST_F(SyncDecideTest, CrashRestartInPlaceClosesTheClientGateOnlyAfterACrash) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  cluster_.members["pg1"].state = "stopped";
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}));
  EXPECT_TRUE(As<StartPrimary>(d.actions[1]).gated) << "recovered commits nobody acknowledged must not reach clients";
  local_.cluster_state = "shut down";
  d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}));
  EXPECT_FALSE(As<StartPrimary>(d.actions[1]).gated) << "a clean shutdown waited for its standbys: nothing to hide";
  local_.cluster_state = "in crash recovery";
  tweak_ = nullptr;
  d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}));
  EXPECT_FALSE(As<StartPrimary>(d.actions[1]).gated)
      << "without synchronous mode every commit was acknowledged alone anyway";
}

TEST_F(SyncDecideTest, ClientGateOpensOnlyOnceASyncStandbyFlushedTheEndOfRecovery) {
  SyncLeader();
  local_.gated = true;
  local_.gate_lsn = 1000;
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  local_.sync_names = "\"pg1\"";
  Streaming("pg1", 999, "sync");
  auto has_open = [](const Decision& d) {
    for (const auto& a : d.actions) {
      if (a.type() == AT::kOpenGate) return true;
    }
    return false;
  };
  auto d = Run();
  EXPECT_FALSE(has_open(d)) << "pg1 has not flushed the end of recovery yet";
  EXPECT_NE(d.message.find("client gate closed until a synchronous standby has flushed 0/3E8"), std::string::npos)
      << d.message;
  local_.replication = Json::array();
  local_.replication_flush.clear();
  Streaming("pg2", 5000, "async");
  Streaming("pg1", 999, "sync");
  EXPECT_FALSE(has_open(Run())) << "an asynchronous standby does not count, however far it is";
  local_.replication_flush["pg1"] = 1000;
  d = Run();
  EXPECT_TRUE(has_open(d));
  EXPECT_NE(d.message.find("synchronous standby pg1 has flushed 0/3E8"), std::string::npos) << d.message;
  local_.gate_lsn = 0;
  EXPECT_FALSE(has_open(Run())) << "the end of WAL is not measured yet";
}

TEST_F(SyncDecideTest, ClientGateWithoutAnyStandbyWaitsInStrictModeAndOpensAfterTtlOtherwise) {
  SyncLeader();
  local_.gated = true;
  local_.gate_lsn = 1000;
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  local_.sync_names = "";
  MonoTime since = clock_.Now();
  auto gate_opens = [&](Duration elapsed) {
    auto base = tweak_;
    tweak_ = [&, base, elapsed](Inputs& in) {
      base(in);
      in.state.gate_since = since;
      in.now = since + elapsed;
      in.lease_deadline = in.now + Duration(static_cast<int64_t>(in.dynamic.ttl) * 1000);  // renewed just now
    };
    Decision d = Run();
    tweak_ = base;
    for (const auto& a : d.actions) {
      if (a.type() == AT::kOpenGate) return true;
    }
    return false;
  };
  int ttl_ms = cfg_->bootstrap.dynamic.ttl * 1000;
  EXPECT_FALSE(gate_opens(Duration(ttl_ms - 1))) << "a standby may still be reconnecting";
  EXPECT_TRUE(gate_opens(Duration(ttl_ms))) << "non-strict: it would run alone anyway";
  Streaming("pg1", 10, "async");
  EXPECT_FALSE(gate_opens(Duration(ttl_ms * 10))) << "a candidate is streaming: wait until it is sync and caught up";
  local_.replication = Json::array();
  local_.replication_flush.clear();
  strict_ = true;
  local_.sync_names = "*";
  EXPECT_FALSE(gate_opens(Duration(ttl_ms * 100))) << "strict: never without a synchronous standby";
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = false; };
  EXPECT_TRUE(gate_opens(Duration(0))) << "synchronous mode turned off: nothing left to wait for";
}

TEST_F(SyncDecideTest, SynchronousNoteNamesAloneAndWaiting) {
  DynamicConfig dyn;
  ClusterView c;
  EXPECT_EQ(SynchronousNote(dyn, c, "pg0"), "");
  dyn.synchronous_mode = true;
  EXPECT_EQ(SynchronousNote(dyn, c, "pg0"), "alone");
  dyn.synchronous_mode_strict = true;
  EXPECT_EQ(SynchronousNote(dyn, c, "pg0"), "waiting");
  c.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  EXPECT_EQ(SynchronousNote(dyn, c, "pg0"), "");
  EXPECT_EQ(SynchronousNote(dyn, c, "pg1"), "waiting") << "the key belongs to another leader";
}

TEST_F(SyncDecideTest, SwitchoverWithoutCandidatePicksTheSyncStandbyWithTheHighestFlushedLsn) {
  SyncLeader();
  AddMember("pg3", 5435);
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1,pg2"}});
  local_.sync_names = "2 (\"pg1\",\"pg2\")";
  Streaming("pg1", 800, "sync");
  Streaming("pg2", 900, "sync");
  Streaming("pg3", 1000, "async");
  tweak_ = [](Inputs& in) {
    in.dynamic.synchronous_mode = true;
    in.dynamic.synchronous_node_count = 2;
  };
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}});
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg2") << "pg3 has more WAL but is not synchronous";
}

TEST_F(SyncDecideTest, TurningSynchronousModeOffStopsTheWaitAndRemovesTheSyncKey) {
  SyncLeader();
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  local_.sync_names = "\"pg1\"";
  Streaming("pg1", 1000, "sync");
  tweak_ = nullptr;  // synchronous_mode off
  auto d = Run();
  EXPECT_EQ(NamesOf(d), "") << "commits would keep waiting for pg1";
  auto types = Types(d);
  EXPECT_NE(std::find(types.begin(), types.end(), AT::kDeleteSync), types.end());
  local_.sync_names = "";
  cluster_.sync.reset();
  d = Run();
  EXPECT_EQ(NamesOf(d), "<none>") << "nothing left to do";
  types = Types(d);
  EXPECT_EQ(std::find(types.begin(), types.end(), AT::kDeleteSync), types.end());
}

TEST(SyncNamesTest, RenderedAsPatroniWritesThem) {
  EXPECT_EQ(RenderSyncNames({}, 1, false), "");
  EXPECT_EQ(RenderSyncNames({}, 1, true), "*");
  EXPECT_EQ(RenderSyncNames({"pg1"}, 1, false), "\"pg1\"");
  EXPECT_EQ(RenderSyncNames({"pg1", "pg2"}, 2, false), "2 (\"pg1\",\"pg2\")");
}

TEST_F(DecideTest, InSyncModeTheFormerLeadersWalDoesNotBlockASyncStandby) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  RunningReplica(500);
  cluster_.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg0"}});
  peers_ = {PeerStatus{"pg1", true, false, 900, false, 1}};
  peers_checked_ = true;
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  EXPECT_EQ(Types(Run()),
            (std::vector<AT>{AT::kAttemptLeader, AT::kWriteSync, AT::kSetSyncNames, AT::kArmFencing, AT::kPromote}));
  tweak_ = nullptr;  // asynchronous: the more advanced former leader wins
  EXPECT_NE(Run().message.find("Wal position of pg1 is ahead"), std::string::npos);
}

TEST_F(DecideTest, InSyncModeAnAsynchronousStandbyAheadDoesNotBlockTheSyncStandby) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  AddMember("pg2", 5434);
  RunningReplica(500);
  cluster_.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg0"}});
  // pg1 (the former leader) is down; pg2 streamed asynchronously and received more WAL than we did.
  peers_ = {PeerStatus{"pg2", true, false, 700, false, 1}};
  peers_checked_ = true;
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  EXPECT_EQ(Types(Run()),
            (std::vector<AT>{AT::kAttemptLeader, AT::kWriteSync, AT::kSetSyncNames, AT::kArmFencing, AT::kPromote}))
      << "pg2 may not be promoted, so it must not keep the synchronous standby from it either";
  cluster_.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg0,pg2"}});
  EXPECT_NE(Run().message.find("Wal position of pg2 is ahead"), std::string::npos)
      << "between two synchronous standbys the one with more WAL wins";
  tweak_ = nullptr;
  EXPECT_NE(Run().message.find("Wal position of pg2 is ahead"), std::string::npos) << "asynchronous: everyone counts";
}

}  // namespace
}  // namespace pgw::ha
