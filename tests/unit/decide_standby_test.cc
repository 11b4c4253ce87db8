// Standby clusters in the decision core (ha/standby.h): bootstrap of the standby leader from the remote primary,
// the standby leader streaming from it, failover inside the standby cluster without promotion, and promotion once
// the standby_cluster section is removed.
#include <gtest/gtest.h>

#include <algorithm>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

class StandbyDecideTest : public DecideTest {
 protected:
  void SetUp() override {
    DecideTest::SetUp();
    standby_.host = "10.0.0.9";
    standby_.port = 5439;
    standby_.primary_slot_name = "standby_b";
    standby_.restore_command = "cp /archive/%f %p";
    standby_.recovery_min_apply_delay_ms = 60000;
    tweak_ = [this](Inputs& in) {
      if (standby_on_) in.dynamic.standby_cluster = standby_;
      in.dynamic.pause = pause_;
    };
  }
  // The upstream of the standby leader: the remote primary, its slot, restore_command and the apply delay, and
  // target_session_attrs=read-write (the slot is on the remote primary).
  Upstream Remote() const {
    return Upstream{HostPort{"10.0.0.9", 5439}, "standby_b", "cp /archive/%f %p", "", 60000, true};
  }
  // A standby cluster of pg0 (this node), pg1 and pg2.
  void Members() {
    cluster_.initialize = "42";
    AddMember("pg0", 5432);
    AddMember("pg1", 5433);
    AddMember("pg2", 5434);
    cluster_.last_lsn = 1000;
  }
  static bool Has(const Decision& d, AT t) {
    auto types = Types(d);
    return std::find(types.begin(), types.end(), t) != types.end();
  }

  StandbyCluster standby_;
  bool standby_on_ = true;
  bool pause_ = false;
};

TEST_F(StandbyDecideTest, FirstNodeClonesFromTheRemotePrimaryInsteadOfInitdb) {
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kAttemptInitialize, AT::kBootstrapStandby}));
  const auto& b = As<BootstrapStandby>(d.actions[1]);
  ASSERT_TRUE(b.address);
  EXPECT_EQ(*b.address, (HostPort{"10.0.0.9", 5439}));
  ASSERT_TRUE(b.upstream);
  EXPECT_EQ(*b.upstream, Remote());
  EXPECT_EQ(d.message, "trying to bootstrap a new standby leader (clone from the remote primary 10.0.0.9:5439)");
}

TEST_F(StandbyDecideTest, RemoteSlotOnlyWithUseSlots) {
  auto t = tweak_;
  tweak_ = [t](Inputs& in) {
    t(in);
    in.dynamic.use_slots = false;
  };
  auto d = Run();
  ASSERT_EQ(d.actions.size(), 2u);
  EXPECT_EQ(As<BootstrapStandby>(d.actions[1]).upstream->slot, "");
  EXPECT_FALSE(As<BootstrapStandby>(d.actions[1]).upstream->read_write) << "no slot: any of the hosts will do";
}

TEST_F(StandbyDecideTest, NofailoverNodeWaitsForTheStandbyLeader) {
  SetConfig("  nofailover: true\n");
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "waiting for standby_leader to bootstrap");
}

TEST_F(StandbyDecideTest, OtherMembersCloneFromTheStandbyLeaderAndCascadeThroughTheirSlot) {
  Members();
  SetLeader("pg1");
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
  EXPECT_EQ(As<Clone>(d.actions[0]).target, "pg1");
  // The cascading replica gets restore_command too (as Patroni), but not the remote's apply delay nor its slot.
  EXPECT_EQ(*As<StartReplica>(d.actions[1]).upstream,
            (Upstream{HostPort{"127.0.0.1", 5433}, "pg0", "cp /archive/%f %p", "", 0}));
}

TEST_F(StandbyDecideTest, StandbyLeaderPointsPostgresAtTheRemotePrimaryNeverPromotes) {
  Members();
  SetLeader("pg0");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};  // it followed pg1 before it won the key
  auto d = Run();
  EXPECT_FALSE(Has(d, AT::kPromote));
  ASSERT_EQ(d.actions.front().type(), AT::kFollow);
  EXPECT_EQ(As<Follow>(d.actions.front()).upstream, Remote());
  EXPECT_EQ(d.message, "promoted self to a standby leader because i had the session lock");
}

