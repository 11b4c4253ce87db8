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
  EXPECT_EQ(d.actions[0].target, "pg1");
  EXPECT_EQ(d.actions[0].address->port, 5433);
  ASSERT_TRUE(d.actions[1].upstream);
  EXPECT_EQ(d.actions[1].upstream->address.port, 5433);
  EXPECT_EQ(d.actions[1].upstream->slot, "pg0");
  EXPECT_EQ(d.message, "trying to bootstrap from leader 'pg1'");
}

TEST_F(DecideTest, CloneFromTaggedReplicaWhenOneRuns) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  AddMember("pg2", 5434, "replica", "running", {{"clonefrom", true}});
  SetLeader("pg1");
  auto d = Run();
  EXPECT_EQ(d.actions[0].target, "pg2");
  EXPECT_EQ(d.actions[1].upstream->address.port, 5433);  // still streams from the leader
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
  EXPECT_EQ(d.actions[0].optime, 5000);
  EXPECT_EQ(d.actions[1].slots, (std::vector<std::string>{"pg1", "pg_2"}));
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
  EXPECT_EQ(d.actions[0].type, AT::kRefreshLeader);
}

TEST_F(DecideTest, RunningPrimaryWithoutLeaderTakesTheLock) {
  cluster_.initialize = "42";
  RunningPrimary();
  auto d = Run();
  EXPECT_EQ(d.actions[0].type, AT::kAttemptLeader);
  EXPECT_EQ(d.message, "acquired session lock as a leader");
}

TEST_F(DecideTest, PrimaryWithAnotherLeaderDemotes) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  RunningPrimary();
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].mode, Mode::kImmediateNoLock);  // stop now; the next cycle rejoins (rewind if needed)
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
  EXPECT_EQ(d.actions[0].upstream->address.port, 5433);
  EXPECT_EQ(d.actions[0].target, "pg1");
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
  ASSERT_EQ(d.actions[0].type, AT::kFollow);
  EXPECT_EQ(d.actions[0].upstream->address.port, 5434);
  EXPECT_EQ(d.actions[0].target, "pg2");
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
  EXPECT_EQ(d.actions[0].upstream->address.port, 5433);
  EXPECT_EQ(d.message, "starting as a secondary");
}

TEST_F(DecideTest, StoppedFormerPrimaryHoldingTheLockRestartsAsPrimary) {
  cluster_.initialize = "42";
  SetLeader("pg0", 3);
  my_lease_ = 4;
  local_.data = LocalView::Data::kValid;
  local_.cluster_state = "in production";
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kRefreshLeader, AT::kStartPrimary}));
  EXPECT_EQ(d.message, "starting primary after failure");
}

TEST_F(DecideTest, ReplicaHoldingTheLockPromotes) {
  cluster_.initialize = "42";
  SetLeader("pg0");
  RunningReplica();
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kPromote});
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
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kPromote}));
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
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kPromote}));
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
  EXPECT_EQ(d.actions[0].mode, Mode::kOffline);
  EXPECT_EQ(d.message, "demoting self because DCS is not accessible and I was a leader");
}

TEST_F(DecideTest, LeaderWithoutAnyLeaseDemotes) {
  SteadyLeader();
  my_lease_ = 0;  // the lease expired and a new one cannot be granted
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].mode, Mode::kOffline);
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
  EXPECT_TRUE(Types(first).empty()) << first.message << " " << ActionName(first.actions[0].type);
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
  cluster_.failsafe = Json{{"pg1", "http://x/patroni"}};
  RunningReplica();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  EXPECT_NE(Run().message.find("not listed in the failsafe key"), std::string::npos);
}

// Random seed 15026: a peer that may not race (not in the failsafe key) held the only racer back for good.
TEST_F(DecideTest, FailsafeUnlistedPeerAheadDoesNotHoldTheRaceBack) {
  cluster_.initialize = "42";
  cluster_.failsafe = Json{{"pg0", "http://x/patroni"}};
  RunningReplica(1000);
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, false, 2000, false, 1}};
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kPromote}));
  cluster_.failsafe = Json{{"pg0", "http://x/patroni"}, {"pg1", "http://y/patroni"}};
  EXPECT_NE(Run().message.find("Wal position of pg1 is ahead"), std::string::npos);
}

