// Real-world patroni.yml files (tests/unit/testdata/patroni_yml), each loaded with the expected errors and warnings.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/config.h"

namespace pgw {
namespace {

LoadResult LoadCorpus(const std::string& file) {
  LoadOptions o;
  o.check_bin_dir = false;
  return LoadConfigFile(std::string(PGW_TESTDATA_DIR) + "/patroni_yml/" + file, o);
}

bool Has(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

std::string All(const LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += "error: " + e + "\n";
  for (const auto& w : r.warnings) s += "warning: " + w + "\n";
  return s;
}

TEST(ConfigCorpusTest, DebianPostgres0) {
  auto r = LoadCorpus("debian_postgres0.yml");
  ASSERT_TRUE(r.errors.empty()) << All(r);
  EXPECT_EQ(r.config->scope, "batman");
  EXPECT_TRUE(r.config->bootstrap.dynamic.use_pg_rewind);
  EXPECT_FALSE(Has(r.warnings, "bootstrap.pg_hba")) << All(r);
  EXPECT_TRUE(Has(r.warnings, "bootstrap.users: deprecated")) << All(r);
  EXPECT_EQ(r.config->bootstrap.pg_hba,
            (std::vector<std::string>{"host replication replicator 127.0.0.1/32 md5", "host all all 0.0.0.0/0 md5"}));
  ASSERT_EQ(r.config->bootstrap.users.size(), 1u);
  EXPECT_EQ(r.config->bootstrap.users[0].options, (std::vector<std::string>{"CREATEROLE", "CREATEDB"}));
}

TEST(ConfigCorpusTest, DebianPostgres2WithEtcdV2IsRefusedWithTheHint) {
  auto r = LoadCorpus("debian_postgres2_etcd_v2.yml");
  EXPECT_TRUE(Has(r.errors, "etcd: the etcd v2 protocol is not supported")) << All(r);
  EXPECT_TRUE(Has(r.errors, "'etcd3:' with the same hosts")) << All(r);
}

TEST(ConfigCorpusTest, NewerKeys) {
  auto r = LoadCorpus("newer_keys.yml");
  ASSERT_TRUE(r.errors.empty()) << All(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.bootstrap.dynamic.loop_wait, 1);
  EXPECT_EQ(c.bootstrap.dynamic.retry_timeout, 9);
  EXPECT_TRUE(c.bootstrap.dynamic.failsafe_mode);
  EXPECT_TRUE(c.bootstrap.dynamic.synchronous_mode);
  EXPECT_EQ(c.bootstrap.initdb_args, (std::vector<std::string>{"--auth=scram-sha-256", "--auth-host=scram-sha-256",
                                                               "--auth-local=peer", "--data-checksums"}));
  EXPECT_EQ(c.postgresql.superuser.options.at("sslmode"), "verify-full");
  EXPECT_EQ(c.postgresql.basebackup_args, (std::vector<std::string>{"--verbose", "--max-rate=100M"}));
  EXPECT_TRUE(Has(r.warnings, "bootstrap.dcs: loop_wait (2) + 2*retry_timeout (10) exceeds ttl (20)")) << All(r);
  EXPECT_TRUE(Has(r.warnings, "some_future_section: unknown key, ignored")) << All(r);
  EXPECT_TRUE(Has(r.warnings, "watchdog.driver: accepted")) << All(r);
  EXPECT_TRUE(Has(r.warnings, "log.format: accepted")) << All(r);
}

}  // namespace
}  // namespace pgw
