// The configuration loader: patroni.yml text plus PATRONI_* environment variables, and the dynamic configuration
// JSON read from the DCS config key. Input: YAML text, then NUL-separated NAME=VALUE environment entries.
// A configuration that loads goes on to what pgwarden makes of its PostgreSQL parameters for each major the
// parameter table describes (renames, the per-version check, postgresql.conf rendering).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "pg/conf.h"
#include "pg/params.h"
#include "pg/pg_params_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t z = in.find('\0');
  std::string yaml = in.substr(0, z);
  pgw::LoadOptions opts;
  opts.check_bin_dir = false;
  while (z != std::string::npos) {
    size_t next = in.find('\0', z + 1);
    std::string entry = in.substr(z + 1, next == std::string::npos ? std::string::npos : next - z - 1);
    auto eq = entry.find('=');
    if (eq != std::string::npos) opts.env[entry.substr(0, eq)] = entry.substr(eq + 1);
    z = next;
  }
  auto loaded = pgw::LoadConfigText(yaml, opts);
  pgw::Json j = pgw::Json::parse(yaml, nullptr, false);
  std::vector<pgw::DynamicConfig> dyns;
  if (!j.is_discarded()) {
    std::vector<std::string> problems;
    dyns.push_back(pgw::DynamicConfig::FromJson(j, "", &problems));
  }
  if (loaded.config) {
    const pgw::Config& cfg = *loaded.config;
    dyns.push_back(cfg.bootstrap.dynamic);
    for (const auto& dyn : dyns) {
      for (int major = pgw::PgParamTableMinMajor() - 1; major <= pgw::PgParamTableMaxMajor() + 1; ++major) {
        std::vector<std::string> warnings;
        pgw::Json params =
            pgw::TranslateEffectiveParameters(major, pgw::EffectiveParameters(cfg, dyn), cfg, dyn, &warnings);
        (void)pgw::RenderPostgresqlConf(cfg, params, std::nullopt, true);
      }
    }
  }
  return 0;
}
