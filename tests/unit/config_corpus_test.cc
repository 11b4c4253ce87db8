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

// Debian's own template, /etc/patroni/config.yml.in, as pg_createconfig_patroni renders it (the file's header says
// how it was made): a custom bootstrap (pg_createcluster), a custom replica method under the old
// create_replica_method key, pg_hba in the dynamic configuration, an empty superuser password with
// use_unix_socket, config_dir, and an empty `parameters:`.
TEST(ConfigCorpusTest, DebianPgCreateconfigTemplate) {
  auto r = LoadCorpus("debian_pg_createconfig.yml");
  ASSERT_TRUE(r.errors.empty()) << All(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.scope, "15-demo");
  EXPECT_EQ(c.namespace_, "/postgresql-common/");
  EXPECT_EQ(c.name, "node1");
  ASSERT_TRUE(c.bootstrap.custom);
  EXPECT_EQ(c.bootstrap.custom->name, "pg_createcluster");
  EXPECT_EQ(c.bootstrap.custom->command, std::vector<std::string>{"/usr/share/patroni/pg_createcluster_patroni"});
  EXPECT_EQ(c.postgresql.create_replica_methods, std::vector<std::string>{"pg_clonecluster"});
  EXPECT_EQ(c.postgresql.replica_methods.at("pg_clonecluster").command,
            std::vector<std::string>{"/usr/share/patroni/pg_clonecluster_patroni"});
  EXPECT_EQ(c.postgresql.data_dir, "/var/lib/postgresql/15/demo");
  EXPECT_EQ(c.postgresql.port, 5440);
  EXPECT_TRUE(c.postgresql.use_unix_socket);
  EXPECT_EQ(c.postgresql.superuser.password, "");
  EXPECT_TRUE(c.bootstrap.dynamic.use_pg_rewind);
  EXPECT_TRUE(c.bootstrap.dynamic.check_timeline);
  ASSERT_EQ(c.bootstrap.dynamic.pg_hba.size(), 7u);
  EXPECT_NE(c.bootstrap.dynamic.pg_hba.back().find("127.0.0.0/8"), std::string::npos) << "--network substituted";
  // The one key pgwarden does not act on: postgresql.conf is written into data_dir (docs/configuration.md).
  EXPECT_EQ(r.warnings,
            std::vector<std::string>{
                "postgresql.config_dir: accepted for Patroni compatibility, but pgwarden does not use it"})
      << All(r);
}

}  // namespace
}  // namespace pgw
