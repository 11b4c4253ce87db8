// The router's pure core: topology snapshots from a cluster view, the write and read routing rules, and the
// server start-up state machine (in_hot_standby, retries, held messages).
#include <gtest/gtest.h>

#include <map>

#include "pgwire/codec.h"
#include "router/handshake.h"
#include "router/topology.h"
#include "test_util.h"

namespace pgw::router {
namespace {

using namespace std::chrono_literals;

ClusterView View() { return pgw::testing::LeaderAndTwoReplicas(100000000, 1000, 2000); }

Topology Fresh(const ClusterView& v, MonoTime now) {
  Topology t = BuildTopology(v);
  t.fresh_at = now;
  return t;
}

const MonoTime kNow = MonoTime(Duration(1000000));

TEST(RouterTopologyTest, BuildsServersLagAndTtl) {
  ClusterView v = View();
  v.config = Json{{"ttl", 12}};
  v.members["pg2"].tags = Json{{"noloadbalance", true}};
  Topology t = BuildTopology(v);
  EXPECT_EQ(t.ttl_seconds, 12);
  ASSERT_EQ(t.servers.size(), 3u);
  ASSERT_NE(t.Leader(), nullptr);
  EXPECT_EQ(t.Leader()->name, "pg0");
  EXPECT_EQ(t.Leader()->addr->ToString(), "127.0.0.1:5432");
  EXPECT_EQ(t.Find("pg1")->lag_bytes, 1000);
  EXPECT_EQ(t.Find("pg0")->lag_bytes, 0);
  EXPECT_TRUE(t.Find("pg2")->noloadbalance);
  EXPECT_FALSE(t.Find("pg1")->leader);
  const ClusterView empty;  // named: GCC 12 warns (maybe-uninitialized) on a temporary ClusterView{} here
  EXPECT_EQ(BuildTopology(empty).ttl_seconds, 30);
}

TEST(RouterTopologyTest, WriteTargetChangeIsLeaderNameOrAddress) {
  ClusterView v = View();
  Topology a = BuildTopology(v);
  EXPECT_FALSE(WriteTargetChanged(a, BuildTopology(v)));
  v.members["pg1"].state = "running";  // not the write target
  EXPECT_FALSE(WriteTargetChanged(a, BuildTopology(v)));
  v.members["pg0"].conn = HostPort{"127.0.0.1", 6000};
  EXPECT_TRUE(WriteTargetChanged(a, BuildTopology(v)));
  ClusterView w = View();
  w.leader = LeaderKey{"pg1", 2, 6, 6};
  EXPECT_TRUE(WriteTargetChanged(a, BuildTopology(w)));
  w.leader.reset();
  EXPECT_TRUE(WriteTargetChanged(a, BuildTopology(w)));
}

TEST(RouterRoutingTest, WritesGoToTheLeaderKeyHolderOnly) {
  Topology t = Fresh(View(), kNow);
  auto d = RouteWrite(t, kNow);
  ASSERT_NE(d.server, nullptr) << d.reason;
  EXPECT_EQ(d.server->name, "pg0");
  // The member key says replica (promotion not published yet): the leader key decides; in_hot_standby guards.
  ClusterView v = View();
  v.leader = LeaderKey{"pg1", 2, 6, 6};
  t = Fresh(v, kNow);
  EXPECT_EQ(RouteWrite(t, kNow).server->name, "pg1");
  EXPECT_EQ(RouteWrite(t, kNow, {"pg1"}).server, nullptr);
}

TEST(RouterRoutingTest, NoLeaderNoMemberKeyNoViewMeanNoWrites) {
  ClusterView v = View();
  v.leader.reset();
  auto d = RouteWrite(Fresh(v, kNow), kNow);
  EXPECT_EQ(d.server, nullptr);
  EXPECT_EQ(d.reason, "the cluster has no leader");
  v = View();
  v.members.erase("pg0");
  EXPECT_NE(RouteWrite(Fresh(v, kNow), kNow).reason.find("no member key"), std::string::npos);
  v = View();
  v.members["pg0"].conn.reset();
  EXPECT_NE(RouteWrite(Fresh(v, kNow), kNow).reason.find("conn_url"), std::string::npos);
  EXPECT_EQ(RouteWrite(Topology{}, kNow).reason, "no view of etcd yet");
}

TEST(RouterRoutingTest, WritesStopWhenEtcdIsUnreadableForLongerThanTheTtl) {
  ClusterView v = View();
  v.config = Json{{"ttl", 10}};
  Topology t = Fresh(v, kNow);
  EXPECT_NE(RouteWrite(t, kNow + 10s).server, nullptr);
  auto d = RouteWrite(t, kNow + 10s + 1ms);
  EXPECT_EQ(d.server, nullptr);
  EXPECT_NE(d.reason.find("more than the ttl"), std::string::npos) << d.reason;
  // Reads do not depend on etcd freshness: replicas are read-only whoever leads.
  EXPECT_NE(RouteRead(t, ReadPolicy{}, {}, nullptr).server, nullptr);
}

TEST(RouterRoutingTest, ReadsPickTheLeastLoadedQualifyingReplica) {
  Topology t = Fresh(View(), kNow);
  std::map<std::string, int64_t> load = {{"pg1", 3}, {"pg2", 1}};
  auto out = [&](const std::string& n) { return load[n]; };
  EXPECT_EQ(RouteRead(t, ReadPolicy{}, {}, out).server->name, "pg2");
  load["pg2"] = 3;
  EXPECT_EQ(RouteRead(t, ReadPolicy{}, {}, out).server->name, "pg1");  // tie: by name
  EXPECT_EQ(RouteRead(t, ReadPolicy{}, {}, out, {"pg1"}).server->name, "pg2");
}

TEST(RouterRoutingTest, ReadsSkipLaggingStoppedUntaggedAndUnknownReplicas) {
  ClusterView v = View();
  v.members["pg1"].xlog_location = 100000000 - (2 << 20);  // 2 MB behind
  v.members["pg2"].tags = Json{{"noloadbalance", "yes"}};
  Topology t = Fresh(v, kNow);
  auto d = RouteRead(t, ReadPolicy{}, {}, nullptr);
  EXPECT_EQ(d.server, nullptr) << d.reason;
  EXPECT_EQ(RouteRead(t, ReadPolicy{4 << 20, false}, {}, nullptr).server->name, "pg1");
  v = View();
  v.members["pg1"].state = "starting";
  v.members["pg2"].xlog_location.reset();  // lag unknown while the leader's position is known
  EXPECT_EQ(RouteRead(Fresh(v, kNow), ReadPolicy{}, {}, nullptr).server, nullptr);
  // No leader position to compare with (no leader, no status key): running replicas qualify.
  v = View();
  v.leader.reset();
  Topology nl = Fresh(v, kNow);
  EXPECT_FALSE(nl.leader_position.has_value());
  EXPECT_EQ(RouteRead(nl, ReadPolicy{}, {}, nullptr).server->name, "pg1");
}

TEST(RouterRoutingTest, PrimaryIsTheReadFallbackOnlyWhenAllowed) {
  ClusterView v = View();
  v.members.erase("pg1");
  v.members.erase("pg2");
  Topology t = Fresh(v, kNow);
  EXPECT_EQ(RouteRead(t, ReadPolicy{}, {}, nullptr).server, nullptr);
  auto d = RouteRead(t, ReadPolicy{1 << 20, true}, {}, nullptr);
  ASSERT_NE(d.server, nullptr);
  EXPECT_EQ(d.server->name, "pg0");
  EXPECT_EQ(RouteRead(t, ReadPolicy{1 << 20, true}, {}, nullptr, {"pg0"}).server, nullptr);
}

TEST(RouterRoutingTest, ReadSessionsAreEvictedWhenTheirServerLeavesTheReadPool) {
  ReadPolicy policy;  // 1 MB, no fallback
  Topology t = Fresh(View(), kNow);
  EXPECT_EQ(ReadEvictionReason(t, "pg1", policy, {}), std::nullopt);
  EXPECT_EQ(ReadEvictionReason(t, "pg2", policy, {}), std::nullopt);

  // Behind the threshold: out; back under it: a new session may go there again (RouteRead agrees).
  ClusterView v = View();
  v.members["pg1"].xlog_location = 100000000 - (2 << 20);
  auto why = ReadEvictionReason(Fresh(v, kNow), "pg1", policy, {});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("2097152 bytes behind the leader (read_max_lag 1048576)"), std::string::npos) << *why;
  EXPECT_EQ(ReadEvictionReason(Fresh(v, kNow), "pg1", ReadPolicy{4 << 20, false}, {}), std::nullopt);
  EXPECT_EQ(ReadEvictionReason(t, "pg1", policy, {}), std::nullopt);

