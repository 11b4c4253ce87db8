// Tools that talk to Patroni today keep working against pgwarden: HAProxy routing by /primary and /replica
// health checks (before and after a switchover), Prometheus (promtool's format check and a real scrape), and every
// view of the synchronous standbys with synchronous_node_count 2.
#include <signal.h>

#include <set>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "net/http_client.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

class ToolingTest : public ClusterFixture {
 protected:
  ToolingTest() : ClusterFixture("tools") {}
  void StartCluster() { ClusterFixture::StartCluster(3); }
  void TearDown() override {
    for (pid_t p : started_) {
      kill(p, SIGTERM);
      if (!WaitFor([&] { return Reap(p); }, seconds(10))) {
        kill(p, SIGKILL);
        WaitFor([&] { return Reap(p); }, seconds(5));
      }
    }
    ClusterFixture::TearDown();
  }
  pid_t Start(const std::vector<std::string>& argv, const std::string& log) {
    auto pid = StartDetached(argv, log);
    EXPECT_TRUE(pid.ok()) << pid.status().message();
    if (pid.ok()) started_.push_back(*pid);
    return pid.ok() ? *pid : 0;
  }
  // Port of the server a new connection through `port` lands on ("" when none).
  std::string ServerPort(int port) {
    return Sql("host=127.0.0.1 port=" + std::to_string(port) +
                   " user=postgres password=" + Sandbox::kSuperuserPassword + " dbname=postgres",
               "SELECT inet_server_port()");
  }
  std::string Get(const std::string& url) {
    HttpClient http;
    HttpRequest req;
    req.url = url;
    req.timeout = Duration(3000);
    auto r = http.Do(req);
    return r.ok() && r->status == 200 ? r->body : "";
  }

  std::vector<pid_t> started_;
};

TEST_F(ToolingTest, HaproxyRoutesWritesToThePrimaryAndReadsToReplicasAcrossASwitchover) {
  if (!PathExists("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy is not installed";
  StartCluster();
  auto ports = FreePorts(2);
  ASSERT_TRUE(ports.ok());
  int wport = (*ports)[0], rport = (*ports)[1];
  std::string cfg =
      "global\n  maxconn 200\n"
      "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n"
      "listen primary\n  bind 127.0.0.1:" +
      std::to_string(wport) +
      "\n"
      "  option httpchk GET /primary\n  http-check expect status 200\n"
      "  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions\n";
  std::string servers;
  for (const auto& n : sb_->nodes()) {
    servers += "  server " + n.name + " 127.0.0.1:" + std::to_string(n.pg_port) + " check port " +
               std::to_string(n.api_port) + "\n";
  }
  cfg += servers + "listen replicas\n  bind 127.0.0.1:" + std::to_string(rport) +
         "\n"
         "  balance roundrobin\n  option httpchk GET /replica\n  http-check expect status 200\n"
         "  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions\n" +
         servers;
  std::string path = dir_->path + "/haproxy.cfg";
  ASSERT_TRUE(WriteFileAtomic(path, cfg, 0644).ok());
  auto check = pgw::Run({"/usr/sbin/haproxy", "-c", "-f", path});
  ASSERT_TRUE(check.ok() && check->Success()) << (check.ok() ? check->output : check.status().message());
  Start({"/usr/sbin/haproxy", "-db", "-f", path}, dir_->path + "/haproxy.log");

  std::string leader = LeaderKey();
  auto port_of = [&](const std::string& n) { return std::to_string(sb_->Node(n)->pg_port); };
  ASSERT_TRUE(WaitFor([&] { return ServerPort(wport) == port_of(leader); }, seconds(20)))
      << "the write port does not reach the leader " << leader;
  // HAProxy starts every server as up and marks it down after `fall` failed checks: wait until the read pool
  // has settled to exactly the two replicas.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::set<std::string> seen;
        for (int i = 0; i < 6; ++i) seen.insert(ServerPort(rport));
        return seen.size() == 2 && seen.count(port_of(leader)) == 0 && seen.count("") == 0;
      },
      seconds(20)))
      << "the read port does not balance over the two replicas only";

  std::string cand;
  for (const auto& n : sb_->nodes()) {
    if (n.name != leader) cand = n.name;
  }
  auto sw =
      pgw::Run({PgwardenctlBin(), "-c", sb_->nodes()[0].config_path, "switchover", "--candidate", cand, "--force"});
  ASSERT_TRUE(sw.ok() && sw->Success()) << (sw.ok() ? sw->output : sw.status().message());
  ASSERT_TRUE(WaitFor([&] { return ServerPort(wport) == port_of(cand); }, seconds(20)))
      << "the write port did not move to " << cand;
  ASSERT_TRUE(WaitFor(
      [&] {
        // The old leader is back as a replica and in the read pool; the new leader is not.
        std::set<std::string> seen;
        for (int i = 0; i < 6; ++i) seen.insert(ServerPort(rport));
        return seen.count(port_of(leader)) == 1 && seen.count(port_of(cand)) == 0;
      },
      seconds(30)))
      << "the read port did not follow the switchover";
}

