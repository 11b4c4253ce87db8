#include "net/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pgw::net {

EventLoop::EventLoop(const Clock& clock) : clock_(clock) {}

EventLoop::~EventLoop() {
  if (wakefd_ >= 0) close(wakefd_);
  if (epfd_ >= 0) close(epfd_);
}

Status EventLoop::Init() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return IoError(std::string("epoll_create1: ") + std::strerror(errno));
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd_ < 0) return IoError(std::string("eventfd: ") + std::strerror(errno));
  return Add(wakefd_, kReadable, [this](uint32_t) {
    uint64_t v;
    while (read(wakefd_, &v, sizeof v) > 0) {
    }
  });
}

Status EventLoop::Add(int fd, uint32_t events, IoHandler h) {
  auto entry = std::make_unique<Entry>();
  entry->handler = std::move(h);
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = entry.get();
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return IoError(std::string("epoll_ctl(ADD): ") + std::strerror(errno));
  }
  handlers_[fd] = std::move(entry);
  return Status::Ok();
}

Status EventLoop::Modify(int fd, uint32_t events) {
  auto it = handlers_.find(fd);
  if (it == handlers_.end()) return InvalidArgument("epoll_ctl(MOD): descriptor not registered");
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = it->second.get();
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return IoError(std::string("epoll_ctl(MOD): ") + std::strerror(errno));
  }
  return Status::Ok();
}

void EventLoop::Remove(int fd) {
  auto it = handlers_.find(fd);
  if (it == handlers_.end()) return;
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  it->second->live = false;
  retired_.push_back(std::move(it->second));
  handlers_.erase(it);
}

EventLoop::TimerId EventLoop::After(Duration after, std::function<void()> fn) {
  TimerId id = next_timer_++;
  MonoTime when = clock_.Now() + after;
  timers_.emplace(std::make_pair(when, id), std::move(fn));
  timer_deadline_[id] = when;
  return id;
}

void EventLoop::Cancel(TimerId id) {
  auto it = timer_deadline_.find(id);
  if (it == timer_deadline_.end()) return;
  timers_.erase(std::make_pair(it->second, id));
  timer_deadline_.erase(it);
}

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> l(post_mu_);
    posted_.push_back(std::move(fn));
    has_posted_.store(true, std::memory_order_release);
  }
  uint64_t one = 1;
  if (write(wakefd_, &one, sizeof one) < 0) {
    // EAGAIN: the counter is saturated, so the loop is already due to wake.
  }
}

void EventLoop::Stop() {
  stop_ = true;
  Post([] {});
}

int EventLoop::NextTimeoutMs(MonoTime now) const {
  if (timers_.empty()) return 1000;
  auto d = timers_.begin()->first.first - now;
  if (d.count() <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(d.count(), 1000));
}

MonoTime EventLoop::RunDueTimers() {
  MonoTime now = clock_.Now();
  if (timers_.empty() || timers_.begin()->first.first > now) return now;
  // Bounded: only timers due now; a timer armed by a callback for "now" runs at the next turn.
  std::vector<std::function<void()>> due;
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    auto it = timers_.begin();
    timer_deadline_.erase(it->first.second);
    due.push_back(std::move(it->second));
    timers_.erase(it);
  }
  for (auto& fn : due) fn();
  return clock_.Now();
}

void EventLoop::RunPosted() {
  // The flag is set under the mutex after the push: a post this load misses wakes the next epoll_wait (eventfd).
  if (!has_posted_.load(std::memory_order_acquire)) return;
  std::vector<std::function<void()>> fns;
  {
    std::lock_guard<std::mutex> l(post_mu_);
    fns.swap(posted_);
    has_posted_.store(false, std::memory_order_relaxed);
  }
  for (auto& fn : fns) fn();
}

void EventLoop::ArmLagProbe() {
  lag_expected_ = std::chrono::steady_clock::now() + kLagProbePeriod;
  After(kLagProbePeriod, [this] {
    auto late =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - lag_expected_).count();
    if (late < 0) late = 0;
    lag_last_us_.store(late, std::memory_order_relaxed);
    if (late > lag_max_us_.load(std::memory_order_relaxed)) lag_max_us_.store(late, std::memory_order_relaxed);
    ArmLagProbe();
  });
}

void EventLoop::Run() {
  ArmLagProbe();
  epoll_event events[kMaxEvents];
  // The clock is read once per turn, by RunDueTimers after the handlers and posted tasks ran (again only when a timer
  // ran): the next wait's timeout is computed from that reading.
  MonoTime now = clock_.Now();
  while (!stop_.load()) {
    int n = epoll_wait(epfd_, events, kMaxEvents, NextTimeoutMs(now));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      auto* e = static_cast<Entry*>(events[i].data.ptr);
      if (!e->live) continue;  // removed earlier in this round (retired_ keeps it allocated until the round ends)
      e->handler(events[i].events);
    }
    retired_.clear();
    RunPosted();
    now = RunDueTimers();
  }
}

}  // namespace pgw::net
