// The read pool's time threshold (read_max_lag_time): a replica's lag in time is how long ago the router first saw
// the leader past the replica's position (LeaderPositionHistory), and a replica further behind than the threshold
// leaves the read pool, returning once at most half of it behind.
#include <gtest/gtest.h>

#include "router/topology.h"
#include "test_util.h"

namespace pgw::router {
namespace {

MonoTime At(int64_t ms) { return MonoTime(Duration(ms)); }

TEST(RouterLagTimeTest, BehindIsTheTimeSinceTheLeaderFirstPassedThePosition) {
  LeaderPositionHistory h;
  EXPECT_EQ(h.Behind(100, At(0)), std::nullopt);  // nothing seen: unknown, not zero
  h.Observe(std::string("pg0"), 1000, At(10000));
  h.Observe(std::string("pg0"), 1000, At(11000));  // unchanged: the first sighting counts
  h.Observe(std::string("pg0"), 2000, At(12000));
  h.Observe(std::string("pg0"), 3000, At(15000));
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.Behind(3000, At(20000)), Duration(0));     // at the latest position
  EXPECT_EQ(h.Behind(5000, At(20000)), Duration(0));     // past it (its key is newer than the leader's)
  EXPECT_EQ(h.Behind(2500, At(20000)), Duration(5000));  // the leader passed 2500 at 15 s
  EXPECT_EQ(h.Behind(2000, At(20000)), Duration(5000));  // at 2000 exactly: behind since 3000 was seen
  EXPECT_EQ(h.Behind(1999, At(20000)), Duration(8000));
  EXPECT_EQ(h.Behind(10, At(20000)), Duration(10000));  // older than the history: at least its age
}

TEST(RouterLagTimeTest, HistoryIsForgottenOnALeaderChangeOrAPositionGoingBack) {
  LeaderPositionHistory h;
  h.Observe(std::string("pg0"), 1000, At(0));
  h.Observe(std::string("pg0"), 2000, At(1000));
  h.Observe(std::nullopt, 9000, At(2000));  // no leader: nothing recorded
  h.Observe(std::string("pg0"), std::nullopt, At(2000));
  EXPECT_EQ(h.size(), 2u);
  h.Observe(std::string("pg1"), 2500, At(5000));  // new leader
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.Behind(1000, At(6000)), Duration(1000));  // only the new leader's history counts
  h.Observe(std::string("pg1"), 100, At(7000));         // backwards: start again
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.Behind(50, At(8000)), Duration(1000));
}

TEST(RouterLagTimeTest, HistoryIsBoundedAndKeepsALowerBound) {
  LeaderPositionHistory h;
  for (size_t i = 0; i < LeaderPositionHistory::kMaxEntries + 10; ++i) {
    h.Observe(std::string("pg0"), static_cast<int64_t>(i + 1) * 100, At(static_cast<int64_t>(i) * 10));
  }
  EXPECT_LE(h.size(), LeaderPositionHistory::kMaxEntries);
  EXPECT_GT(h.size(), LeaderPositionHistory::kMaxEntries / 4);
  MonoTime now = At(static_cast<int64_t>(LeaderPositionHistory::kMaxEntries + 10) * 10);
  // Position 0 is older than what is kept: its lag is at least the age of the oldest entry, never more than the truth.
  auto lag = h.Behind(0, now);
  ASSERT_TRUE(lag.has_value());
  EXPECT_GT(*lag, Duration(0));
  EXPECT_LE(*lag, now - At(0));
}

// pg0 leads; pg1 replays at `pg1_pos`, pg2 keeps up. The history saw the leader at 1000 (t=0), 2000 (t=10 s) and
// 3000 (t=20 s).
Topology Cluster(int64_t pg1_pos, LeaderPositionHistory* h, MonoTime now) {
  ClusterView v = pgw::testing::LeaderAndTwoReplicas(3000, 0, 0);
  v.members["pg1"].replay_lsn = pg1_pos;
  Topology t = BuildTopology(v);
  AddLagTimes(&t, h, now);
  return t;
}

