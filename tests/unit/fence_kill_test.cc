// The fence's process scan and kill (pg/fence.h), the pause detector and the fence supervisor's reactions, on real
// child processes: copies of sleep(1) named "postgres" running in a temporary "data directory".
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent/fence_supervisor.h"
#include "agent/fencer.h"
#include "agent/pause_detector.h"
#include "common/wait.h"
#include "pg/fence.h"

namespace pgw {
namespace {

namespace fs = std::filesystem;

// A clock whose monotonic, wall and boot readings move independently. Every move wakes whoever sleeps on its
// `wakeups` (as the kernel timers of agent/fence_wakeups.h wake on a deadline, a wall clock step or a resume).
class SplitClock final : public Clock {
 public:
  MonoTime Now() const override { return MonoTime(Duration(mono_.load())); }
  double WallSeconds() const override { return static_cast<double>(wall_.load()) / 1000.0; }
  int64_t Boot() const { return boot_.load(); }
  void Advance(int64_t ms) { mono_ += ms, wall_ += ms, boot_ += ms, wakeups->Poke(); }
  void Pause(int64_t ms) { wall_ += ms, boot_ += ms, wakeups->Poke(); }  // monotonic time stood still
  void StepWall(int64_t ms) { wall_ += ms, wakeups->Poke(); }
  void Suspend(int64_t ms) { boot_ += ms, wakeups->Poke(); }

  std::shared_ptr<ManualFenceWakeups> wakeups = std::make_shared<ManualFenceWakeups>();

