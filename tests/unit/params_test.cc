#include <gtest/gtest.h>

#include <algorithm>

#include "pg/params.h"

namespace pgw {
namespace {

bool Has(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

TEST(ParamsTest, WalKeepSegmentsBecomesWalKeepSizeFrom13) {
  std::vector<std::string> w;
  Json out = TranslateParameters(15, Json{{"wal_keep_segments", 8}, {"work_mem", "8MB"}}, &w);
  EXPECT_EQ(out, (Json{{"wal_keep_size", "128MB"}, {"work_mem", "8MB"}}));
  EXPECT_TRUE(Has(w, "postgresql.parameters.wal_keep_segments: PostgreSQL 15 has wal_keep_size instead"));
  // A string value, and an explicitly given wal_keep_size wins.
  w.clear();
  EXPECT_EQ(TranslateParameters(13, Json{{"wal_keep_segments", "4"}}, &w), (Json{{"wal_keep_size", "64MB"}}));
  EXPECT_EQ(TranslateParameters(13, Json{{"wal_keep_segments", 4}, {"wal_keep_size", "1GB"}}, &w),
            (Json{{"wal_keep_size", "1GB"}}));
}

TEST(ParamsTest, VersionEdges) {
  std::vector<std::string> w;
  // 12 keeps wal_keep_segments, and converts wal_keep_size back (rounded to segments).
  EXPECT_EQ(TranslateParameters(12, Json{{"wal_keep_segments", 8}}, &w), (Json{{"wal_keep_segments", 8}}));
  EXPECT_EQ(TranslateParameters(12, Json{{"wal_keep_size", "1GB"}}, &w), (Json{{"wal_keep_segments", 64}}));
  // stats_temp_directory: kept on 14, left out on 15.
  EXPECT_EQ(TranslateParameters(14, Json{{"stats_temp_directory", "/x"}}, &w), (Json{{"stats_temp_directory", "/x"}}));
  w.clear();
  EXPECT_EQ(TranslateParameters(15, Json{{"stats_temp_directory", "/x"}}, &w), Json::object());
  EXPECT_TRUE(Has(w, "stats_temp_directory: removed in PostgreSQL 15, left out"));
  // force_parallel_mode -> debug_parallel_query at 16, and back before 16.
  EXPECT_EQ(TranslateParameters(16, Json{{"force_parallel_mode", "on"}}, &w), (Json{{"debug_parallel_query", "on"}}));
  EXPECT_EQ(TranslateParameters(15, Json{{"debug_parallel_query", "on"}}, &w), (Json{{"force_parallel_mode", "on"}}));
  EXPECT_EQ(TranslateParameters(15, Json{{"force_parallel_mode", "on"}}, &w), (Json{{"force_parallel_mode", "on"}}));
  // Removed in 17, kept in 16.
  EXPECT_EQ(TranslateParameters(16, Json{{"old_snapshot_threshold", -1}}, &w), (Json{{"old_snapshot_threshold", -1}}));
  EXPECT_EQ(TranslateParameters(17, Json{{"old_snapshot_threshold", -1}}, &w), Json::object());
  // Unknown version: untouched.
  EXPECT_EQ(TranslateParameters(0, Json{{"wal_keep_segments", 8}}, &w), (Json{{"wal_keep_segments", 8}}));
}

TEST(ParamsTest, DefaultWalKeepSizeDoesNotShadowTheUsersWalKeepSegments) {
  Config cfg;
  DynamicConfig dyn;
  dyn.parameters = Json{{"wal_keep_segments", 8}};
  std::vector<std::string> w;
  Json eff = {{"wal_keep_size", "128MB"}, {"wal_keep_segments", 8}};  // pgwarden's default plus the user's
  EXPECT_EQ(TranslateEffectiveParameters(15, eff, cfg, dyn, &w).at("wal_keep_size"), "128MB");  // 8*16 either way
  dyn.parameters = Json{{"wal_keep_segments", 100}};
  eff["wal_keep_segments"] = 100;
  EXPECT_EQ(TranslateEffectiveParameters(15, eff, cfg, dyn, &w).at("wal_keep_size"), "1600MB");
  dyn.parameters["wal_keep_size"] = "1GB";
  eff["wal_keep_size"] = "1GB";
  EXPECT_EQ(TranslateEffectiveParameters(15, eff, cfg, dyn, &w).at("wal_keep_size"), "1GB");
}

TEST(ParamsTest, OldWalLevelNamesBecomeReplica) {
  std::vector<std::string> w;
  EXPECT_EQ(TranslateParameters(15, Json{{"wal_level", "hot_standby"}}, &w), (Json{{"wal_level", "replica"}}));
  EXPECT_EQ(TranslateParameters(15, Json{{"wal_level", "logical"}}, &w), (Json{{"wal_level", "logical"}}));
}

}  // namespace
}  // namespace pgw