TEST_F(StandbyDecideTest, StandbyLeaderFollowingTheRemoteKeepsStatusAndSlotsForItsReplicas) {
  Members();
  SetLeader("pg0");
  RunningReplica(5000);
  local_.upstream = Remote();
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kWriteStatus, AT::kSyncSlots}));
  EXPECT_EQ(As<WriteStatus>(d.actions[0]).optime, 5000);
  EXPECT_EQ(As<SyncSlots>(d.actions[1]).slots, (std::vector<std::string>{"pg1", "pg2"}));
  EXPECT_EQ(d.message, "no action. I am (pg0), the standby leader with the lock");
}

TEST_F(StandbyDecideTest, StandbyLeaderWritesNoSyncStateInSynchronousMode) {
  Members();
  SetLeader("pg0");
  RunningReplica(1000);
  local_.upstream = Remote();
  SetSlots({"pg1", "pg2"});
  auto t = tweak_;
  tweak_ = [t](Inputs& in) {
    t(in);
    in.dynamic.synchronous_mode = true;
  };
  auto d = Run();
  EXPECT_TRUE(d.actions.empty()) << d.message;
}

TEST_F(StandbyDecideTest, StandbyLeaderKeepsTheKeyInMaintenanceMode) {
  Members();
  SetLeader("pg0");
  RunningReplica(1000);
  local_.upstream = Remote();
  SetSlots({"pg1", "pg2"});
  pause_ = true;
  auto d = Run();
  EXPECT_FALSE(Has(d, AT::kReleaseLeader));
  EXPECT_EQ(d.message, "PAUSE: no action. I am (pg0), the standby leader with the lock");
}

TEST_F(StandbyDecideTest, RequestedRestartOfTheStandbyLeaderKeepsItStreamingFromTheRemote) {
  Members();
  SetLeader("pg0");
  RunningReplica(1000);
  local_.upstream = Remote();
  auto t = tweak_;
  tweak_ = [t](Inputs& in) {
    t(in);
    in.restart_requested = true;
  };
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kRestart});
  EXPECT_FALSE(As<Restart>(d.actions[0]).primary) << "in recovery: never started as a primary, no fence";
  EXPECT_EQ(As<Restart>(d.actions[0]).upstream, Remote());
}

TEST_F(StandbyDecideTest, ChangedRecoverySettingsAreReloadedOnTheStandbyLeader) {
  Members();
  SetLeader("pg0");
  RunningReplica(1000);
  local_.upstream = Remote();
  SetSlots({"pg1", "pg2"});
  standby_.restore_command = "cp /other/%f %p";
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kFollow});
  EXPECT_EQ(As<Follow>(d.actions[0]).upstream.restore_command, "cp /other/%f %p");
  EXPECT_EQ(d.message, "no action. I am (pg0), the standby leader with the lock");
}

TEST_F(StandbyDecideTest, ReplicaFollowsTheStandbyLeader) {
  Members();
  SetLeader("pg1");
  RunningReplica();
  SetSlots({"pg2"});  // a replica that may be promoted keeps the other members' slots (ha/slots.h)
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0", "cp /archive/%f %p", "", 0};
  auto d = Run();
  EXPECT_TRUE(d.actions.empty());
  EXPECT_EQ(d.message, "no action. I am (pg0), a secondary, and following a standby leader (pg1)");
}

TEST_F(StandbyDecideTest, StandbyLeaderDiesTheHealthiestReplicaTakesTheKeyAndFollowsTheRemoteWithoutPromoting) {
  Members();  // no leader key: pg1, the standby leader, died
  RunningReplica(1000);
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0", "cp /archive/%f %p", "", 0};
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kCheckPeers});
  peers_ = {PeerStatus{"pg1", false, false, 0, false, 1}, PeerStatus{"pg2", true, false, 900, false, 1}};
  peers_checked_ = true;
  d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kFollow}));
  EXPECT_EQ(As<Follow>(d.actions[1]).upstream, Remote());
  EXPECT_EQ(d.message, "promoted self to a standby leader by acquiring session lock");
}

TEST_F(StandbyDecideTest, LessHealthyReplicaWaitsForTheNewStandbyLeader) {
  Members();
  RunningReplica(900);
  peers_ = {PeerStatus{"pg2", true, false, 1000, false, 1}};
  peers_checked_ = true;
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message,
            "following a different leader because i am not the healthiest node (Wal position of pg2 is "
            "ahead of my wal position)");
}

