// The fence on real PostgreSQL: every process of the data directory dies, whatever the pid file says, and the
// backends of a postmaster that died on an armed primary are killed at once by the fence supervisor.
#include <signal.h>

#include <cstdio>
#include <thread>

#include "helpers.h"
#include "pg/fence.h"

namespace pgw::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class FenceTest : public ClusterFixture {
 protected:
  FenceTest() : ClusterFixture("fence") {}
  void TearDown() override {
    ClusterFixture::TearDown();  // ends the busy queries (their connections drop)
    for (auto& t : busy_) t.join();
  }
  // Starts a CPU-bound query on `name` (it does not notice the postmaster's death until it ends) and returns its
  // backend's pid.
  pid_t BusyBackend(const std::string& name) {
    std::string tag = "busy" + std::to_string(busy_.size());
    std::string conninfo = sb_->Conninfo(name) + " options='-c statement_timeout=120000'";
    busy_.emplace_back(
        [conninfo, tag] { Sql(conninfo, "SELECT count(*) /* " + tag + " */ FROM generate_series(1, 3000000000)"); });
    std::string pid;
    EXPECT_TRUE(WaitFor(
        [&] {
          pid = Sql(sb_->Conninfo(name), "SELECT pid FROM pg_stat_activity WHERE query LIKE '%/* " + tag +
                                             " */%' AND pid <> pg_backend_pid()");
          return !pid.empty();
        },
        seconds(30)));
    return pid.empty() ? 0 : static_cast<pid_t>(std::stol(pid));
  }
  static bool Running(pid_t pid) { return ProcessAlive(pid) && !ProcessArgv(pid).empty(); }
  // Kills the postmaster of `name` and returns how long `backend` kept running (capped at `cap`).
  int64_t OrphanLifetimeMs(const std::string& name, pid_t backend, milliseconds cap) {
    auto pm = sb_->PostmasterPid(name);
    EXPECT_TRUE(pm.has_value());
    if (!pm) return -1;
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(kill(*pm, SIGKILL), 0);
    // Polled every millisecond, not at WaitFor's default: this is the measurement.
    WaitFor([&] { return !Running(backend); }, cap, Duration(1));
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
  }

  std::vector<std::thread> busy_;
};

TEST_F(FenceTest, PostmasterKilledOnArmedPrimaryLeavesNoBackendRunning) {
  ClusterFixture::StartCluster(2, FastTiming);
  std::string leader = LeaderKey();
  std::string replica = leader == "pg0" ? "pg1" : "pg0";
  // Baseline, the behaviour every node had before: a replica is not armed, so its orphan lives until the agent's
  // next cycle restarts PostgreSQL (or until its statement ends).
  pid_t unguarded = BusyBackend(replica);
  ASSERT_GT(unguarded, 0);
  int64_t before = OrphanLifetimeMs(replica, unguarded, milliseconds(30000));
  // The armed primary: the fence supervisor watches the postmaster and kills its orphans at once.
  pid_t guarded = BusyBackend(leader);
  ASSERT_GT(guarded, 0);
  int64_t after = OrphanLifetimeMs(leader, guarded, milliseconds(30000));
  std::printf(
      "orphaned backend still running after its postmaster's SIGKILL: unguarded (replica, old behaviour) "
      "%lld ms, armed primary %lld ms\n",
      static_cast<long long>(before), static_cast<long long>(after));
  EXPECT_FALSE(Running(guarded));
  EXPECT_LT(after, 1000) << "the supervisor should kill the orphans within milliseconds";
  EXPECT_TRUE(WaitFor(
      [&] {
        auto log = ReadFile(sb_->Node(leader)->log_path);
        return log.ok() && log->find("backends it left running") != std::string::npos;
      },
      seconds(10)))
      << "the fence supervisor, not the agent's restart, should have killed the orphan";
}

TEST_F(FenceTest, FenceWithoutAReadablePidFileStillKillsEveryProcess) {
  ClusterFixture::StartCluster(1, FastTiming);
  std::string leader = LeaderKey();
  const std::string data_dir = sb_->Node(leader)->data_dir;
  pid_t backend = BusyBackend(leader);
  ASSERT_GT(backend, 0);
  auto procs = DataDirProcesses(data_dir, /*any_user=*/true);
  ASSERT_GE(procs.size(), 4u) << "postmaster, backend and auxiliary processes";
  // The pid file is gone (here: moved away): before, the fence found no postmaster and reported success.
  ASSERT_EQ(rename((data_dir + "/postmaster.pid").c_str(), (data_dir + "/postmaster.pid.moved").c_str()), 0);
  auto killed = FenceDataDir(data_dir);
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  EXPECT_GE(*killed, 3) << "at least the postmaster, the busy backend and the checkpointer";  // others may end alone
  EXPECT_TRUE(DataDirProcesses(data_dir, true).empty());
  for (pid_t p : procs) EXPECT_FALSE(Running(p)) << "pid " << p << " survived the fence";
  EXPECT_FALSE(Running(backend));
  rename((data_dir + "/postmaster.pid.moved").c_str(), (data_dir + "/postmaster.pid").c_str());
}

TEST_F(FenceTest, CleanShutdownWithoutAPidFileLeavesNoProcessRunning) {
  ClusterFixture::StartCluster(1, FastTiming);
  std::string leader = LeaderKey();
  const std::string data_dir = sb_->Node(leader)->data_dir;
  ASSERT_FALSE(DataDirProcesses(data_dir, true).empty());
  ASSERT_EQ(rename((data_dir + "/postmaster.pid").c_str(), (data_dir + "/postmaster.pid.moved").c_str()), 0);
  // Before: Stop() found no pid file, reported success with PostgreSQL still running, and the key was released.
  ASSERT_TRUE(sb_->SignalNode(leader, SIGTERM, true, Duration(60000)).ok());
  auto left = DataDirProcesses(data_dir, true);
  EXPECT_TRUE(left.empty()) << left.size() << " processes of the data directory survived the agent's shutdown";
  rename((data_dir + "/postmaster.pid.moved").c_str(), (data_dir + "/postmaster.pid").c_str());
}

}  // namespace
}  // namespace pgw::itest
