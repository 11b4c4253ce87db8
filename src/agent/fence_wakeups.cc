#include "agent/fence_wakeups.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>

namespace pgw {

namespace {

timespec Ns(int64_t ns) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(ns / 1000000000);
  t.tv_nsec = static_cast<long>(ns % 1000000000);
  return t;
}

// Consumes a timerfd's expirations. Returns the read's errno (0 when something or nothing was read).
int Drain(int fd) {
  uint64_t ticks = 0;
  ssize_t n = read(fd, &ticks, sizeof ticks);
  return n < 0 ? errno : 0;
}

class KernelFenceWakeups final : public FenceWakeups {
 public:
  KernelFenceWakeups() = default;
  ~KernelFenceWakeups() override {
    for (int f : {epoll_, mono_, boot_, wall_}) {
      if (f >= 0) close(f);
    }
  }
  KernelFenceWakeups(const KernelFenceWakeups&) = delete;
  KernelFenceWakeups& operator=(const KernelFenceWakeups&) = delete;

  Status Init() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    mono_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    boot_ = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    wall_ = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epoll_ < 0 || mono_ < 0 || boot_ < 0 || wall_ < 0)
      return IoError(std::string("fence timers: ") + std::strerror(errno));
    for (int f : {mono_, boot_, wall_}) {
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.fd = f;
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, f, &e) != 0)
        return IoError(std::string("fence timers: epoll_ctl: ") + std::strerror(errno));
    }
    return Status::Ok();
  }

  int fd() const override { return epoll_; }

  void SetDeadline(std::optional<MonoTime> at) override {
    if (at == deadline_) return;
    deadline_ = at;
    itimerspec s{};
    // An all-zero it_value disarms a timerfd: a deadline at (or before) the clock's epoch fires at 1 ns instead.
    if (at) s.it_value = Ns(std::max<int64_t>(int64_t{at->time_since_epoch().count()} * 1000000, 1));
    timerfd_settime(mono_, TFD_TIMER_ABSTIME, &s, nullptr);
  }

  void SetPauseChecks(std::optional<Duration> period) override {
    if (period == period_) return;
    period_ = period;
    itimerspec s{};
    if (period) {
      s.it_value = Ns(std::max<int64_t>(period->count(), 1) * 1000000);
      s.it_interval = s.it_value;
    }
    timerfd_settime(boot_, 0, &s, nullptr);
    if (period) {
      ArmWallWatch();
    } else {
      itimerspec off{};
      timerfd_settime(wall_, 0, &off, nullptr);
    }
  }

  void Ack() override {
    Drain(mono_);
    Drain(boot_);
    // ECANCELED: the wall clock's offset changed; an expiry: a year went by. Either way, watch again.
    int e = Drain(wall_);
    if (period_ && e != EAGAIN) ArmWallWatch();
  }

 private:
  // A CLOCK_REALTIME timer a year ahead that the kernel cancels on any discontinuous change of the wall clock.
  void ArmWallWatch() {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    itimerspec s{};
    s.it_value = now;
    s.it_value.tv_sec += 365 * 24 * 3600;
    timerfd_settime(wall_, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &s, nullptr);
  }

  int epoll_ = -1, mono_ = -1, boot_ = -1, wall_ = -1;
  std::optional<MonoTime> deadline_;
  std::optional<Duration> period_;
};

}  // namespace

Result<std::unique_ptr<FenceWakeups>> MakeKernelFenceWakeups() {
  auto w = std::make_unique<KernelFenceWakeups>();
  Status s = w->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<FenceWakeups>(std::move(w));
}

ManualFenceWakeups::ManualFenceWakeups() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

ManualFenceWakeups::~ManualFenceWakeups() {
  if (fd_ >= 0) close(fd_);
}

void ManualFenceWakeups::SetDeadline(std::optional<MonoTime> at) {
  std::lock_guard<std::mutex> l(mu_);
  deadline_ = at;
}

void ManualFenceWakeups::SetPauseChecks(std::optional<Duration> period) {
  std::lock_guard<std::mutex> l(mu_);
  period_ = period;
}

void ManualFenceWakeups::Ack() {
  std::lock_guard<std::mutex> l(mu_);
  ++acks_;
  uint64_t v = 0;
  ssize_t n = read(fd_, &v, sizeof v);
  (void)n;
}

void ManualFenceWakeups::Poke() {
  uint64_t one = 1;
  ssize_t n = write(fd_, &one, sizeof one);
  (void)n;
}

std::optional<MonoTime> ManualFenceWakeups::deadline() const {
  std::lock_guard<std::mutex> l(mu_);
  return deadline_;
}

std::optional<Duration> ManualFenceWakeups::pause_period() const {
  std::lock_guard<std::mutex> l(mu_);
  return period_;
}

int ManualFenceWakeups::acks() const {
  std::lock_guard<std::mutex> l(mu_);
  return acks_;
}

}  // namespace pgw