// Random seed 9819: a failover key naming a member outside the failsafe key made it promote next to a primary
// that still ran on failsafe; and the others must not wait for a candidate that may not take over.
TEST_F(DecideTest, FailoverKeyCandidateOutsideTheFailsafeKeyDoesNotTakeOver) {
  cluster_.initialize = "42";
  cluster_.failsafe = Json{{"pg1", "http://x/patroni"}};
  cluster_.failover = Json{{"member", "pg0"}};
  RunningReplica();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("not listed in the failsafe key"), std::string::npos);
  cluster_.failsafe = Json{{"pg0", "http://x/patroni"}};
  cluster_.failover = Json{{"member", "pg1"}};  // pg1 runs but is not listed: nobody waits for it
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
}

// Random seed 58536: in synchronous mode with no leader, a failover key naming an asynchronous member made it promote
// without commits the former leader had acknowledged.
TEST_F(DecideTest, FailoverKeyCandidateOutsideTheSyncKeyDoesNotTakeOverInSynchronousMode) {
  cluster_.initialize = "42";
  cluster_.sync = Json{{"leader", "pg1"}, {"sync_standby", "pg2"}};
  cluster_.failover = Json{{"member", "pg0"}};
  RunningReplica();
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("only the former leader pg1"), std::string::npos) << d.message;
  cluster_.sync = Json{{"leader", "pg1"}, {"sync_standby", "pg0"}};
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kPromote}));
}

TEST_F(DecideTest, CrashedPrimaryWithTheLockRestartsInPlaceByDefault) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartPrimary});
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
  EXPECT_EQ(d.actions[0].target, "pg1");
  EXPECT_EQ(d.actions[0].address->port, 5433);
  EXPECT_EQ(d.actions[1].upstream->address.port, 5433);
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
    in.clean_demote = true;
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
  EXPECT_TRUE(d.actions[0].upstream.has_value());
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
  EXPECT_EQ(d.actions[0].mode, Mode::kImmediateNoLock);
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

// ---- Issue 4: planned switchover through the failover key ----

class SwitchoverTest : public DecideTest {};

TEST_F(SwitchoverTest, LeaderDemotesGracefullyForAHealthyCandidate) {
  SteadyLeader();
  cluster_.failover = Json{{"leader", "pg0"}, {"member", "pg1"}};
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].mode, Mode::kGraceful);
  EXPECT_EQ(d.actions[0].target, "pg1");
  EXPECT_EQ(d.message, "manual failover: demoting myself");
}

// Random seed 300111: a failsafe key written while the other agents were down listed only the leader; a failover
// key then named a member that had come back. The leader handed over, the candidate (not listed) refused, the
// leader took the key back and handed over again, for good. The leader refreshes the list before it hands over.
TEST_F(SwitchoverTest, FailsafeLeaderListsTheMembersBeforeItHandsOver) {
  SteadyLeader();
  tweak_ = [](Inputs& in) { in.dynamic.failsafe_mode = true; };
  cluster_.failsafe = Json{{"pg0", "http://x/patroni"}};
  cluster_.failover = Json{{"member", "pg1"}};
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kWriteFailsafe, AT::kDemote})) << d.message;
  EXPECT_EQ(d.actions[1].target, "pg1");
  cluster_.failsafe = FailsafeMembers(cluster_);
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDemote}) << "an up-to-date list is not written again";
}

TEST_F(SwitchoverTest, UnhealthyOrIneligibleCandidateClearsTheRequest) {
  SteadyLeader();
  cluster_.members["pg1"].state = "stopped";
  cluster_.failover = Json{{"leader", "pg0"}, {"member", "pg1"}};
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
  cluster_.members["pg1"].state = "running";
  cluster_.members["pg1"].tags = Json{{"nofailover", true}};
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
  cluster_.failover = Json{{"leader", "pg0"}};  // any candidate: none is eligible
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
}

TEST_F(SwitchoverTest, WithoutCandidateTheMostAdvancedEligibleReplicaIsChosen) {
  SteadyLeader();
  AddMember("pg2", 5434);
  cluster_.members["pg1"].xlog_location = 100;
  cluster_.members["pg2"].xlog_location = 900;
  cluster_.failover = Json{{"leader", "pg0"}};
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].target, "pg2");
  // pg_stat_replication on the primary is fresher than the member keys: its flush positions decide.
  local_.replication_flush = {{"pg1", 1000}, {"pg2", 950}};
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].target, "pg1");
}