  // Not running, tagged noloadbalance, removed.
  v = View();
  v.members["pg1"].state = "stopped";
  v.members["pg2"].tags = Json{{"noloadbalance", true}};
  Topology changed = Fresh(v, kNow);
  why = ReadEvictionReason(changed, "pg1", policy, {});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("not running (state stopped)"), std::string::npos) << *why;
  why = ReadEvictionReason(changed, "pg2", policy, {});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("noloadbalance"), std::string::npos) << *why;
  v = View();
  v.members.erase("pg2");
  why = ReadEvictionReason(Fresh(v, kNow), "pg2", policy, {});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("no longer a member"), std::string::npos) << *why;

  // Promoted: out unless the primary is a read fallback; a fallback session on the primary stays while allowed.
  v = View();
  v.leader = LeaderKey{"pg1", 2, 5, 5};
  v.members["pg1"].role = "primary";
  why = ReadEvictionReason(Fresh(v, kNow), "pg1", policy, {});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("primary"), std::string::npos) << *why;
  EXPECT_EQ(ReadEvictionReason(Fresh(v, kNow), "pg1", ReadPolicy{1 << 20, true}, {}), std::nullopt);
  EXPECT_EQ(ReadEvictionReason(t, "pg0", ReadPolicy{1 << 20, true}, {}), std::nullopt);
  EXPECT_TRUE(ReadEvictionReason(t, "pg0", policy, {}).has_value());
  // No view yet: nothing is known, nothing is closed.
  EXPECT_EQ(ReadEvictionReason(Topology{}, "pg1", policy, {}), std::nullopt);
}