LeaderPositionHistory Seen() {
  LeaderPositionHistory h;
  h.Observe(std::string("pg0"), 1000, At(0));
  h.Observe(std::string("pg0"), 2000, At(10000));
  h.Observe(std::string("pg0"), 3000, At(20000));
  return h;
}

TEST(RouterLagTimeTest, ReplicaTooFarBehindInTimeLeavesThePoolAndReturnsAtHalf) {
  ReadPolicy p;
  p.max_lag_bytes = 1 << 20;  // the byte threshold alone would keep pg1: it is 2000 bytes behind
  p.max_lag_time = Duration(15000);
  LeaderPositionHistory h = Seen();
  auto load = [](const std::string& n) { return n == "pg2" ? 100 : 0; };
  // At 21 s pg1 (at 1000) has been behind since the leader passed 1000 at 10 s: 11 s, under 15 s.
  Topology t = Cluster(1000, &h, At(21000));
  EXPECT_EQ(t.Find("pg1")->lag_time, Duration(11000));
  EXPECT_EQ(t.Find("pg2")->lag_time, Duration(0));
  EXPECT_EQ(t.Find("pg0")->lag_time, std::nullopt);  // the leader is what lag is measured from
  std::set<std::string> lagging = NextLagging(t, p, {});
  EXPECT_TRUE(lagging.empty());
  EXPECT_EQ(RouteRead(t, p, lagging, load).server->name, "pg1");
  // At 26 s: 16 s behind, out, with the reason in the message.
  t = Cluster(1000, &h, At(26000));
  lagging = NextLagging(t, p, lagging);
  EXPECT_EQ(lagging, std::set<std::string>{"pg1"});
  auto why = ReadEvictionReason(t, "pg1", p, lagging);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("16000 ms behind the leader (read_max_lag_time 15000 ms)"), std::string::npos) << *why;
  EXPECT_EQ(RouteRead(t, p, lagging, load).server->name, "pg2");
  // pg1 replays up to 2000 at 27 s: 7 s behind (since 3000 was seen at 20 s), under 15 s but above half (7.5 s is
  // the mark; 7 s is under it): back in.
  t = Cluster(2000, &h, At(27000));
  EXPECT_EQ(t.Find("pg1")->lag_time, Duration(7000));
  lagging = NextLagging(t, p, lagging);
  EXPECT_TRUE(lagging.empty());
  // Hysteresis: out again at 16 s, then 10 s behind (under the threshold, above half) keeps it out.
  lagging = NextLagging(Cluster(1000, &h, At(26000)), p, {});
  ASSERT_EQ(lagging, std::set<std::string>{"pg1"});
  t = Cluster(2000, &h, At(30000));
  lagging = NextLagging(t, p, lagging);
  EXPECT_EQ(lagging, std::set<std::string>{"pg1"});
  why = ReplicaRefusal(t, *t.Find("pg1"), p, lagging);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("returns at half of read_max_lag_time, 7500 ms"), std::string::npos) << *why;
}

TEST(RouterLagTimeTest, TimeThresholdOffOrLagUnknownLeavesTheByteRuleAlone) {
  ReadPolicy p;
  p.max_lag_bytes = 1 << 20;
  LeaderPositionHistory h = Seen();
  // Off (0): 16 s behind does not matter.
  Topology t = Cluster(1000, &h, At(26000));
  EXPECT_TRUE(NextLagging(t, p, {}).empty());
  EXPECT_EQ(ReplicaRefusal(t, *t.Find("pg1"), p, {}), std::nullopt);
  // On, but no history (the router just started): only bytes count.
  p.max_lag_time = Duration(15000);
  LeaderPositionHistory fresh;
  t = Cluster(1000, &fresh, At(26000));
  EXPECT_EQ(t.Find("pg1")->lag_time, Duration(0)) << "the first sighting is now: pg1 was not seen behind before";
  EXPECT_TRUE(NextLagging(t, p, {}).empty());
}

}  // namespace
}  // namespace pgw::router
