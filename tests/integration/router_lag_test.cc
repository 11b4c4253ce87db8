// pgwarden-router's read pool against a replica that really falls behind: a real three-node cluster (real etcd, real
// PostgreSQL, agents publishing their member keys every loop_wait = 1 s), one replica's replay paused with
// pg_wal_replay_pause() while the leader writes past read_max_lag. The router learns the lag only from the member
// keys, so every check waits on a condition with a deadline.
#include "router_fixture.h"

namespace pgw::itest {
namespace {

using std::chrono::seconds;

class RouterLagTest : public RouterFixture {
 protected:
  RouterLagTest() : RouterFixture("rlag") {}

  // The router's view of `name` in GET /stats (null when absent).
  Json ServerStats(const std::string& name) {
    Json s = Admin("/stats");
    if (s.is_object() && s["servers"].is_array()) {
      for (const auto& sv : s["servers"]) {
        if (sv.value("name", "") == name) return sv;
      }
    }
    return Json();
  }
  // The lag the router measured for `name`, or -1 when it has none.
  int64_t RouterLag(const std::string& name) {
    Json sv = ServerStats(name);
    return sv.is_object() && sv["lag_bytes"].is_number() ? sv["lag_bytes"].get<int64_t>() : -1;
  }
  // The time lag the router estimated for `name` in ms, or -1 when it has none.
  int64_t RouterLagMs(const std::string& name) {
    Json sv = ServerStats(name);
    return sv.is_object() && sv["lag_time_ms"].is_number() ? sv["lag_time_ms"].get<int64_t>() : -1;
  }
  // The servers (by PostgreSQL port) that `n` read-port connections, held open together, were sent to.
  std::set<std::string> ReadPorts(int n, std::string* err) {
    std::vector<std::unique_ptr<Conn>> held;
    std::set<std::string> ports;
    for (int i = 0; i < n; ++i) {
      held.push_back(std::make_unique<Conn>(Via(false)));
      if (!held.back()->ok()) {
        *err = held.back()->error();
        ports.insert("refused");
        continue;
      }
      ports.insert(ServerPort(*held.back()));
    }
    return ports;
  }
};

TEST_F(RouterLagTest, ReplicaWithReplayPausedLeavesTheReadPoolAndReturnsOnceCaughtUp) {
  StartCluster(3, FastTiming);
  const std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  std::vector<std::string> replicas = ReplicasOf(*sb_, leader);
  ASSERT_EQ(replicas.size(), 2u);
  const std::string paused = replicas[0], other = replicas[1];
  const std::string paused_port = std::to_string(PgPort(paused)), other_port = std::to_string(PgPort(other));
  const int64_t max_lag = 1 << 20, return_lag = 64 << 10;
  StartRouter(scope_, {"--read-max-lag", "1MB", "--read-return-lag", "64kB"});
  std::string err;
  ASSERT_EQ(Sql(sb_->Conninfo(leader), "CREATE TABLE fill (id int, pad text)", &err), "") << err;
  ASSERT_TRUE(err.empty()) << err;

  // Both replicas serve reads: two sessions held together go one to each (fewest connections first).
  const std::set<std::string> both = {paused_port, other_port};
  ASSERT_TRUE(WaitFor([&] { return ReadPorts(2, &err) == both; }, seconds(15))) << err << Admin("/stats").dump();
  // A read session on the replica about to be paused, open before it falls behind (sessions held on the other one
  // meanwhile, so that fewest-connections-first sends the next one there).
  std::unique_ptr<Conn> on_paused;
  std::vector<std::unique_ptr<Conn>> pinned;
  for (int i = 0; i < 4 && !on_paused; ++i) {
    auto c = std::make_unique<Conn>(Via(false));
    ASSERT_TRUE(c->ok()) << c->error();
    if (ServerPort(*c) == paused_port)
      on_paused = std::move(c);
    else
      pinned.push_back(std::move(c));
  }
  ASSERT_TRUE(on_paused) << "no read session reached " << paused;
  pinned.clear();

  // Pause replay; WAL still streams in, but nothing newer is visible there.
  Sql(sb_->Conninfo(paused), "SELECT pg_wal_replay_pause()", &err);
  ASSERT_TRUE(WaitFor([&] { return Sql(sb_->Conninfo(paused), "SELECT pg_get_wal_replay_pause_state()") == "paused"; },
                      seconds(10)));
  // The leader writes (about 1.2 MB of WAL a round, at most 10 rounds) until the router sees the paused replica past
  // read_max_lag.
  int rounds = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (RouterLag(paused) > max_lag) return true;
        if (rounds < 10) {
          ++rounds;
          Sql(sb_->Conninfo(leader), "INSERT INTO fill SELECT g, repeat('x', 1000) FROM generate_series(1, 1000) g",
              &err);
        }
        return false;
      },
      seconds(60)))
      << "after " << rounds << " rounds of inserts: " << err << Admin("/stats").dump();
  // The session on it is closed.
  EXPECT_TRUE(WaitFor([&] { return on_paused->Query("SELECT 1") != "1"; }, seconds(5))) << "the read session stayed";
  EXPECT_GE(Admin("/stats")["routing"]["closed"]["replica_left_pool"].get<int>(), 1);
  // The other replica replays on: once the router sees it within the return mark (the leader's and the replicas'
  // keys are published at different moments, so it too may have looked behind for a moment), new read sessions go
  // only there, even several held together, which fewest-connections-first would have spread over both.
  EXPECT_TRUE(WaitFor(
      [&] {
        int64_t l = RouterLag(other);
        return l >= 0 && l <= return_lag;
      },
      seconds(15)))
      << Admin("/stats").dump();
  EXPECT_GT(RouterLag(paused), max_lag);
  EXPECT_EQ(ReadPorts(4, &err), std::set<std::string>{other_port}) << err << Admin("/stats").dump();

  // Resume: the replica replays what it received and returns once the router sees it within read_return_lag; from
  // the first read session that reaches it, the router's measure of its lag is at most that mark.
  Sql(sb_->Conninfo(paused), "SELECT pg_wal_replay_resume()", &err);
  int64_t lag_at_return = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        if (ReadPorts(2, &err) != both) return false;
        lag_at_return = RouterLag(paused);
        return true;
      },
      seconds(30)))
      << err << Admin("/stats").dump();
  EXPECT_GE(lag_at_return, 0);
  EXPECT_LE(lag_at_return, return_lag);
}

