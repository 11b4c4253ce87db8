// The decision core, driven with hand-built cluster and local views: one test per rule.
#include <gtest/gtest.h>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

TEST_F(DecideTest, EmptyDataNoInitializeRacesToBootstrap) {
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kAttemptInitialize, AT::kBootstrap}));
  EXPECT_EQ(d.message, "trying to bootstrap a new cluster");
}

TEST_F(DecideTest, NofailoverNodeNeverBootstraps) {
  SetConfig("  nofailover: true\n");
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "waiting for leader to bootstrap");
}

TEST_F(DecideTest, EmptyDataWaitsWhileAnotherNodeBootstraps) {
  cluster_.initialize = "";
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "waiting for leader to bootstrap");
}

TEST_F(DecideTest, EmptyDataClonesFromLeaderAndFollowsItThroughItsSlot) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
  EXPECT_EQ(As<Clone>(d.actions[0]).target, "pg1");
  EXPECT_EQ(As<Clone>(d.actions[0]).address->port, 5433);
  ASSERT_TRUE(As<StartReplica>(d.actions[1]).upstream);
  EXPECT_EQ(As<StartReplica>(d.actions[1]).upstream->address.port, 5433);
  EXPECT_EQ(As<StartReplica>(d.actions[1]).upstream->slot, "pg0");
  EXPECT_EQ(d.message, "trying to bootstrap from leader 'pg1'");
}

TEST_F(DecideTest, CloneFromTaggedReplicaWhenOneRuns) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  AddMember("pg2", 5434, "replica", "running", {{"clonefrom", true}});
  SetLeader("pg1");
  auto d = Run();
  EXPECT_EQ(As<Clone>(d.actions[0]).target, "pg2");
  EXPECT_EQ(As<StartReplica>(d.actions[1]).upstream->address.port, 5433);  // still streams from the leader
  EXPECT_EQ(d.message, "trying to bootstrap from replica 'pg2'");
}

TEST_F(DecideTest, InvalidDataDirIsFatal) {
  local_.data = LocalView::Data::kInvalid;
  local_.data_problem = "data_dir /x is not empty but is not a PostgreSQL data directory (no PG_VERSION)";
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kFatal});
  EXPECT_EQ(d.message, local_.data_problem);
}

TEST_F(DecideTest, SystemIdMismatchIsFatal) {
  cluster_.initialize = "43";
  RunningReplica();
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kFatal});
  EXPECT_EQ(d.message, "system ID mismatch, node pg0 belongs to a different cluster: 42 != 43");
}

TEST_F(DecideTest, LeaderWithLockPublishesOptimeAndCreatesSlotsForOthers) {
  cluster_.initialize = "42";
  AddMember("pg0", 5432, "primary");
  AddMember("pg1", 5433);
  AddMember("pg-2", 5434);
  SetLeader("pg0");
  RunningPrimary(5000);
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kWriteStatus, AT::kSyncSlots}));
  EXPECT_EQ(As<WriteStatus>(d.actions[0]).optime, 5000);
  EXPECT_EQ(As<SyncSlots>(d.actions[1]).slots, (std::vector<std::string>{"pg1", "pg_2"}));
  EXPECT_EQ(d.message, "no action. I am (pg0), the leader with the lock");
}

TEST_F(DecideTest, SteadyLeaderDoesNothing) {
  cluster_.initialize = "42";
  AddMember("pg0", 5432, "primary");
  AddMember("pg1", 5433);
  SetLeader("pg0");
  cluster_.last_lsn = 5000;
  RunningPrimary(5000);
  SetSlots({"pg1"});
  EXPECT_TRUE(Run().actions.empty());
}

TEST_F(DecideTest, LeaderKeyOnAnOldLeaseIsReattachedFirst) {
  cluster_.initialize = "42";
  SetLeader("pg0", /*lease=*/7);
  my_lease_ = 8;
  cluster_.last_lsn = 1000;
  RunningPrimary(1000);
  auto d = Run();
  ASSERT_FALSE(d.actions.empty());
  EXPECT_EQ(d.actions[0].type(), AT::kRefreshLeader);
}

TEST_F(DecideTest, RunningPrimaryWithoutLeaderTakesTheLock) {
  cluster_.initialize = "42";
  RunningPrimary();
  auto d = Run();
  EXPECT_EQ(d.actions[0].type(), AT::kAttemptLeader);
  EXPECT_EQ(d.message, "acquired session lock as a leader");
}

