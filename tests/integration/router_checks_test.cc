// pgwarden-router's server checks against real etcd and PostgreSQL: the read pool's lag hysteresis (a replica that
// fell behind comes back only below read_return_lag), the write port's SELECT pg_is_in_recovery() check (the
// PostgreSQL < 14 path, forced with recovery_check: query since the suite runs PostgreSQL 15), and etcd endpoints
// changed by a reload. Hand-written scope keys point at the sandbox's real servers, so that lag and leadership can be
// set exactly.
#include "router_fixture.h"

namespace pgw::itest {
namespace {

using std::chrono::seconds;

class RouterChecksTest : public RouterFixture {
 protected:
  RouterChecksTest() : RouterFixture("rc") {}

  void PutMember(const std::string& prefix, const std::string& name, const std::string& node, const std::string& role,
                 int64_t xlog) {
    std::string url = "postgres://127.0.0.1:" + std::to_string(PgPort(node)) + "/postgres";
    Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "members/" + name,
                                  R"({"conn_url":")" + url + R"(","role":")" + role +
                                      R"(","state":"running","xlog_location":)" + std::to_string(xlog) + "}"});
  }
};

TEST_F(RouterChecksTest, LaggingReplicaReturnsToTheReadPoolOnlyBelowTheReturnMark) {
  StartCluster(1);
  std::string real = LeaderKey();
  ASSERT_FALSE(real.empty());
  const std::string prefix = "/service/hyst/";
  const int64_t top = 100 << 20;
  PutMember(prefix, "a", real, "primary", top);
  PutMember(prefix, "b", real, "replica", top - 1000);
  Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "leader", "a"});
  StartRouter("hyst", {"--no-leader-wait", "300ms", "--read-max-lag", "1MB", "--read-return-lag", "256kB"});
  Conn r(Via(false));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.Query("SELECT 1"), "1");

  // 2 MB behind: out of the pool, its session closed.
  PutMember(prefix, "b", real, "replica", top - (2 << 20));
  ASSERT_TRUE(WaitFor([&] { return r.Query("SELECT 1") != "1"; }, seconds(5))) << "the read session stayed open";
  // Back under read_max_lag but above read_return_lag: still out (new read sessions find no replica).
  PutMember(prefix, "b", real, "replica", top - (512 << 10));
  ASSERT_TRUE(WaitFor(
      [&] {
        Json s = Admin("/stats");
        for (const auto& sv : s["servers"]) {
          if (sv.value("name", "") == "b" && sv["lag_bytes"].is_number() &&
              sv["lag_bytes"].get<int64_t>() == (512 << 10)) {
            return true;
          }
        }
        return false;
      },
      seconds(5)))
      << Admin("/stats").dump();
  Conn held(Via(false));
  EXPECT_FALSE(held.ok());
  EXPECT_NE(held.error().find("no replica"), std::string::npos) << held.error();
  // At the return mark: back.
  PutMember(prefix, "b", real, "replica", top - (256 << 10));
  std::string err;
  EXPECT_TRUE(WaitFor(
      [&] {
        Conn c(Via(false));
        err = c.error();
        return c.ok() && c.Query("SELECT 1") == "1";
      },
      seconds(5)))
      << err;
  Json stats = Admin("/stats");
  EXPECT_EQ(stats["routing"]["closed"]["replica_left_pool"].get<int>(), 1) << stats.dump();
  EXPECT_EQ(stats["config"]["read_return_lag_bytes"].get<int64_t>(), 256 << 10);
}