TEST_F(StandbyDecideTest, FailoverKeyNamingThisNodeMakesItTheStandbyLeader) {
  Members();
  RunningReplica(1000);
  local_.upstream = Remote();
  cluster_.failover = DecodeFailover(Json{{"member", "pg0"}});
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kAttemptLeader});
  EXPECT_EQ(d.message, "promoted self to a standby leader by acquiring session lock");
}

TEST_F(StandbyDecideTest, ReplicaRepointsAtTheNewStandbyLeader) {
  Members();
  SetLeader("pg2");
  RunningReplica();
  SetSlots({"pg1"});  // a replica that may be promoted keeps the other members' slots (ha/slots.h)
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0", "cp /archive/%f %p", "", 0};
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kFollow});
  EXPECT_EQ(As<Follow>(d.actions[0]).upstream,
            (Upstream{HostPort{"127.0.0.1", 5434}, "pg0", "cp /archive/%f %p", "", 0}));
  EXPECT_EQ(As<Follow>(d.actions[0]).target, "pg2");
}

TEST_F(StandbyDecideTest, StoppedStandbyLeaderStartsStreamingFromTheRemote) {
  Members();
  SetLeader("pg0");
  local_.data = LocalView::Data::kValid;
  local_.sysid = "42";
  local_.cluster_state = "shut down in recovery";
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartReplica});
  EXPECT_EQ(*As<StartReplica>(d.actions[0]).upstream, Remote());
  EXPECT_EQ(d.message, "starting as a standby leader because i had the session lock");
}

TEST_F(StandbyDecideTest, StoppedMemberWithoutStandbyLeaderFollowsTheRemote) {
  Members();
  local_.data = LocalView::Data::kValid;
  local_.sysid = "42";
  local_.cluster_state = "shut down in recovery";
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kStartReplica});
  EXPECT_EQ(*As<StartReplica>(d.actions[0]).upstream, Remote());
  EXPECT_EQ(d.message, "trying to follow a remote member because standby cluster is unhealthy");
}

TEST_F(StandbyDecideTest, PrimaryInAStandbyClusterStopsToBecomeTheStandbyLeader) {
  Members();
  SetLeader("pg0");
  RunningPrimary();
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).mode, DemoteMode::kOffline);
  EXPECT_EQ(d.message, "cannot be a real primary in a standby cluster");
}

TEST_F(StandbyDecideTest, RemovingTheSectionPromotesTheStandbyLeader) {
  Members();
  SetLeader("pg0");
  RunningReplica(5000);
  local_.upstream = Remote();
  standby_on_ = false;
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kArmFencing, AT::kPromote}));
  EXPECT_EQ(d.message, "promoted self to leader because I had the session lock");
}

TEST_F(StandbyDecideTest, RemovingTheSectionDropsTheRemoteArchiveFromReplicas) {
  Members();
  SetLeader("pg1");
  RunningReplica();
  SetSlots({"pg2"});  // a replica that may be promoted keeps the other members' slots (ha/slots.h)
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0", "cp /archive/%f %p", "", 0};
  standby_on_ = false;
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kFollow});
  EXPECT_EQ(As<Follow>(d.actions[0]).upstream, (Upstream{HostPort{"127.0.0.1", 5433}, "pg0"}));
  EXPECT_EQ(d.message, "no action. I am (pg0), a secondary, and following a leader (pg1)");
}

// Archive-only standby clusters (restore_command, no host): nothing to stream from, WAL comes from the archive.
class ArchiveStandbyDecideTest : public StandbyDecideTest {
 protected:
  void SetUp() override {
    StandbyDecideTest::SetUp();
    standby_.host = "";
    standby_.port = 5432;
    standby_.create_replica_methods = {"restore"};
    cfg_ = testing::Load(testing::Replace(testing::kGoodConfig, "  pgpass: /tmp/pgpass0\n",
                                          "  pgpass: /tmp/pgpass0\n  restore: {command: /bin/r, no_leader: true}\n"))
               .config;
    ASSERT_TRUE(cfg_);
  }
  // The standby leader's recovery settings: restore_command and the apply delay, no primary_conninfo nor slot.
  static Upstream Archive() { return Upstream{HostPort{}, "", "cp /archive/%f %p", "", 60000}; }
};