TEST_F(DecideTest, PrimaryWithAnotherLeaderDemotes) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  RunningPrimary();
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).mode,
            DemoteMode::kImmediateNoLock);  // stop now; the next cycle rejoins (rewind if needed)
  EXPECT_EQ(d.message, "demoting self because I do not have the lock and I was a leader");
}

TEST_F(DecideTest, ReplicaFollowingTheLeaderDoesNothing) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
  auto d = Run();
  EXPECT_TRUE(d.actions.empty());
  EXPECT_EQ(d.message, "no action. I am (pg0), a secondary, and following a leader (pg1)");
}

TEST_F(DecideTest, ReplicaRepointsWhenTheLeaderChanged) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5434}, "pg0"};
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kFollow});
  EXPECT_EQ(As<Follow>(d.actions[0]).upstream.address.port, 5433);
  EXPECT_EQ(As<Follow>(d.actions[0]).target, "pg1");
}

TEST_F(DecideTest, ReplicatefromCascadesAndSlotsMoveToTheSource) {
  SetConfig("  replicatefrom: pg2\n");
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  AddMember("pg2", 5434);
  AddMember("pg0", 5432, "replica", "running", {{"replicatefrom", "pg2"}});
  SetLeader("pg1");
  RunningReplica();
  auto d = Run();
  ASSERT_EQ(d.actions[0].type(), AT::kFollow);
  EXPECT_EQ(As<Follow>(d.actions[0]).upstream.address.port, 5434);
  EXPECT_EQ(As<Follow>(d.actions[0]).target, "pg2");
  // The leader holds no slot for pg0; pg2 (the cascade source) does.
  SetConfig("");
  auto leader_cfg = *cfg_;
  leader_cfg.name = "pg1";
  EXPECT_EQ(WantedSlots(leader_cfg, cluster_, true), std::vector<std::string>{"pg2"});
  auto source_cfg = *cfg_;
  source_cfg.name = "pg2";
  EXPECT_EQ(WantedSlots(source_cfg, cluster_, false), std::vector<std::string>{"pg0"});
}

TEST_F(DecideTest, ReplicatefromFallsBackToLeaderWhenSourceIsDown) {
  SetConfig("  replicatefrom: pg2\n");
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  AddMember("pg2", 5434, "replica", "stopped");
  SetLeader("pg1");
  EXPECT_EQ(*UpstreamMember(*cfg_, cluster_), "pg1");
}

TEST_F(DecideTest, StoppedNodeStartsAsReplicaOfTheLeader) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  local_.data = LocalView::Data::kValid;
  local_.sysid = "42";
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartReplica});
  EXPECT_EQ(As<StartReplica>(d.actions[0]).upstream->address.port, 5433);
  EXPECT_EQ(d.message, "starting as a secondary");
}

TEST_F(DecideTest, StoppedFormerPrimaryHoldingTheLockRestartsAsPrimary) {
  cluster_.initialize = "42";
  SetLeader("pg0", 3);
  my_lease_ = 4;
  local_.data = LocalView::Data::kValid;
  local_.cluster_state = "in production";
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kRefreshLeader, AT::kArmFencing, AT::kStartPrimary}));
  EXPECT_EQ(d.message, "starting primary after failure");
}

TEST_F(DecideTest, ReplicaHoldingTheLockPromotes) {
  cluster_.initialize = "42";
  SetLeader("pg0");
  RunningReplica();
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kArmFencing, AT::kPromote}));
}

TEST_F(DecideTest, LeaderRaceAsksPeersFirst) {
  cluster_.initialize = "42";
  RunningReplica();
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
}

TEST_F(DecideTest, HealthiestReplicaTakesTheLockAndPromotes) {
  cluster_.initialize = "42";
  cluster_.last_lsn = 1000;
  RunningReplica(1000);
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, false, 900, false, 1}, PeerStatus{"pg2", false, false, 5000, false, 1}};
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kArmFencing, AT::kPromote}));
  EXPECT_EQ(d.message, "promoted self to leader by acquiring session lock");
}

TEST_F(DecideTest, ReplicaBehindAPeerDoesNotRace) {
  cluster_.initialize = "42";
  RunningReplica(1000);
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, false, 2000, false, 1}};
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("Wal position of pg1 is ahead of my wal position"), std::string::npos);
}

TEST_F(DecideTest, NofailoverPeerAheadDoesNotBlockTheRace) {
  cluster_.initialize = "42";
  RunningReplica(1000);
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, false, 2000, true, 1}};
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kArmFencing, AT::kPromote}));
}