TEST_F(ToolingTest, MetricsPassPromtoolAndARealPrometheusScrapesThem) {
  if (!PathExists("/usr/bin/promtool") || !PathExists("/usr/bin/prometheus")) {
    GTEST_SKIP() << "prometheus is not installed";
  }
  StartCluster();
  for (const auto& n : sb_->nodes()) {
    std::string text = Get("http://127.0.0.1:" + std::to_string(n.api_port) + "/metrics");
    ASSERT_FALSE(text.empty());
    // Every node has started PostgreSQL: its state machine counted a move to "running".
    EXPECT_NE(text.find("# TYPE pgwarden_pg_state_transitions_total counter\n"), std::string::npos) << text;
    EXPECT_NE(text.find(",to=\"running\",cause="), std::string::npos) << text;
    ProcessOptions o;
    o.stdin_data = text;
    auto r = pgw::Run({"/usr/bin/promtool", "check", "metrics"}, o);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->Success()) << r->output;
  }
  auto port = FreePort();
  ASSERT_TRUE(port.ok());
  std::string targets;
  for (const auto& n : sb_->nodes()) {
    targets += std::string(targets.empty() ? "" : ", ") + "'127.0.0.1:" + std::to_string(n.api_port) + "'";
  }
  std::string cfg =
      "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: pgwarden\n  static_configs:\n"
      "  - targets: [" +
      targets + "]\n";
  ASSERT_TRUE(WriteFileAtomic(dir_->path + "/prometheus.yml", cfg, 0644).ok());
  Start({"/usr/bin/prometheus", "--config.file=" + dir_->path + "/prometheus.yml",
         "--storage.tsdb.path=" + dir_->path + "/tsdb", "--web.listen-address=127.0.0.1:" + std::to_string(*port)},
        dir_->path + "/prometheus.log");
  std::string base = "http://127.0.0.1:" + std::to_string(*port) + "/api/v1/query?query=";
  Json up, primary;
  EXPECT_TRUE(WaitFor(
      [&] {
        up = Json::parse(Get(base + "up%7Bjob%3D%22pgwarden%22%7D%3D%3D1"), nullptr, false);
        return !up.is_discarded() && up["data"]["result"].size() == 3;
      },
      seconds(60)))
      << up.dump();
  EXPECT_TRUE(WaitFor(
      [&] {
        primary = Json::parse(Get(base + "patroni_primary%3D%3D1"), nullptr, false);
        return !primary.is_discarded() && primary["data"]["result"].size() == 1;
      },
      seconds(30)))
      << primary.dump();
  if (!primary.is_discarded() && primary["data"]["result"].size() == 1) {
    EXPECT_EQ(primary["data"]["result"][0]["metric"]["name"], LeaderKey());
  }
}

// synchronous_node_count 2: the agent writes sync_standby as "pgA,pgB"; GET /cluster, each replica's status and
// /sync check, pgwardenctl list and the real patronictl list all show both as synchronous standbys.
TEST_F(ToolingTest, TwoSyncStandbysAreShownEverywhere) {
  ClusterFixture::StartCluster(
      3, [](SandboxSpec& spec) { spec.extra_dcs = "    synchronous_mode: true\n    synchronous_node_count: 2\n"; });
  if (HasFatalFailure()) return;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json sync = Json::parse(Key("sync"), nullptr, false);
        return sync.is_object() && sync.value("sync_standby", Json()).is_string() &&
               sync["sync_standby"].get<std::string>().find(',') != std::string::npos;
      },
      seconds(60)))
      << "the leader never published two synchronous standbys: " << Key("sync");
  std::string leader = Key("leader");
  std::vector<std::string> replicas = ReplicasOf(*sb_, leader);
  ASSERT_EQ(replicas.size(), 2u);
  auto api = [&](const std::string& name, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(sb_->Node(name)->api_port) + path;
  };
  Json cluster = Json::parse(Get(api(leader, "/cluster")), nullptr, false);
  ASSERT_TRUE(cluster.is_object());
  int sync_roles = 0;
  for (const auto& m : cluster["members"]) sync_roles += m.value("role", "") == "sync_standby";
  EXPECT_EQ(sync_roles, 2) << cluster.dump();
  for (const auto& r : replicas) {
    Json st = Json::parse(Get(api(r, "/patroni")), nullptr, false);
    EXPECT_EQ(st.value("sync_standby", false), true) << r << ": " << st.dump();
    EXPECT_FALSE(Get(api(r, "/sync")).empty()) << r << " does not answer 200 on /sync";
  }
  auto list = [&](const std::string& bin) {
    ProcessOptions o;
    o.timeout = Duration(30000);
    auto out = pgw::Run({bin, "-c", sb_->nodes()[0].config_path, "list"}, o);
    return out.ok() ? out->output : out.status().message();
  };
  auto count = [](const std::string& text) {
    int n = 0;
    for (size_t p = text.find("Sync Standby"); p != std::string::npos; p = text.find("Sync Standby", p + 1)) ++n;
    return n;
  };
  std::string ours = list(PgwardenctlBin());
  EXPECT_EQ(count(ours), 2) << ours;
  if (PathExists("/usr/bin/patronictl")) {
    std::string theirs = list("/usr/bin/patronictl");
    EXPECT_EQ(count(theirs), 2) << theirs;
  }
}

}  // namespace
}  // namespace pgw::itest
