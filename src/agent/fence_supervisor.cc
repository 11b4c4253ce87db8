#include "agent/fence_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "agent/pause_detector.h"
#include "common/process.h"
#include "pg/fence.h"

namespace pgw {

namespace {

std::string SelfExe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

bool FenceTimer::Apply(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line == "disarm") {
    armed_ = false;
    return true;
  }
  if (line == "quit") {
    quit_ = true;
    armed_ = false;
    return true;
  }
  if (line.rfind("arm ", 0) == 0) {
    std::string_view rest = line.substr(4);
    auto number = [&rest](int64_t* out) {
      auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), *out);
      if (ec != std::errc() || end == rest.data() || *out <= 0) return false;
      rest.remove_prefix(static_cast<size_t>(end - rest.data()));
      return true;
    };
    int64_t ms = 0, pause_ms = pause_threshold_.count();
    if (!number(&ms)) return false;
    if (!rest.empty()) {
      if (rest.front() != ' ') return false;
      rest.remove_prefix(1);
      if (!number(&pause_ms)) return false;
    }
    if (!rest.empty()) return false;
    armed_ = true;
    deadline_ = MonoTime(Duration(ms));
    pause_threshold_ = Duration(pause_ms);
    return true;
  }
  return false;
}

std::optional<MonoTime> FenceTimer::FenceAt() const {
  if (!armed_) return std::nullopt;
  return deadline_;
}

int RunFenceSupervisor(const std::string& data_dir, int fd, Logger& log) {
  RealClock clock;
  return RunFenceSupervisor(data_dir, fd, log, SupervisorSeams{clock, BootTimeMs, {}});
}

namespace {

// The supervisor's loop state, apart from the protocol (FenceTimer).
class Supervisor {
 public:
  Supervisor(const std::string& data_dir, int fd, Logger& log, const SupervisorSeams& seams)
      : data_dir_(data_dir),
        fd_(fd),
        log_(log),
        clock_(seams.clock),
        fence_(seams.fence ? seams.fence : [](const std::string& d) { return FenceDataDir(d); }),
        pauses_(seams.clock, seams.boottime_ms, Duration(1000)),
        wakeups_(seams.wakeups) {}
  ~Supervisor() { Unwatch(); }

  int Run() {
    if (!wakeups_) {
      auto w = MakeKernelFenceWakeups();
      if (!w.ok()) {
        log_.Error("fence supervisor for " + data_dir_ + " cannot start: " + w.status().message());
        return 1;
      }
      wakeups_ = std::move(*w);
    }
    log_.Info("fence supervisor for " + data_dir_ + " running (pid " + std::to_string(getpid()) + ")");
    while (!timer_.Done()) Step();
    return 0;
  }

 private:
  void Step() {
    auto at = timer_.FenceAt();
    if (!at) {
      Unwatch();
      pauses_.Reset();
      pause_.reset();
      wakeups_->SetPauseChecks(std::nullopt);
    } else {
      if (pm_fd_ < 0) Watch();
      pauses_.set_threshold(timer_.pause_threshold());
      // Before the sample: a clock change after it wakes us again.
      wakeups_->SetPauseChecks(PauseCheckPeriod(timer_.pause_threshold()));
      if (auto p = pauses_.Sample()) pause_ = p;
    }
    MonoTime now = clock_.Now();
    if (at && (pause_ || now >= *at) && now >= retry_at_) {
      Fence(pause_ ? "this machine was paused for about " + std::to_string(pause_->count()) +
                         " ms (clocks disagree) while armed"
                   : "the agent did not renew its leader lease before the deadline");
      return;
    }
    // Sleep until: a line from the agent, the postmaster's death, the deadline (or the retry of a failed fence), or
    // a pause check (agent/fence_wakeups.h).
    std::optional<MonoTime> next;
    if (at) {
      next = pause_ || now >= *at ? retry_at_ : *at;
      // No postmaster watched yet (its pid file not written yet, or it died and is being restarted): look for it
      // every kWatchRetryMs, as often as the old 50 ms clock sampling did.
      if (pm_fd_ < 0) next = std::min(*next, now + Duration(kWatchRetryMs));
    }
    wakeups_->SetDeadline(next);
    pollfd p[3];
    nfds_t n = 0;
    int agent = -1, pm = -1;
    p[n++] = pollfd{wakeups_->fd(), POLLIN, 0};
    if (!timer_.eof()) {
      agent = static_cast<int>(n);
      p[n++] = pollfd{fd_, POLLIN, 0};
    }
    if (pm_fd_ >= 0) {
      pm = static_cast<int>(n);
      p[n++] = pollfd{pm_fd_, POLLIN, 0};
    }
    int r = poll(p, n, -1);
    if (r < 0 && errno != EINTR) {
      log_.Error(std::string("fence supervisor: poll: ") + std::strerror(errno));
      timer_.OnEof();
      return;
    }
    if (r <= 0) return;
    if (p[0].revents != 0) wakeups_->Ack();
    if (pm >= 0 && p[pm].revents != 0) OnPostmasterDeath();
    if (agent >= 0 && p[agent].revents != 0) ReadAgent();
  }

  // Watches the postmaster named by the pid file (when there is one).
  void Watch() {
    auto pm = LivePostmaster(data_dir_);
    if (!pm) return;
    pm_fd_ = OpenPidfd(*pm);
    pm_pid_ = *pm;
  }

  void Unwatch() {
    if (pm_fd_ >= 0) close(pm_fd_);
    pm_fd_ = -1;
    pm_pid_ = 0;
  }

