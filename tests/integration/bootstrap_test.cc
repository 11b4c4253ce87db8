// bootstrap.post_bootstrap, bootstrap.users and bootstrap.pg_hba on a real cluster, and an agent whose bootstrap
// fails stopping with the cause instead of trying again (issue 11).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "common/config.h"
#include "helpers.h"

namespace pgw {
namespace {

using namespace itest;

class BootstrapTest : public ClusterFixture {
 protected:
  BootstrapTest() : ClusterFixture("boot") {}

  // An executable script in the test directory, readable by the unprivileged user the agents run as.
  std::string Script(const std::string& name, const std::string& body) {
    std::string path = Dir() + "/" + name;
    EXPECT_TRUE(WriteFileAtomic(path, "#!/bin/sh\n" + body, 0755).ok());
    chmod(path.c_str(), 0755);
    return path;
  }
  std::string Psql() { return FindPostgresBinDir(ProcessEnvironment()) + "/psql"; }
  std::string Count(const std::string& node, const std::string& sql) {
    std::string err;
    std::string v = Sql(sb_->Conninfo(node), sql, &err);
    return err.empty() ? v : "error: " + err;
  }
};

TEST_F(BootstrapTest, PostBootstrapCreatesARoleAndADatabaseSeenOnTheReplicaToo) {
  // The role and database names come as arguments, so the command line's quoting is exercised as well; the
  // connection string is the last argument, and the password comes through PGPASSFILE.
  std::string script =
      Script("setup.sh",
             "set -e\n"
             "conn=\"$3\"\n"
             "\"" +
                 Psql() +
                 "\" -v ON_ERROR_STOP=1 \"$conn\" -c \"CREATE ROLE \\\"$1\\\" LOGIN\"\n"
                 "\"" +
                 Psql() + "\" -v ON_ERROR_STOP=1 \"$conn\" -c \"CREATE DATABASE $2 OWNER \\\"$1\\\"\"\n");
  StartCluster(2, [&](SandboxSpec& spec) {
    spec.extra_bootstrap = "  post_bootstrap: " + script + " 'app owner' \"appdb\"\n";
    // CREATE DATABASE leaves many dirty buffers: pg_basebackup's default spread checkpoint would take a minute and
    // a half before the replica could clone (Patroni's default is the same).
    spec.extra_postgresql = "  basebackup:\n  - checkpoint: fast\n";
  });
  for (const auto& n : sb_->nodes()) {
    EXPECT_EQ(Count(n.name, "SELECT count(*) FROM pg_roles WHERE rolname = 'app owner'"), "1") << n.name;
    EXPECT_EQ(Count(n.name, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'appdb'"), "app owner")
        << n.name;
  }
}

TEST_F(BootstrapTest, FailingPostBootstrapStopsTheAgentAndCleansUp) {
  std::string script = Script("fail.sh", "echo 'cannot create the application role' >&2\nexit 1\n");
  StartCluster(
      1, [&](SandboxSpec& spec) { spec.extra_bootstrap = "  post_init: " + script + "\n"; }, false);
  const SandboxNode& n = sb_->nodes()[0];
  int status = 0;
  bool exited = WaitFor([&] { return waitpid(n.pid, &status, WNOHANG) == n.pid; }, std::chrono::seconds(60));
  ASSERT_TRUE(exited) << "the agent kept running after a failed post_bootstrap";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  auto log = ReadFile(n.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("Failed to bootstrap cluster: post_bootstrap script " + script + " failed (exit code 1)"),
            std::string::npos)
      << *log;
  EXPECT_NE(log->find("cannot create the application role"), std::string::npos) << "the script's output is logged";
  EXPECT_EQ(log->find("trying to bootstrap a new cluster", log->find("trying to bootstrap a new cluster") + 1),
            std::string::npos)
      << "bootstrap was tried again";
  EXPECT_EQ(Etcdctl(sb_->EtcdEndpoint(), {"get", "/service/" + scope_ + "/initialize"}), "")
      << "the initialize key is left behind";
  EXPECT_FALSE(PathExists(n.data_dir + "/PG_VERSION")) << "the data directory is left behind";
  EXPECT_FALSE(sb_->PostmasterPid(n.name).has_value()) << "PostgreSQL is left running";
}

TEST_F(BootstrapTest, FailingInitdbStopsTheAgentWithoutRetrying) {
  // extra_bootstrap follows the sandbox's initdb list: this line extends it with an option initdb refuses.
  StartCluster(
      1, [](SandboxSpec& spec) { spec.extra_bootstrap = "  - locale: no_such_locale\n"; }, false);
  const SandboxNode& n = sb_->nodes()[0];
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(n.pid, &status, WNOHANG) == n.pid; }, std::chrono::seconds(60)))
      << "the agent kept running after initdb failed";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  auto log = ReadFile(n.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("Failed to bootstrap cluster: initdb: initdb failed"), std::string::npos) << *log;
  EXPECT_EQ(Etcdctl(sb_->EtcdEndpoint(), {"get", "/service/" + scope_ + "/initialize"}), "");
}

TEST_F(BootstrapTest, BootstrapUsersCanLogInWithTheirPassword) {
  StartCluster(1, [](SandboxSpec& spec) {
    spec.extra_bootstrap =
        "  users:\n    admin:\n      password: 'admin%pass'\n      options: [createdb, createrole]\n";
  });
  const SandboxNode& n = sb_->nodes()[0];
  std::string as_admin = "host=127.0.0.1 port=" + std::to_string(n.pg_port) + " dbname=postgres user=admin";
  std::string err;
  // The sandbox's pg_hba has scram-sha-256 for 127.0.0.1: the password is checked.
  EXPECT_EQ(Sql(as_admin + " password='admin%pass'",
                "SELECT rolcreatedb AND rolcreaterole FROM pg_roles "
                "WHERE rolname = current_user",
                &err),
            "t")
      << err;
  err.clear();
  Sql(as_admin + " password=wrong", "SELECT 1", &err);
  EXPECT_NE(err.find("password authentication failed"), std::string::npos) << err;
  auto log = ReadFile(n.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("bootstrap.users: deprecated"), std::string::npos);
}

TEST_F(BootstrapTest, BootstrapPgHbaLinesAreInEffectOnLeaderAndReplica) {
  StartCluster(2, [](SandboxSpec& spec) {
    spec.postgresql_pg_hba = false;
    spec.extra_bootstrap =
        "  pg_hba:\n"
        "  - host replication replicator 127.0.0.1/32 scram-sha-256\n"
        "  - host all app_only 10.11.12.0/24 md5\n";
  });
  for (const auto& n : sb_->nodes()) {
    EXPECT_EQ(Count(n.name,
                    "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NULL AND address = '10.11.12.0' "
                    "AND user_name = '{app_only}' AND auth_method = 'md5'"),
              "1")
        << n.name;
    // Patroni appends the lines to initdb's file: initdb's own lines come first.
    EXPECT_EQ(Count(n.name,
                    "SELECT type || ' ' || array_to_string(database, ',') FROM pg_hba_file_rules "
                    "ORDER BY line_number LIMIT 1"),
              "local all")
        << n.name;
  }
}

// hba_file in postgresql.parameters (Patroni's way of keeping pg_hba.conf outside the data directory, e.g. under
// /etc): PostgreSQL reads that file on the leader and on the cloned replica, pgwarden never writes it nor the data
// directory's pg_hba.conf (the sandbox's postgresql.pg_hba lines are not used), and an edit of the user's file
// takes effect with a reload. Until now only unit tests covered this (ConfFilesTest).
TEST_F(BootstrapTest, ExternalHbaFileIsTheOnePostgresReadsAndPgwardenNeverWrites) {
  std::string hba = Dir() + "/etc-pg/pg_hba.conf";
  ASSERT_TRUE(MakeDirs(Dir() + "/etc-pg", 0755).ok());
  const std::string text =
      "# the user's own file\n"
      "local all all trust\n"
      "host replication replicator 127.0.0.1/32 scram-sha-256\n"
      "host all all 127.0.0.1/32 scram-sha-256\n"
      "host all hba_marker 10.99.0.0/16 md5\n";
  ASSERT_TRUE(WriteFileAtomic(hba, text, 0644).ok());
  StartCluster(2, [&](SandboxSpec& spec) { spec.extra_postgresql = "    hba_file: " + hba + "\n"; });
  for (const auto& n : sb_->nodes()) {
    EXPECT_EQ(Count(n.name, "SHOW hba_file"), hba) << n.name;
    EXPECT_EQ(Count(n.name, "SELECT count(*) FROM pg_hba_file_rules WHERE address = '10.99.0.0'"), "1") << n.name;
    auto own = ReadFile(n.data_dir + "/pg_hba.conf");
    ASSERT_TRUE(own.ok()) << n.name;
    EXPECT_EQ(own->find("pgwarden"), std::string::npos) << n.name << " has a pg_hba.conf written by pgwarden:\n"
                                                        << *own;
  }
  // The user edits the file; a reload through the agent applies it, and the agent leaves it as the user wrote it.
  const std::string edited = text + "host all hba_marker2 10.98.0.0/16 md5\n";
  ASSERT_TRUE(WriteFileAtomic(hba, edited, 0644).ok());
  for (const auto& n : sb_->nodes()) {
    auto r = RestCall(n, "POST", "/reload", "");
    EXPECT_TRUE(r.first == 200 || r.first == 202) << n.name << ": " << r.first << " " << r.second;
  }
  for (const auto& n : sb_->nodes()) {
    EXPECT_TRUE(WaitFor(
        [&] { return Count(n.name, "SELECT count(*) FROM pg_hba_file_rules WHERE address = '10.98.0.0'") == "1"; },
        Duration(20000)))
        << n.name << " did not apply the edited hba_file";
  }
  auto after = ReadFile(hba);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, edited) << "pgwarden rewrote the user's hba_file";
}

}  // namespace
}  // namespace pgw