TEST_F(DecideTest, ReachablePrimaryDisqualifies) {
  cluster_.initialize = "42";
  RunningReplica(1000);
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, true, 100, false, 1}};
  EXPECT_NE(Run().message.find("Primary (pg1) is still alive"), std::string::npos);
}

TEST_F(DecideTest, LagBeyondLimitDisqualifies) {
  cluster_.initialize = "42";
  cluster_.last_lsn = 1000 + 1048576 + 1;
  RunningReplica(1000);
  peers_checked_ = true;
  EXPECT_NE(Run().message.find("My wal position exceeds maximum replication lag"), std::string::npos);
}

TEST_F(DecideTest, EqualPositionHigherPriorityWins) {
  cluster_.initialize = "42";
  RunningReplica(1000);
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, false, 1000, false, 5}};
  EXPECT_NE(Run().message.find("pg1 has equally tolerable WAL position and priority 5"), std::string::npos);
}

TEST_F(DecideTest, NofailoverReplicaNeverRaces) {
  SetConfig("  nofailover: true\n");
  cluster_.initialize = "42";
  RunningReplica();
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "following a different leader because I am not allowed to promote");
}

// ---- Issue 3: failover, fencing, rejoin, pause, failsafe ----

TEST_F(DecideTest, LeaderWhoseRenewalsFailForRetryTimeoutDemotesBeforeTheDeadline) {
  SteadyLeader();
  LastRenewalAgo(Duration(10000));  // exactly retry_timeout: still fresh
  EXPECT_EQ(Run().message, "no action. I am (pg0), the leader with the lock");
  LastRenewalAgo(Duration(10001));
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).mode, DemoteMode::kOffline);
  EXPECT_EQ(d.message, "demoting self because DCS is not accessible and I was a leader");
}

TEST_F(DecideTest, LeaderWithoutAnyLeaseDemotes) {
  SteadyLeader();
  my_lease_ = 0;  // the lease expired and a new one cannot be granted
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).mode, DemoteMode::kOffline);
}

TEST_F(DecideTest, StoppedNodeNeverStartsAsPrimaryOnAStaleView) {
  cluster_.initialize = "42";
  SetLeader("pg0");
  local_.data = LocalView::Data::kValid;
  local_.cluster_state = "in production";
  LastRenewalAgo(Duration(20000));
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "DCS is not accessible");
}

TEST_F(DecideTest, ReplicaDoesNotRaceWhileEtcdIsUnreachable) {
  cluster_.initialize = "42";
  RunningReplica();
  LastRenewalAgo(Duration(15000));
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "DCS is not accessible");
}

TEST_F(DecideTest, FailsafeAsksMembersThenKeepsRunningWhenAllAccept) {
  SteadyLeader();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  LastRenewalAgo(Duration(12000));
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckFailsafe});
  failsafe_checked_ = true;
  failsafe_ok_ = true;
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "continue to run as a leader because failsafe mode is enabled and all members are accessible");
  failsafe_ok_ = false;
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.message, "demoting self because DCS is not accessible and I was a leader");
}

TEST_F(DecideTest, FailsafeAsksAsSoonAsOneKeepaliveIsMissed) {
  SteadyLeader();
  tweak_ = [](Inputs& in) {
    in.dynamic.failsafe_mode = true;
    in.dynamic.retry_timeout = 12;  // suspect (11.25 s) comes before stale (12 s)
  };
  cluster_.failsafe = FailsafeMembers(cluster_);
  LastRenewalAgo(Duration(30000 / 4 * 3 / 2));  // exactly a period and a half: not yet suspect
  auto first = Run();
  EXPECT_TRUE(Types(first).empty()) << first.message << " " << ActionName(first.actions[0].type());
  LastRenewalAgo(Duration(30000 / 4 * 3 / 2 + 1));
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckFailsafe});
  failsafe_checked_ = true;
  EXPECT_TRUE(Types(Run()).empty()) << "refused confirmations while etcd is still fresh: carry on as usual";
}

TEST_F(DecideTest, FailsafeLeaderPublishesTheMemberList) {
  SteadyLeader();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kWriteFailsafe});
  cluster_.failsafe = FailsafeMembers(cluster_);
  EXPECT_EQ(cluster_.failsafe->size(), 2u);
  EXPECT_TRUE(Types(Run()).empty());
}

