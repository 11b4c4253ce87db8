#include "pg/params.h"

#include <cstdlib>

#include "common/fs.h"
#include "pg/param_check.h"

namespace pgw {
namespace {

struct Rename {
  const char* from;
  const char* to;
  int since;  // first major version with the new name
};
// wal_keep_segments (13) is converted, not just renamed; see TranslateParameters.
constexpr Rename kRenames[] = {
    {"force_parallel_mode", "debug_parallel_query", 16},
};

struct Removal {
  const char* name;
  int removed_in;  // first major version without it
};
constexpr Removal kRemovals[] = {
    {"operator_precedence_warning", 14}, {"vacuum_cleanup_index_scale_factor", 14}, {"stats_temp_directory", 15},
    {"promote_trigger_file", 16},        {"vacuum_defer_cleanup_age", 16},          {"db_user_namespace", 17},
    {"old_snapshot_threshold", 17},      {"trace_recovery_messages", 17},
};

long long ParseSizeMb(const Json& v) {
  // wal_keep_size: an integer is MB; "128MB", "1GB", "512kB" are converted.
  if (v.is_number_integer()) return v.get<long long>();
  if (!v.is_string()) return -1;
  const std::string s = v.get<std::string>();
  char* end = nullptr;
  long long n = std::strtoll(s.c_str(), &end, 10);
  std::string unit = end ? std::string(end) : "";
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  if (unit.empty() || unit == "MB") return n;
  if (unit == "GB") return n * 1024;
  if (unit == "TB") return n * 1024 * 1024;
  if (unit == "kB") return n / 1024;
  return -1;
}

}  // namespace

int DataDirMajorVersion(const std::string& data_dir) {
  auto text = ReadFile(data_dir + "/PG_VERSION");
  if (!text.ok()) return 0;
  return std::atoi(text->c_str());
}

Json TranslateParameters(int major, const Json& params, std::vector<std::string>* warnings) {
  if (major <= 0 || !params.is_object()) return params;
  Json out = params;
  auto warn = [&](const std::string& w) { warnings->push_back("postgresql.parameters." + w); };
  if (major >= 13 && out.contains("wal_keep_segments")) {
    const Json seg = out.at("wal_keep_segments");
    long long n = seg.is_number_integer() ? seg.get<long long>()
                                          : (seg.is_string() ? std::atoll(seg.get<std::string>().c_str()) : -1);
    out.erase("wal_keep_segments");
    if (n < 0) {
      warn("wal_keep_segments: invalid value " + seg.dump(-1, ' ', false, Json::error_handler_t::replace) +
           ", left out");
    } else if (params.contains("wal_keep_size") && !params.at("wal_keep_size").is_null()) {
      warn("wal_keep_segments: PostgreSQL " + std::to_string(major) +
           " has wal_keep_size instead, which is also set: wal_keep_segments left out");
    } else {
      out["wal_keep_size"] = std::to_string(n * 16) + "MB";
      warn("wal_keep_segments: PostgreSQL " + std::to_string(major) + " has wal_keep_size instead: " +
           std::to_string(n) + " segments written as wal_keep_size = " + std::to_string(n * 16) + "MB");
    }
  }
  if (major < 13 && out.contains("wal_keep_size")) {
    long long mb = ParseSizeMb(out.at("wal_keep_size"));
    out.erase("wal_keep_size");
    if (!params.contains("wal_keep_segments") && mb >= 0) out["wal_keep_segments"] = (mb + 8) / 16;
  }
  if (out.contains("wal_level") && out.at("wal_level").is_string()) {
    std::string l = out.at("wal_level").get<std::string>();
    if (l == "hot_standby" || l == "archive") {
      out["wal_level"] = "replica";
      warn("wal_level: '" + l + "' is called 'replica' since PostgreSQL 9.6, written as replica");
    }
  }
  for (const auto& r : kRenames) {
    if (major >= r.since && out.contains(r.from)) {
      if (!out.contains(r.to)) out[r.to] = out.at(r.from);
      out.erase(r.from);
      warn(std::string(r.from) + ": renamed " + r.to + " in PostgreSQL " + std::to_string(r.since) + ", written as " +
           r.to);
    } else if (major < r.since && out.contains(r.to)) {
      if (!out.contains(r.from)) out[r.from] = out.at(r.to);
      out.erase(r.to);
      warn(std::string(r.to) + ": called " + r.from + " before PostgreSQL " + std::to_string(r.since) +
           ", written as " + r.from);
    }
  }
  for (const auto& r : kRemovals) {
    if (major >= r.removed_in && out.contains(r.name)) {
      out.erase(r.name);
      warn(std::string(r.name) + ": removed in PostgreSQL " + std::to_string(r.removed_in) + ", left out (PostgreSQL " +
           std::to_string(major) + " would refuse to start)");
    }
  }
  return CheckParameters(major, out, warnings);
}

Json TranslateEffectiveParameters(int major, Json effective, const Config& cfg, const DynamicConfig& dyn,
                                  std::vector<std::string>* warnings) {
  if (effective.contains("wal_keep_segments") && !dyn.parameters.contains("wal_keep_size") &&
      !cfg.postgresql.parameters.contains("wal_keep_size")) {
    effective.erase("wal_keep_size");
  }
  return TranslateParameters(major, effective, warnings);
}

}  // namespace pgw
