// Custom bootstrap methods (bootstrap.method) and custom replica creation methods (create_replica_methods) on a
// real cluster (issue 11): the commands are small shell scripts the test writes, run by the agents as argv.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "common/config.h"
#include "helpers.h"

namespace pgw {
namespace {

using namespace itest;

class MethodsTest : public ClusterFixture {
 protected:
  MethodsTest() : ClusterFixture("meth") {}

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = Dir() + "/" + name;
    EXPECT_TRUE(WriteFileAtomic(path, "#!/bin/sh\n" + body, 0755).ok());
    chmod(path.c_str(), 0755);
    return path;
  }
  std::string Bin() { return FindPostgresBinDir(ProcessEnvironment()); }
  // Sets $datadir and $conn from the --datadir= and --connstring= arguments.
  static std::string ParseArgs() {
    return "for a in \"$@\"; do\n"
           "  case \"$a\" in\n"
           "    --datadir=*) datadir=\"${a#--datadir=}\";;\n"
           "    --connstring=*) conn=\"${a#--connstring=}\";;\n"
           "  esac\n"
           "done\n";
  }
  std::string Query(const std::string& node, const std::string& sql) {
    std::string err;
    std::string v = Sql(sb_->Conninfo(node), sql, &err);
    return err.empty() ? v : "error: " + err;
  }
  std::string Log(const SandboxNode& n) {
    auto log = ReadFile(n.log_path);
    return log.ok() ? *log : "";
  }
  std::vector<std::string> Lines(const std::string& path) {
    std::vector<std::string> out;
    auto text = ReadFile(path);
    if (!text.ok()) return out;
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
  }
};

// The bootstrap script makes the data directory itself (initdb, a table with a row, another superuser password),
// with a recovery_conf: pgwarden starts it in archive recovery, waits for it to promote itself (new timeline),
// sets the configured superuser password, and restores the configured pg_hba.conf. A replica joins and has the
// row; the cluster fails over.
TEST_F(MethodsTest, CustomBootstrapCreatesTheClusterThatReplicatesAndFailsOver) {
  std::string args = Dir() + "/boot.args";
  std::string script =
      Script("restore.sh", "set -e\n" + ParseArgs() + "printf '%s\\n' \"$@\" > " + args + "\n\"" + Bin() +
                               "/initdb\" -D \"$datadir\" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null\n"
                               "printf \"CREATE TABLE restored(x int);\\nINSERT INTO restored VALUES (42);\\n"
                               "ALTER ROLE postgres PASSWORD 'not-the-configured-one';\\n\" | \"" +
                               Bin() + "/postgres\" --single -D \"$datadir\" postgres >/dev/null\n");
  StartCluster(2, [&](SandboxSpec& spec) {
    FastTiming(spec);
    spec.extra_bootstrap =
        "  method: restore\n"
        "  restore:\n"
        "    command: " +
        script +
        " --label 'nightly backup'\n"
        "    recovery_conf:\n"
        "      restore_command: 'false'\n"
        "      recovery_target_action: promote\n";
  });
  std::string leader = Key("leader");
  ASSERT_FALSE(leader.empty());
  const SandboxNode* l = sb_->Node(leader);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(Lines(args),
            (std::vector<std::string>{"--label", "nightly backup", "--scope=" + scope_, "--datadir=" + l->data_dir}));
  // The archive recovery ended with a promotion: timeline 2. The configured password works (scram over TCP).
  EXPECT_EQ(Query(leader, "SELECT timeline_id FROM pg_control_checkpoint()"), "2");
  EXPECT_EQ(Query(leader, "SELECT setting FROM pg_settings WHERE name = 'hot_standby'"), "on")
      << "hot_standby was turned off for the recovery only";
  EXPECT_EQ(Query(leader, "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust' AND type = 'host'"), "0")
      << "the temporary trust lines are gone";
  EXPECT_FALSE(PathExists(l->data_dir + "/recovery.signal"));
  for (const auto& n : sb_->nodes()) {
    EXPECT_TRUE(WaitFor([&] { return Query(n.name, "SELECT x FROM restored") == "42"; }, std::chrono::seconds(20)))
        << n.name << ": " << Query(n.name, "SELECT x FROM restored");
  }
  EXPECT_NE(Log(*l).find("running custom bootstrap method restore"), std::string::npos);

  // Failover: the replica takes over when the leader's machine dies.
  KillMachine(leader);
  std::string other = sb_->nodes()[0].name == leader ? sb_->nodes()[1].name : sb_->nodes()[0].name;
  EXPECT_TRUE(WaitFor([&] { return Key("leader") == other && Query(other, "SELECT pg_is_in_recovery()") == "f"; },
                      std::chrono::seconds(30)))
      << "leader " << Key("leader");
  EXPECT_EQ(Query(other, "SELECT x FROM restored"), "42");
}

TEST_F(MethodsTest, FailingCustomBootstrapStopsTheAgentAndCleansUp) {
  std::string script = Script("broken.sh", ParseArgs() +
                                               "mkdir -p \"$datadir/base\"\necho half-restored > "
                                               "\"$datadir/PG_VERSION\"\necho 'no backup found' >&2\nexit 3\n");
  StartCluster(
      1,
      [&](SandboxSpec& spec) { spec.extra_bootstrap = "  method: broken\n  broken:\n    command: " + script + "\n"; },
      false);
  const SandboxNode& n = sb_->nodes()[0];
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(n.pid, &status, WNOHANG) == n.pid; }, std::chrono::seconds(60)))
      << "the agent kept running after the custom bootstrap failed";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  std::string log = Log(n);
  EXPECT_NE(log.find("Failed to bootstrap cluster: custom bootstrap method broken: broken.sh failed (exit code 3)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("no backup found"), std::string::npos) << "the script's output is logged";
  EXPECT_EQ(Etcdctl(sb_->EtcdEndpoint(), {"get", "/service/" + scope_ + "/initialize"}), "");
  EXPECT_FALSE(PathExists(n.data_dir + "/PG_VERSION")) << "the data directory is left behind";
  EXPECT_FALSE(PathExists(n.data_dir + "/base"));
}

// Replicas try [broken, copy, basebackup]: broken leaves junk and fails (the junk is removed), copy records its
// arguments and runs pg_basebackup with the given --connstring, but only once (a lock directory): the second
// replica falls back to the built-in basebackup.
TEST_F(MethodsTest, ReplicaMethodsAreTriedInOrderAndFallBackToBasebackup) {
  std::string d = Dir();
  std::string broken = Script("broken.sh", ParseArgs() + "touch " + d +
                                               "/broken.ran.$$\necho junk > "
                                               "\"$datadir/junk\"\nexit 1\n");
  std::string copy =
      Script("copy.sh", "set -e\n" + ParseArgs() + "mkdir " + d +
                            "/copy.lock || exit 5\n"
                            "printf '%s\\n' \"$@\" > " +
                            d +
                            "/copy.args\n"
                            "test ! -e \"$datadir/junk\"\n\"" +
                            Bin() + "/pg_basebackup\" -D \"$datadir\" -X stream --checkpoint=fast -d \"$conn\"\n");
  StartCluster(3, [&](SandboxSpec& spec) {
    spec.extra_postgresql =
        "  create_replica_methods: [broken, copy, basebackup]\n"
        "  broken:\n    command: " +
        broken +
        "\n"
        "  copy:\n    command: " +
        copy +
        "\n    bucket: b1\n"
        "  basebackup:\n  - checkpoint: fast\n";
  });
  std::string leader = Key("leader");
  const SandboxNode* l = sb_->Node(leader);
  ASSERT_NE(l, nullptr);
  int by_copy = 0, by_basebackup = 0;
  std::string copied;
  for (const auto& n : sb_->nodes()) {
    if (n.name == leader) continue;
    std::string log = Log(n);
    EXPECT_NE(log.find("replica creation method broken: broken.sh failed (exit code 1)"), std::string::npos) << n.name;
    if (log.find("replica has been created using copy") != std::string::npos) {
      ++by_copy;
      copied = n.name;
    }
    if (log.find("replica has been created using basebackup") != std::string::npos) ++by_basebackup;
    EXPECT_FALSE(PathExists(n.data_dir + "/junk")) << n.name;
    EXPECT_EQ(Query(n.name, "SELECT pg_is_in_recovery()"), "t") << n.name;
  }
  EXPECT_EQ(by_copy, 1);
  EXPECT_EQ(by_basebackup, 1);
  ASSERT_FALSE(copied.empty());
  EXPECT_EQ(Lines(d + "/copy.args"),
            (std::vector<std::string>{
                "--bucket=b1", "--scope=" + scope_, "--role=replica", "--datadir=" + sb_->Node(copied)->data_dir,
                "--connstring=dbname=postgres user=replicator host=127.0.0.1 port=" + std::to_string(l->pg_port)}));
  EXPECT_EQ(Log(*l).find("broken.sh"), std::string::npos) << "the leader bootstrapped with initdb";
}

}  // namespace
}  // namespace pgw