TEST_F(RouterChecksTest, RecoveryQueryKeepsWritesOffAServerInRecoveryAndLinksTheLeader) {
  StartCluster(2);
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  std::string replica;
  for (const auto& n : sb_->nodes()) {
    if (n.name != leader) replica = n.name;
  }
  const std::string prefix = "/service/recq/";
  // The leader key names a member whose server is a standby (as if the key moved before the promotion finished).
  PutMember(prefix, "a", leader, "replica", 0);
  PutMember(prefix, "b", replica, "primary", 0);
  Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "leader", "b"});
  StartRouter("recq", {"--no-leader-wait", "1s", "--recovery-check", "query"});
  Conn refused(Via(true));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("still in recovery"), std::string::npos) << refused.error();
  Json stats = Admin("/stats");
  EXPECT_GE(stats["routing"]["recovery_queries"].get<int>(), 2) << stats.dump();  // asked again while it waited
  EXPECT_EQ(stats["routing"]["closed"]["server_not_writable"].get<int>(), 1) << stats.dump();
  EXPECT_EQ(stats["config"]["recovery_check"], "query");

  // The key moves to the real primary: linked after one query, and the session works (the query's replies were
  // swallowed, the client's own start-up messages were not).
  Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "leader", "a"});
  std::string err;
  ASSERT_TRUE(WaitFor(
      [&] {
        Conn c(Via(true));
        err = c.error();
        return c.ok() && c.Query("SELECT pg_is_in_recovery()") == "f";
      },
      seconds(5)))
      << err;
  Conn w(Via(true));
  ASSERT_TRUE(w.ok()) << w.error();
  EXPECT_EQ(w.Query("SELECT current_setting('server_version_num')::int >= 140000"), "t");
  EXPECT_EQ(std::string(PQparameterStatus(w.c, "in_hot_standby") ? PQparameterStatus(w.c, "in_hot_standby") : ""),
            "off");
  stats = Admin("/stats");
  EXPECT_GE(stats["routing"]["write"].get<int>(), 2) << stats.dump();
}

// A reload that names other etcd endpoints moves the router to them once they answer; endpoints that do not answer
// are not switched to (the router keeps the view it has).
TEST_F(RouterChecksTest, EtcdEndpointsChangeOnReload) {
  StartCluster(1);
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  auto closed = FreePorts(1);
  ASSERT_TRUE(closed.ok());
  const std::string nowhere = "http://127.0.0.1:" + std::to_string((*closed)[0]);
  const std::string real = "http://" + sb_->EtcdEndpoint();
  StartRouter(scope_, {"--dcs-url", nowhere, "--no-leader-wait", "300ms"});
  Conn before(Via(true));
  EXPECT_FALSE(before.ok());
  EXPECT_NE(before.error().find("no view of etcd yet"), std::string::npos) << before.error();

  auto with_etcd = [&](const std::string& url) {
    std::vector<std::string> args = router_args_;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--dcs-url") args[i + 1] = url;
    }
    return router::LoadRouterConfig(args, 2);
  };
  router::ReloadPlan plan = router_->Reload(with_etcd(real));
  EXPECT_TRUE(plan.etcd_changed);
  ASSERT_EQ(plan.applied.size(), 1u);
  EXPECT_EQ(plan.applied[0], "dcs_urls: " + nowhere + " -> " + real);
  EXPECT_TRUE(plan.needs_restart.empty());
  std::string err;
  ASSERT_TRUE(WaitFor(
      [&] {
        Conn c(Via(true));
        err = c.error();
        return c.ok() && c.Query("SELECT pg_is_in_recovery()") == "f";
      },
      seconds(10)))
      << err;
  EXPECT_EQ(Admin("/stats")["topology"]["etcd_switches"].get<int>(), 1);

  // Back to an endpoint that does not answer: tried (at least twice), never switched to; writes still routed.
  router_->Reload(with_etcd(nowhere));
  ASSERT_TRUE(WaitFor([&] { return Admin("/stats")["topology"]["etcd_switch_failures"].get<int>() >= 2; }, seconds(10)))
      << Admin("/stats").dump();
  Json stats = Admin("/stats");
  EXPECT_EQ(stats["topology"]["etcd_switches"].get<int>(), 1) << stats.dump();
  EXPECT_EQ(stats.value("write_target", ""), leader) << stats.dump();
  Conn after(Via(true));
  EXPECT_TRUE(after.ok()) << after.error();
}

}  // namespace
}  // namespace pgw::itest
