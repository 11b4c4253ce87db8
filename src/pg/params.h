// PostgreSQL parameters across major versions: renames and removals, applied before postgresql.conf is written so
// that a patroni.yml written for another major version still starts PostgreSQL (Patroni does the same).
//
// Renames and removals are listed here; what each major accepts is in the generated table of pg/pg_params_table.h,
// applied by pg/param_check.h after the renames (see docs/configuration.md).
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace pgw {

// The major version (13, 14, ...) from `data_dir`/PG_VERSION; 0 when unknown.
int DataDirMajorVersion(const std::string& data_dir);

// `params` made valid for `major` (0 = unknown: returned unchanged): wal_keep_segments <-> wal_keep_size converted
// at 16MB a segment (an explicitly given target wins), wal_level archive/hot_standby -> replica, renamed parameters
// translated, removed ones left out; then CheckParameters (pg/param_check.h): parameters unknown to `major` and
// invalid values left out, numbers out of range replaced by the limit. Each change is reported in `warnings` with
// the parameter's name.
Json TranslateParameters(int major, const Json& params, std::vector<std::string>* warnings);

// TranslateParameters over EffectiveParameters(cfg, dyn): pgwarden's default wal_keep_size does not shadow a
// wal_keep_segments the user set (only a wal_keep_size the user set does).
Json TranslateEffectiveParameters(int major, Json effective, const Config& cfg, const DynamicConfig& dyn,
                                  std::vector<std::string>* warnings);

}  // namespace pgw
