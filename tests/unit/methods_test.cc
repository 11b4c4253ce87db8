// Issue 11: custom bootstrap methods (bootstrap.method) and replica creation methods (create_replica_methods), as
// Patroni reads and runs them. The pure parts: configuration (errors name the key path), the argument vectors of
// each command, the recovery settings of a custom bootstrap, the decision to create a replica without a leader.
#include <gtest/gtest.h>

#include "decide_fixture.h"
#include "pg/conf.h"
#include "pg/methods.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::HasError;
using testing::kGoodConfig;
using testing::Load;
using testing::Replace;

LoadResult WithBootstrap(const std::string& lines) {
  return Load(Replace(kGoodConfig, "  initdb:\n", lines + "  initdb:\n"));
}
std::string PostgresqlYaml(const std::string& lines) {
  return Replace(kGoodConfig, "  pgpass: /tmp/pgpass0\n", "  pgpass: /tmp/pgpass0\n" + lines);
}
LoadResult WithPostgresql(const std::string& lines) { return Load(PostgresqlYaml(lines)); }

bool Mentions(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

using Pairs = std::vector<std::pair<std::string, std::string>>;
using Argv = std::vector<std::string>;

TEST(MethodsConfigTest, CustomBootstrapIsParsed) {
  auto r = WithBootstrap(
      "  method: restore\n"
      "  restore:\n"
      "    command: /usr/local/bin/restore.sh --from 'nightly backup'\n"
      "    keep_existing_recovery_conf: false\n"
      "    no_params: false\n"
      "    recovery_conf:\n"
      "      restore_command: cp /archive/%f %p\n"
      "      recovery_target_action: promote\n"
      "      recovery_target_timeline: latest\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  ASSERT_TRUE(r.config->bootstrap.custom);
  const auto& m = *r.config->bootstrap.custom;
  EXPECT_EQ(m.name, "restore");
  EXPECT_EQ(m.command, (Argv{"/usr/local/bin/restore.sh", "--from", "nightly backup"}));
  EXPECT_FALSE(m.keep_existing_recovery_conf);
  EXPECT_FALSE(m.no_params);
  ASSERT_TRUE(m.recovery_conf);
  EXPECT_EQ(*m.recovery_conf, (Pairs{{"restore_command", "cp /archive/%f %p"},
                                     {"recovery_target_action", "promote"},
                                     {"recovery_target_timeline", "latest"}}));
  EXPECT_FALSE(Mentions(r.warnings, "bootstrap.restore")) << "the method's section is a known key";
}

TEST(MethodsConfigTest, InitdbOrAMethodWithoutCommandMeansInitdbAsInPatroni) {
  auto initdb = WithBootstrap("  method: initdb\n");
  ASSERT_TRUE(initdb.errors.empty()) << initdb.errors[0];
  EXPECT_FALSE(initdb.config->bootstrap.custom);
  auto none = WithBootstrap("  method: restore\n");
  ASSERT_TRUE(none.errors.empty()) << none.errors[0];
  EXPECT_FALSE(none.config->bootstrap.custom);
  EXPECT_TRUE(Mentions(none.warnings, "bootstrap.method: 'restore' has no bootstrap.restore.command, so initdb runs"));
}

TEST(MethodsConfigTest, CustomBootstrapErrorsNameTheKeyPath) {
  EXPECT_TRUE(
      HasError(WithBootstrap("  method: r\n  r: {command: \"/bin/x 'y\"}\n"), "bootstrap.r.command: unterminated"));
  EXPECT_TRUE(
      HasError(WithBootstrap("  method: r\n  r: {command: [a, b]}\n"), "bootstrap.r.command: must be a command"));
  EXPECT_TRUE(HasError(WithBootstrap("  method: r\n  r: {command: /x, no_params: maybe}\n"),
                       "bootstrap.r.no_params: must be a boolean"));
  EXPECT_TRUE(HasError(WithBootstrap("  method: r\n  r: {command: /x, keep_existing_recovery_conf: [1]}\n"),
                       "bootstrap.r.keep_existing_recovery_conf: must be a boolean"));
  EXPECT_TRUE(HasError(WithBootstrap("  method: r\n  r: {command: /x, recovery_conf: [a]}\n"),
                       "bootstrap.r.recovery_conf: must be a mapping"));
  EXPECT_TRUE(HasError(WithBootstrap("  method: r\n  r: {command: /x, recovery_conf: {restore_command: [a]}}\n"),
                       "bootstrap.r.recovery_conf.restore_command: must be a string"));
  EXPECT_TRUE(HasError(WithBootstrap("  method: r\n  r: 5\n"), "bootstrap.r: must be a mapping"));
  auto unknown = WithBootstrap("  method: r\n  r: {command: /x, bucket: b}\n");
  ASSERT_TRUE(unknown.errors.empty());
  EXPECT_TRUE(Mentions(unknown.warnings, "bootstrap.r.bucket: unknown key, ignored"));
}

TEST(MethodsConfigTest, ReplicaMethodsAreParsedInOrder) {
  auto r = WithPostgresql(
      "  create_replica_methods: [wal_e, basebackup, plain]\n"
      "  wal_e:\n"
      "    command: /usr/bin/wal-e --config 'my file'\n"
      "    no_leader: true\n"
      "    keep_data: yes\n"
      "    threshold_megabytes: 10240\n"
      "    envdir: '/etc/wal-e'\n"
      "    quoted: 'true'\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  const auto& p = r.config->postgresql;
  EXPECT_EQ(p.create_replica_methods, (Argv{"wal_e", "basebackup", "plain"}));
  ASSERT_EQ(p.replica_methods.count("wal_e"), 1u);
  const auto& m = p.replica_methods.at("wal_e");
  EXPECT_EQ(m.command, (Argv{"/usr/bin/wal-e", "--config", "my file"}));
  EXPECT_TRUE(m.no_leader);
  EXPECT_TRUE(m.keep_data);
  EXPECT_FALSE(m.no_params);
  // As Python prints what PyYAML read: plain booleans are True, a quoted 'true' stays text.
  EXPECT_EQ(m.options, (Pairs{{"no_leader", "True"},
                              {"keep_data", "True"},
                              {"threshold_megabytes", "10240"},
                              {"envdir", "/etc/wal-e"},
                              {"quoted", "true"}}));
  EXPECT_EQ(p.replica_methods.at("plain").command, (Argv{"plain"})) << "no section: the name is the command";
  EXPECT_EQ(p.replica_methods.count("basebackup"), 0u);
  EXPECT_FALSE(Mentions(r.warnings, "wal_e")) << "no warning: the method runs";
}

TEST(MethodsConfigTest, ASectionWithACommandServesAStandbyClustersMethod) {
  auto r = WithPostgresql("  restore: {command: /bin/r --fast, bucket: b}\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_TRUE(r.config->postgresql.create_replica_methods.empty());
  ASSERT_EQ(r.config->postgresql.replica_methods.count("restore"), 1u);
  EXPECT_FALSE(Mentions(r.warnings, "postgresql.restore")) << "no unknown-key warning";
  DynamicConfig dyn;
  dyn.standby_cluster = StandbyCluster{};
  dyn.standby_cluster->create_replica_methods = {"restore"};
  EXPECT_EQ(ReplicaMethodsInForce(*r.config, dyn), (Argv{"restore"}));
  EXPECT_EQ(ReplicaMethodArgv(*r.config, "restore", "cs"),
            (Argv{"/bin/r", "--fast", "--bucket=b", "--scope=demo", "--role=replica",
                  "--datadir=/var/lib/postgresql/15/main", "--connstring=cs"}));
}

TEST(MethodsConfigTest, TheOlderSingularKeyAndNoMasterAreHonoured) {
  auto r = WithPostgresql("  create_replica_method: [restore]\n  restore: {command: /bin/r, no_master: 1}\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.config->postgresql.create_replica_methods, (Argv{"restore"}));
  EXPECT_TRUE(r.config->postgresql.replica_methods.at("restore").no_leader);
}

TEST(MethodsConfigTest, ReplicaMethodErrorsNameTheKeyPath) {
  EXPECT_TRUE(HasError(WithPostgresql("  create_replica_methods: [m]\n  m: {command: /x, keep_data: sometimes}\n"),
                       "postgresql.m.keep_data: must be a boolean"));
  EXPECT_TRUE(HasError(WithPostgresql("  create_replica_methods: [m]\n  m: {command: /x, opts: [1, 2]}\n"),
                       "postgresql.m.opts: must be a string, a number or a boolean"));
  EXPECT_TRUE(HasError(WithPostgresql("  create_replica_methods: [m]\n  m: 3\n"), "postgresql.m: must be a mapping"));
  EXPECT_TRUE(HasError(WithPostgresql("  create_replica_methods: [m]\n  m: {command: \"'x\"}\n"),
                       "postgresql.m.command: unterminated"));
  EXPECT_TRUE(HasError(WithPostgresql("  create_replica_methods: ['']\n"),
                       "postgresql.create_replica_methods[0]: must be a method name"));
}

Config ConfigOf(const LoadResult& r) {
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0]);
  return r.config ? *r.config : Config{};
}

TEST(MethodsArgvTest, BootstrapCommandGetsScopeAndDatadirUnlessNoParams) {
  Config c = ConfigOf(WithBootstrap("  method: r\n  r: {command: \"/bin/restore --label 'a b'\"}\n"));
  EXPECT_EQ(BootstrapMethodArgv(c),
            (Argv{"/bin/restore", "--label", "a b", "--scope=demo", "--datadir=/var/lib/postgresql/15/main"}));
  Config n = ConfigOf(WithBootstrap("  method: r\n  r: {command: /bin/restore x, no_params: true}\n"));
  EXPECT_EQ(BootstrapMethodArgv(n), (Argv{"/bin/restore", "x"}));
}

TEST(MethodsArgvTest, ReplicaCommandGetsItsOptionsThenPatronisParameters) {
  Config c =
      ConfigOf(WithPostgresql("  create_replica_methods: [m]\n  m: {command: /bin/m -v, keep_data: true, "
                              "bucket: b1}\n"));
  EXPECT_EQ(ReplicaMethodArgv(c, "m", "dbname=postgres host=h"),
            (Argv{"/bin/m", "-v", "--keep_data=True", "--bucket=b1", "--scope=demo", "--role=replica",
                  "--datadir=/var/lib/postgresql/15/main", "--connstring=dbname=postgres host=h"}));
}

TEST(MethodsArgvTest, AnOptionNamedLikeAParameterIsOverwrittenWhereItStands) {
  Config c = ConfigOf(WithPostgresql("  create_replica_methods: [m]\n  m: {command: /bin/m, role: master, x: 1}\n"));
  EXPECT_EQ(ReplicaMethodArgv(c, "m", "cs"), (Argv{"/bin/m", "--role=replica", "--x=1", "--scope=demo",
                                                   "--datadir=/var/lib/postgresql/15/main", "--connstring=cs"}));
}

TEST(MethodsArgvTest, NoParamsKeepsOnlyTheMethodsOwnOptions) {
  Config c =
      ConfigOf(WithPostgresql("  create_replica_methods: [m]\n  m: {command: /bin/m, no_params: true, "
                              "no_leader: true, keep_data: false, no_master: true, bucket: b1}\n"));
  EXPECT_EQ(ReplicaMethodArgv(c, "m", "cs"), (Argv{"/bin/m", "--bucket=b1"}));
}

TEST(MethodsArgvTest, AMethodWithoutSectionRunsItsName) {
  Config c = ConfigOf(WithPostgresql("  create_replica_methods: [restore_it]\n"));
  EXPECT_EQ(ReplicaMethodArgv(c, "restore_it", ""), (Argv{"restore_it", "--scope=demo", "--role=replica",
                                                          "--datadir=/var/lib/postgresql/15/main", "--connstring="}));
  // Standby cluster methods may have no local section either.
  EXPECT_EQ(ReplicaMethodArgv(c, "other", "").front(), "other");
}

TEST(MethodsArgvTest, ConnstringIsTheReplicationUsersConninfoWithoutPassword) {
  Config c = ConfigOf(Load(Replace(kGoodConfig, "replication: {username: replicator, password: rep-pass}",
                                   "replication: {username: replicator, password: rep-pass, sslmode: verify-full, "
                                   "sslrootcert: /etc/ca 1.pem}")));
  EXPECT_EQ(ReplicaMethodConninfo(c, HostPort{"10.0.0.2", 5433}),
            "dbname=postgres user=replicator host=10.0.0.2 port=5433 sslmode=verify-full "
            "sslrootcert='/etc/ca 1.pem'");
}

TEST(MethodsArgvTest, MethodsInForce) {
  Config plain = ConfigOf(Load(kGoodConfig));
  DynamicConfig dyn;
  EXPECT_EQ(ReplicaMethodsInForce(plain, dyn), (Argv{"basebackup"}));
  Config c =
      ConfigOf(WithPostgresql("  create_replica_methods: [m, basebackup]\n  m: {command: /bin/m, no_leader: "
                              "true}\n"));
  EXPECT_EQ(ReplicaMethodsInForce(c, dyn), (Argv{"m", "basebackup"}));
  EXPECT_TRUE(WorksWithoutLeader(c, "m"));
  EXPECT_FALSE(WorksWithoutLeader(c, "basebackup"));
  EXPECT_FALSE(WorksWithoutLeader(c, "unknown"));
  // A standby cluster uses its own list (basebackup when it has none), with the local sections.
  dyn.standby_cluster = StandbyCluster{};
  EXPECT_EQ(ReplicaMethodsInForce(c, dyn), (Argv{"basebackup"}));
  dyn.standby_cluster->create_replica_methods = {"m"};
  EXPECT_EQ(ReplicaMethodsInForce(c, dyn), (Argv{"m"}));
}

TEST(MethodsRecoveryTest, RecoveryConfAsPatroniWritesItForPostgresql12AndLater) {
  auto r = ResolveBootstrapRecovery({{"restore_command", "cp a b"}, {"recovery_target_action", "promote"}});
  EXPECT_FALSE(r.standby_signal);
  EXPECT_TRUE(r.hot_standby_off);
  EXPECT_EQ(r.parameters, (Pairs{{"restore_command", "cp a b"}, {"recovery_target_action", "promote"}}));
  auto paused = ResolveBootstrapRecovery({{"restore_command", "x"}, {"recovery_target_time", "2026-01-01"}});
  EXPECT_FALSE(paused.hot_standby_off) << "PostgreSQL's default action is pause: hot_standby stays";
  auto old = ResolveBootstrapRecovery({{"pause_at_recovery_target", "false"}, {"standby_mode", "on"}});
  EXPECT_TRUE(old.standby_signal);
  EXPECT_TRUE(old.hot_standby_off);
  EXPECT_EQ(old.parameters, (Pairs{{"recovery_target_action", "promote"}}));
  auto both = ResolveBootstrapRecovery({{"pause_at_recovery_target", "true"}, {"recovery_target_action", "shutdown"}});
  EXPECT_EQ(both.parameters, (Pairs{{"recovery_target_action", "shutdown"}}));
}

TEST(MethodsRecoveryTest, TrustHbaAdmitsOnlyLocalConnections) {
  Config c = ConfigOf(Load(Replace(kGoodConfig, "listen: 0.0.0.0:5432", "listen: 10.1.2.3:5432")));
  std::string hba = RenderBootstrapTrustHba(c);
  EXPECT_NE(hba.find("local all all trust\n"), std::string::npos);
  EXPECT_NE(hba.find("host all all 127.0.0.1/32 trust\n"), std::string::npos);
  EXPECT_NE(hba.find("host all all 10.1.2.3/32 trust\n"), std::string::npos);
  EXPECT_EQ(hba.find("0.0.0.0/0"), std::string::npos);
  EXPECT_EQ(hba.find("replication"), std::string::npos);
}

}  // namespace

namespace ha {
namespace {

TEST_F(DecideTest, WithoutALeaderAnEmptyNodeWaitsUnlessAMethodWorksWithoutOne) {
  cluster_.initialize = "42";
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.message, "waiting for leader to bootstrap");

  cfg_ = std::make_shared<Config>(
      ConfigOf(WithPostgresql("  create_replica_methods: [restore, basebackup]\n  restore: {command: /bin/r, "
                              "no_leader: true}\n")));
  d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
  EXPECT_FALSE(As<Clone>(d.actions[0]).address) << "no source: only the no_leader methods run";
  EXPECT_FALSE(As<StartReplica>(d.actions[1]).upstream);
  EXPECT_EQ(d.message, "trying to bootstrap (without leader)");

  cluster_.initialize = "";  // a bootstrap is under way: wait for it, as Patroni does
  EXPECT_EQ(Types(Run()), std::vector<AT>{AT::kWait});
}

TEST_F(DecideTest, WithALeaderTheReplicaIsCreatedFromIt) {
  cfg_ = std::make_shared<Config>(
      ConfigOf(WithPostgresql("  create_replica_methods: [restore, basebackup]\n  restore: {command: /bin/r, "
                              "no_leader: true}\n")));
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  auto d = Run();
  ASSERT_EQ(Types(d), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
  ASSERT_TRUE(As<Clone>(d.actions[0]).address);
  EXPECT_EQ(As<Clone>(d.actions[0]).address->port, 5433);
}

TEST_F(DecideTest, ANofailoverNodeWithoutInitializeRestoresWithANoLeaderMethod) {
  cfg_ = std::make_shared<Config>(ConfigOf(Load(
      Replace(PostgresqlYaml("  create_replica_methods: [restore]\n  restore: {command: /bin/r, no_master: true}\n"),
              "  clonefrom: true\n", "  nofailover: true\n"))));
  EXPECT_EQ(Types(Run()), (std::vector<AT>{AT::kClone, AT::kStartReplica}));
}

}  // namespace
}  // namespace ha
}  // namespace pgw
