// Standby clusters outside the decision core: the standby_cluster section of the dynamic configuration, the
// recovery settings written for the standby leader, and the role, health checks and /cluster as Patroni shows them.
#include <gtest/gtest.h>

#include "agent/api.h"
#include "agent/status_json.h"
#include "ctl/ctl.h"
#include "pg/conf.h"
#include "test_util.h"

namespace pgw {
namespace {

DynamicConfig Parse(const Json& j, std::vector<std::string>* problems, std::vector<std::string>* warnings = nullptr) {
  return DynamicConfig::FromJson(j, "config", problems, warnings);
}

TEST(StandbyConfigTest, FullSectionIsParsed) {
  std::vector<std::string> problems, warnings;
  Json j = {{"ttl", 30},
            {"standby_cluster",
             {{"host", "10.0.0.9"},
              {"port", 5439},
              {"primary_slot_name", "standby_b"},
              {"restore_command", "cp /archive/%f %p"},
              {"archive_cleanup_command", "pg_archivecleanup /archive %r"},
              {"recovery_min_apply_delay", "5min"},
              {"create_replica_methods", {"basebackup"}}}}};
  DynamicConfig d = Parse(j, &problems, &warnings);
  ASSERT_TRUE(problems.empty()) << problems[0];
  EXPECT_TRUE(warnings.empty());
  ASSERT_TRUE(d.standby_cluster);
  EXPECT_EQ(d.standby_cluster->host, "10.0.0.9");
  EXPECT_EQ(d.standby_cluster->port, 5439);
  EXPECT_EQ(d.standby_cluster->primary_slot_name, "standby_b");
  EXPECT_EQ(d.standby_cluster->restore_command, "cp /archive/%f %p");
  EXPECT_EQ(d.standby_cluster->archive_cleanup_command, "pg_archivecleanup /archive %r");
  EXPECT_EQ(d.standby_cluster->recovery_min_apply_delay_ms, 300000);
  EXPECT_EQ(d.standby_cluster->create_replica_methods, std::vector<std::string>{"basebackup"});
  // Kept as stored, so that edit-config and PATCH /config write it back unchanged.
  EXPECT_EQ(d.raw, j);
}

TEST(StandbyConfigTest, PortDefaultsAndStringsAreAccepted) {
  std::vector<std::string> problems;
  DynamicConfig d =
      Parse({{"standby_cluster", {{"host", "a.example"}, {"recovery_min_apply_delay", 1500}}}}, &problems);
  ASSERT_TRUE(problems.empty());
  EXPECT_EQ(d.standby_cluster->port, 5432);
  EXPECT_EQ(d.standby_cluster->recovery_min_apply_delay_ms, 1500);
  d = Parse({{"standby_cluster", {{"host", "a"}, {"port", "6432"}}}}, &problems);
  ASSERT_TRUE(problems.empty());
  EXPECT_EQ(d.standby_cluster->port, 6432);
}

TEST(StandbyConfigTest, NoStandbyClusterWithoutHostPortOrRestoreCommand) {
  std::vector<std::string> problems;
  EXPECT_FALSE(Parse({{"ttl", 30}}, &problems).standby_cluster);
  EXPECT_FALSE(Parse({{"standby_cluster", nullptr}}, &problems).standby_cluster);
  EXPECT_FALSE(Parse({{"standby_cluster", Json::object()}}, &problems).standby_cluster);
  EXPECT_FALSE(Parse({{"standby_cluster", {{"primary_slot_name", "x"}}}}, &problems).standby_cluster);
  EXPECT_TRUE(problems.empty());
}

TEST(StandbyConfigTest, ErrorsNameTheKey) {
  auto first_problem = [](const Json& section) {
    std::vector<std::string> problems;
    DynamicConfig::FromJson({{"standby_cluster", section}}, "bootstrap.dcs", &problems);
    return problems.empty() ? std::string("<none>") : problems.front();
  };
  EXPECT_EQ(first_problem("10.0.0.9"), "bootstrap.dcs.standby_cluster: must be a mapping");
  EXPECT_EQ(first_problem({{"host", 5}}), "bootstrap.dcs.standby_cluster.host: must be a string");
  EXPECT_EQ(first_problem({{"host", "a"}, {"port", "x"}}), "bootstrap.dcs.standby_cluster.port: must be an integer");
  EXPECT_EQ(first_problem({{"host", "a"}, {"port", 70000}}),
            "bootstrap.dcs.standby_cluster.port: 70000 is outside 1..65535");
  EXPECT_EQ(first_problem({{"host", "a"}, {"recovery_min_apply_delay", "soon"}}),
            "bootstrap.dcs.standby_cluster.recovery_min_apply_delay: must be a time in milliseconds or with a unit "
            "(ms, s, min, h, d), e.g. 5min");
  EXPECT_EQ(first_problem({{"host", "a"}, {"create_replica_methods", "basebackup"}}),
            "bootstrap.dcs.standby_cluster.create_replica_methods: must be a list of strings");
  EXPECT_EQ(first_problem({{"port", 5432}}).rfind("bootstrap.dcs.standby_cluster.host: required", 0), 0u);
  EXPECT_EQ(first_problem({{"port", 5432}, {"restore_command", "cp x y"}})
                .rfind("bootstrap.dcs.standby_cluster.host: required", 0),
            0u);
}

// Patroni writes primary_slot_name through slot_name_from_member_name (postgresql/config.py): any name is
// accepted and used normalised, from bootstrap.dcs and from the dynamic configuration (PATCH /config) alike.
TEST(StandbyConfigTest, PrimarySlotNameIsNormalised) {
  std::vector<std::string> problems;
  DynamicConfig d = Parse({{"standby_cluster", {{"host", "a"}, {"primary_slot_name", "Standby-DC2.east"}}}}, &problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_TRUE(d.standby_cluster);
  EXPECT_EQ(d.standby_cluster->primary_slot_name, "standby_dc2_east");
  d = Parse({{"standby_cluster", {{"host", "a"}, {"primary_slot_name", std::string(70, 'S')}}}}, &problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(d.standby_cluster->primary_slot_name, std::string(63, 's'));
}

// Patroni's archive-only standby cluster: restore_command without host or port. The standby leader is created by
// a create_replica_methods method that needs no leader and replays WAL from the archive only.
TEST(StandbyConfigTest, ArchiveOnlySectionIsAStandbyCluster) {
  std::vector<std::string> problems, warnings;
  DynamicConfig d = Parse({{"standby_cluster",
                            {{"restore_command", "/usr/local/bin/fetch %f %p"},
                             {"create_replica_methods", {"restore"}},
                             {"host", ""},
                             {"port", ""}}}},
                          &problems, &warnings);
  ASSERT_TRUE(problems.empty()) << problems[0];
  EXPECT_TRUE(warnings.empty());
  ASSERT_TRUE(d.standby_cluster);
  EXPECT_EQ(d.standby_cluster->host, "");
  EXPECT_EQ(d.standby_cluster->restore_command, "/usr/local/bin/fetch %f %p");
  EXPECT_EQ(d.standby_cluster->create_replica_methods, std::vector<std::string>{"restore"});
}

TEST(StandbyConfigTest, ArchiveOnlyWithoutANoLeaderMethodWarnsAtLoad) {
  const std::string section =
      "bootstrap:\n  dcs:\n    standby_cluster:\n      restore_command: cp /a/%f %p\n"
      "      create_replica_methods: [restore, basebackup]\n";
  auto has_warning = [](const LoadResult& r) {
    return std::any_of(r.warnings.begin(), r.warnings.end(), [](const std::string& w) {
      return w.rfind("bootstrap.dcs.standby_cluster: no host", 0) == 0 && w.find("will fail") != std::string::npos;
    });
  };
  auto without = testing::Load(std::string(testing::kGoodConfig) + section);
  ASSERT_TRUE(without.errors.empty()) << without.errors[0];
  EXPECT_TRUE(has_warning(without));
  auto with =
      testing::Load(testing::Replace(std::string(testing::kGoodConfig) + section, "  pgpass: /tmp/pgpass0\n",
                                     "  pgpass: /tmp/pgpass0\n  restore: {command: /bin/r, no_leader: true}\n"));
  ASSERT_TRUE(with.errors.empty()) << with.errors[0];
  EXPECT_FALSE(has_warning(with));
}

TEST(StandbyConfigTest, ArchiveOnlyStandbyLeaderConfHasNoPrimaryConninfo) {
  auto r = testing::Load(testing::kGoodConfig);
  ASSERT_TRUE(r.errors.empty());
  Upstream archive{HostPort{}, "", "/usr/local/bin/fetch %f %p", "", 0};
  std::string conf = RenderPostgresqlConf(*r.config, Json::object(), archive, true);
  EXPECT_EQ(conf.find("primary_conninfo"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("primary_slot_name"), std::string::npos) << conf;
  EXPECT_NE(conf.find("restore_command = '/usr/local/bin/fetch %f %p'\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("recovery_target_timeline = 'latest'\n"), std::string::npos) << conf;
}

TEST(StandbyConfigTest, OtherReplicaMethodsAreKeptAndUnknownKeysWarn) {
  std::vector<std::string> problems, warnings;
  auto d =
      Parse({{"standby_cluster", {{"host", "a"}, {"create_replica_methods", {"wal_e", "basebackup"}}, {"hots", "b"}}}},
            &problems, &warnings);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "config.standby_cluster.hots: unknown key, ignored");
  ASSERT_TRUE(d.standby_cluster);
  EXPECT_EQ(d.standby_cluster->create_replica_methods, (std::vector<std::string>{"wal_e", "basebackup"}));
}

TEST(StandbyConfigTest, BootstrapDcsSectionIsValidatedAtLoad) {
  auto r = testing::Load(std::string(testing::kGoodConfig) +
                         "bootstrap:\n  dcs:\n    standby_cluster:\n      host: a\n"
                         "      port: zero\n");
  // kGoodConfig already has a bootstrap section: the later one wins (duplicate keys), so this is its dcs.
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0], "bootstrap.dcs.standby_cluster.port: must be an integer");
}

TEST(StandbyConfigTest, PgDurations) {
  EXPECT_EQ(PgDurationMs(Json(250)), 250);
  EXPECT_EQ(PgDurationMs(Json("2s")), 2000);
  EXPECT_EQ(PgDurationMs(Json("1 h")), 3600000);
  EXPECT_EQ(PgDurationMs(Json("10")), 10);
  EXPECT_FALSE(PgDurationMs(Json("-1")));
  EXPECT_FALSE(PgDurationMs(Json("5 fortnights")));
  EXPECT_FALSE(PgDurationMs(Json(true)));
}

TEST(StandbyConfigTest, StandbyLeaderConfHasTheRemoteRecoverySettings) {
  auto r = testing::Load(testing::kGoodConfig);
  ASSERT_TRUE(r.errors.empty());
  Upstream remote{HostPort{"10.0.0.9", 5439}, "standby_b", "cp '/archive/%f' %p", "pg_archivecleanup /a %r", 60000};
  std::string conf = RenderPostgresqlConf(*r.config, Json::object(), remote, true);
  EXPECT_NE(conf.find("host=10.0.0.9 port=5439"), std::string::npos) << conf;
  EXPECT_NE(conf.find("primary_slot_name = 'standby_b'\n"), std::string::npos);
  EXPECT_NE(conf.find("restore_command = 'cp ''/archive/%f'' %p'\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("archive_cleanup_command = 'pg_archivecleanup /a %r'\n"), std::string::npos);
  EXPECT_NE(conf.find("recovery_min_apply_delay = 60000\n"), std::string::npos);
  std::string plain = RenderPostgresqlConf(*r.config, Json::object(), Upstream{HostPort{"h", 1}, ""}, true);
  EXPECT_EQ(plain.find("restore_command"), std::string::npos);
  EXPECT_EQ(plain.find("recovery_min_apply_delay"), std::string::npos);
}

class StandbyApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = testing::Load(testing::kGoodConfig);
    ASSERT_TRUE(r.errors.empty());
    cfg_ = r.config;
    c_.members["pg0"] = testing::MakeMember("pg0", 5432, "standby_leader", "running");
    c_.members["pg1"] = testing::MakeMember("pg1", 5433, "replica", "running");
    c_.leader = LeaderKey{"pg0", 1, 5, 5};
    c_.config = Json{{"ttl", 30}, {"standby_cluster", {{"host", "10.0.0.9"}, {"port", 5439}}}};
    s_.pg_state = ha::PgState::kRunning;
    s_.local.data = LocalView::Data::kValid;
    s_.local.running = s_.local.query_ok = s_.local.in_recovery = true;
    s_.dcs_ok = true;
  }
  int Code(const std::string& path) {
    api::HealthInputs in{cfg_.get(), &s_, &c_, true};
    return api::HealthCode(in, path, "");
  }
  std::shared_ptr<const Config> cfg_;
  ClusterView c_;
  NodeState s_;
};

TEST_F(StandbyApiTest, StandbyLeaderAnswersLikePatroni) {
  s_.is_leader = s_.standby_cluster = s_.standby_leader = true;
  EXPECT_EQ(RoleOf(s_), MemberRole::kStandbyLeader);
  EXPECT_EQ(StatusJson(*cfg_, s_)["role"], "standby_leader");
  EXPECT_EQ(Code("/standby-leader"), 200);
  EXPECT_EQ(Code("/standby_leader"), 200);
  EXPECT_EQ(Code("/leader"), 200);
  EXPECT_EQ(Code("/primary"), 503);
  EXPECT_EQ(Code("/"), 503);
  EXPECT_EQ(Code("/read-write"), 503);
  EXPECT_EQ(Code("/replica"), 503);
  EXPECT_EQ(Code("/read-only"), 200);
  EXPECT_EQ(Code("/health"), 200);
}

TEST_F(StandbyApiTest, ReplicaOfAStandbyClusterIsAReplica) {
  s_.standby_cluster = true;
  EXPECT_EQ(RoleOf(s_), MemberRole::kReplica);
  EXPECT_EQ(Code("/standby-leader"), 503);
  EXPECT_EQ(Code("/leader"), 503);
  EXPECT_EQ(Code("/replica"), 200);
  EXPECT_EQ(Code("/read-only"), 200);
}

TEST_F(StandbyApiTest, OrdinaryLeaderIsNoStandbyLeader) {
  s_.is_leader = true;
  s_.local.in_recovery = false;
  EXPECT_EQ(Code("/standby-leader"), 503);
  EXPECT_EQ(Code("/primary"), 200);
}

TEST_F(StandbyApiTest, ClusterJsonAndMetricsNameTheStandbyLeader) {
  Json j = api::ClusterJson(*cfg_, c_, false);
  EXPECT_EQ(j["members"][0]["role"], "standby_leader");
  EXPECT_EQ(j["members"][1]["role"], "replica");
  s_.is_leader = s_.standby_cluster = s_.standby_leader = true;
  std::string m = api::MetricsText(*cfg_, s_, &c_, api::Counters{}, false, false);
  EXPECT_NE(m.find("patroni_standby_leader{scope=\"demo\",name=\"pg0\"} 1"), std::string::npos);
  EXPECT_NE(m.find("patroni_primary{scope=\"demo\",name=\"pg0\"} 0"), std::string::npos);
}

TEST_F(StandbyApiTest, CtlListShowsStandbyLeaderAsPatronictlDoes) {
  std::string t = ctl::ListTable("demo", c_, false);
  EXPECT_NE(t.find("| pg0    | 127.0.0.1      | Standby Leader |"), std::string::npos) << t;
  EXPECT_EQ(ctl::ListJson("demo", c_)[0]["Role"], "Standby Leader");
  c_.config = Json{{"ttl", 30}};
  EXPECT_EQ(ctl::ListJson("demo", c_)[0]["Role"], "Leader");
}

}  // namespace
}  // namespace pgw
