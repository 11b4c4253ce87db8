// A small leveled logger. There is no global logger: components receive a Logger& from whoever owns them.
// Thread-safe: one line is written atomically.
#pragma once

#include <atomic>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>

namespace pgw {

enum class LogLevel { kDebug = 0, kInfo, kWarning, kError, kCritical };

// Parses Patroni's level names (DEBUG, INFO, WARNING, WARN, ERROR, CRITICAL; any case).
bool ParseLogLevel(const std::string& s, LogLevel* out);
// "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL".
const char* LogLevelName(LogLevel l);

class Logger {
 public:
  // Writes to `out` (not owned); `prefix` goes before each message, e.g. the member name.
  explicit Logger(FILE* out = stderr, LogLevel level = LogLevel::kInfo, std::string prefix = "")
      : out_(out), level_(level), prefix_(std::move(prefix)) {}

  // Any thread (a reload changes the level while other threads log).
  void SetLevel(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const { return level_.load(std::memory_order_relaxed); }
  bool Enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }
  void Log(LogLevel level, const std::string& msg);

  void Debug(const std::string& m) { Log(LogLevel::kDebug, m); }
  void Info(const std::string& m) { Log(LogLevel::kInfo, m); }
  void Warn(const std::string& m) { Log(LogLevel::kWarning, m); }
  void Error(const std::string& m) { Log(LogLevel::kError, m); }

 private:
  std::mutex mu_;
  FILE* out_;
  std::atomic<LogLevel> level_;
  std::string prefix_;
};

}  // namespace pgw