TEST_F(DecideTest, ReplicaVouchedForByFailsafeDoesNotRace) {
  cluster_.initialize = "42";
  RunningReplica();
  failsafe_primary_until_ = clock_.Now() + Duration(1);
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("POST /failsafe"), std::string::npos);
  clock_.Advance(Duration(1));
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
}

TEST_F(DecideTest, FailsafeMemberNotListedDoesNotRace) {
  cluster_.initialize = "42";
  cluster_.failsafe = FailsafeTopology{{"pg1", "http://x/patroni"}};
  RunningReplica();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  EXPECT_NE(Run().message.find("not listed in the failsafe key"), std::string::npos);
}

// Random seed 15026: a peer that may not race (not in the failsafe key) held the only racer back for good.
TEST_F(DecideTest, FailsafeUnlistedPeerAheadDoesNotHoldTheRaceBack) {
  cluster_.initialize = "42";
  cluster_.failsafe = FailsafeTopology{{"pg0", "http://x/patroni"}};
  RunningReplica(1000);
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, false, 2000, false, 1}};
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kArmFencing, AT::kPromote}));
  cluster_.failsafe = FailsafeTopology{{"pg0", "http://x/patroni"}, {"pg1", "http://y/patroni"}};
  EXPECT_NE(Run().message.find("Wal position of pg1 is ahead"), std::string::npos);
}

// Random seed 9819: a failover key naming a member outside the failsafe key made it promote next to a primary
// that still ran on failsafe; and the others must not wait for a candidate that may not take over.
TEST_F(DecideTest, FailoverKeyCandidateOutsideTheFailsafeKeyDoesNotTakeOver) {
  cluster_.initialize = "42";
  cluster_.failsafe = FailsafeTopology{{"pg1", "http://x/patroni"}};
  cluster_.failover = DecodeFailover(Json{{"member", "pg0"}});
  RunningReplica();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("not listed in the failsafe key"), std::string::npos);
  cluster_.failsafe = FailsafeTopology{{"pg0", "http://x/patroni"}};
  cluster_.failover = DecodeFailover(Json{{"member", "pg1"}});  // pg1 runs but is not listed: nobody waits for it
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
}

// Random seed 58536: in synchronous mode with no leader, a failover key naming an asynchronous member made it promote
// without commits the former leader had acknowledged.
TEST_F(DecideTest, FailoverKeyCandidateOutsideTheSyncKeyDoesNotTakeOverInSynchronousMode) {
  cluster_.initialize = "42";
  cluster_.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg2"}});
  cluster_.failover = DecodeFailover(Json{{"member", "pg0"}});
  RunningReplica();
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("only the former leader pg1"), std::string::npos) << d.message;
  cluster_.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg0"}});
  EXPECT_EQ(Types(Run()),
            (std::vector<AT>{AT::kAttemptLeader, AT::kWriteSync, AT::kSetSyncNames, AT::kArmFencing, AT::kPromote}));
}

TEST_F(DecideTest, CrashedPrimaryWithTheLockRestartsInPlaceByDefault) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kArmFencing, AT::kStartPrimary}));
}

TEST_F(DecideTest, CrashedPrimaryGivesTheLockUpWhenPrimaryStartTimeoutIsZero) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  tweak_ = [](Inputs& in) { in.dynamic.primary_start_timeout = 0; };
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReleaseLeader});
  EXPECT_EQ(d.message, "stopped PostgreSQL to fail over after a crash");
}

TEST_F(DecideTest, FailedStartAsPrimaryGivesTheLockUp) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  primary_start_failed_ = true;
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReleaseLeader});
  EXPECT_EQ(d.message, "removed leader key after trying and failing to start postgres");
}

TEST_F(DecideTest, FormerPrimaryRewindsBeforeFollowingANewTimeline) {
  SetConfig("");
  FormerPrimaryStopped(2);
  tweak_ = [](Inputs& in) { in.dynamic.use_pg_rewind = true; };
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kRewind, AT::kStartReplica}));
  EXPECT_EQ(As<Rewind>(d.actions[0]).target, "pg1");
  EXPECT_EQ(As<Rewind>(d.actions[0]).address.port, 5433);
  EXPECT_EQ(As<StartReplica>(d.actions[1]).upstream->address.port, 5433);
  EXPECT_EQ(d.message, "running pg_rewind from pg1");
}

