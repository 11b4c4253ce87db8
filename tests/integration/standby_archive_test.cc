// Archive-only standby clusters (issue 11): cluster B has no connection to the remote primary A at all. A archives
// its WAL into a directory and a base backup of A is taken; B's standby leader is made by a create_replica_methods
// method that needs no leader (it copies the backup in) and replays A's WAL through restore_command alone; B's
// replica cascades from it. Removing the section promotes B's standby leader.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "helpers.h"
#include "net/http_client.h"

namespace pgw {
namespace {

using namespace itest;
using Json = nlohmann::json;
using std::chrono::seconds;

class ArchiveStandbyTest : public ClusterFixture {
 protected:
  ArchiveStandbyTest() : ClusterFixture("archsb") {}

  void TearDown() override {
    if (b_) {
      if (HasFailure()) PrintLogTails(*b_, "cluster B ");
      Status s = b_->Down(false);
      EXPECT_TRUE(s.ok()) << s.message();
    }
    ClusterFixture::TearDown();
  }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = Dir() + "/" + name;
    EXPECT_TRUE(WriteFileAtomic(path, "#!/bin/sh\nset -e\n" + body, 0755).ok());
    chmod(path.c_str(), 0755);
    return path;
  }
  // A directory the agents (postgres when the test runs as root) may write into.
  std::string OwnedDir(const std::string& name) {
    std::string path = Dir() + "/" + name;
    EXPECT_TRUE(MakeDirs(path, 0755).ok());
    if (auto who = Unprivileged()) {
      EXPECT_EQ(chown(path.c_str(), who->uid, who->gid), 0);
    }
    return path;
  }
  std::string RoleOf(const Sandbox& sb, const SandboxNode& n) {
    auto body = sb.NodeStatus(n.name);
    if (!body.ok()) return "";
    Json j = Json::parse(*body, nullptr, false);
    return j.is_discarded() ? "" : j.value("role", "");
  }
  std::string A() { return sb_->Conninfo(sb_->nodes()[0].name); }
  std::string B(const SandboxNode& n) { return b_->Conninfo(n.name); }
  // Writes row `id` on A and switches A to a new WAL file, so that the row is in the archive soon.
  void WriteOnA(int id) {
    std::string err;
    Sql(A(), "INSERT INTO rows_a VALUES (" + std::to_string(id) + ", 'written on A')", &err);
    ASSERT_TRUE(err.empty()) << err;
    Sql(A(), "SELECT pg_switch_wal()", &err);
    ASSERT_TRUE(err.empty()) << err;
  }
  bool Has(const SandboxNode& n, int id) {
    return WaitFor([&] { return Sql(B(n), "SELECT v FROM rows_a WHERE id = " + std::to_string(id)) == "written on A"; },
                   seconds(60));
  }

  // Cluster A (one node) archiving every WAL file through an argv-safe script, a table with row 1, a base backup
  // of A (taken as the agents' user), then row 2 after the backup. Sets restore_ (the restore_command of B) and
  // method_ (the postgresql section defining B's `restore` method: copy the backup in, no leader needed).
  void StartRemote() {
    std::string archive = OwnedDir("archive");
    std::string archive_sh =
        Script("archive.sh", "test ! -f \"" + archive + "/$2\"\ncp \"$1\" \"" + archive + "/$2.part\"\nmv \"" +
                                 archive + "/$2.part\" \"" + archive + "/$2\"\n");
    std::string fetch_sh = Script("fetch.sh", "exec cp \"" + archive + "/$1\" \"$2\"\n");
    StartCluster(1, [&](SandboxSpec& spec) {
      spec.extra_postgresql = "    archive_mode: 'on'\n    archive_command: '" + archive_sh + " %p %f'\n";
    });
    if (HasFatalFailure()) return;
    std::string err;
    Sql(A(), "CREATE TABLE rows_a(id int primary key, v text)", &err);
    ASSERT_TRUE(err.empty()) << err;
    WriteOnA(1);
    std::string backup = Dir() + "/backup";
    const SandboxNode& a = sb_->nodes()[0];
    ProcessOptions o;
    o.run_as = Unprivileged();
    o.timeout = Duration(120000);
    auto r = pgw::Run({FindPostgresBinDir(ProcessEnvironment()) + "/pg_basebackup", "-D", backup, "-X", "stream",
                       "--checkpoint=fast", "-d",
                       "host=127.0.0.1 port=" + std::to_string(a.pg_port) +
                           " user=replicator password=sandbox-replicator dbname=postgres"},
                      o);
    ASSERT_TRUE(r.ok() && r->Success()) << (r.ok() ? r->output : r.status().message());
    WriteOnA(2);
    runs_ = Dir() + "/restore.runs";
    std::string restore_sh = Script("restore-backup.sh",
                                    "for a in \"$@\"; do\n  case \"$a\" in\n    --datadir=*) d=\"${a#--datadir=}\";;\n"
                                    "  esac\ndone\necho \"$*\" >> \"" +
                                        runs_ + "\"\ncp -a \"" + backup + "/.\" \"$d/\"\n");
    restore_ = fetch_sh + " %f %p";
    method_ = "  restore:\n    command: " + restore_sh + "\n    no_leader: true\n";
    std::ofstream(runs_).close();
    if (auto who = Unprivileged()) {
      EXPECT_EQ(chown(runs_.c_str(), who->uid, who->gid), 0);
    }
  }