TEST_F(SwitchoverTest, ScheduledSwitchoverWaitsForItsTime) {
  SteadyLeader();
  tweak_ = [](Inputs& in) { in.wall_now = 1000; };
  cluster_.failover = Json{{"leader", "pg0"}, {"member", "pg1"}, {"scheduled_at", IsoTimestamp(1010)}};
  EXPECT_TRUE(Types(Run()).empty()) << "before its time the leader carries on";
  tweak_ = [](Inputs& in) { in.wall_now = 1010.5; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDemote});
  tweak_ = [](Inputs& in) { in.wall_now = 1100; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover}) << "long past: stale";
}

TEST_F(SwitchoverTest, RequestForAnotherLeaderOrFulfilledIsCleanedUp) {
  SteadyLeader();
  cluster_.failover = Json{{"leader", "pgX"}, {"member", "pg1"}};
  EXPECT_EQ(Types(Run()).front(), AT::kDeleteFailover);
  cluster_.failover = Json{{"leader", "pgX"}, {"member", "pg0"}};  // the switchover that made us leader
  EXPECT_EQ(Types(Run()).front(), AT::kDeleteFailover);
}

TEST_F(SwitchoverTest, CandidatePromotesAtOnceAndOthersStepAside) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  cluster_.failover = Json{{"leader", "pg9"}, {"member", "pg0"}};
  RunningReplica();
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kPromote})) << "no peer check for the candidate";
  cluster_.failover = Json{{"leader", "pg9"}, {"member", "pg1"}};
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
    in.clean_demote = true;
  };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartReplica});
}

// ---- Issue 5: synchronous replication ----

TEST_F(SyncDecideTest, AddingAStandbyChangesPostgresFirstAndPublishesOnlyOnceItIsSyncAndCaughtUp) {
  SyncLeader();
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", nullptr}};
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
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg1"}};
  local_.sync_names = "\"pg1\"";
  Streaming("pg2", 950);  // pg1 disconnected
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kWriteSync, AT::kSetSyncNames}))
      << "pg1 leaves `sync` before PostgreSQL stops waiting for it, and the replacement is added in the same cycle";
  EXPECT_EQ(SyncOf(d), std::vector<std::string>{});
  EXPECT_EQ(NamesOf(d), "\"pg2\"");
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", nullptr}};
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
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", nullptr}};
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
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", nullptr}};
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
  cluster_.sync = Json{{"leader", "pgX"}, {"sync_standby", "pg1"}};
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_NE(d.message.find("synchronous mode"), std::string::npos);
  cluster_.sync = Json{{"leader", "pgX"}, {"sync_standby", "pg0,pg1"}};
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kCheckPeers});
  cluster_.sync = Json{{"leader", "pgX"}, {"sync_standby", nullptr}};
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kWait}) << "no synchronous standby: only the former leader";
}

TEST_F(SyncDecideTest, CrashedPrimaryHandsOverToARunningSyncStandby) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg1"}};
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReleaseLeader})
      << "its unacknowledged commits must not be served: the sync standby has every acknowledged one";
  cluster_.members["pg1"].state = "stopped";
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kStartPrimary}) << "no standby to hand over to: restart in place";
}

TEST_F(SyncDecideTest, SwitchoverOnlyToASyncStandby) {
  SyncLeader();
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg2"}};
  local_.sync_names = "\"pg2\"";
  Streaming("pg2", 1000, "sync");
  cluster_.failover = Json{{"leader", "pg0"}, {"member", "pg1"}};
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDeleteFailover});
  cluster_.failover = Json{{"leader", "pg0"}};
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].target, "pg2");
}

TEST_F(SyncDecideTest, CrashRestartInPlaceClosesTheClientGateOnlyAfterACrash) {
  FormerPrimaryStopped(1);
  SetLeader("pg0");
  cluster_.members["pg1"].state = "stopped";
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg1"}};
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartPrimary});
  EXPECT_EQ(d.actions[0].mode, Mode::kGated) << "recovered commits nobody acknowledged must not reach clients";
  local_.cluster_state = "shut down";
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartPrimary});
  EXPECT_EQ(d.actions[0].mode, Mode::kNone) << "a clean shutdown waited for its standbys: nothing to hide";
  local_.cluster_state = "in crash recovery";
  tweak_ = nullptr;
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartPrimary});
  EXPECT_EQ(d.actions[0].mode, Mode::kNone) << "without synchronous mode every commit was acknowledged alone anyway";
}

