// The configuration's field table (common/config_fields.h): what a reload reports as changed, with which class,
// and what it runs with afterwards.
#include <gtest/gtest.h>

#include <set>

#include "common/config_fields.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::kGoodConfig;
using testing::Load;
using testing::Replace;

std::shared_ptr<const Config> Must(const std::string& yaml) {
  auto r = Load(yaml);
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors.front());
  return r.config ? r.config : std::make_shared<Config>();
}

std::vector<ConfigChange> Diff(const std::string& before, const std::string& after) {
  return DiffConfig(*Must(before), *Must(after));
}

TEST(ConfigFieldsTest, SameFileChangesNothing) {
  EXPECT_TRUE(Diff(kGoodConfig, kGoodConfig).empty());
  // Layout and key order are not changes.
  EXPECT_TRUE(Diff(kGoodConfig, Replace(kGoodConfig, "    max_connections: 10\n    work_mem: 8MB\n",
                                        "    work_mem: 8MB\n    max_connections: 10\n"))
                  .empty());
}

TEST(ConfigFieldsTest, ParametersAreReportedOneByOneWithTheirClass) {
  auto d = Diff(kGoodConfig, Replace(Replace(kGoodConfig, "work_mem: 8MB", "work_mem: 16MB\n    shared_buffers: 1GB"),
                                     "    max_connections: 10\n", ""));
  EXPECT_EQ(d, (std::vector<ConfigChange>{{"postgresql.parameters.max_connections", ChangeClass::kPostgresRestart},
                                          {"postgresql.parameters.shared_buffers", ChangeClass::kPostgresRestart},
                                          {"postgresql.parameters.work_mem", ChangeClass::kLive}}));
}

TEST(ConfigFieldsTest, TagsAreReportedOneByOneAndApplyLive) {
  auto d = Diff(kGoodConfig, Replace(kGoodConfig, "  clonefrom: true\n  custom: abc\n",
                                     "  nofailover: true\n  custom: xyz\n  failover_priority: 2\n"));
  EXPECT_EQ(d, (std::vector<ConfigChange>{{"tags.clonefrom", ChangeClass::kLive},
                                          {"tags.custom", ChangeClass::kLive},
                                          {"tags.failover_priority", ChangeClass::kLive},
                                          {"tags.nofailover", ChangeClass::kLive}}));
  // A boolean tag set to its default is not published, as Patroni does: false and absent are the same.
  EXPECT_TRUE(Diff(kGoodConfig, Replace(kGoodConfig, "  custom: abc\n", "  custom: abc\n  nosync: false\n")).empty());
}