TEST_F(DecideTest, FailedRewindReclonesOnlyWhenAllowed) {
  FormerPrimaryStopped(2);
  tweak_ = [](Inputs& in) { in.dynamic.use_pg_rewind = true; };
  rewind_failed_ = true;
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("remove_data_directory_on_rewind_failure"), std::string::npos);
  cfg_ = testing::Load(testing::Replace(testing::kGoodConfig,
                                        "  pgpass:", "  remove_data_directory_on_rewind_failure: true\n  pgpass:"))
             .config;
  ASSERT_NE(cfg_, nullptr);
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kReinitialize});
}

// The same flags in the dynamic configuration (Debian's template sets them under bootstrap.dcs.postgresql):
// Patroni applies them to every member; pgwarden read them nowhere and said nothing.
TEST_F(DecideTest, RecloneFlagsOfTheDynamicConfigurationApplyToo) {
  FormerPrimaryStopped(2);
  rewind_failed_ = true;
  tweak_ = [](Inputs& in) {
    in.dynamic.use_pg_rewind = true;
    in.dynamic.remove_data_directory_on_rewind_failure = true;
  };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kReinitialize});
  rewind_failed_ = false;
  tweak_ = [](Inputs& in) { in.dynamic.remove_data_directory_on_diverged_timelines = true; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kReinitialize});
  std::vector<std::string> problems, warnings;
  auto dyn = DynamicConfig::FromJson(Json::parse(R"({"postgresql": {"remove_data_directory_on_rewind_failure": true,
                                     "remove_data_directory_on_diverged_timelines": true}})"),
                                     "config", &problems, &warnings);
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(dyn.remove_data_directory_on_rewind_failure);
  EXPECT_TRUE(dyn.remove_data_directory_on_diverged_timelines);
}

TEST_F(DecideTest, DivergedFormerPrimaryWithoutRewindReclonesWhenAllowed) {
  FormerPrimaryStopped(2);
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartReplica});  // nothing allowed: try to stream as is
  cfg_ = testing::Load(testing::Replace(testing::kGoodConfig,
                                        "  pgpass:", "  remove_data_directory_on_diverged_timelines: true\n  pgpass:"))
             .config;
  ASSERT_NE(cfg_, nullptr);
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReinitialize});
  EXPECT_EQ(d.message, "reinitializing due to diverged timelines");
}

TEST_F(DecideTest, FormerPrimaryOnTheLeadersTimelineRewindsWhenItCanElseFollows) {
  FormerPrimaryStopped(1);
  tweak_ = [](Inputs& in) { in.dynamic.use_pg_rewind = true; };
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kRewind, AT::kStartReplica}))
      << "member keys lag behind a promotion: pg_rewind decides whether anything diverged";
  tweak_ = nullptr;
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartReplica}) << "without pg_rewind: only another timeline re-clones";
  local_.cluster_state = "shut down";
  tweak_ = [](Inputs& in) {
    in.dynamic.use_pg_rewind = true;
    in.state.clean_demote = true;
  };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartReplica}) << "a clean handover needs no rewind";
}

TEST_F(DecideTest, CloneThatNeverStartedIsNotAFormerPrimary) {
  // pg_basebackup copies pg_control from the running primary ("in production"); backup_label marks the copy.
  FormerPrimaryStopped(1);
  local_.backup_label = true;
  tweak_ = [](Inputs& in) { in.dynamic.use_pg_rewind = true; };
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartReplica}) << d.message;
  EXPECT_TRUE(As<StartReplica>(d.actions[0]).upstream.has_value());
  EXPECT_FALSE(WasPrimary(local_));
  EXPECT_FALSE(Crashed(local_));
}

TEST_F(DecideTest, FormerPrimaryWaitsForTheNewLeadersPromotionBeforeRewinding) {
  FormerPrimaryStopped(1);
  cluster_.members["pg1"].role = "replica";  // the leader key is taken, pg_promote has not finished yet
  tweak_ = [](Inputs& in) { in.dynamic.use_pg_rewind = true; };
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait})
      << "pg_rewind against a source still on the old timeline finds nothing to rewind";
  EXPECT_NE(d.message.find("finish its promotion"), std::string::npos) << d.message;
  cluster_.members["pg1"].role = "master";  // Patroni 3 spells it so
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kRewind, AT::kStartReplica}));
}

TEST_F(DecideTest, NodeThatGaveTheKeyUpWaitsForTheNextLeaderInsteadOfStartingReadOnly) {
  FormerPrimaryStopped(1);
  cluster_.leader.reset();
  no_race_until_ = clock_.Now() + Duration(5000);
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "waiting for another member to take the leader key");
  no_race_until_ = MonoTime{};
  EXPECT_NE(Types(Run()), std::vector<AT>{AT::kWait}) << "after the back-off it may race again as the former leader";
}

