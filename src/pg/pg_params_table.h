// The parameters PostgreSQL 13 to 17 know: one row per parameter and range of major versions, generated into
// pg_params_table.cc by scripts/gen_pg_params.py (see docs/configuration.md). Constant data, any thread.
#pragma once

#include <cstdint>
#include <span>

namespace pgw {

enum class PgParamType : uint8_t {
  kBool,
  kInteger,
  kReal,
  kString,
  kEnum,
  kInternal,  // read-only (fixed when PostgreSQL was built or initdb ran): PostgreSQL refuses it in a file
};

// The base unit of an integer or real parameter: a bare number is counted in it.
enum class PgUnit : uint8_t { kNone, kBytes, kKilobytes, kMegabytes, kBlocks, kMilliseconds, kSeconds, kMinutes };

struct PgParamSpec {
  const char* name;  // as PostgreSQL spells it; looked up case-insensitively
  int since;         // first major version with this definition
  int until;         // first major version without it; 0 = still present
  PgParamType type;
  PgUnit unit;
  double min, max;     // integer and real only
  const char* values;  // enum only: "listed,values|hidden,values" (hidden: accepted but not listed by PostgreSQL)
};

// Sorted by lower-case name, then `since`.
std::span<const PgParamSpec> PgParamTable();
// The majors the table describes; outside them parameters are not checked.
int PgParamTableMinMajor();
int PgParamTableMaxMajor();

}  // namespace pgw