// --- ServerHandshake -------------------------------------------------------------------------------------------

std::string Auth(int32_t sub, const std::string& extra = "") {
  std::string b;
  pgwire::AppendInt32(&b, sub);
  return pgwire::EncodeMessage('R', b + extra);
}
std::string Param(const std::string& k, const std::string& v) { return pgwire::EncodeParameterStatus(k, v); }
std::string Key() { return pgwire::EncodeBackendKeyData({4242, std::string("\1\2\3\4", 4)}); }
std::string Error(const std::string& code) {
  pgwire::ErrorFields e;
  e.sqlstate = code;
  e.message = "the database system is starting up";
  return pgwire::EncodeErrorResponse(e);
}

TEST(RouterHandshakeTest, AuthIsForwardedAndTheRestHeldUntilReadyForQuery) {
  ServerHandshake hs(/*require_writable=*/true);
  std::string out;
  std::string md5 = Auth(5, "salt");
  EXPECT_EQ(hs.OnServerBytes(md5, &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, md5);
  EXPECT_TRUE(hs.forwarded_any());
  out.clear();
  std::string rest = Auth(0) + Param("server_version", "15.4") + Param("in_hot_standby", "off") + Key();
  EXPECT_EQ(hs.OnServerBytes(rest, &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, Auth(0));  // the rest is held
  out.clear();
  // ReadyForQuery split over two reads.
  std::string z = pgwire::EncodeReadyForQuery('I');
  EXPECT_EQ(hs.OnServerBytes(z.substr(0, 3), &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(hs.OnServerBytes(z.substr(3), &out), ServerHandshake::Step::kLinked);
  EXPECT_EQ(out, Param("server_version", "15.4") + Param("in_hot_standby", "off") + Key() + z);
  ASSERT_TRUE(hs.backend_key());
  EXPECT_EQ(hs.backend_key()->pid, 4242);
  EXPECT_EQ(hs.server_version(), "15.4");
}

TEST(RouterHandshakeTest, WritePortWaitsForInHotStandbyOffThroughProbes) {
  ServerHandshake hs(true);
  std::string out;
  std::string all = Auth(0) + Param("in_hot_standby", "on") + Key() + pgwire::EncodeReadyForQuery('I');
  EXPECT_EQ(hs.OnServerBytes(all, &out), ServerHandshake::Step::kAwaitWritable);
  EXPECT_EQ(out, Auth(0));
  EXPECT_TRUE(hs.awaiting_writable());
  out.clear();
  // Still in recovery: the probe's replies are swallowed.
  hs.ProbeSent();
  EXPECT_EQ(hs.OnServerBytes(pgwire::EncodeMessage('I', "") + pgwire::EncodeReadyForQuery('I'), &out),
            ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, "");
  EXPECT_EQ(hs.probes_outstanding(), 0);
  // Promoted: PostgreSQL reports the change before the next ReadyForQuery.
  hs.ProbeSent();
  EXPECT_EQ(
      hs.OnServerBytes(
          pgwire::EncodeMessage('I', "") + Param("in_hot_standby", "off") + pgwire::EncodeReadyForQuery('I'), &out),
      ServerHandshake::Step::kLinked);
  EXPECT_EQ(out,
            Param("in_hot_standby", "on") + Key() + Param("in_hot_standby", "off") + pgwire::EncodeReadyForQuery('I'));
}

TEST(RouterHandshakeTest, ReadPortAndOldServersDoNotWait) {
  ServerHandshake read(false);
  std::string out;
  EXPECT_EQ(read.OnServerBytes(Auth(0) + Param("in_hot_standby", "on") + pgwire::EncodeReadyForQuery('I'), &out),
            ServerHandshake::Step::kLinked);
  // PostgreSQL 13 reports no in_hot_standby: the write port asks (router_recovery_check_test.cc); the read port
  // does not.
  ServerHandshake old(true);
  out.clear();
  EXPECT_EQ(old.OnServerBytes(Auth(0) + pgwire::EncodeReadyForQuery('I'), &out), ServerHandshake::Step::kCheckRecovery);
  EXPECT_EQ(old.in_hot_standby(), "");
  ServerHandshake old_read(false);
  EXPECT_EQ(old_read.OnServerBytes(Auth(0) + pgwire::EncodeReadyForQuery('I'), &out), ServerHandshake::Step::kLinked);
}

TEST(RouterHandshakeTest, CannotConnectNowBeforeAnythingReachedTheClientIsRetried) {
  ServerHandshake hs(true);
  std::string out;
  EXPECT_EQ(hs.OnServerBytes(Error("57P03"), &out), ServerHandshake::Step::kRetry);
  EXPECT_EQ(out, "");
  EXPECT_EQ(hs.error_sqlstate(), "57P03");
  EXPECT_EQ(hs.error(), "the database system is starting up");
  // Without a message field the reason is still given (found by fuzz_router_handshake).
  ServerHandshake bare(true);
  pgwire::ErrorFields e;
  e.sqlstate = "57P03";
  std::string no_message = pgwire::EncodeErrorResponse(e);
  EXPECT_EQ(bare.OnServerBytes(no_message, &out), ServerHandshake::Step::kRetry);
  EXPECT_EQ(bare.error(), "the server cannot accept connections now (57P03)");
  // Any other error is the client's to see (e.g. the database does not exist).
  ServerHandshake other(true);
  EXPECT_EQ(other.OnServerBytes(Error("3D000"), &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, Error("3D000"));
  // After authentication began, even 57P03 goes to the client.
  ServerHandshake late(true);
  out.clear();
  EXPECT_EQ(late.OnServerBytes(Auth(5, "salt") + Error("57P03"), &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, Auth(5, "salt") + Error("57P03"));
}

TEST(RouterHandshakeTest, ChannelBindingMechanismsAreNotOfferedToTheClient) {
  ServerHandshake hs(/*require_writable=*/false);
  std::string out;
  std::string mechs("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0", 34);
  EXPECT_EQ(hs.OnServerBytes(Auth(10, mechs), &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, Auth(10, std::string("SCRAM-SHA-256\0\0", 15)));
  // A TLS client gets the list unchanged (binding holds when the router presents the server's certificate).
  out.clear();
  ServerHandshake tls(false);
  tls.set_offer_channel_binding(true);
  EXPECT_EQ(tls.OnServerBytes(Auth(10, mechs), &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, Auth(10, mechs));
  // Other authentication requests pass unchanged.
  out.clear();
  ServerHandshake md5(false);
  EXPECT_EQ(md5.OnServerBytes(Auth(5, "salt"), &out), ServerHandshake::Step::kContinue);
  EXPECT_EQ(out, Auth(5, "salt"));
}

TEST(RouterHandshakeTest, GarbageFromTheServerFails) {
  ServerHandshake hs(true);
  std::string out;
  std::string bad("R\0\0\0\2", 5);  // length below 4
  EXPECT_EQ(hs.OnServerBytes(bad, &out), ServerHandshake::Step::kFailed);
  EXPECT_FALSE(hs.error().empty());
  ServerHandshake trunc(true);
  EXPECT_EQ(trunc.OnServerBytes(pgwire::EncodeMessage('R', "\0\0"), &out), ServerHandshake::Step::kFailed);
}

}  // namespace
}  // namespace pgw::router
