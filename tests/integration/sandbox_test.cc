// `pgwardenctl sandbox up|status|down` as a user runs it: the CLI, the cluster and the router it starts.
#include <nlohmann/json.hpp>

#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;

// Stops whatever a test's sandbox left running, even when the test failed half-way.
struct SandboxCleanup {
  std::string dir;
  ~SandboxCleanup() {
    auto s = Sandbox::Load(dir);
    if (s.ok()) s->Down(true).ok();
  }
};

TEST(SandboxCliTest, UpStartsARouterThatSendsWritesToTheLeaderAndReadsToTheReplicaAndDownStopsIt) {
  TempDir tmp("sbcli");
  std::string dir = tmp.path + "/sb";
  SandboxCleanup cleanup{dir};
  ProcessOptions o;
  o.timeout = Duration(240000);
  auto up = pgw::Run(
      {PgwardenctlBin(), "sandbox", "up", "--dir", dir, "--nodes", "2", "--ttl", "5", "--retry-timeout", "2"}, o);
  ASSERT_TRUE(up.ok()) << up.status().message();
  ASSERT_EQ(up->exit_code, 0) << up->output;

  auto sb = Sandbox::Load(dir);
  ASSERT_TRUE(sb.ok()) << sb.status().message();
  const SandboxRouter router = sb->router();
  ASSERT_GT(router.pid, 0) << "sandbox.json records no router";
  EXPECT_TRUE(ProcessAlive(router.pid));
  EXPECT_NE(up->output.find("router writes: postgresql://postgres:" + std::string(Sandbox::kSuperuserPassword) +
                            "@127.0.0.1:" + std::to_string(router.write_port) + "/postgres"),
            std::string::npos)
      << up->output;

  std::string leader_port, replica_port;
  for (const auto& n : sb->nodes()) {
    auto body = sb->NodeStatus(n.name);
    ASSERT_TRUE(body.ok()) << body.status().message();
    std::string role = Json::parse(*body).value("role", "");
    (role == "primary" ? leader_port : replica_port) = std::to_string(n.pg_port);
  }
  ASSERT_FALSE(leader_port.empty());
  ASSERT_FALSE(replica_port.empty());
  auto via = [&](int port) {
    return "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres password=" + Sandbox::kSuperuserPassword +
           " dbname=postgres connect_timeout=5";
  };
  std::string err;
  EXPECT_EQ(Sql(via(router.write_port), "SELECT current_setting('port')", &err), leader_port) << err;
  EXPECT_EQ(Sql(via(router.write_port), "SELECT pg_is_in_recovery()", &err), "f") << err;
  // The read port admits the replica once the router has seen it stream (its lag is published every loop).
  std::string read_port;
  EXPECT_TRUE(WaitFor(
      [&] {
        read_port = Sql(via(router.read_port), "SELECT current_setting('port')", &err);
        return read_port == replica_port;
      },
      std::chrono::seconds(20)))
      << "read port reached port '" << read_port << "': " << err;

  auto status = pgw::Run({PgwardenctlBin(), "sandbox", "status", "--dir", dir});
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->output.find("router admin: http://127.0.0.1:" + std::to_string(router.admin_port)),
            std::string::npos)
      << status->output;

  auto down = pgw::Run({PgwardenctlBin(), "sandbox", "down", "--dir", dir, "--wipe"}, o);
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->exit_code, 0) << down->output;
  EXPECT_FALSE(ProcessAlive(router.pid)) << "the router outlived 'sandbox down'";
  EXPECT_FALSE(PathExists(dir));
}

TEST(SandboxCliTest, NoRouterFlagStartsTheClusterAlone) {
  TempDir tmp("sbcli2");
  std::string dir = tmp.path + "/sb";
  SandboxCleanup cleanup{dir};
  ProcessOptions o;
  o.timeout = Duration(240000);
  auto up = pgw::Run({PgwardenctlBin(), "sandbox", "up", "--dir", dir, "--nodes", "1", "--no-router"}, o);
  ASSERT_TRUE(up.ok()) << up.status().message();
  ASSERT_EQ(up->exit_code, 0) << up->output;
  auto sb = Sandbox::Load(dir);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->router().pid, 0);
  EXPECT_EQ(up->output.find("router"), std::string::npos) << up->output;
}

}  // namespace
}  // namespace pgw::itest