TEST_F(DecideTest, PauseNeverStartsStopsOrPromotes) {
  tweak_ = [](Inputs& in) { in.dynamic.pause = true; };
  // Stopped with the lock: the lock is released, PostgreSQL is not started.
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReleaseLeader});
  EXPECT_EQ(d.message, "PAUSE: removed leader lock because postgres is not running");
  // Primary while someone else holds the lock: left alone.
  RunningPrimary();
  SetLeader("pg1");
  d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "PAUSE: continue to run as primary without lock");
  // Replica, no leader: no race.
  RunningReplica();
  cluster_.leader.reset();
  d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message.rfind("PAUSE: following a different leader", 0), 0u);
  // Replica holding the lock: released, not promoted.
  SetLeader("pg0");
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kReleaseLeader});
  // A running primary grabs a free lock.
  RunningPrimary();
  cluster_.leader.reset();
  EXPECT_EQ(Types(Run()).front(), AT::kAttemptLeader);
  // etcd unreachable: no demotion.
  SetLeader("pg0");
  LastRenewalAgo(Duration(20000));
  d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "PAUSE: continue to run as primary after failing to update leader lock in DCS");
}

TEST_F(DecideTest, WatchdogRequiredButUnusableKeepsANodeOutOfTheRace) {
  cluster_.initialize = "42";
  RunningReplica();
  watchdog_unusable_ = true;
  EXPECT_NE(Run().message.find("Watchdog device is not usable"), std::string::npos);
  SetLeader("pg0");
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReleaseLeader});
  EXPECT_EQ(d.message, "Not promoting self because watchdog could not be activated");
}

TEST_F(DecideTest, PrePromoteVetoBacksOffForTtl) {
  cluster_.initialize = "42";
  RunningReplica();
  no_race_until_ = clock_.Now() + Duration(30000);
  EXPECT_NE(Run().message.find("pre_promote"), std::string::npos);
  clock_.Advance(Duration(30000));
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
}

TEST_F(DecideTest, PrimarySeeingAnotherLeaderDemotesImmediatelyWithoutTouchingTheLock) {
  SteadyLeader();
  SetLeader("pg1");
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).mode, DemoteMode::kImmediateNoLock);
}

// A scenario, events in and decisions out: the leader's lease stops renewing while a replica watches.
TEST_F(DecideTest, ScenarioLeaseLossFencesTheOldPrimaryBeforeTheReplicaCanRace) {
  // t=0: steady leader. Renewals stop (etcd partitioned from pg0).
  SteadyLeader();
  MonoTime last_renewal = clock_.Now();
  lease_deadline_ = last_renewal + Duration(30000);
  EXPECT_TRUE(Types(Run()).empty());
  // t=retry_timeout+1 ms: the old primary demotes itself (fast stop).
  clock_.Advance(Duration(10001));
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  MonoTime demoted_at = clock_.Now();
  // The replica can race only once etcd expired the lease: not before last_renewal + ttl.
  EXPECT_LT(demoted_at, last_renewal + Duration(30000));
  EXPECT_GE(last_renewal + Duration(30000) - demoted_at, Duration(10000)) << "at least retry_timeout to stop";
}

TEST_F(DecideTest, FormerPrimaryStartedWithoutALeaderStopsToRewindWhenALeaderAppears) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  cluster_.members["pg1"].timeline = 2;
  SetLeader("pg1");
  RunningReplica();
  local_.timeline = 1;
  tweak_ = [](Inputs& in) {
    in.state.unreconciled_primary = true;
    in.dynamic.use_pg_rewind = true;
  };
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).mode, DemoteMode::kOffline);
  // Stopped (cleanly, in recovery): the next cycle rewinds although pg_control no longer says "in production".
  local_ = LocalView{};
  local_.data = LocalView::Data::kValid;
  local_.sysid = "42";
  local_.cluster_state = "shut down in recovery";
  local_.timeline = 1;
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kRewind, AT::kStartReplica}));
  tweak_ = [](Inputs& in) { in.dynamic.use_pg_rewind = true; };  // an ordinary replica: no rewind
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartReplica});
  // Even when the timelines look equal (a walreceiver may already report the leader's), an unreconciled former
  // primary goes through pg_rewind once.
  RunningReplica();
  local_.timeline = 2;
  tweak_ = [](Inputs& in) { in.state.unreconciled_primary = true; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDemote});
}

}  // namespace
}  // namespace pgw::ha