 private:
  std::atomic<int64_t> mono_{1000000}, wall_{1800000000000}, boot_{2000000};
};

bool Alive(pid_t pid) {
  // Our children: reaped (by waitpid) once dead.
  int st;
  return waitpid(pid, &st, WNOHANG) == 0;
}

// Fences act within milliseconds: look every 2 ms.
constexpr Duration kPoll{2};

// A temporary data directory with a "postgres" binary (a copy of sleep) and the fake processes started in it.
class FakeDataDir {
 public:
  FakeDataDir() {
    root_ = fs::temp_directory_path() / ("pgw-fence-" + std::to_string(getpid()) + "-" + std::to_string(++counter_));
    fs::create_directories(root_ / "data");
    fs::create_directories(root_ / "other");
    fs::copy_file("/usr/bin/sleep", root_ / "postgres");
    fs::copy_file("/usr/bin/sleep", root_ / "notpg");
  }
  ~FakeDataDir() {
    for (pid_t p : pids_) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string data() const { return (root_ / "data").string(); }
  std::string other() const { return (root_ / "other").string(); }
  // Starts `binary` (postgres or notpg) with `cwd` as its working directory.
  pid_t Spawn(const std::string& cwd, const std::string& binary = "postgres") {
    std::string exe = (root_ / binary).string();
    pid_t pid = fork();
    if (pid == 0) {
      if (chdir(cwd.c_str()) != 0) _exit(127);
      execl(exe.c_str(), exe.c_str(), "1000", static_cast<char*>(nullptr));
      _exit(127);
    }
    pids_.push_back(pid);
    // Wait until it runs the binary (before exec it is still a copy of the test).
    WaitFor(
        [&] {
          char buf[4096];
          ssize_t n = readlink(("/proc/" + std::to_string(pid) + "/exe").c_str(), buf, sizeof buf - 1);
          return n > 0 && std::string(buf, static_cast<size_t>(n)) == exe;
        },
        Duration(10000), kPoll);
    return pid;
  }
  void WritePidFile(pid_t pm) { std::ofstream(data() + "/postmaster.pid") << pm << "\n" << data() << "\n"; }

 private:
  static inline int counter_ = 0;
  fs::path root_;
  std::vector<pid_t> pids_;
};

std::vector<pid_t> Sorted(std::vector<pid_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(FenceKillTest, ScanFindsPostgresProcessesOfTheDataDirOnly) {
  FakeDataDir d;
  pid_t a = d.Spawn(d.data());
  pid_t b = d.Spawn(d.data());
  d.Spawn(d.other());          // postgres of another data directory
  d.Spawn(d.data(), "notpg");  // another program in this data directory (archive_command, a shell...)
  EXPECT_EQ(Sorted(DataDirProcesses(d.data())), Sorted({a, b}));
  EXPECT_EQ(Sorted(DataDirProcesses(d.data() + "/./")), Sorted({a, b})) << "paths are compared canonically";
}

TEST(FenceKillTest, FenceKillsEveryProcessWithoutAPidFile) {
  FakeDataDir d;
  pid_t a = d.Spawn(d.data());
  pid_t b = d.Spawn(d.data());
  pid_t other = d.Spawn(d.other());
  pid_t notpg = d.Spawn(d.data(), "notpg");
  // No postmaster.pid at all: before, the fence returned success and killed nothing.
  auto killed = FenceDataDir(d.data());
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  EXPECT_EQ(*killed, 2);
  EXPECT_TRUE(WaitFor([&] { return !Alive(a) && !Alive(b); }, Duration(10000), kPoll));
  EXPECT_TRUE(DataDirProcesses(d.data()).empty());
  EXPECT_TRUE(Alive(other));
  EXPECT_TRUE(Alive(notpg));
  auto again = FenceDataDir(d.data());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0) << "nothing left to kill";
}

TEST(FenceKillTest, FenceKillsOrphansOfADeadPostmasterNamedByAStalePidFile) {
  FakeDataDir d;
  pid_t pm = d.Spawn(d.data());
  pid_t backend = d.Spawn(d.data());
  d.WritePidFile(pm);
  kill(pm, SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return !Alive(pm); }, Duration(10000), kPoll));
  auto killed = FenceDataDir(d.data());
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  EXPECT_EQ(*killed, 1);
  EXPECT_TRUE(WaitFor([&] { return !Alive(backend); }, Duration(10000), kPoll));
}

TEST(FenceKillTest, OrphanKillSparesALivePostmasterAndProcessesStartedLater) {
  FakeDataDir d;
  pid_t orphan = d.Spawn(d.data());
  uint64_t died_by = BootTicks();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // start times are in clock ticks (10 ms)
  pid_t later = d.Spawn(d.data());                             // a new postmaster before its pid file exists
  auto killed = KillOrphanedBackends(d.data(), Duration(5000), died_by);
  ASSERT_TRUE(killed.ok()) << killed.status().message();
  EXPECT_EQ(*killed, 1);
  EXPECT_TRUE(WaitFor([&] { return !Alive(orphan); }, Duration(10000), kPoll));
  EXPECT_TRUE(Alive(later));
  d.WritePidFile(later);
  ASSERT_EQ(LivePostmaster(d.data()), std::optional<pid_t>(later));
  auto none = KillOrphanedBackends(d.data());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0) << "the live postmaster named by the pid file is spared";
  EXPECT_TRUE(Alive(later));
}

TEST(PauseDetectorTest, DetectsClocksThatMovedWhileMonotonicStoodStill) {
  SplitClock c;
  PauseDetector p(
      c, [&] { return c.Boot(); }, Duration(500));
  EXPECT_FALSE(p.Sample()) << "the first sample only sets the baseline";
  c.Advance(10000);
  EXPECT_FALSE(p.Sample()) << "all clocks moving together is no pause";
  c.Pause(3000);
  auto pause = p.Sample();
  ASSERT_TRUE(pause);
  EXPECT_EQ(pause->count(), 3000);
  EXPECT_FALSE(p.Sample()) << "reported once";
  c.Suspend(800);  // boottime only (system suspend)
  ASSERT_TRUE(p.Sample());
  c.StepWall(400);  // below the threshold
  EXPECT_FALSE(p.Sample());
  c.StepWall(-5000);  // a backward wall step is no pause
  EXPECT_FALSE(p.Sample());
  c.Pause(2000);
  p.Reset();
  EXPECT_FALSE(p.Sample()) << "a pause before Reset() is not reported";
}

// Supervisor fixture: runs RunFenceSupervisor on a thread with injected clocks, talking over a pipe.
// pidfds this process holds (the supervisor under test runs on a thread of it).
int OpenPidfds() {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code lec;
    if (std::filesystem::read_symlink(e.path(), lec).string() == "anon_inode:[pidfd]") ++n;
  }
  return n;
}

