// Parameter checks against the per-major table (pg/param_check.h, issue 11).
#include "pg/param_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "pg/conf.h"
#include "pg/params.h"
#include "pg/pg_params_table.h"
#include "test_util.h"

namespace pgw {
namespace {

using Kind = ParamVerdict::Kind;

Kind K(int major, const std::string& name, const std::string& value) { return CheckParameter(major, name, value).kind; }

bool Has(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

TEST(ParamCheckTest, UnknownParameterIsLeftOutWithOneWarning) {
  std::vector<std::string> w;
  Json out = CheckParameters(15, Json{{"work_mem", "8MB"}, {"no_such_parameter", 1}}, &w);
  EXPECT_EQ(out, (Json{{"work_mem", "8MB"}}));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0],
            "postgresql.parameters.no_such_parameter: not a parameter of PostgreSQL 15, left out (PostgreSQL "
            "15 would refuse to start)");
}

TEST(ParamCheckTest, VersionEdges13And14) {
  EXPECT_EQ(K(13, "compute_query_id", "on"), Kind::kUnknown);
  EXPECT_EQ(K(14, "compute_query_id", "on"), Kind::kOk);
  EXPECT_EQ(K(14, "compute_query_id", "regress"), Kind::kInvalid);  // 'regress' came with 15
  EXPECT_EQ(K(15, "compute_query_id", "regress"), Kind::kOk);
  EXPECT_EQ(K(13, "operator_precedence_warning", "on"), Kind::kOk);
  EXPECT_EQ(K(14, "operator_precedence_warning", "on"), Kind::kUnknown);
  EXPECT_EQ(K(13, "password_encryption", "on"), Kind::kOk);  // md5 before 14
  EXPECT_EQ(K(14, "password_encryption", "on"), Kind::kInvalid);
  EXPECT_EQ(K(14, "wal_compression", "on"), Kind::kOk);
  EXPECT_EQ(K(14, "wal_compression", "lz4"), Kind::kInvalid);  // a boolean before 15
  EXPECT_EQ(K(15, "wal_compression", "lz4"), Kind::kOk);
  EXPECT_EQ(K(14, "stats_temp_directory", "/tmp"), Kind::kOk);
  EXPECT_EQ(K(15, "stats_temp_directory", "/tmp"), Kind::kUnknown);
  EXPECT_EQ(CheckParameter(13, "idle_session_timeout", "1min").why,
            "not a parameter of PostgreSQL 13 (added in PostgreSQL 14)");
}

TEST(ParamCheckTest, VersionEdges15To17) {
  EXPECT_EQ(K(15, "vacuum_buffer_usage_limit", "256kB"), Kind::kUnknown);
  EXPECT_EQ(K(16, "vacuum_buffer_usage_limit", "256kB"), Kind::kOk);
  EXPECT_EQ(K(15, "promote_trigger_file", "/tmp/x"), Kind::kOk);
  EXPECT_EQ(K(16, "promote_trigger_file", "/tmp/x"), Kind::kUnknown);
  EXPECT_EQ(K(15, "force_parallel_mode", "regress"), Kind::kOk);
  EXPECT_EQ(K(16, "debug_parallel_query", "regress"), Kind::kOk);
  EXPECT_EQ(K(16, "old_snapshot_threshold", "-1"), Kind::kOk);
  EXPECT_EQ(K(17, "old_snapshot_threshold", "-1"), Kind::kUnknown);
  EXPECT_EQ(K(16, "summarize_wal", "on"), Kind::kUnknown);
  EXPECT_EQ(K(17, "summarize_wal", "on"), Kind::kOk);
  EXPECT_EQ(K(17, "transaction_timeout", "10s"), Kind::kOk);
  EXPECT_EQ(K(17, "sync_replication_slots", "maybe"), Kind::kInvalid);
  EXPECT_EQ(CheckParameter(17, "db_user_namespace", "off").why,
            "not a parameter of PostgreSQL 17 (removed in PostgreSQL 17)");
  // A rename first, then the check: force_parallel_mode reaches 16 as debug_parallel_query.
  std::vector<std::string> w;
  EXPECT_EQ(TranslateParameters(16, Json{{"force_parallel_mode", "on"}}, &w), (Json{{"debug_parallel_query", "on"}}));
  EXPECT_EQ(TranslateParameters(17, Json{{"force_parallel_mode", "bogus"}}, &w), Json::object());
  EXPECT_TRUE(Has(w, "postgresql.parameters.debug_parallel_query: invalid value 'bogus'"));
}

TEST(ParamCheckTest, UnitsAreConvertedForTheRangeCheck) {
  EXPECT_EQ(K(15, "shared_buffers", "128MB"), Kind::kOk);
  EXPECT_EQ(K(15, "shared_buffers", "16384"), Kind::kOk);      // 8kB blocks
  EXPECT_EQ(K(15, "shared_buffers", "8TB"), Kind::kAboveMax);  // 2^30 blocks, the maximum is 2^30-1
  EXPECT_EQ(K(15, "shared_buffers", "120kB"), Kind::kBelowMin);
  EXPECT_EQ(K(15, "wal_keep_size", "1.5GB"), Kind::kOk);
  EXPECT_EQ(K(15, "work_mem", "64kB"), Kind::kOk);
  EXPECT_EQ(K(15, "work_mem", "63kB"), Kind::kBelowMin);
  EXPECT_EQ(K(15, "work_mem", "4 MB"), Kind::kOk);  // blanks between number and unit
  EXPECT_EQ(K(15, "work_mem", "4MB "), Kind::kOk);
  EXPECT_EQ(K(15, "work_mem", "4mb"), Kind::kInvalid);  // units are case-sensitive
  EXPECT_EQ(K(15, "work_mem", "4XB"), Kind::kInvalid);
  EXPECT_EQ(K(15, "work_mem", "4s"), Kind::kInvalid);  // a time unit on a memory parameter
  EXPECT_EQ(K(15, "work_mem", "MB"), Kind::kInvalid);
  EXPECT_EQ(K(15, "checkpoint_timeout", "5min"), Kind::kOk);
  EXPECT_EQ(K(15, "checkpoint_timeout", "1d"), Kind::kOk);
  EXPECT_EQ(K(15, "checkpoint_timeout", "2d"), Kind::kAboveMax);
  EXPECT_EQ(K(15, "checkpoint_timeout", "29s"), Kind::kBelowMin);
  EXPECT_EQ(K(15, "checkpoint_timeout", "5 mins"), Kind::kInvalid);  // at most 3 letters
  EXPECT_EQ(K(15, "checkpoint_timeout", "30000ms"), Kind::kOk);
  EXPECT_EQ(K(15, "wal_retrieve_retry_interval", "500ms"), Kind::kOk);
  EXPECT_EQ(K(15, "wal_retrieve_retry_interval", "500us"), Kind::kBelowMin);  // rounds to 0 ms, the minimum is 1
  EXPECT_EQ(K(15, "max_connections", "100kB"), Kind::kInvalid);               // no unit
  EXPECT_EQ(K(15, "max_connections", "0x40"), Kind::kOk);                     // hex, as strtol reads it
  EXPECT_EQ(K(15, "max_connections", "100.4"), Kind::kOk);                    // rounded
  EXPECT_EQ(K(15, "max_connections", "1e2"), Kind::kOk);
  EXPECT_EQ(K(15, "max_connections", "99999999999"), Kind::kInvalid);  // beyond int
  EXPECT_EQ(K(15, "max_connections", "lots"), Kind::kInvalid);
  EXPECT_EQ(K(15, "checkpoint_completion_target", "0.9"), Kind::kOk);
  EXPECT_EQ(K(15, "checkpoint_completion_target", "1.5"), Kind::kAboveMax);
  EXPECT_EQ(K(15, "checkpoint_completion_target", "nan"), Kind::kInvalid);
  EXPECT_EQ(K(15, "autovacuum_vacuum_cost_delay", "2.5ms"), Kind::kOk);  // a real with a unit
  EXPECT_EQ(CheckParameter(15, "work_mem", "4XB").why, "unknown unit 'XB' (valid units: B, kB, MB, GB, TB)");
}

TEST(ParamCheckTest, OutOfRangeIsReplacedByTheLimitAsPatroniDoes) {
  std::vector<std::string> w;
  Json out = CheckParameters(15, Json{{"checkpoint_timeout", "2d"}, {"work_mem", "1kB"}}, &w);
  EXPECT_EQ(out, (Json{{"checkpoint_timeout", 86400}, {"work_mem", 64}}));
  EXPECT_TRUE(Has(w,
                  "postgresql.parameters.checkpoint_timeout: value '2d' is above the maximum (range 30s to 86400s) "
                  "in PostgreSQL 15; written as 86400"));
  EXPECT_TRUE(Has(w, "postgresql.parameters.work_mem: value '1kB' is below the minimum (range 64kB to"));
  out = CheckParameters(15, Json{{"checkpoint_completion_target", 2.5}}, &w);
  EXPECT_EQ(out, (Json{{"checkpoint_completion_target", 1.0}}));
}

TEST(ParamCheckTest, Enums) {
  EXPECT_EQ(K(15, "wal_level", "replica"), Kind::kOk);
  EXPECT_EQ(K(15, "wal_level", "LOGICAL"), Kind::kOk);  // case-insensitive
  EXPECT_EQ(K(15, "wal_level", "archive"), Kind::kOk);  // accepted, not listed
  EXPECT_EQ(K(15, "wal_level", "minimalist"), Kind::kInvalid);
  EXPECT_EQ(K(15, "synchronous_commit", "remote_apply"), Kind::kOk);
  EXPECT_EQ(K(15, "synchronous_commit", "true"), Kind::kOk);
  EXPECT_EQ(K(15, "synchronous_commit", "t"), Kind::kInvalid);  // enums take no prefixes
  EXPECT_EQ(K(15, "default_transaction_isolation", "Repeatable Read"), Kind::kOk);
  EXPECT_EQ(K(15, "ssl_max_protocol_version", ""), Kind::kOk);
  EXPECT_EQ(CheckParameter(15, "wal_level", "bogus").why, "not one of the allowed values: minimal, replica, logical");
  std::vector<std::string> w;
  EXPECT_EQ(CheckParameters(15, Json{{"synchronous_commit", false}, {"archive_mode", true}}, &w),
            (Json{{"synchronous_commit", false}, {"archive_mode", true}}));  // YAML booleans are written on/off
  EXPECT_TRUE(w.empty());
}

TEST(ParamCheckTest, BoolsAsPostgresqlParsesThem) {
  for (const char* ok :
       {"on", "off", "true", "false", "yes", "no", "1", "0", "ON", "True", "t", "tr", "f", "y", "n", "of", "OFF"}) {
    EXPECT_EQ(K(15, "hot_standby", ok), Kind::kOk) << ok;
  }
  for (const char* bad : {"o", "2", "", " on", "on ", "truex", "yess", "01", "enable", "nope"}) {
    EXPECT_EQ(K(15, "hot_standby", bad), Kind::kInvalid) << "'" << bad << "'";
  }
}

TEST(ParamCheckTest, CustomParametersPassAndBadNamesAreLeftOut) {
  EXPECT_EQ(K(15, "pg_stat_statements.max", "whatever"), Kind::kUnchecked);
  EXPECT_EQ(K(15, "auto_explain.log_min_duration", "5s"), Kind::kUnchecked);
  std::vector<std::string> w;
  Json out = CheckParameters(15, Json{{"pg_stat_statements.max", 10000}, {"a.b.c", 1}, {"x y", 1}, {"", 1}}, &w);
  EXPECT_EQ(out, (Json{{"pg_stat_statements.max", 10000}}));
  EXPECT_TRUE(Has(w, "postgresql.parameters.'a.b.c': not a name postgresql.conf can hold, left out"));
  EXPECT_EQ(w.size(), 3u);
}

TEST(ParamCheckTest, BadValueIsLeftOutWithAWarningNamingKeyValueAndReason) {
  std::vector<std::string> w;
  Json out = CheckParameters(15, Json{{"work_mem", "lots"}, {"hot_standby", "maybe"}, {"block_size", 4096}}, &w);
  EXPECT_EQ(out, Json::object());
  EXPECT_TRUE(Has(w,
                  "postgresql.parameters.work_mem: invalid value 'lots' for PostgreSQL 15: not an integer; left "
                  "out, PostgreSQL uses its default"));
  EXPECT_TRUE(Has(w, "postgresql.parameters.hot_standby: invalid value 'maybe'"));
  EXPECT_TRUE(Has(w, "postgresql.parameters.block_size: read-only"));
}

TEST(ParamCheckTest, MajorsOutsideTheTableAreNotChecked) {
  std::vector<std::string> w;
  Json p = {{"no_such_parameter", 1}};
  EXPECT_EQ(CheckParameters(12, p, &w), p);
  EXPECT_EQ(CheckParameters(0, p, &w), p);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(CheckParameters(18, p, &w), p);
  EXPECT_TRUE(Has(w, "postgresql.parameters: pgwarden knows the parameters of PostgreSQL 13 to 17"));
}

TEST(ParamCheckTest, WhatPgwardenWritesItselfPassesOnEveryMajor) {
  auto r = testing::Load(testing::kGoodConfig);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  Config cfg = *r.config;
  cfg.postgresql.parameters = Json::object();  // only pgwarden's defaults and what it owns
  Json p = EffectiveParameters(cfg, DynamicConfig{});
  p["synchronous_standby_names"] = "ANY 1 (\"pg1\",\"pg2\")";
  for (int major = PgParamTableMinMajor(); major <= PgParamTableMaxMajor(); ++major) {
    std::vector<std::string> w;
    EXPECT_EQ(CheckParameters(major, p, &w), p) << major;
    EXPECT_TRUE(w.empty()) << major << ": " << w[0];
  }
}

TEST(ParamCheckTest, TableIsSortedAndConsistent) {
  auto table = PgParamTable();
  ASSERT_GT(table.size(), 300u);
  for (const auto& s : table) {
    EXPECT_GE(s.since, PgParamTableMinMajor()) << s.name;
    EXPECT_TRUE(s.until == 0 || s.until > s.since) << s.name;
    EXPECT_EQ(s.type == PgParamType::kEnum, s.values != nullptr) << s.name;
    if (s.type == PgParamType::kInteger || s.type == PgParamType::kReal) {
      EXPECT_LE(s.min, s.max) << s.name;
    }
  }
}

// Robustness: arbitrary names and values never crash the checker, and its verdict is stable.
TEST(ParamCheckTest, NastyInputsNeverCrash) {
  const std::vector<std::string> nasty = {"",
                                          " ",
                                          "\t\n",
                                          std::string("on\0off", 6),
                                          std::string(1, '\0'),
                                          "'",
                                          "''",
                                          "\\",
                                          "\\\\'",
                                          "%s%n%x",
                                          "\xff\xfe",
                                          "\xc3\x28",
                                          "1e400",
                                          "-1e400",
                                          "1e-400",
                                          "0x",
                                          "0x7fffffffffffffffff",
                                          "-0x80000000",
                                          "--1",
                                          "+-1",
                                          "1..2",
                                          ".",
                                          "e5",
                                          "1e",
                                          "1e+",
                                          "inf",
                                          "-inf",
                                          "nan",
                                          "infinity",
                                          "0x1p3",
                                          "1 kB",
                                          "1    kB  ",
                                          "1kB x",
                                          "1TBB",
                                          "1TB",
                                          "99999999999999999999TB",
                                          "-99999999999999999999ms",
                                          "1min",
                                          "1mins",
                                          "1 m i n",
                                          std::string(10000, '9'),
                                          std::string(100000, 'a'),
                                          "\x01\x02\x03",
                                          "on\n",
                                          "true\r\n",
                                          "a,b|c",
                                          "|",
                                          ","};
  const std::vector<std::string> names = {"work_mem",
                                          "shared_buffers",
                                          "checkpoint_timeout",
                                          "hot_standby",
                                          "wal_level",
                                          "ssl_max_protocol_version",
                                          "checkpoint_completion_target",
                                          "search_path",
                                          "block_size",
                                          "x.y",
                                          "x..y",
                                          ".x",
                                          "x.",
                                          "Work_Mem",
                                          ""};
  for (int major : {0, 12, 13, 14, 15, 16, 17, 18}) {
    for (const auto& n : names) {
      for (const auto& v : nasty) {
        ParamVerdict a = CheckParameter(major, n, v);
        EXPECT_EQ(a.kind, CheckParameter(major, n, v).kind);
      }
    }
  }
  std::mt19937 rng(20260511);  // fixed seed: a failure reproduces
  std::vector<std::string> w;
  for (int i = 0; i < 2000; ++i) {
    std::string name, value;
    for (int j = rng() % 12; j > 0; --j) name += static_cast<char>(rng() % 256);
    for (int j = rng() % 24; j > 0; --j) value += static_cast<char>(rng() % 256);
    (void)CheckParameter(13 + static_cast<int>(rng() % 5), name, value);
    (void)CheckParameters(15, Json{{"work_mem", value}, {"hot_standby", value}, {"wal_level", value}, {name, value}},
                          &w);
  }
}

}  // namespace
}  // namespace pgw
