// The read pool's lag hysteresis: a replica leaves when its lag passes read_max_lag and comes back only once it is
// at or below read_return_lag, so that one hovering around the threshold does not flap in and out.
#include <gtest/gtest.h>

#include "router/topology.h"
#include "test_util.h"

namespace pgw::router {
namespace {

using pgw::testing::MakeMember;

constexpr int64_t kLeaderPos = 100000000;

// pg0 leads at kLeaderPos; pg1 is `pg1_lag` bytes behind, pg2 1000 bytes behind.
Topology WithLag(int64_t pg1_lag) {
  return BuildTopology(pgw::testing::LeaderAndTwoReplicas(kLeaderPos, pg1_lag, 1000));
}

ReadPolicy Policy() {
  ReadPolicy p;
  p.max_lag_bytes = 1 << 20;
  p.return_lag_bytes = 512 << 10;
  return p;
}

TEST(RouterReadPoolTest, LaggingReplicaReturnsOnlyBelowTheLowerMark) {
  ReadPolicy p = Policy();
  std::set<std::string> lagging;
  // In the pool; at the threshold exactly it stays.
  Topology t = WithLag(1 << 20);
  lagging = NextLagging(t, p, lagging);
  EXPECT_TRUE(lagging.empty());
  EXPECT_EQ(ReplicaRefusal(t, *t.Find("pg1"), p, lagging), std::nullopt);
  // Past it: out.
  t = WithLag((1 << 20) + 1);
  lagging = NextLagging(t, p, lagging);
  EXPECT_EQ(lagging, std::set<std::string>{"pg1"});
  EXPECT_TRUE(ReplicaRefusal(t, *t.Find("pg1"), p, lagging).has_value());
  // Back under the threshold but above the lower mark: still out (this is the hysteresis), and sessions there stay
  // closed; the reason says where it returns.
  t = WithLag(600 << 10);
  lagging = NextLagging(t, p, lagging);
  EXPECT_EQ(lagging, std::set<std::string>{"pg1"});
  auto why = ReplicaRefusal(t, *t.Find("pg1"), p, lagging);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("614400 bytes behind"), std::string::npos) << *why;
  EXPECT_NE(why->find("read_return_lag 524288"), std::string::npos) << *why;
  EXPECT_TRUE(ReadEvictionReason(t, "pg1", p, lagging).has_value());
  EXPECT_EQ(RouteRead(t, p, lagging, [](const std::string& n) { return n == "pg2" ? 100 : 0; }).server->name, "pg2");
  // At the lower mark: back in, and RouteRead uses it again.
  t = WithLag(512 << 10);
  lagging = NextLagging(t, p, lagging);
  EXPECT_TRUE(lagging.empty());
  EXPECT_EQ(ReplicaRefusal(t, *t.Find("pg1"), p, lagging), std::nullopt);
  EXPECT_EQ(RouteRead(t, p, lagging, [](const std::string& n) { return n == "pg2" ? 100 : 0; }).server->name, "pg1");
}

TEST(RouterReadPoolTest, HoveringAroundTheThresholdDoesNotFlap) {
  ReadPolicy p = Policy();
  std::set<std::string> lagging;
  int transitions = 0;
  bool out = false;
  // Lag oscillating between 0.9x and 1.1x of the threshold: one exit, no return.
  for (int i = 0; i < 20; ++i) {
    int64_t lag = (i % 2 == 0) ? (1 << 20) * 11 / 10 : (1 << 20) * 9 / 10;
    lagging = NextLagging(WithLag(lag), p, lagging);
    bool now_out = lagging.count("pg1") > 0;
    if (now_out != out) ++transitions;
    out = now_out;
  }
  EXPECT_EQ(transitions, 1);
  EXPECT_TRUE(out);
}

TEST(RouterReadPoolTest, UnknownLagKeepsTheStateAndRemovedMembersAreForgotten) {
  ReadPolicy p = Policy();
  std::set<std::string> lagging = NextLagging(WithLag(2 << 20), p, {});
  ASSERT_EQ(lagging, std::set<std::string>{"pg1"});
  // pg1 reports no position (restarting): it stays marked, so it must catch up before it returns.
  Topology t = WithLag(0);
  for (auto& s : t.servers) {
    if (s.name == "pg1") s.lag_bytes.reset();
  }
  lagging = NextLagging(t, p, lagging);
  EXPECT_EQ(lagging, std::set<std::string>{"pg1"});
  // A member that left the cluster is dropped.
  t = WithLag(0);
  t.servers.erase(t.servers.begin() + 1);
  EXPECT_TRUE(NextLagging(t, p, lagging).empty());
}

// A replica whose replay is paused keeps receiving WAL: its xlog_location (the larger of received and replayed)
// stays with the leader's, but its replay_lsn does not, and a read there sees only what was replayed.
TEST(RouterReadPoolTest, LagIsMeasuredFromTheReplayedPositionWhenPublished) {
  ClusterView v;
  v.revision = 10;
  v.leader = LeaderKey{"pg0", 1, 5, 5};
  v.members["pg0"] = MakeMember("pg0", 5432, "primary", "running");
  v.members["pg1"] = MakeMember("pg1", 5433, "replica", "streaming");
  v.members["pg2"] = MakeMember("pg2", 5434, "replica", "streaming");
  v.members["pg0"].xlog_location = kLeaderPos;
  v.members["pg1"].xlog_location = kLeaderPos;
  v.members["pg1"].replay_lsn = kLeaderPos - (3 << 20);
  v.members["pg2"].xlog_location = kLeaderPos - 1000;  // no replay_lsn (Patroni before 4.1): xlog_location counts
  Topology t = BuildTopology(v);
  EXPECT_EQ(t.Find("pg1")->lag_bytes, std::optional<int64_t>(3 << 20));
  EXPECT_EQ(t.Find("pg2")->lag_bytes, std::optional<int64_t>(1000));
  ReadPolicy p = Policy();
  std::set<std::string> lagging = NextLagging(t, p, {});
  EXPECT_EQ(lagging, std::set<std::string>{"pg1"});
  EXPECT_EQ(RouteRead(t, p, lagging, [](const std::string& n) { return n == "pg2" ? 100 : 0; }).server->name, "pg2");
  // The leader is never held out for lag, even when its member key trails the /status optime (written later in
  // the same loop): it is what lag is measured from.
  v.last_lsn = kLeaderPos + (5 << 20);
  t = BuildTopology(v);
  EXPECT_EQ(NextLagging(t, p, {"pg0"}).count("pg0"), 0u);
}

TEST(RouterReadPoolTest, ReturnMarkDefaultsToHalfTheThreshold) {
  ReadPolicy p;
  p.max_lag_bytes = 1000;
  EXPECT_EQ(p.ReturnLag(), 500);
  p.return_lag_bytes = 800;
  EXPECT_EQ(p.ReturnLag(), 800);
  p.return_lag_bytes = 5000;  // never above the threshold
  EXPECT_EQ(p.ReturnLag(), 1000);
}

}  // namespace
}  // namespace pgw::router
