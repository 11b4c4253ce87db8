#include "agent/pause_detector.h"

#include <time.h>

#include <algorithm>
#include <cmath>

namespace pgw {

int64_t BootTimeMs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

std::optional<Duration> PauseDetector::Sample() {
  // Readings further apart than this say nothing about a pause: we were descheduled between them (a SIGSTOP of the
  // agent between two readings must not look like a pause of the machine).
  constexpr int64_t kMaxReadSpreadMs = 20;
  int64_t m1 = clock_.Now().time_since_epoch().count();
  int64_t wall = static_cast<int64_t>(std::llround(clock_.WallSeconds() * 1000.0));
  int64_t boot = boottime_ms_ ? boottime_ms_() : m1;
  int64_t m2 = clock_.Now().time_since_epoch().count();
  if (m2 - m1 > kMaxReadSpreadMs) return std::nullopt;
  int64_t wall_offset = wall - m1;
  int64_t boot_offset = boot - m1;
  bool had = have_;
  int64_t jump = std::max(wall_offset - wall_offset_, boot_offset - boot_offset_);
  have_ = true;
  wall_offset_ = wall_offset;
  boot_offset_ = boot_offset;
  if (!had || jump <= threshold_.count()) return std::nullopt;
  return Duration(jump);
}

}  // namespace pgw