// read_max_lag_time: a replica whose replay is paused while the leader writes a little, far under the byte
// threshold, leaves the read pool once the router sees it behind for longer than the time threshold, and returns
// once it has replayed.
TEST_F(RouterLagTest, ReplicaBehindInTimeLeavesTheReadPoolUnderTheByteThreshold) {
  StartCluster(3, FastTiming);
  const std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  std::vector<std::string> replicas;
  for (const auto& n : sb_->nodes()) {
    if (n.name != leader) replicas.push_back(n.name);
  }
  ASSERT_EQ(replicas.size(), 2u);
  const std::string paused = replicas[0], other = replicas[1];
  const std::string paused_port = std::to_string(PgPort(paused)), other_port = std::to_string(PgPort(other));
  StartRouter(scope_, {"--read-max-lag", "1GB", "--read-max-lag-time", "5s"});
  std::string err;
  ASSERT_EQ(Sql(sb_->Conninfo(leader), "CREATE TABLE tick (id int)", &err), "") << err;
  const std::set<std::string> both = {paused_port, other_port};
  ASSERT_TRUE(WaitFor([&] { return ReadPorts(2, &err) == both; }, seconds(15))) << err << Admin("/stats").dump();

  Sql(sb_->Conninfo(paused), "SELECT pg_wal_replay_pause()", &err);
  ASSERT_TRUE(WaitFor([&] { return Sql(sb_->Conninfo(paused), "SELECT pg_get_wal_replay_pause_state()") == "paused"; },
                      seconds(10)));
  // One small insert per check (a few hundred bytes of WAL): the leader's position moves, the byte lag stays tiny.
  int inserts = 0;
  auto tick = [&] {
    if (inserts < 200) {
      ++inserts;
      Sql(sb_->Conninfo(leader), "INSERT INTO tick VALUES (1)", &err);
    }
  };
  ASSERT_TRUE(WaitFor(
      [&] {
        tick();
        return RouterLagMs(paused) > 5000 && ReadPorts(3, &err) == std::set<std::string>{other_port};
      },
      seconds(30)))
      << inserts << " inserts: " << err << Admin("/stats").dump();
  EXPECT_LT(RouterLag(paused), 1 << 20) << "the byte threshold alone would have kept it";

  Sql(sb_->Conninfo(paused), "SELECT pg_wal_replay_resume()", &err);
  ASSERT_TRUE(WaitFor(
      [&] {
        tick();
        return ReadPorts(2, &err) == both;
      },
      seconds(30)))
      << err << Admin("/stats").dump();
  EXPECT_LE(RouterLagMs(paused), 2500);
}

}  // namespace
}  // namespace pgw::itest