class SupervisorRun {
 public:
  SupervisorRun(const std::string& data_dir, SplitClock& c,
                const std::function<Result<int>(const std::string&)>& fence = {})
      : clock_(c) {
    EXPECT_EQ(pipe2(p_, O_CLOEXEC), 0);
    thread_ = std::thread([this, data_dir, fence] {
      SupervisorSeams seams{clock_, [this] { return clock_.Boot(); }, fence, clock_.wakeups};
      RunFenceSupervisor(data_dir, p_[0], log_, seams);
      done_ = true;
    });
  }
  ~SupervisorRun() {
    Send("quit");
    close(p_[1]);
    thread_.join();
    close(p_[0]);
  }
  void Send(const std::string& line) {
    std::string m = line + "\n";
    EXPECT_EQ(write(p_[1], m.data(), m.size()), static_cast<ssize_t>(m.size()));
  }

 private:
  SplitClock& clock_;
  Logger log_{stderr, LogLevel::kCritical};
  int p_[2];
  std::atomic<bool> done_{false};
  std::thread thread_;
};

TEST(FenceSupervisorTest, PauseWhileArmedFencesAtOnce) {
  FakeDataDir d;
  pid_t pm = d.Spawn(d.data());
  pid_t backend = d.Spawn(d.data());
  d.WritePidFile(pm);
  SplitClock c;
  SupervisorRun s(d.data(), c);
  s.Send("arm " + std::to_string(c.Now().time_since_epoch().count() + 60000) + " 500");
  // Not before the deadline, no pause: nothing happens.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Alive(pm));
  c.Pause(400);  // below the threshold
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Alive(pm));
  c.Pause(5000);
  EXPECT_TRUE(WaitFor([&] { return !Alive(pm) && !Alive(backend); }, Duration(5000), kPoll))
      << "a pause longer than the threshold while armed fences at once, 55 s before the deadline";
}