TEST_F(SyncDecideTest, ClientGateOpensOnlyOnceASyncStandbyFlushedTheEndOfRecovery) {
  SyncLeader();
  local_.gated = true;
  local_.gate_lsn = 1000;
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg1"}};
  local_.sync_names = "\"pg1\"";
  Streaming("pg1", 999, "sync");
  auto has_open = [](const Decision& d) {
    for (const auto& a : d.actions) {
      if (a.type == AT::kOpenGate) return true;
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
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", nullptr}};
  local_.sync_names = "";
  MonoTime since = clock_.Now();
  auto gate_opens = [&](Duration elapsed) {
    auto base = tweak_;
    tweak_ = [&, base, elapsed](Inputs& in) {
      base(in);
      in.gate_since = since;
      in.now = since + elapsed;
      in.lease_deadline = in.now + Duration(static_cast<int64_t>(in.dynamic.ttl) * 1000);  // renewed just now
    };
    Decision d = Run();
    tweak_ = base;
    for (const auto& a : d.actions) {
      if (a.type == AT::kOpenGate) return true;
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
  c.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg1"}};
  EXPECT_EQ(SynchronousNote(dyn, c, "pg0"), "");
  EXPECT_EQ(SynchronousNote(dyn, c, "pg1"), "waiting") << "the key belongs to another leader";
}

TEST_F(SyncDecideTest, SwitchoverWithoutCandidatePicksTheSyncStandbyWithTheHighestFlushedLsn) {
  SyncLeader();
  AddMember("pg3", 5435);
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg1,pg2"}};
  local_.sync_names = "2 (\"pg1\",\"pg2\")";
  Streaming("pg1", 800, "sync");
  Streaming("pg2", 900, "sync");
  Streaming("pg3", 1000, "async");
  tweak_ = [](Inputs& in) {
    in.dynamic.synchronous_mode = true;
    in.dynamic.synchronous_node_count = 2;
  };
  cluster_.failover = Json{{"leader", "pg0"}};
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].target, "pg2") << "pg3 has more WAL but is not synchronous";
}

TEST_F(SyncDecideTest, TurningSynchronousModeOffStopsTheWaitAndRemovesTheSyncKey) {
  SyncLeader();
  cluster_.sync = Json{{"leader", "pg0"}, {"sync_standby", "pg1"}};
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

TEST_F(DecideTest, FormerPrimaryStartedWithoutALeaderStopsToRewindWhenALeaderAppears) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  cluster_.members["pg1"].timeline = 2;
  SetLeader("pg1");
  RunningReplica();
  local_.timeline = 1;
  tweak_ = [](Inputs& in) {
    in.unreconciled_primary = true;
    in.dynamic.use_pg_rewind = true;
  };
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(d.actions[0].mode, Mode::kOffline);
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
  tweak_ = [](Inputs& in) { in.unreconciled_primary = true; };
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kDemote});
}

TEST_F(DecideTest, InSyncModeTheFormerLeadersWalDoesNotBlockASyncStandby) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  RunningReplica(500);
  cluster_.sync = Json{{"leader", "pg1"}, {"sync_standby", "pg0"}};
  peers_ = {PeerStatus{"pg1", true, false, 900, false, 1}};
  peers_checked_ = true;
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kPromote}));
  tweak_ = nullptr;  // asynchronous: the more advanced former leader wins
  EXPECT_NE(Run().message.find("Wal position of pg1 is ahead"), std::string::npos);
}

TEST_F(DecideTest, InSyncModeAnAsynchronousStandbyAheadDoesNotBlockTheSyncStandby) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433);
  AddMember("pg2", 5434);
  RunningReplica(500);
  cluster_.sync = Json{{"leader", "pg1"}, {"sync_standby", "pg0"}};
  // pg1 (the former leader) is down; pg2 streamed asynchronously and received more WAL than we did.
  peers_ = {PeerStatus{"pg2", true, false, 700, false, 1}};
  peers_checked_ = true;
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kAttemptLeader, AT::kPromote}))
      << "pg2 may not be promoted, so it must not keep the synchronous standby from it either";
  cluster_.sync = Json{{"leader", "pg1"}, {"sync_standby", "pg0,pg2"}};
  EXPECT_NE(Run().message.find("Wal position of pg2 is ahead"), std::string::npos)
      << "between two synchronous standbys the one with more WAL wins";
  tweak_ = nullptr;
  EXPECT_NE(Run().message.find("Wal position of pg2 is ahead"), std::string::npos) << "asynchronous: everyone counts";
}

}  // namespace
}  // namespace pgw::ha
