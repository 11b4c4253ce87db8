#include "agent/fence_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/process.h"
#include "pg/fence.h"

namespace pgw {

namespace {


MonoTime SteadyNow() {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

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
    std::string_view num = line.substr(4);
    int64_t ms = 0;
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), ms);
    if (ec != std::errc() || end != num.data() + num.size() || ms <= 0) return false;
    armed_ = true;
    deadline_ = MonoTime(Duration(ms));
    return true;
  }
  return false;
}

std::optional<MonoTime> FenceTimer::FenceAt() const {
  if (!armed_) return std::nullopt;
  return deadline_;
}

int RunFenceSupervisor(const std::string& data_dir, int fd, Logger& log) {
  signal(SIGPIPE, SIG_IGN);
  FenceTimer timer;
  std::string pending;
  log.Info("fence supervisor for " + data_dir + " running (pid " + std::to_string(getpid()) + ")");
  while (!timer.Done()) {
    auto at = timer.FenceAt();
    MonoTime now = SteadyNow();
    if (at && now >= *at) {
      auto killed = FenceKillPostmaster(data_dir);
      if (!killed.ok()) {
        log.Error("FENCING FAILED for " + data_dir + ": " + killed.status().message());
      } else if (*killed > 0) {
        log.Error("fenced PostgreSQL in " + data_dir + ": the agent did not renew its leader lease before the "
                  "deadline; killed " + std::to_string(*killed) + " processes");
      }
      timer.OnFenced();
      continue;
    }
    int timeout = -1;
    if (at) timeout = static_cast<int>(std::min<int64_t>((*at - now).count(), 60000));
    if (timer.eof()) {
      // Nobody will talk to us again: just wait for the deadline.
      if (timeout > 0) poll(nullptr, 0, timeout);
      continue;
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, timeout);
    if (r < 0 && errno != EINTR) {
      log.Error(std::string("fence supervisor: poll: ") + std::strerror(errno));
      timer.OnEof();
      continue;
    }
    if (r <= 0) continue;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      if (timer.FenceAt()) {
        log.Warn("fence supervisor: the agent went away while PostgreSQL may run as primary; fencing at the "
                 "lease deadline unless a new agent takes over");
      }
      timer.OnEof();
      continue;
    }
    pending.append(buf, static_cast<size_t>(n));
    if (pending.size() > 4096) pending.erase(0, pending.size() - 4096);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!timer.Apply(line)) log.Warn("fence supervisor: ignoring malformed line '" + line + "'");
    }
  }
  return 0;
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

void FenceSupervisorClient::Arm(MonoTime deadline) {
  std::lock_guard<std::mutex> l(mu_);
  std::string line = "arm " + std::to_string(deadline.time_since_epoch().count());
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
