// POST /reinitialize goes through the decision core (issue 14): carried out on a node that does not hold the leader
// key while the cluster has a leader (Patroni's rule, pause mode included), refused otherwise with the reason in the
// cycle's message and the rest of the cycle decided as if nothing had been asked.
#include <algorithm>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

class DecideReinitTest : public DecideTest {
 protected:
  void ReplicaOfPg1() {
    cluster_.initialize = "42";
    AddMember("pg1", 5433, "primary");
    SetLeader("pg1");
    RunningReplica();
    local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
  }
  Decision RunWithReinit(bool paused = false) {
    tweak_ = [paused](Inputs& in) {
      in.reinit_requested = true;
      in.dynamic.pause = paused;
    };
    return Run();
  }
};

TEST_F(DecideReinitTest, AReplicaIsWipedAndClonedAgain) {
  ReplicaOfPg1();
  auto d = RunWithReinit();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kReinitialize});
  EXPECT_EQ(d.reason, Reason::kReinitializeRequested);
  EXPECT_EQ(d.message, "reinitializing: stopping PostgreSQL and removing the data directory; the next cycle clones");
}

TEST_F(DecideReinitTest, AStoppedReplicaToo) {
  ReplicaOfPg1();
  local_.running = local_.query_ok = false;
  EXPECT_EQ(Types(RunWithReinit()), std::vector<AT>{AT::kReinitialize});
}

TEST_F(DecideReinitTest, PauseModeDoesNotPreventIt) {
  ReplicaOfPg1();
  EXPECT_EQ(Types(RunWithReinit(/*paused=*/true)), std::vector<AT>{AT::kReinitialize});
}

TEST_F(DecideReinitTest, TheLeaderRefusesAndKeepsLeading) {
  SteadyLeader();
  auto plain = Run();
  auto d = RunWithReinit();
  EXPECT_EQ(Types(d), Types(plain));
  EXPECT_EQ(d.reason, plain.reason);
  EXPECT_EQ(d.message, plain.message + " (reinitialize not done: I am the leader)");
}

TEST_F(DecideReinitTest, RefusedWhileTheClusterHasNoLeader) {
  ReplicaOfPg1();
  cluster_.leader.reset();
  auto d = RunWithReinit();
  auto t = Types(d);
  EXPECT_EQ(std::count(t.begin(), t.end(), AT::kReinitialize), 0);
  EXPECT_NE(d.message.find("(reinitialize not done: the cluster has no leader)"), std::string::npos) << d.message;
}

TEST_F(DecideReinitTest, RefusedWithoutAFreshViewOfEtcd) {
  ReplicaOfPg1();
  LastRenewalAgo(Duration(60000));  // far beyond retry_timeout
  auto d = RunWithReinit();
  auto t = Types(d);
  EXPECT_EQ(std::count(t.begin(), t.end(), AT::kReinitialize), 0);
  EXPECT_NE(d.message.find("(reinitialize not done)"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace pgw::ha