TEST(FenceSupervisorTest, PauseWhileDisarmedDoesNothing) {
  FakeDataDir d;
  pid_t pm = d.Spawn(d.data());
  d.WritePidFile(pm);
  SplitClock c;
  SupervisorRun s(d.data(), c);
  s.Send("arm " + std::to_string(c.Now().time_since_epoch().count() + 60000) + " 500");
  s.Send("disarm");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  c.Pause(5000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(Alive(pm));
}

TEST(FenceSupervisorTest, PostmasterDeathWhileArmedKillsItsOrphansAtOnce) {
  FakeDataDir d;
  pid_t pm = d.Spawn(d.data());
  pid_t b1 = d.Spawn(d.data());
  pid_t b2 = d.Spawn(d.data());
  d.WritePidFile(pm);
  SplitClock c;
  int pidfds_before = OpenPidfds();
  SupervisorRun s(d.data(), c);
  s.Send("arm " + std::to_string(c.Now().time_since_epoch().count() + 600000) + " 500");
  // Killed before the supervisor watches it, the postmaster would be an unreaped zombie of this test that the
  // supervisor rightly does not take for a live postmaster: wait until it holds the postmaster's pidfd (a fixed
  // 200 ms sleep was not enough on a loaded machine).
  ASSERT_TRUE(WaitFor([&] { return OpenPidfds() > pidfds_before; }, Duration(5000), kPoll))
      << "the armed supervisor never opened the postmaster's pidfd";
  EXPECT_TRUE(Alive(b1));
  auto t0 = std::chrono::steady_clock::now();
  kill(pm, SIGKILL);
  EXPECT_TRUE(WaitFor([&] { return !Alive(b1) && !Alive(b2); }, Duration(5000), kPoll));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("orphans gone %lld ms after the postmaster's SIGKILL (deadline 600 s away)\n",
              static_cast<long long>(ms));
}

TEST(FencerTest, PauseWhileArmedFencesAtOnce) {
  FakeDataDir d;
  pid_t pm = d.Spawn(d.data());
  d.WritePidFile(pm);
  SplitClock c;
  Logger log(stderr, LogLevel::kCritical);
  FenceOptions o;
  o.data_dir = d.data();
  o.watchdog_mode = "off";
  o.supervisor = false;
  o.boottime_ms = [&] { return c.Boot(); };
  o.wakeups = c.wakeups;
  Fencer f(c, log, o);
  ASSERT_TRUE(f.Start().ok());
  ASSERT_TRUE(f.Arm(7, c.Now() + Duration(30000), 30).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_TRUE(Alive(pm));
  c.Pause(10000);  // margin 5 s: threshold 2.5 s
  EXPECT_TRUE(WaitFor([&] { return !Alive(pm); }, Duration(5000), kPoll));
  EXPECT_TRUE(WaitFor([&] { return !f.armed(); }, Duration(5000), kPoll));
  EXPECT_EQ(f.fences(), 1u);
  f.Stop();
}

// A kill that fails while `fail` holds, then does the real one; counts its calls.
struct FlakyFence {
  std::atomic<bool> fail{true};
  std::atomic<int> calls{0};
  std::function<Result<int>(const std::string&)> Fn() {
    return [this](const std::string& dir) -> Result<int> {
      ++calls;
      if (fail) return Unavailable("injected: a process of " + dir + " survived SIGKILL");
      return FenceDataDir(dir);
    };
  }
};

// A fence whose kill fails is not done: the supervisor keeps it armed and tries again until every process is gone.
TEST(FenceSupervisorTest, FailedFenceIsRetriedUntilEveryProcessIsGone) {
  FakeDataDir d;
  pid_t pm = d.Spawn(d.data());
  pid_t backend = d.Spawn(d.data());
  d.WritePidFile(pm);
  SplitClock c;
  FlakyFence k;
  SupervisorRun s(d.data(), c, k.Fn());
  s.Send("arm " + std::to_string(c.Now().time_since_epoch().count() + 100) + " 500");
  c.Advance(200);  // past the deadline
  EXPECT_TRUE(WaitFor([&] { return k.calls >= 1; }, Duration(5000), kPoll));
  for (int i = 2; i <= 3; ++i) {
    c.Advance(250);  // past the retry time
    EXPECT_TRUE(WaitFor([&] { return k.calls >= i; }, Duration(5000), kPoll))
        << "a failed fence is retried (attempt " << i << ")";
  }
  EXPECT_TRUE(Alive(pm));
  k.fail = false;
  c.Advance(250);
  EXPECT_TRUE(WaitFor([&] { return !Alive(pm) && !Alive(backend); }, Duration(5000), kPoll));
  int after = k.calls;
  c.Advance(1000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a done fence is not repeated
  EXPECT_EQ(k.calls, after);
}

TEST(FencerTest, FailedFenceStaysArmedAndIsRetriedUntilItSucceeds) {
  FakeDataDir d;
  pid_t pm = d.Spawn(d.data());
  d.WritePidFile(pm);
  SplitClock c;
  Logger log(stderr, LogLevel::kCritical);
  FlakyFence k;
  FenceOptions o;
  o.data_dir = d.data();
  o.watchdog_mode = "off";
  o.supervisor = false;
  o.boottime_ms = [&] { return c.Boot(); };
  o.wakeups = c.wakeups;
  o.fence = k.Fn();
  Fencer f(c, log, o);
  ASSERT_TRUE(f.Start().ok());
  ASSERT_TRUE(f.Arm(7, c.Now() + Duration(1000), 30).ok());  // margin 5 s: the fence time has passed
  EXPECT_TRUE(WaitFor([&] { return f.failed_fences() >= 1; }, Duration(5000), kPoll));
  c.Advance(250);  // past the retry time
  EXPECT_TRUE(WaitFor([&] { return f.failed_fences() >= 2; }, Duration(5000), kPoll)) << "a failed fence is retried";
  EXPECT_TRUE(f.armed()) << "a fence that could not kill stays armed";
  EXPECT_EQ(f.fences(), 0u);
  EXPECT_TRUE(Alive(pm));
  k.fail = false;
  c.Advance(250);
  EXPECT_TRUE(WaitFor([&] { return !Alive(pm) && !f.armed(); }, Duration(5000), kPoll));
  EXPECT_EQ(f.fences(), 1u);
  f.Stop();
}

}  // namespace
}  // namespace pgw
