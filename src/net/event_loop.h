// A single-threaded epoll event loop with timers and cross-thread tasks. Shared by the router's workers (and, later,
// the agent's REST server); it knows nothing about PostgreSQL.
//
// Threading: Run() executes on one thread (the loop thread); every other method except Post() and Stop() must be
// called on that thread (from inside a callback, or before Run()). Post() and Stop() are safe from any thread.
// Callbacks must not block: no DNS, no sleeps, no synchronous I/O on blocking descriptors.
// Ownership: the loop does not own registered descriptors; whoever Add()s an fd must Remove() it before closing it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw::net {

// Event bits passed to Add()/Modify() and to handlers (the epoll bits of the same names).
inline constexpr uint32_t kReadable = 0x001;  // EPOLLIN
inline constexpr uint32_t kWritable = 0x004;  // EPOLLOUT
inline constexpr uint32_t kError = 0x008;     // EPOLLERR (always reported)
inline constexpr uint32_t kHangup = 0x010;    // EPOLLHUP (always reported)

class EventLoop {
 public:
  using IoHandler = std::function<void(uint32_t events)>;
  using TimerId = uint64_t;

  // `clock` drives timers and the lag measurement; not owned, must outlive the loop.
  explicit EventLoop(const Clock& clock);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Fails (kIo) when epoll or the wake-up eventfd cannot be created.
  Status Init();

  // Registers `fd` for `events`; `h` is called on the loop thread with the events that fired.
  Status Add(int fd, uint32_t events, IoHandler h);
  Status Modify(int fd, uint32_t events);
  // Unregisters `fd`; safe to call from inside its own handler. Events of this round not yet dispatched to it are
  // dropped, also when a new descriptor with the same number is added in the same round.
  void Remove(int fd);

  // Calls `fn` once, at or after `after` from now. Returns an id for Cancel().
  TimerId After(Duration after, std::function<void()> fn);
  void Cancel(TimerId id);

  // Runs `fn` on the loop thread at the next turn. Thread-safe.
  void Post(std::function<void()> fn);

  // Runs until Stop(). Every turn is bounded: at most kMaxEvents events and the timers that are due.
  void Run();
  // Makes Run() return after the current turn. Thread-safe.
  void Stop();

  // Loop lag: how late a timer armed every `lag_probe_period` fired, in microseconds (last and maximum since
  // start). Readable from any thread.
  int64_t lag_last_us() const { return lag_last_us_.load(std::memory_order_relaxed); }
  int64_t lag_max_us() const { return lag_max_us_.load(std::memory_order_relaxed); }
  static constexpr Duration kLagProbePeriod = Duration(100);
  static constexpr int kMaxEvents = 256;

  MonoTime Now() const { return clock_.Now(); }

 private:
  // A registered descriptor's handler; epoll's data.ptr points at it, so a dispatch costs no lookup.
  struct Entry {
    IoHandler handler;
    bool live = true;  // false once Remove()d: its remaining events of the round are skipped
  };

  // Runs the timers due at `now` and returns the new time (one clock reading per turn).
  MonoTime RunDueTimers();
  void RunPosted();
  int NextTimeoutMs(MonoTime now) const;
  void ArmLagProbe();

  const Clock& clock_;
  int epfd_ = -1;
  int wakefd_ = -1;
  std::atomic<bool> stop_{false};
  std::unordered_map<int, std::unique_ptr<Entry>> handlers_;
  // Entries removed during this round, freed after it (a handler may remove itself while it runs).
  std::vector<std::unique_ptr<Entry>> retired_;
  // Timers ordered by (deadline, id): ids grow, so equal deadlines fire in arming order.
  std::map<std::pair<MonoTime, TimerId>, std::function<void()>> timers_;
  std::unordered_map<TimerId, MonoTime> timer_deadline_;
  TimerId next_timer_ = 1;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> has_posted_{false};  // posted_ may be non-empty: spares the mutex on the turns with none
  std::atomic<int64_t> lag_last_us_{0};
  std::atomic<int64_t> lag_max_us_{0};
  std::chrono::steady_clock::time_point lag_expected_;
};

}  // namespace pgw::net
