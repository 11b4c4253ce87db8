#include "common/log.h"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace pgw {

bool ParseLogLevel(const std::string& s, LogLevel* out) {
  std::string u = s;
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (u == "DEBUG")
    *out = LogLevel::kDebug;
  else if (u == "INFO")
    *out = LogLevel::kInfo;
  else if (u == "WARNING" || u == "WARN")
    *out = LogLevel::kWarning;
  else if (u == "ERROR")
    *out = LogLevel::kError;
  else if (u == "CRITICAL" || u == "FATAL")
    *out = LogLevel::kCritical;
  else
    return false;
  return true;
}

const char* LogLevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kWarning: return "WARNING";
    case LogLevel::kError: return "ERROR";
    case LogLevel::kCritical: return "CRITICAL";
  }
  return "?";
}

void Logger::Log(LogLevel level, const std::string& msg) {
  if (!Enabled(level)) return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  struct tm tm_local {};
  localtime_r(&secs, &tm_local);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm_local);
  std::lock_guard<std::mutex> l(mu_);
  std::fprintf(out_, "%s,%03d %s: %s%s\n", ts, static_cast<int>(ms), LogLevelName(level), prefix_.c_str(), msg.c_str());
  std::fflush(out_);
}

}  // namespace pgw
