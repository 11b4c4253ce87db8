// A standby cluster (issue 11): cluster B replicates from cluster A's primary through B's standby leader, then
// becomes an independent cluster when its standby_cluster section is removed. Both scopes share one etcd.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "helpers.h"
#include "net/http_client.h"

namespace pgw {
namespace {

using namespace itest;
using Json = nlohmann::json;

class StandbyClusterTest : public ClusterFixture {
 protected:
  StandbyClusterTest() : ClusterFixture("standbya") {}

  void TearDown() override {
    if (b_) {
      if (HasFailure()) PrintLogTails(*b_, "cluster B ");
      Status s = b_->Down(false);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    ClusterFixture::TearDown();
  }

  std::string RoleOf(const SandboxNode& n) {
    auto body = b_->NodeStatus(n.name);
    if (!body.ok()) return "";
    Json j = Json::parse(*body, nullptr, false);
    return j.is_discarded() ? "" : j.value("role", "");
  }

  // Starts cluster A (1 node, with a table) and cluster B (2 nodes, standby_cluster -> A), and waits until B has a
  // standby leader streaming from A and a replica cascading from it.
  void StartBoth(const std::function<void(SandboxSpec&)>& tweak_b = nullptr) {
    StartCluster(1);  // cluster A
    const SandboxNode& a = sb_->nodes()[0];
    std::string err;
    Sql(sb_->Conninfo(a.name), "CREATE TABLE standby_rows(id int primary key, v text)", &err);
    ASSERT_TRUE(err.empty()) << err;
    Sql(sb_->Conninfo(a.name), "INSERT INTO standby_rows VALUES (1, 'written on A before B existed')", &err);
    ASSERT_TRUE(err.empty()) << err;

    SandboxSpec spec;
    spec.dir = Dir() + "/b";
    spec.nodes = 2;
    spec.scope = "standbyb";
    spec.name_prefix = "b";
    spec.pgwarden_bin = PgwardenBin();
    spec.etcd_endpoint = sb_->EtcdEndpoint();
    spec.extra_dcs = "    standby_cluster:\n      host: 127.0.0.1\n      port: " + std::to_string(a.pg_port) + "\n";
    if (tweak_b) tweak_b(spec);
    auto up = Sandbox::Up(spec, log_);
    ASSERT_TRUE(up.ok()) << up.status().message();
    b_ = std::make_unique<Sandbox>(std::move(*up));
    ASSERT_TRUE(WaitFor(
        [&] {
          leader_ = replica_ = nullptr;
          for (const auto& n : b_->nodes()) {
            std::string role = RoleOf(n);
            if (role == "standby_leader") leader_ = &n;
            if (role == "replica") replica_ = &n;
          }
          return leader_ && replica_ &&
                 Sql(b_->Conninfo(leader_->name),
                     "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1";
        },
        std::chrono::seconds(60)))
        << "no standby leader with a streaming replica";
  }
  // Writes row `id` on A and waits until `n` of B has it.
  bool ReachesB(int id, const SandboxNode& n) {
    std::string err;
    Sql(sb_->Conninfo(sb_->nodes()[0].name),
        "INSERT INTO standby_rows VALUES (" + std::to_string(id) + ", 'written on A') ON CONFLICT DO NOTHING", &err);
    if (!err.empty()) ADD_FAILURE() << err;
    return WaitFor(
        [&] {
          return Sql(b_->Conninfo(n.name), "SELECT v FROM standby_rows WHERE id = " + std::to_string(id)) ==
                 "written on A";
        },
        std::chrono::seconds(20));
  }

  std::unique_ptr<Sandbox> b_;
  const SandboxNode* leader_ = nullptr;
  const SandboxNode* replica_ = nullptr;
};

TEST_F(StandbyClusterTest, ReplicatesFromTheRemotePrimaryThenPromotesWhenTheSectionIsRemoved) {
  StartBoth();
  if (HasFatalFailure()) return;
  const SandboxNode& a = sb_->nodes()[0];
  const SandboxNode* leader = leader_;
  const SandboxNode* replica = replica_;
  std::string err;
  EXPECT_EQ(Sql(b_->Conninfo(leader->name), "SELECT pg_is_in_recovery()"), "t");
  EXPECT_EQ(Sql(sb_->Conninfo(a.name), "SELECT application_name FROM pg_stat_replication"), leader->name);
  EXPECT_EQ(RestCall(*leader, "GET", "/standby-leader").first, 200);
  EXPECT_EQ(RestCall(*leader, "GET", "/standby_leader").first, 200);
  EXPECT_EQ(RestCall(*leader, "GET", "/leader").first, 200);
  EXPECT_EQ(RestCall(*leader, "GET", "/primary").first, 503);
  EXPECT_EQ(RestCall(*replica, "GET", "/standby-leader").first, 503);
  EXPECT_EQ(RestCall(*replica, "GET", "/replica").first, 200);
  // The member key says so too, as Patroni writes it.
  std::string member =
      Etcdctl(sb_->EtcdEndpoint(), {"get", "--print-value-only", "/service/standbyb/members/" + leader->name});
  EXPECT_NE(member.find("\"role\":\"standby_leader\""), std::string::npos) << member;
  Json cluster = Json::parse(RestCall(*leader, "GET", "/cluster").second, nullptr, false);
  ASSERT_FALSE(cluster.is_discarded());
  for (const auto& m : cluster["members"]) {
    EXPECT_EQ(m["role"], m["name"] == leader->name ? "standby_leader" : "replica") << cluster.dump();
  }
  // A row written on A reaches both members of B.
  for (const auto& n : b_->nodes()) EXPECT_TRUE(ReachesB(2, n)) << n.name;

  // Removing the section makes B an independent cluster: its leader is promoted, the replica follows it.
  auto patch = RestCall(*leader, "PATCH", "/config", R"({"standby_cluster": null})");
  ASSERT_EQ(patch.first, 200) << patch.second;
  EXPECT_TRUE(WaitFor(
      [&] {
        return Sql(b_->Conninfo(leader->name), "SELECT pg_is_in_recovery()") == "f" && RoleOf(*leader) == "primary";
      },
      std::chrono::seconds(30)))
      << "B's leader was not promoted";
  EXPECT_EQ(RestCall(*leader, "GET", "/primary").first, 200);
  EXPECT_EQ(RestCall(*leader, "GET", "/standby-leader").first, 503);
  Sql(b_->Conninfo(leader->name), "INSERT INTO standby_rows VALUES (3, 'written on B')", &err);
  ASSERT_TRUE(err.empty()) << err;
  EXPECT_TRUE(WaitFor(
      [&] { return Sql(b_->Conninfo(replica->name), "SELECT v FROM standby_rows WHERE id = 3") == "written on B"; },
      std::chrono::seconds(30)))
      << "B's replica does not follow its new primary";
  EXPECT_EQ(Sql(b_->Conninfo(replica->name), "SELECT pg_is_in_recovery()"), "t");
  // A is untouched: B's write is not there, and A still has its own primary.
  EXPECT_EQ(Sql(sb_->Conninfo(a.name), "SELECT count(*) FROM standby_rows WHERE id = 3"), "0");
}

TEST_F(StandbyClusterTest, StandbyLeaderDiesTheReplicaTakesOverWithoutPromoting) {
  // Callbacks of cluster B append their arguments to a file: the survivor's role change is standby_leader (Patroni's
  // word), though it never leaves recovery.
  std::string script = Dir() + "/callback.sh", calls = Dir() + "/callbacks.log";
  ASSERT_TRUE(WriteFileAtomic(script, "#!/bin/sh\necho \"$@\" >> " + calls + "\n", 0755).ok());
  chmod(script.c_str(), 0755);
  auto callback_log = [&] {
    auto t = ReadFile(calls);
    return t.ok() ? *t : std::string();
  };
  StartBoth([&](SandboxSpec& spec) {
    FastTiming(spec);
    spec.extra_postgresql = "  callbacks:\n    on_start: " + script + "\n    on_role_change: " + script + "\n";
  });
  if (HasFatalFailure()) return;
  EXPECT_TRUE(WaitFor([&] { return callback_log().find("on_start standby_leader standbyb") != std::string::npos; },
                      std::chrono::seconds(5)))
      << callback_log();
  const SandboxNode& a = sb_->nodes()[0];
  std::string old_leader = leader_->name, survivor = replica_->name;
  // The standby leader's machine dies: agent, fence supervisor and PostgreSQL.
  auto pm = b_->PostmasterPid(old_leader);
  ASSERT_TRUE(pm.has_value());
  for (pid_t p : FenceSupervisorsOf(leader_->data_dir)) kill(p, SIGKILL);
  kill(leader_->pid, SIGKILL);
  kill(*pm, SIGKILL);
  ASSERT_TRUE(b_->SignalNode(old_leader, SIGKILL, true, Duration(10000)).ok());
  const SandboxNode& s = *b_->Node(survivor);
  EXPECT_TRUE(WaitFor(
      [&] {
        return RoleOf(s) == "standby_leader" &&
               Sql(sb_->Conninfo(a.name), "SELECT application_name FROM pg_stat_replication") == survivor;
      },
      std::chrono::seconds(30)))
      << "the replica did not become the standby leader streaming from A";
  EXPECT_EQ(Sql(b_->Conninfo(survivor), "SELECT pg_is_in_recovery()"), "t") << "a standby leader was promoted";
  EXPECT_EQ(Sql(b_->Conninfo(survivor), "SELECT timeline_id FROM pg_control_checkpoint()"),
            Sql(sb_->Conninfo(a.name), "SELECT timeline_id FROM pg_control_checkpoint()"));
  EXPECT_TRUE(ReachesB(10, s));
  EXPECT_TRUE(
      WaitFor([&] { return callback_log().find("on_role_change standby_leader standbyb") != std::string::npos; },
              std::chrono::seconds(5)))
      << callback_log();
  // The old standby leader comes back as a replica of the new one.
  ASSERT_TRUE(b_->StartNode(old_leader).ok());
  const SandboxNode& back = *b_->Node(old_leader);
  EXPECT_TRUE(WaitFor([&] { return RoleOf(back) == "replica"; }, std::chrono::seconds(30)));
  EXPECT_TRUE(ReachesB(11, back));
  EXPECT_EQ(Sql(b_->Conninfo(survivor), "SELECT application_name FROM pg_stat_replication"), old_leader);
}

// standby_cluster.create_replica_methods: both the standby leader's clone of A and the replica's clone of the
// standby leader run the custom method (defined by postgresql.copy on each member, listed only in the dynamic
// configuration), each with the connection string of its source.
TEST_F(StandbyClusterTest, CreateReplicaMethodsOfTheStandbyClusterAreUsed) {
  std::string runs = Dir() + "/copy.runs";
  std::string script = Dir() + "/copy.sh";
  std::string bin = FindPostgresBinDir(ProcessEnvironment());
  ASSERT_TRUE(
      WriteFileAtomic(script,
                      "#!/bin/sh\nset -e\nfor a in \"$@\"; do\n  case \"$a\" in\n"
                      "    --datadir=*) d=\"${a#--datadir=}\";;\n    --connstring=*) c=\"${a#--connstring=}\";;\n"
                      "  esac\ndone\necho \"$d|$c\" >> " +
                          runs + "\n\"" + bin + "/pg_basebackup\" -D \"$d\" -X stream --checkpoint=fast -d \"$c\"\n",
                      0755)
          .ok());
  chmod(script.c_str(), 0755);
  StartBoth([&](SandboxSpec& spec) {
    spec.extra_dcs += "      create_replica_methods: [copy]\n";
    spec.extra_postgresql = "  copy:\n    command: " + script + "\n";
  });
  ASSERT_NE(leader_, nullptr);
  ASSERT_NE(replica_, nullptr);
  auto text = ReadFile(runs);
  ASSERT_TRUE(text.ok());
  std::string a_port = std::to_string(sb_->nodes()[0].pg_port);
  std::string from_a = leader_->data_dir + "|dbname=postgres user=replicator host=127.0.0.1 port=" + a_port + "\n";
  std::string from_leader = replica_->data_dir +
                            "|dbname=postgres user=replicator host=127.0.0.1 port=" + std::to_string(leader_->pg_port) +
                            "\n";
  EXPECT_EQ(*text, from_a + from_leader);
  EXPECT_TRUE(ReachesB(7, *replica_));
}

}  // namespace
}  // namespace pgw
