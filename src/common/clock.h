// Time, behind an interface so that the decision core and timers are tested on a manual clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace pgw {

using Duration = std::chrono::milliseconds;
// Monotonic instant, in milliseconds since an arbitrary epoch. Used for every deadline and lease computation.
using MonoTime = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time: never jumps; the only clock used for leases and deadlines.
  virtual MonoTime Now() const = 0;
  // Wall-clock seconds since the Unix epoch (for JSON fields such as dcs_last_seen and history timestamps).
  virtual double WallSeconds() const = 0;
};

class RealClock final : public Clock {
 public:
  MonoTime Now() const override;
  double WallSeconds() const override;
};

// A clock that moves only when told. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(double wall_start = 1.8e9) : wall_(wall_start) {}
  MonoTime Now() const override;
  double WallSeconds() const override;
  void Advance(Duration d);

 private:
  mutable std::mutex mu_;
  MonoTime now_{Duration(1000000)};
  double wall_;
};

// ISO 8601 with microseconds and +00:00, as Patroni writes timestamps: 2026-11-22T00:22:19.322817+00:00
std::string IsoTimestamp(double wall_seconds);

// Parses an ISO 8601 timestamp ("2026-11-22T10:00:00+01:00", "...Z", optional fraction, space or T). The zone is
// required: `*has_zone` tells whether one was given (Patroni refuses scheduled switchovers without it). Returns
// wall seconds since the epoch, or nullopt when the text is not a timestamp.
std::optional<double> ParseIsoTimestamp(const std::string& text, bool* has_zone);

}  // namespace pgw