TEST_F(ArchiveStandbyDecideTest, FirstNodeRestoresWithoutASourceToCopyFrom) {
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kAttemptInitialize, AT::kBootstrapStandby}));
  const auto& b = As<BootstrapStandby>(d.actions[1]);
  EXPECT_FALSE(b.address) << "only the methods that need no leader can run";
  ASSERT_TRUE(b.upstream);
  EXPECT_EQ(*b.upstream, Archive());
  EXPECT_EQ(d.message, "trying to bootstrap a new standby leader (clone from the remote archive via restore_command)");
}

TEST_F(ArchiveStandbyDecideTest, StandbyLeaderReplayingFromTheArchiveNeedsNoChange) {
  Members();
  SetLeader("pg0");
  RunningReplica();
  local_.upstream = Archive();
  auto d = Run();
  EXPECT_FALSE(Has(d, AT::kFollow));
  EXPECT_FALSE(Has(d, AT::kPromote));
  EXPECT_EQ(d.message, "no action. I am (pg0), the standby leader with the lock");
}

TEST_F(ArchiveStandbyDecideTest, ReplicasCascadeFromTheStandbyLeaderWithTheArchive) {
  Members();
  SetLeader("pg1");
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
  EXPECT_EQ(As<Clone>(d.actions[0]).target, "pg1");
  EXPECT_EQ(*As<StartReplica>(d.actions[1]).upstream,
            (Upstream{HostPort{"127.0.0.1", 5433}, "pg0", "cp /archive/%f %p", "", 0}));
}

TEST_F(ArchiveStandbyDecideTest, RemovingTheSectionPromotesTheStandbyLeader) {
  Members();
  SetLeader("pg0");
  RunningReplica(5000);
  local_.upstream = Archive();
  standby_on_ = false;
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kArmFencing, AT::kPromote}));
}

// Patroni: with the standby leader gone (no leader key) and a bootstrap done, an empty member is created by a
// no_leader method, then follows the remote (here the archive) like any member of a leaderless standby cluster.
TEST_F(ArchiveStandbyDecideTest, WithoutAStandbyLeaderAnEmptyMemberRestoresAndFollowsTheArchive) {
  Members();
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
  EXPECT_FALSE(As<Clone>(d.actions[0]).address);
  ASSERT_TRUE(As<StartReplica>(d.actions[1]).upstream);
  EXPECT_EQ(*As<StartReplica>(d.actions[1]).upstream, Archive());
  EXPECT_EQ(d.message, "trying to bootstrap (without leader)");
}

// With a remote primary, Patroni's leaderless clone has it as its source: every listed method may run, with the
// remote primary's connection string (one no_leader method among them is what allows the attempt).
TEST_F(ArchiveStandbyDecideTest, WithoutAStandbyLeaderAnEmptyMemberClonesFromTheRemotePrimaryWhenThereIsOne) {
  standby_.host = "10.0.0.9";
  standby_.port = 5439;
  Members();
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
  ASSERT_TRUE(As<Clone>(d.actions[0]).address);
  EXPECT_EQ(*As<Clone>(d.actions[0]).address, (HostPort{"10.0.0.9", 5439}));
  EXPECT_EQ(*As<StartReplica>(d.actions[1]).upstream, Remote());
}

TEST_F(ArchiveStandbyDecideTest, WithoutANoLeaderMethodAnEmptyMemberWaits) {
  standby_.create_replica_methods = {"basebackup"};
  Members();
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "waiting for standby_leader to bootstrap");
}

TEST_F(StandbyDecideTest, StandbyClusterRuleOnTheStoredConfiguration) {
  ClusterView c;
  EXPECT_FALSE(IsStandbyCluster(c));
  c.config = Json{{"ttl", 30}, {"standby_cluster", {{"host", "10.0.0.9"}}}};
  EXPECT_TRUE(IsStandbyCluster(c));
  c.config = Json{{"standby_cluster", {{"primary_slot_name", "x"}}}};
  EXPECT_FALSE(IsStandbyCluster(c));
  c.config = Json{{"standby_cluster", nullptr}};
  EXPECT_FALSE(IsStandbyCluster(c));
  c.config = Json{{"standby_cluster", {{"restore_command", "cp /archive/%f %p"}}}};
  EXPECT_TRUE(IsStandbyCluster(c));
}

}  // namespace
}  // namespace pgw::ha
