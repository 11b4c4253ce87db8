// SIGHUP reload as a pure diff: what applies live, what needs a restart (and keeps its running value), and that
// credentials are compared but never shown.
#include <gtest/gtest.h>

#include <algorithm>

#include "router/reload.h"

namespace pgw::router {
namespace {

std::shared_ptr<const RouterConfig> Load(const std::string& yaml) {
  auto r = LoadRouterConfigText("scope: demo\ndcs_urls: [http://127.0.0.1:2379]\n" + yaml, "router.yml", {}, 2);
  EXPECT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0]);
  return r.config;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& x) { return x.find(s) != std::string::npos; });
}

TEST(RouterReloadTest, LiveSettingsApplyRestartOnlySettingsAreReportedAndKept) {
  auto running = Load("read_max_lag: 1MB\nworkers: 2\nlisten_write: :7000\n");
  auto loaded = Load(
      "read_max_lag: 2MB\nworkers: 4\nlisten_write: :7100\nlog_level: DEBUG\n"
      "read_fallback_to_primary: true\nno_leader_wait: 1s\nconnect_timeout: 500ms\n"
      "read_max_lag_time: 20s\n");
  ReloadPlan p = PlanReload(*running, *loaded);
  EXPECT_TRUE(Has(p.applied, "read_max_lag: 1048576 -> 2097152"));
  EXPECT_TRUE(Has(p.applied, "log_level: INFO -> DEBUG"));
  EXPECT_TRUE(Has(p.applied, "read_fallback_to_primary: false -> true"));
  EXPECT_TRUE(Has(p.applied, "no_leader_wait: 5000ms -> 1000ms"));
  EXPECT_TRUE(Has(p.applied, "connect_timeout: 2000ms -> 500ms"));
  EXPECT_TRUE(Has(p.applied, "read_return_lag: 524288 -> 1048576"));  // half of read_max_lag, unless set
  EXPECT_TRUE(Has(p.applied, "read_max_lag_time: 0ms -> 20000ms"));
  EXPECT_EQ(p.applied.size(), 7u);
  EXPECT_TRUE(Has(p.needs_restart, "workers: 2 -> 4 (needs a restart; 2 until then)"));
  EXPECT_TRUE(Has(p.needs_restart, "listen_write: 127.0.0.1:7000 -> 127.0.0.1:7100"));
  EXPECT_EQ(p.needs_restart.size(), 2u);
  ASSERT_TRUE(p.next);
  EXPECT_EQ(p.next->read_max_lag_bytes, 2 << 20);
  EXPECT_EQ(p.next->log_level, LogLevel::kDebug);
  EXPECT_EQ(p.next->workers, 2);
  EXPECT_EQ(p.next->listen_write.port, 7000);
}

TEST(RouterReloadTest, NothingChangedEtcdEndpointsApplyLiveScopeNeedsARestart) {
  auto running = Load("");
  ReloadPlan same = PlanReload(*running, *Load(""));
  EXPECT_TRUE(same.applied.empty());
  EXPECT_TRUE(same.needs_restart.empty());
  EXPECT_FALSE(same.etcd_changed);

  RouterConfig moved = *running;
  moved.etcd.endpoints = {HostPort{"10.0.0.1", 2379}};
  moved.scope = "other";
  moved.etcd.password = "s3cret";
  ReloadPlan p = PlanReload(*running, moved);
  // The endpoints and credentials move live (the topology thread switches once the new ones answer).
  EXPECT_TRUE(p.etcd_changed);
  EXPECT_TRUE(Has(p.applied, "dcs_urls: http://127.0.0.1:2379 -> http://10.0.0.1:2379"));
  EXPECT_TRUE(Has(p.applied, "etcd credentials and TLS (patroni_config) changed"));
  for (const auto& s : p.applied) EXPECT_EQ(s.find("s3cret"), std::string::npos) << s;
  EXPECT_EQ(p.applied.size(), 2u);
  EXPECT_TRUE(Has(p.needs_restart, "scope: demo -> other"));
  EXPECT_EQ(p.needs_restart.size(), 1u);
  EXPECT_EQ(p.next->scope, "demo");
  EXPECT_EQ(p.next->etcd.endpoints[0].host, "10.0.0.1");
  EXPECT_EQ(p.next->etcd.password, "s3cret");
}

}  // namespace
}  // namespace pgw::router
