#include "agent/fencer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pg/fence.h"

namespace pgw {

Duration FenceMargin(int ttl_s, int safety_margin_s) {
  int64_t half = int64_t{ttl_s} * 500;
  int64_t m = safety_margin_s < 0 ? half : std::min<int64_t>(int64_t{safety_margin_s} * 1000, half);
  return Duration(std::max<int64_t>(m, 250));
}

Fencer::Fencer(const Clock& clock, Logger& log, FenceOptions opts)
    : clock_(clock),
      log_(log),
      opts_(std::move(opts)),
      watchdog_(opts_.watchdog_device),
      wakeups_(opts_.wakeups),
      pauses_(clock_,
              opts_.boottime_ms                        ? opts_.boottime_ms
              : dynamic_cast<const RealClock*>(&clock) ? std::function<int64_t()>(BootTimeMs)
                                                       : nullptr,
              Duration(1000)) {
  if (opts_.supervisor) supervisor_ = std::make_unique<FenceSupervisorClient>(opts_.data_dir, log_);
}

Fencer::~Fencer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status Fencer::Start() {
  if (!wakeups_) {
    auto w = MakeKernelFenceWakeups();
    if (!w.ok()) return w.status();
    wakeups_ = std::move(*w);
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return IoError(std::string("fencer: eventfd: ") + std::strerror(errno));
  if (supervisor_) PGW_RETURN_IF_ERROR(supervisor_->Start());
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Fencer::Stop() {
  bool was_armed;
  {
    std::lock_guard<std::mutex> l(mu_);
    was_armed = armed_;
    armed_ = false;
    stop_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
  if (was_armed) {
    // PostgreSQL may still run as primary (its stop failed): leave the supervisor armed with the last deadline (it
    // fences then, or at once if the postmaster dies) and the watchdog running.
    log_.Warn("exiting while the fence is armed: the fence supervisor keeps guarding PostgreSQL");
    if (supervisor_) supervisor_->Detach();
    return;
  }
  watchdog_.Disable();
  if (supervisor_) supervisor_->Quit();
}

MonoTime Fencer::FenceAtLocked() const {
  return std::max(lease_deadline_, failsafe_until_) - FenceMargin(ttl_s_, opts_.safety_margin_s);
}

void Fencer::PushLocked(bool state_changed) {
  if (supervisor_) {
    if (armed_)
      supervisor_->Arm(FenceAtLocked(), PauseThreshold(FenceMargin(ttl_s_, opts_.safety_margin_s)));
    else
      supervisor_->Disarm();
  }
  // A renewal (1.5 a second at ttl 3) need not wake the thread: the timer it sleeps on takes the new fence time.
  if (!state_changed && armed_ && sleeping_until_fence_at_)
    wakeups_->SetDeadline(FenceAtLocked());
  else
    Wake();
}

void Fencer::Wake() {
  if (wake_fd_ < 0) return;
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
}

void Fencer::Sleep(std::unique_lock<std::mutex>& l) {
  l.unlock();
  pollfd p[2] = {{wakeups_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  int r = poll(p, 2, -1);
  if (r < 0 && errno != EINTR) log_.Error(std::string("fencer: poll: ") + std::strerror(errno));
  if (p[1].revents != 0) {
    uint64_t v = 0;
    ssize_t n = read(wake_fd_, &v, sizeof v);
    (void)n;
  }
  l.lock();
  sleeping_until_fence_at_ = false;
  if (p[0].revents != 0) wakeups_->Ack();
}

Status Fencer::Arm(int64_t lease_id, MonoTime lease_deadline, int ttl_s) {
  std::lock_guard<std::mutex> l(mu_);
  if (opts_.watchdog_mode != "off" && !watchdog_.active()) {
    int timeout = static_cast<int>((int64_t{ttl_s} * 1000 - FenceMargin(ttl_s, opts_.safety_margin_s).count()) / 1000);
    Status s = watchdog_.Activate(std::max(1, timeout));
    if (!s.ok()) {
      if (opts_.watchdog_mode == "required") return s.Context("watchdog.mode is required");
      if (opts_.watchdog_mode == "automatic" && !watchdog_warned_) {
        log_.Info("watchdog not used: " + s.message() + " (the fence supervisor still guards this node)");
        watchdog_warned_ = true;
      }
    }
  }
  if (armed_ && lease_id == lease_id_ && lease_deadline <= lease_deadline_ && ttl_s == ttl_s_) return Status::Ok();
  bool same_lease = armed_ && lease_id == lease_id_;
  if (!armed_) pauses_.Reset();
  armed_ = true;
  if (!same_lease) failsafe_until_ = MonoTime{};
  lease_deadline_ = same_lease ? std::max(lease_deadline_, lease_deadline) : lease_deadline;
  lease_id_ = lease_id;
  ttl_s_ = ttl_s;
  PushLocked(true);
  return Status::Ok();
}

void Fencer::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  if (!armed_) return;
  armed_ = false;
  lease_id_ = 0;
  failsafe_until_ = MonoTime{};
  watchdog_.Disable();
  PushLocked(true);
}

void Fencer::OnLeaseRenewed(int64_t lease_id, MonoTime deadline) {
  std::lock_guard<std::mutex> l(mu_);
  if (!armed_ || lease_id != lease_id_ || deadline <= lease_deadline_) return;
  lease_deadline_ = deadline;
  Status s = watchdog_.Keepalive();
  if (!s.ok()) log_.Warn(s.message());
  PushLocked(false);
}

void Fencer::ExtendUntil(MonoTime until) {
  std::lock_guard<std::mutex> l(mu_);
  if (!armed_ || until <= failsafe_until_) return;
  failsafe_until_ = until;
  Status s = watchdog_.Keepalive();
  if (!s.ok()) log_.Warn(s.message());
  PushLocked(false);
}

bool Fencer::armed() const {
  std::lock_guard<std::mutex> l(mu_);
  return armed_;
}

MonoTime Fencer::FenceAt() const {
  std::lock_guard<std::mutex> l(mu_);
  return FenceAtLocked();
}

Duration Fencer::margin() const {
  std::lock_guard<std::mutex> l(mu_);
  return FenceMargin(ttl_s_, opts_.safety_margin_s);
}

bool Fencer::WatchdogRequiredButUnusable() {
  if (opts_.watchdog_mode != "required") return false;
  std::lock_guard<std::mutex> l(mu_);
  if (watchdog_.active()) return false;
  int fd = open(opts_.watchdog_device.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return true;
  // Opening a watchdog starts it: close it properly at once.
  ssize_t ignored = write(fd, "V", 1);
  (void)ignored;
  close(fd);
  return false;
}

void Fencer::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  MonoTime retry_at{};
  Duration pause{0};  // a detected pause (> 0): fence now, and keep trying until it succeeds
  while (!stop_) {
    if (!armed_) {
      pause = Duration(0);
      wakeups_->SetDeadline(std::nullopt);
      wakeups_->SetPauseChecks(std::nullopt);
      Sleep(l);
      continue;
    }
    MonoTime at = FenceAtLocked();
    Duration threshold = PauseThreshold(FenceMargin(ttl_s_, opts_.safety_margin_s));
    pauses_.set_threshold(threshold);
    // Before the sample: a clock change after it wakes us again.
    wakeups_->SetPauseChecks(PauseCheckPeriod(threshold));
    if (auto p = pauses_.Sample()) pause = *p;
    MonoTime now = clock_.Now();
    if ((pause.count() == 0 && now < at) || now < retry_at) {
      bool until_fence_at = pause.count() == 0 && now < at;
      wakeups_->SetDeadline(until_fence_at ? at : retry_at);
      sleeping_until_fence_at_ = until_fence_at;
      Sleep(l);
      continue;
    }
    l.unlock();
    auto killed = opts_.fence ? opts_.fence(opts_.data_dir) : FenceDataDir(opts_.data_dir);
    l.lock();
    std::string why = pause.count() > 0
                          ? "this machine was paused for about " + std::to_string(pause.count()) +
                                " ms (clocks disagree) while the fence was armed; the lease may have lapsed"
                          : "the leader lease was not renewed in time (fence time passed by " +
                                std::to_string((clock_.Now() - at).count()) + " ms)";
    if (!killed.ok()) {
      // Stay armed: retried until every process of the data directory is gone.
      if (failed_fences_++ % 25 == 0)
        log_.Error("FENCING FAILED (" + why + "), retrying: " + killed.status().message());
      retry_at = clock_.Now() + Duration(200);
      continue;
    }
    ++fences_;
    armed_ = false;
    pause = Duration(0);
    log_.Error("fenced PostgreSQL: " + why + "; killed " + std::to_string(*killed) + " processes");
    PushLocked(true);
  }
}

}  // namespace pgw
