#include "agent/fencer.h"

#include <fcntl.h>
#include <unistd.h>

#include "pg/fence.h"

namespace pgw {

Duration FenceMargin(int ttl_s, int safety_margin_s) {
  int64_t half = int64_t{ttl_s} * 500;
  int64_t m = safety_margin_s < 0 ? half : std::min<int64_t>(int64_t{safety_margin_s} * 1000, half);
  return Duration(std::max<int64_t>(m, 250));
}

Fencer::Fencer(const Clock& clock, Logger& log, FenceOptions opts)
    : clock_(clock), log_(log), opts_(std::move(opts)), watchdog_(opts_.watchdog_device, log) {
  if (opts_.supervisor) supervisor_ = std::make_unique<FenceSupervisorClient>(opts_.data_dir, log_);
}

Fencer::~Fencer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Fencer::Start() {
  if (supervisor_) PGW_RETURN_IF_ERROR(supervisor_->Start());
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Fencer::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    armed_ = false;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  watchdog_.Disable();
  if (supervisor_) supervisor_->Quit();
}

MonoTime Fencer::FenceAtLocked() const {
  return std::max(lease_deadline_, failsafe_until_) - FenceMargin(ttl_s_, opts_.safety_margin_s);
}

void Fencer::PushLocked() {
  if (supervisor_) {
    if (armed_) supervisor_->Arm(FenceAtLocked());
    else supervisor_->Disarm();
  }
  cv_.notify_all();
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
  armed_ = true;
  if (!same_lease) failsafe_until_ = MonoTime{};
  lease_deadline_ = same_lease ? std::max(lease_deadline_, lease_deadline) : lease_deadline;
  lease_id_ = lease_id;
  ttl_s_ = ttl_s;
  PushLocked();
  return Status::Ok();
}

void Fencer::Disarm() {
  std::lock_guard<std::mutex> l(mu_);
  if (!armed_) return;
  armed_ = false;
  lease_id_ = 0;
  failsafe_until_ = MonoTime{};
  watchdog_.Disable();
  PushLocked();
}

void Fencer::OnLeaseRenewed(int64_t lease_id, MonoTime deadline) {
  std::lock_guard<std::mutex> l(mu_);
  if (!armed_ || lease_id != lease_id_ || deadline <= lease_deadline_) return;
  lease_deadline_ = deadline;
  Status s = watchdog_.Keepalive();
  if (!s.ok()) log_.Warn(s.message());
  PushLocked();
}

void Fencer::ExtendUntil(MonoTime until) {
  std::lock_guard<std::mutex> l(mu_);
  if (!armed_ || until <= failsafe_until_) return;
  failsafe_until_ = until;
  Status s = watchdog_.Keepalive();
  if (!s.ok()) log_.Warn(s.message());
  PushLocked();
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
  while (!stop_) {
    if (!armed_) {
      cv_.wait(l, [&] { return stop_ || armed_; });
      continue;
    }
    MonoTime at = FenceAtLocked();
    MonoTime now = clock_.Now();
    if (now < at) {
      // Bounded waits: the clock is an interface, so do not trust a single long sleep.
      cv_.wait_for(l, std::min<Duration>(at - now, Duration(50)));
      continue;
    }
    armed_ = false;
    l.unlock();
    auto killed = FenceKillPostmaster(opts_.data_dir);
    l.lock();
    ++fences_;
    if (!killed.ok()) {
      log_.Error("FENCING FAILED: " + killed.status().message());
    } else {
      log_.Error("fenced PostgreSQL: the leader lease was not renewed in time (fence time passed by " +
                 std::to_string((clock_.Now() - at).count()) + " ms); killed " + std::to_string(*killed) +
                 " processes");
    }
    PushLocked();
  }
}

}  // namespace pgw
