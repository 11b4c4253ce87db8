// pgwardenctl check: its options, the table and the JSON (pure).
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "ctl/check.h"
#include "ctl/ctl.h"

namespace pgw::ctl::check {

// "10MB", "512kB", "1048576", "2GB", "100B" -> bytes (powers of 1024, PostgreSQL's units).
std::optional<int64_t> ParseBytes(const std::string& s) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"GB", 1LL << 30}, {"MB", 1LL << 20}, {"kB", 1LL << 10}, {"B", 1}};
  std::string num = s;
  int64_t unit = 1;
  for (const auto& [suffix, mult] : kUnits) {
    const std::string u = suffix;
    if (num.size() > u.size() && num.compare(num.size() - u.size(), u.size(), u) == 0) {
      num = num.substr(0, num.size() - u.size());
      unit = mult;
      break;
    }
  }
  if (num.empty()) return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(num.c_str(), &end, 10);
  if (*end != 0 || v < 0 || v > (INT64_MAX / unit)) return std::nullopt;
  return static_cast<int64_t>(v) * unit;
}

// Seconds, fractions allowed, > 0 and at most a day.
std::optional<double> ParseSeconds(const std::string& s, bool allow_zero) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (*end != 0 || !std::isfinite(v) || v < 0 || (v == 0 && !allow_zero) || v > 86400) return std::nullopt;
  return v;
}

namespace {

Duration Ms(double seconds) { return Duration(static_cast<int64_t>(std::llround(seconds * 1000))); }

}  // namespace

Result<CheckOptions> ParseCheckOptions(const std::vector<std::string>& args) {
  CheckOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--no-canary") {
      o.canary = false;
      continue;
    }
    if (i + 1 >= args.size()) return InvalidArgument("option " + a + " needs a value");
    const std::string& v = args[++i];
    auto bad = [&](const std::string& what) { return InvalidArgument(a + ": '" + v + "' is not " + what); };
    if (a == "--max-lag-bytes") {
      auto b = ParseBytes(v);
      if (!b) return bad("a size (bytes, or with kB, MB, GB)");
      o.max_lag_bytes = *b;
    } else if (a == "--max-lag-seconds") {
      auto s = ParseSeconds(v, true);
      if (!s) return bad("a number of seconds");
      o.max_lag_seconds = *s;
    } else if (a == "--canary-timeout" || a == "--timeout") {
      auto s = ParseSeconds(v, false);
      if (!s) return bad("a number of seconds above 0");
      (a == "--timeout" ? o.timeout : o.canary_timeout) = Ms(*s);
    } else if (a == "--dbname") {
      o.dbname = v;
    } else if (a == "--username") {
      o.username = v;
    } else if (a == "--router" || a == "--router-read" || a == "--router-admin") {
      auto hp = ParseHostPort(v);
      if (!hp.ok() || hp->port <= 0) return bad("HOST:PORT");
      (a == "--router" ? o.router_write : a == "--router-read" ? o.router_read : o.router_admin) = *hp;
    } else if (a == "--router-samples") {
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != 0 || n < 1 || n > 1000) return bad("a count from 1 to 1000");
      o.router_read_samples = static_cast<int>(n);
    } else {
      return InvalidArgument("unknown option '" + a + "'");
    }
  }
  // The router's read port is next to its write port by default (6432, 6433).
  if (o.router_write && !o.router_read) o.router_read = HostPort{o.router_write->host, o.router_write->port + 1};
  return o;
}

std::string RenderTable(const std::string& scope, const std::vector<CheckResult>& results) {
  std::vector<std::vector<std::string>> rows;
  int counts[3] = {0, 0, 0};
  for (const auto& r : results) {
    rows.push_back({r.check, r.subject, VerdictName(r.verdict), r.reason});
    ++counts[static_cast<int>(r.verdict)];
  }
  std::string out =
      Table({"Check", "Subject", "Result", "Reason"}, rows, {false, false, false, false}, "Cluster: " + scope);
  out += std::to_string(counts[0]) + " passed, " + std::to_string(counts[1]) + " warned, " + std::to_string(counts[2]) +
         " failed\n";
  return out;
}

Json RenderJson(const std::string& scope, const std::vector<CheckResult>& results) {
  Json checks = Json::array();
  Json summary = {{"pass", 0}, {"warn", 0}, {"fail", 0}};
  for (const auto& r : results) {
    checks.push_back(
        {{"check", r.check}, {"subject", r.subject}, {"result", VerdictName(r.verdict)}, {"reason", r.reason}});
    summary[VerdictName(r.verdict)] = summary[VerdictName(r.verdict)].get<int>() + 1;
  }
  return {{"cluster", scope}, {"ok", ExitCode(results) == 0}, {"summary", summary}, {"checks", checks}};
}

int ExitCode(const std::vector<CheckResult>& results) {
  for (const auto& r : results) {
    if (r.verdict == Verdict::kFail) return 1;
  }
  return 0;
}

}  // namespace pgw::ctl::check