TEST(ConfigFieldsTest, EachSectionHasItsClass) {
  struct Case {
    const char* from;
    const char* to;
    ConfigChange want;
  };
  const Case cases[] = {
      {"listen: 127.0.0.1:8008", "listen: 127.0.0.1:8009", {"restapi.listen", ChangeClass::kAgentRestart}},
      {"  connect_address: 127.0.0.1:8008",
       "  connect_address: 127.0.0.2:8008",
       {"restapi.connect_address", ChangeClass::kLive}},
      {"hosts: 127.0.0.1:2379,127.0.0.2:2379", "hosts: 127.0.0.1:2379", {"etcd3.hosts", ChangeClass::kAgentRestart}},
      {"listen: 0.0.0.0:5432", "listen: 0.0.0.0:5433", {"postgresql.listen", ChangeClass::kAgentRestart}},
      {"data_dir: /var/lib/postgresql/15/main",
       "data_dir: /var/lib/postgresql/16/main",
       {"postgresql.data_dir", ChangeClass::kAgentRestart}},
      {"{username: postgres, password: secret}",
       "{username: postgres, password: other}",
       {"postgresql.authentication.superuser", ChangeClass::kAgentRestart}},
      {"{username: replicator, password: rep-pass}",
       "{username: replicator, password: new-pass}",
       {"postgresql.authentication.replication", ChangeClass::kLive}},
      {"  pgpass: /tmp/pgpass0\n",
       "  pgpass: /tmp/pgpass0\n  pg_hba:\n  - host all all 0.0.0.0/0 md5\n",
       {"postgresql.pg_hba", ChangeClass::kLive}},
      {"  pgpass: /tmp/pgpass0\n",
       "  pgpass: /tmp/pgpass0\n  callbacks:\n    on_start: /bin/true\n",
       {"postgresql.callbacks", ChangeClass::kLive}},
      {"  pgpass: /tmp/pgpass0\n",
       "  pgpass: /tmp/pgpass0\n  pg_ctl_timeout: 90\n",
       {"postgresql.pg_ctl_timeout", ChangeClass::kLive}},
      {"ttl: 30", "ttl: 40", {"bootstrap.dcs", ChangeClass::kLive}},
      {"scope: demo", "scope: other", {"scope", ChangeClass::kAgentRestart}},
  };
  for (const auto& c : cases) {
    std::string after = Replace(kGoodConfig, c.from, c.to);
    ASSERT_NE(after, kGoodConfig) << c.from;
    EXPECT_EQ(Diff(kGoodConfig, after), std::vector<ConfigChange>{c.want}) << c.want.path;
  }
  const std::string auth =
      Replace(kGoodConfig, "restapi:\n", "restapi:\n  authentication: {username: a, password: b}\n");
  auto merged = Must(auth);
  EXPECT_EQ(DiffConfig(*Must(kGoodConfig), *merged),
            (std::vector<ConfigChange>{{"restapi.authentication", ChangeClass::kLive}}));
  const std::string level = std::string(kGoodConfig) + "log:\n  level: DEBUG\n";
  EXPECT_EQ(Diff(kGoodConfig, level), (std::vector<ConfigChange>{{"log.level", ChangeClass::kLive}}));
  const std::string wd = std::string(kGoodConfig) + "watchdog:\n  mode: 'off'\n";
  EXPECT_EQ(Diff(kGoodConfig, wd), (std::vector<ConfigChange>{{"watchdog.mode", ChangeClass::kAgentRestart}}));
}

TEST(ConfigFieldsTest, AfterReloadRestartFieldsKeepTheirRunningValue) {
  auto running = Must(kGoodConfig);
  auto loaded = Must(Replace(Replace(Replace(kGoodConfig, "listen: 127.0.0.1:8008", "listen: 127.0.0.1:8009"),
                                     "work_mem: 8MB", "work_mem: 16MB"),
                             "data_dir: /var/lib/postgresql/15/main", "data_dir: /srv/pg"));
  auto next = ConfigAfterReload(*running, *loaded);
  EXPECT_EQ(next->restapi.listen_port, 8008);
  EXPECT_EQ(next->postgresql.data_dir, "/var/lib/postgresql/15/main");
  EXPECT_EQ(next->postgresql.parameters.at("work_mem"), "16MB");
  // What is left to report is only what still waits for an agent restart.
  for (const auto& c : DiffConfig(*running, *next)) EXPECT_NE(c.cls, ChangeClass::kAgentRestart) << c.path;
  EXPECT_EQ(DiffConfig(*next, *loaded), (std::vector<ConfigChange>{{"postgresql.data_dir", ChangeClass::kAgentRestart},
                                                                   {"restapi.listen", ChangeClass::kAgentRestart}}));
}

TEST(ConfigFieldsTest, PathsAreUniqueAndKeepRestoresEachField) {
  std::set<std::string> seen;
  auto a = Must(kGoodConfig);
  Config b;  // every field at its default: differs from the good file in most of them
  for (const auto& f : ConfigFields()) {
    EXPECT_TRUE(seen.insert(f.path).second) << f.path;
    Config copy = b;
    f.keep(*a, &copy);
    EXPECT_TRUE(f.same(*a, copy)) << f.path;
  }
}

TEST(ConfigFieldsTest, DescriptionsSayWhatItTakes) {
  EXPECT_EQ(DescribeChange({"tags.nofailover", ChangeClass::kLive}), "tags.nofailover: applied");
  EXPECT_NE(DescribeChange({"restapi.listen", ChangeClass::kAgentRestart}).find("needs a restart of pgwarden"),
            std::string::npos);
  EXPECT_NE(DescribeChange({"postgresql.parameters.shared_buffers", ChangeClass::kPostgresRestart})
                .find("needs a restart of PostgreSQL"),
            std::string::npos);
}

}  // namespace
}  // namespace pgw