  // Cluster B: `nodes` nodes, standby_cluster with restore_command and create_replica_methods only.
  void StartStandby(int nodes, bool with_method = true) {
    SandboxSpec spec;
    spec.dir = Dir() + "/b";
    spec.nodes = nodes;
    spec.scope = "archsbb";
    spec.name_prefix = "b";
    spec.pgwarden_bin = PgwardenBin();
    spec.etcd_endpoint = sb_->EtcdEndpoint();
    FastTiming(spec);
    spec.extra_dcs = "    standby_cluster:\n      restore_command: '" + restore_ + "'\n" +
                     (with_method ? "      create_replica_methods: [restore]\n" : "");
    spec.extra_postgresql = method_;
    auto up = Sandbox::Up(spec, log_);
    ASSERT_TRUE(up.ok()) << up.status().message();
    b_ = std::make_unique<Sandbox>(std::move(*up));
  }
  // Waits until B has a standby leader and, with two nodes, a replica streaming from it.
  void WaitForStandbyLeader() {
    ASSERT_TRUE(WaitFor(
        [&] {
          leader_ = replica_ = nullptr;
          for (const auto& n : b_->nodes()) {
            std::string role = RoleOf(*b_, n);
            if (role == "standby_leader") leader_ = &n;
            if (role == "replica") replica_ = &n;
          }
          if (!leader_) return false;
          if (b_->nodes().size() == 1) return true;
          return replica_ &&
                 Sql(B(*leader_), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1";
        },
        seconds(90)))
        << "no standby leader (with a streaming replica)";
  }

  std::unique_ptr<Sandbox> b_;
  const SandboxNode* leader_ = nullptr;
  const SandboxNode* replica_ = nullptr;
  std::string restore_, method_, runs_;
};

TEST_F(ArchiveStandbyTest, StandbyLeaderReplaysTheArchiveItsReplicaCascadesAndRemovingTheSectionPromotes) {
  StartRemote();
  if (HasFatalFailure()) return;
  StartStandby(2);
  if (HasFatalFailure()) return;
  WaitForStandbyLeader();
  if (HasFatalFailure()) return;
  const SandboxNode& leader = *leader_;
  const SandboxNode& replica = *replica_;
  // Nothing connects B to A: the standby leader has no primary_conninfo, A has no walsender.
  EXPECT_EQ(Sql(B(leader), "SELECT current_setting('primary_conninfo')"), "");
  EXPECT_EQ(Sql(B(leader), "SELECT current_setting('restore_command')"), restore_);
  EXPECT_EQ(Sql(B(leader), "SELECT pg_is_in_recovery()"), "t");
  EXPECT_EQ(Sql(A(), "SELECT count(*) FROM pg_stat_replication"), "0");
  EXPECT_EQ(RestCall(leader, "GET", "/standby-leader").first, 200);
  EXPECT_EQ(RestCall(replica, "GET", "/replica").first, 200);
  // Both members were made by the restore method: the standby leader with no connection string; the replica with
  // its standby leader's, or with none when it ran in the moment between the bootstrap's `initialize` and leader
  // keys (no leader yet: Patroni's leaderless clone, as here).
  auto runs = ReadFile(runs_);
  ASSERT_TRUE(runs.ok());
  EXPECT_NE(runs->find("--datadir=" + leader.data_dir + " --connstring=\n"), std::string::npos) << *runs;
  EXPECT_NE(runs->find("--datadir=" + replica.data_dir + " --connstring="), std::string::npos) << *runs;
  // Rows written on A before and after the backup, and now, reach both members through the archive.
  WriteOnA(3);
  for (const SandboxNode* n : {&leader, &replica}) {
    for (int id : {1, 2, 3}) EXPECT_TRUE(Has(*n, id)) << n->name << " lacks row " << id;
  }

  // Removing the section: B's standby leader is promoted, its replica follows it.
  auto patch = RestCall(leader, "PATCH", "/config", R"({"standby_cluster": null})");
  ASSERT_EQ(patch.first, 200) << patch.second;
  EXPECT_TRUE(
      WaitFor([&] { return Sql(B(leader), "SELECT pg_is_in_recovery()") == "f" && RoleOf(*b_, leader) == "primary"; },
              seconds(30)))
      << "B's standby leader was not promoted";
  std::string err;
  Sql(B(leader), "INSERT INTO rows_a VALUES (100, 'written on B')", &err);
  ASSERT_TRUE(err.empty()) << err;
  EXPECT_TRUE(
      WaitFor([&] { return Sql(B(replica), "SELECT v FROM rows_a WHERE id = 100") == "written on B"; }, seconds(30)))
      << "B's replica does not follow its new primary";
  EXPECT_EQ(Sql(A(), "SELECT count(*) FROM rows_a WHERE id = 100"), "0");
}

// Patroni's no_leader methods: while the standby leader is down (no leader key), a member with an empty data
// directory is created by the method that needs no leader, replays the archive and becomes the standby leader;
// the old standby leader, started again, cascades from it.
TEST_F(ArchiveStandbyTest, MemberCreatedWithoutAStandbyLeaderTakesOver) {
  StartRemote();
  if (HasFatalFailure()) return;
  StartStandby(2);
  if (HasFatalFailure()) return;
  WaitForStandbyLeader();
  if (HasFatalFailure()) return;
  std::string old_leader = leader_->name, fresh = replica_->name;
  // Both stop (the standby leader gives its key up); the replica's data directory is lost.
  for (const std::string& name : {fresh, old_leader}) {
    ASSERT_TRUE(b_->SignalNode(name, SIGTERM, true, Duration(60000)).ok()) << name;
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        return Etcdctl(sb_->EtcdEndpoint(), {"get", "--print-value-only", "/service/archsbb/leader"}).empty();
      },
      seconds(30)))
      << "the standby leader key is still there";
  const SandboxNode& f = *b_->Node(fresh);
  ASSERT_TRUE(RemoveAll(f.data_dir).ok());
  WriteOnA(4);
  ASSERT_TRUE(b_->StartNode(fresh).ok());
  EXPECT_TRUE(WaitFor([&] { return RoleOf(*b_, f) == "standby_leader"; }, seconds(90)))
      << fresh << " did not become the standby leader";
  EXPECT_TRUE(Has(f, 4));
  auto log = ReadFile(f.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("trying to bootstrap (without leader)"), std::string::npos);
  ASSERT_TRUE(b_->StartNode(old_leader).ok());
  const SandboxNode& back = *b_->Node(old_leader);
  EXPECT_TRUE(WaitFor(
      [&] {
        return RoleOf(*b_, back) == "replica" &&
               Sql(B(f), "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'") == old_leader;
      },
      seconds(60)))
      << old_leader << " does not cascade from " << fresh;
  WriteOnA(5);
  EXPECT_TRUE(Has(back, 5));
}

// Only restore_command and no method that needs no leader: nothing can make the standby leader. The bootstrap
// fails once with the reason, removes the initialize key and stops the agent, as Patroni does; no spin.
TEST_F(ArchiveStandbyTest, WithoutANoLeaderMethodTheBootstrapFailsOnceAndSaysWhy) {
  StartCluster(
      1, [&](SandboxSpec& spec) { spec.extra_dcs = "    standby_cluster:\n      restore_command: 'false'\n"; }, false);
  if (HasFatalFailure()) return;
  const SandboxNode& n = sb_->nodes()[0];
  int status = 0;
  ASSERT_TRUE(WaitFor([&] { return waitpid(n.pid, &status, WNOHANG) == n.pid; }, seconds(60)))
      << "the agent kept running";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << "status " << status;
  auto log = ReadFile(n.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("no replica creation method works without a leader to copy from: none of basebackup"),
            std::string::npos)
      << *log;
  EXPECT_NE(log->find("bootstrap.dcs.standby_cluster: no host"), std::string::npos) << "the warning at load";
  EXPECT_EQ(Key("initialize"), "");
}

}  // namespace
}  // namespace pgw
