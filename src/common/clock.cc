#include "common/clock.h"

#include <cmath>
#include <ctime>

namespace pgw {

MonoTime RealClock::Now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

double RealClock::WallSeconds() const {
  auto d = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(d).count();
}

MonoTime ManualClock::Now() const {
  std::lock_guard<std::mutex> l(mu_);
  return now_;
}

double ManualClock::WallSeconds() const {
  std::lock_guard<std::mutex> l(mu_);
  return wall_;
}

void ManualClock::Advance(Duration d) {
  std::lock_guard<std::mutex> l(mu_);
  now_ += d;
  wall_ += std::chrono::duration<double>(d).count();
}

std::string IsoTimestamp(double wall_seconds) {
  auto secs = static_cast<time_t>(std::floor(wall_seconds));
  long micros = std::lround((wall_seconds - static_cast<double>(secs)) * 1e6);
  if (micros >= 1000000) {
    secs += 1;
    micros -= 1000000;
  }
  struct tm tm_utc {};
  gmtime_r(&secs, &tm_utc);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm_utc);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%06ld+00:00", buf, micros);
  return out;
}

}  // namespace pgw
