#include <gtest/gtest.h>

#include "agent/peers.h"
#include "agent/status_json.h"
#include "test_util.h"

namespace pgw {
namespace {

class StatusJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = testing::Load(testing::kGoodConfig);
    ASSERT_TRUE(r.errors.empty());
    cfg_ = r.config;
    s_.pg_state = ha::PgState::kRunning;
    s_.local.data = LocalView::Data::kValid;
    s_.local.running = s_.local.query_ok = true;
    s_.local.timeline = 1;
    s_.local.sysid = "771";
  }
  std::shared_ptr<const Config> cfg_;
  NodeState s_;
};

TEST_F(StatusJsonTest, LeaderShape) {
  s_.is_leader = true;
  s_.local.wal_position = 67108960;
  Json j = StatusJson(*cfg_, s_);
  EXPECT_EQ(j["role"], "primary");
  EXPECT_EQ(j["xlog"], (Json{{"location", 67108960}}));
  EXPECT_EQ(j["database_system_identifier"], "771");
  EXPECT_EQ(j["patroni"]["scope"], "demo");
  EXPECT_EQ(j["patroni"]["name"], "pg0");
}

TEST_F(StatusJsonTest, ReplicaShapeAndLagCheck) {
  s_.local.in_recovery = true;
  s_.local.received_location = 100;
  s_.local.replayed_location = 90;
  s_.last_lsn = 2 * 1024 * 1024;
  Json j = StatusJson(*cfg_, s_);
  EXPECT_EQ(j["role"], "replica");
  EXPECT_EQ(j["xlog"]["replayed_location"], 90);
  EXPECT_TRUE(j["xlog"]["replayed_timestamp"].is_null());
}

TEST_F(StatusJsonTest, ClientGateAndRunningAloneAreShown) {
  s_.is_leader = true;
  Json j = StatusJson(*cfg_, s_);
  EXPECT_FALSE(j.contains("client_gate"));
  EXPECT_FALSE(j.contains("synchronous"));
  s_.local.gated = true;
  s_.sync_note = "alone";
  j = StatusJson(*cfg_, s_);
  EXPECT_EQ(j["client_gate"], "closed");
  EXPECT_EQ(j["synchronous"], "alone");
}

TEST_F(StatusJsonTest, SyncStandbyIsShownOnReplicasOnly) {
  s_.sync_standby = true;
  EXPECT_FALSE(StatusJson(*cfg_, s_).contains("sync_standby")) << "a primary is never a sync standby";
  s_.local.in_recovery = true;
  auto j = StatusJson(*cfg_, s_);
  EXPECT_EQ(j["sync_standby"], true);
  s_.sync_standby = false;
  EXPECT_FALSE(StatusJson(*cfg_, s_).contains("sync_standby"));
}

TEST(PeerStatusTest, ParsesPatroniJson) {
  auto p = ParsePeerStatus("pg1", R"({"role":"replica","xlog":{"received_location":10,"replayed_location":7},
                                      "tags":{"failover_priority":3}})");
  EXPECT_TRUE(p.reachable);
  EXPECT_FALSE(p.is_primary);
  EXPECT_EQ(p.wal_position, 10);
  EXPECT_EQ(p.failover_priority, 3);
  auto q = ParsePeerStatus("pg2", R"({"xlog":{"location":99},"tags":{"nofailover":true}})");
  EXPECT_TRUE(q.is_primary);
  EXPECT_TRUE(q.nofailover);
  EXPECT_FALSE(ParsePeerStatus("pg3", "<html>").reachable);
}

// A peer's /patroni as another program writes it: Patroni publishes tags as written in its YAML (`nofailover: 1`),
// and fields of unexpected types must not throw. Reading `nofailover` as a JSON boolean threw type_error 302, which
// escaped the peer check of the HA loop.
TEST(PeerStatusTest, TagsAreReadByTruthinessAndOddTypesDoNotThrow) {
  ha::PeerStatus p;
  ASSERT_NO_THROW(p = ParsePeerStatus("pg1", R"({"xlog":{"received_location":"10","replayed_location":7.5},
                                                "tags":{"nofailover":1}})"));
  EXPECT_TRUE(p.reachable);
  EXPECT_TRUE(p.nofailover);
  EXPECT_EQ(p.wal_position, 0);
  ASSERT_NO_THROW(p = ParsePeerStatus("pg2", R"({"xlog":{"received_location":5},"tags":{"nofailover":"yes"}})"));
  EXPECT_TRUE(p.nofailover);
  EXPECT_EQ(p.wal_position, 5);
  ASSERT_NO_THROW(p = ParsePeerStatus("pg3", R"({"tags":{"nofailover":0}})"));
  EXPECT_FALSE(p.nofailover);
}

TEST(PeerStatusTest, PeerCallsCarryOurRestCredentials) {
  PeerTls tls;
  EXPECT_EQ(PeerAuthorization(tls), "") << "no header without restapi.authentication";
  tls.username = "admin";
  tls.password = "s3cret";
  EXPECT_EQ(PeerAuthorization(tls), "Basic YWRtaW46czNjcmV0");
}

TEST_F(StatusJsonTest, FailsafeActiveIsShownOnlyWhenSet) {
  EXPECT_FALSE(StatusJson(*cfg_, s_).contains("failsafe_mode_is_active"));
  s_.failsafe_active = true;
  EXPECT_EQ(StatusJson(*cfg_, s_)["failsafe_mode_is_active"], true);
}

TEST_F(StatusJsonTest, RoleFollowsTheDataPostgreSQLAndTheLeaderKey) {
  EXPECT_STREQ(RoleName(MemberRole::kUninitialized), "uninitialized");
  EXPECT_STREQ(RoleName(MemberRole::kPrimary), "primary");
  EXPECT_STREQ(RoleName(MemberRole::kReplica), "replica");
  EXPECT_STREQ(RoleName(MemberRole::kStandbyLeader), "standby_leader");
  NodeState n;
  EXPECT_EQ(RoleOf(n), MemberRole::kUninitialized) << "no valid data directory";
  n.local.data = LocalView::Data::kValid;
  EXPECT_EQ(RoleOf(n), MemberRole::kReplica) << "stopped with data";
  n.local.running = n.local.query_ok = true;
  EXPECT_EQ(RoleOf(n), MemberRole::kPrimary) << "running out of recovery";
  n.local.in_recovery = true;
  EXPECT_EQ(RoleOf(n), MemberRole::kReplica);
  n.standby_leader = true;
  EXPECT_EQ(RoleOf(n), MemberRole::kStandbyLeader);
  EXPECT_EQ(StatusJson(*cfg_, n)["role"], "standby_leader");
}

}  // namespace
}  // namespace pgw