  void OnPostmasterDeath() {
    pid_t dead = pm_pid_;
    uint64_t died_by = BootTicks();
    Unwatch();
    if (!timer_.FenceAt()) return;
    // Its backends may still be executing a COMMIT: kill them now. A postmaster started since is spared.
    auto killed = KillOrphanedBackends(data_dir_, Duration(5000), died_by);
    if (!killed.ok()) {
      log_.Error("the postmaster (pid " + std::to_string(dead) +
                 ") died; killing its backends FAILED: " + killed.status().message());
    } else if (*killed > 0) {
      log_.Warn("the postmaster (pid " + std::to_string(dead) + ") died while PostgreSQL ran as primary: killed " +
                std::to_string(*killed) + " backends it left running");
    }
  }

  void Fence(const std::string& why) {
    auto killed = fence_(data_dir_);
    if (!killed.ok()) {
      // Stay armed: a fence is done only when no process of the data directory is left.
      if (failures_++ % 25 == 0) {
        log_.Error("FENCING FAILED for " + data_dir_ + " (" + why + "), retrying: " + killed.status().message());
      }
      retry_at_ = clock_.Now() + Duration(200);
      return;
    }
    if (*killed > 0) {
      log_.Error("fenced PostgreSQL in " + data_dir_ + ": " + why + "; killed " + std::to_string(*killed) +
                 " processes");
    }
    failures_ = 0;
    pause_.reset();
    Unwatch();
    timer_.OnFenced();
  }

  void ReadAgent() {
    char buf[512];
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      if (timer_.FenceAt()) {
        log_.Warn(
            "fence supervisor: the agent went away while PostgreSQL may run as primary; fencing at the "
            "lease deadline unless a new agent takes over");
      }
      timer_.OnEof();
      return;
    }
    pending_.append(buf, static_cast<size_t>(n));
    if (pending_.size() > 4096) pending_.erase(0, pending_.size() - 4096);
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (!timer_.Apply(line)) log_.Warn("fence supervisor: ignoring malformed line '" + line + "'");
    }
  }

  static constexpr int64_t kWatchRetryMs = 50;

  const std::string& data_dir_;
  int fd_;
  Logger& log_;
  const Clock& clock_;
  std::function<Result<int>(const std::string&)> fence_;
  FenceTimer timer_;
  PauseDetector pauses_;
  std::shared_ptr<FenceWakeups> wakeups_;
  std::optional<Duration> pause_;
  MonoTime retry_at_{};
  uint64_t failures_ = 0;
  int pm_fd_ = -1;
  pid_t pm_pid_ = 0;
  std::string pending_;
};

}  // namespace

int RunFenceSupervisor(const std::string& data_dir, int fd, Logger& log, const SupervisorSeams& seams) {
  signal(SIGPIPE, SIG_IGN);
  Supervisor s(data_dir, fd, log, seams);
  return s.Run();
}

FenceSupervisorClient::~FenceSupervisorClient() {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ >= 0) close(fd_);
}

Status FenceSupervisorClient::Start() {
  std::lock_guard<std::mutex> l(mu_);
  return SpawnLocked();
}

Status FenceSupervisorClient::SpawnLocked() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (pid_ > 0) Reap(pid_);
  std::string exe = SelfExe();
  if (exe.empty()) return IoError("cannot find this program's path (/proc/self/exe)");
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return IoError(std::string("pipe: ") + std::strerror(errno));
  ProcessOptions o;
  o.stdin_fd = p[0];
  auto pid = StartDetached({exe, kFenceSupervisorFlag, data_dir_}, "", o);
  close(p[0]);
  if (!pid.ok()) {
    close(p[1]);
    return pid.status().Context("starting the fence supervisor");
  }
  fd_ = p[1];
  pid_ = *pid;
  if (!last_line_.empty()) SendLocked(last_line_);
  return Status::Ok();
}

void FenceSupervisorClient::SendLocked(const std::string& line) {
  last_line_ = line;
  if (fd_ < 0) return;
  std::string msg = line + "\n";
  ssize_t n = write(fd_, msg.data(), msg.size());
  if (n == static_cast<ssize_t>(msg.size())) return;
  // The supervisor is gone (EPIPE): start another one, which receives last_line_.
  log_.Error("fence supervisor (pid " + std::to_string(pid_) + ") is gone; starting a new one");
  Status s = SpawnLocked();
  if (!s.ok()) log_.Error(s.message());
}

void FenceSupervisorClient::Arm(MonoTime deadline, Duration pause_threshold) {
  std::lock_guard<std::mutex> l(mu_);
  std::string line = "arm " + std::to_string(deadline.time_since_epoch().count()) + " " +
                     std::to_string(std::max<int64_t>(pause_threshold.count(), 1));
  if (line != last_line_) SendLocked(line);
}

void FenceSupervisorClient::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  if (last_line_ != "disarm") SendLocked("disarm");
}

void FenceSupervisorClient::Quit() {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) return;
  std::string msg = "quit\n";
  ssize_t ignored = write(fd_, msg.data(), msg.size());
  (void)ignored;
  close(fd_);
  fd_ = -1;
  for (int i = 0; i < 50 && pid_ > 0 && !Reap(pid_); ++i) usleep(10000);
}

void FenceSupervisorClient::Detach() {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::vector<pid_t> FenceSupervisorClient::Others() const {
  pid_t mine;
  {
    std::lock_guard<std::mutex> l(mu_);
    mine = pid_;
  }
  auto all = FindFenceSupervisors(data_dir_);
  std::vector<pid_t> out;
  for (pid_t p : all) {
    if (p != mine) out.push_back(p);
  }
  return out;
}

void FenceSupervisorClient::RetireOthers() {
  for (pid_t p : Others()) {
    log_.Info("retiring the fence supervisor of a previous agent (pid " + std::to_string(p) + ")");
    kill(p, SIGTERM);
  }
}

}  // namespace pgw
