// The etcd watch view under one-sided faults, with real etcd, agents and PostgreSQL (issue 10 item 8).
#include "helpers.h"
#include "testkit/forwarder.h"

namespace pgw::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class WatchTest : public ClusterFixture {
 protected:
  WatchTest() : ClusterFixture("watch") {}
};

// A replica's first etcd endpoint freezes: its watch connection stays open and delivers nothing (an etcd member
// cut off from its peers keeps serving its old state the same way), while its other calls fail over to the second
// endpoint. Before the fix the watch was re-created on the frozen endpoint for good and the replica never saw the
// leader key vanish. Now each cycle checks the view against a quorum read, decides on the read when the view is
// behind, and moves the watch; the leader's machine then dies and the replica takes over.
TEST_F(WatchTest, ReplicaWhoseWatchEndpointFreezesStillTakesOverFromADeadLeader) {
  Forwarder fwd0, fwd1;
  ASSERT_GT(fwd0.port(), 0);
  ASSERT_GT(fwd1.port(), 0);
  StartCluster(
      2,
      [&](SandboxSpec& s) {
        FastTiming(s);
        s.node_etcd_hosts = {fwd0.address() + ",{etcd}", fwd1.address() + ",{etcd}"};
      },
      false);
  fwd0.SetTarget(sb_->EtcdEndpoint());
  fwd1.SetTarget(sb_->EtcdEndpoint());
  Status h = sb_->WaitHealthy(Duration(180000));
  ASSERT_TRUE(h.ok()) << h.message();
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  const SandboxNode* replica = nullptr;
  for (const auto& n : sb_->nodes()) {
    if (n.name != leader) replica = &n;
  }
  ASSERT_NE(replica, nullptr);
  Forwarder& frozen = replica->name == sb_->nodes()[0].name ? fwd0 : fwd1;

  frozen.SetMode(Forwarder::Mode::kFreeze);
  // The replica notices its view is behind as soon as the leader's member key changes (every loop).
  EXPECT_TRUE(WaitFor(
      [&] {
        auto log = ReadFile(replica->log_path);
        return log.ok() && log->find("etcd watch view is behind a quorum read") != std::string::npos;
      },
      seconds(20)))
      << "the replica never found its watch view behind";

  auto killed = std::chrono::steady_clock::now();
  KillMachine(leader);
  ASSERT_TRUE(WaitFor([&] { return LeaderKey() == replica->name; }, seconds(40)))
      << "the replica did not take the leader key (leader key: '" << LeaderKey() << "')";
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed).count();
  std::fprintf(stderr, "replica with a frozen first etcd endpoint took over %lld ms after the leader died\n",
               static_cast<long long>(took));
  ASSERT_TRUE(
      WaitFor([&] { return Sql(sb_->Conninfo(replica->name), "SELECT pg_is_in_recovery()") == "f"; }, seconds(20)));
  frozen.SetMode(Forwarder::Mode::kPass);
}

// The primary alone loses etcd (its only endpoint is cut; the replica still reaches etcd): it must stop accepting
// writes before the replica is promoted. Sampled every 50 ms with a fresh connection on each side: the last
// accepted write on the old primary comes before the first moment the replica is out of recovery.
TEST_F(WatchTest, PrimaryAloneCutOffFromEtcdStopsWritingBeforeTheReplicaIsPromoted) {
  Forwarder fwd0, fwd1;
  StartCluster(
      2,
      [&](SandboxSpec& s) {
        FastTiming(s);
        s.node_etcd_hosts = {fwd0.address(), fwd1.address()};
      },
      false);
  fwd0.SetTarget(sb_->EtcdEndpoint());
  fwd1.SetTarget(sb_->EtcdEndpoint());
  Status h = sb_->WaitHealthy(Duration(180000));
  ASSERT_TRUE(h.ok()) << h.message();
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  std::string replica = sb_->nodes()[0].name == leader ? sb_->nodes()[1].name : sb_->nodes()[0].name;
  Forwarder& cut = sb_->nodes()[0].name == leader ? fwd0 : fwd1;
  std::string err;
  Sql(sb_->Conninfo(leader), "CREATE TABLE IF NOT EXISTS cut_probe (at timestamptz)", &err);
  ASSERT_TRUE(err.empty()) << err;

  auto cut_at = std::chrono::steady_clock::now();
  cut.SetMode(Forwarder::Mode::kCut);
  auto since = [&] {
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - cut_at).count();
  };
  int64_t last_write_ms = -1, promoted_ms = -1;
  WaitFor(
      [&] {
        PgConnection c;
        if (c.Connect(sb_->Conninfo(leader), Duration(300)).ok() &&
            c.Query("INSERT INTO cut_probe VALUES (now())").ok()) {
          last_write_ms = since();
        }
        if (Sql(sb_->Conninfo(replica), "SELECT pg_is_in_recovery()") == "f") promoted_ms = since();
        return promoted_ms >= 0;
      },
      Duration(40000), Duration(50));
  std::fprintf(stderr,
               "primary cut off from etcd: last write accepted %lld ms after the cut, replica promoted "
               "after %lld ms\n",
               static_cast<long long>(last_write_ms), static_cast<long long>(promoted_ms));
  ASSERT_GE(promoted_ms, 0) << "the replica was not promoted within 40 s";
  EXPECT_GE(last_write_ms, 0) << "the primary took no write at all after the cut (the probe is broken)";
  EXPECT_LT(last_write_ms, promoted_ms) << "the old primary accepted a write after the replica was promoted";
  EXPECT_EQ(LeaderKey(), replica);
  cut.SetMode(Forwarder::Mode::kPass);
}

}  // namespace
}  // namespace pgw::itest
