#include "common/clock.h"

#include <cctype>
#include <cstdio>

#include <cmath>
#include <ctime>

namespace pgw {

MonoTime RealClock::Now() const { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

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

namespace pgw {

std::optional<double> ParseIsoTimestamp(const std::string& text, bool* has_zone) {
  *has_zone = false;
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) != 6) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t i = static_cast<size_t>(consumed);
  double frac = 0;
  if (i < text.size() && text[i] == '.') {
    size_t j = i + 1;
    double scale = 0.1;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
      frac += (text[j] - '0') * scale;
      scale /= 10;
      ++j;
    }
    if (j == i + 1) return std::nullopt;
    i = j;
  }
  long offset = 0;
  if (i < text.size()) {
    if (text[i] == 'Z' || text[i] == 'z') {
      *has_zone = true;
      ++i;
    } else if (text[i] == '+' || text[i] == '-') {
      int oh = 0, om = 0, n = 0;
      std::string rest = text.substr(i + 1);
      if (std::sscanf(rest.c_str(), "%2d:%2d%n", &oh, &om, &n) == 2 ||
          std::sscanf(rest.c_str(), "%2d%2d%n", &oh, &om, &n) == 2) {
        offset = (text[i] == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
        *has_zone = true;
        i += 1 + static_cast<size_t>(n);
      } else {
        return std::nullopt;
      }
    }
  }
  if (i != text.size()) return std::nullopt;
  struct tm t {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = sec;
  time_t base = timegm(&t);
  return static_cast<double>(base) - static_cast<double>(offset) + frac;
}

}  // namespace pgw
