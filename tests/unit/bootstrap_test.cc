// Issue 11: bootstrap.post_bootstrap / post_init, bootstrap.users, bootstrap.pg_hba, use_unix_socket_repl, and the
// agent stopping after a failed bootstrap. The pure parts: configuration, pg_hba rendering, the role statements,
// the script's connection string, the decision.
#include <gtest/gtest.h>

#include "decide_fixture.h"
#include "pg/bootstrap.h"
#include "pg/conf.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::HasError;
using testing::kGoodConfig;
using testing::Load;
using testing::Replace;

const char* kBootstrapAt = "  initdb:\n";

LoadResult WithBootstrap(const std::string& lines) {
  return Load(Replace(kGoodConfig, kBootstrapAt, lines + kBootstrapAt));
}

bool HasWarning(const LoadResult& r, const std::string& needle) {
  for (const auto& w : r.warnings) {
    if (w.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(BootstrapConfigTest, PostBootstrapIsSplitLikeShlex) {
  auto r = WithBootstrap("  post_bootstrap: /usr/local/bin/setup.sh --owner 'app owner'\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_EQ(r.config->bootstrap.post_bootstrap,
            (std::vector<std::string>{"/usr/local/bin/setup.sh", "--owner", "app owner"}));
  EXPECT_FALSE(HasWarning(r, "post_bootstrap")) << "it runs now: no 'ignored' warning";
}

TEST(BootstrapConfigTest, PostInitIsTheOlderNameAndPostBootstrapWins) {
  auto init = WithBootstrap("  post_init: /bin/init.sh\n");
  ASSERT_TRUE(init.errors.empty());
  EXPECT_EQ(init.config->bootstrap.post_bootstrap, (std::vector<std::string>{"/bin/init.sh"}));
  auto both = WithBootstrap("  post_init: /bin/init.sh\n  post_bootstrap: /bin/boot.sh\n");
  ASSERT_TRUE(both.errors.empty());
  EXPECT_EQ(both.config->bootstrap.post_bootstrap, (std::vector<std::string>{"/bin/boot.sh"}));
}

TEST(BootstrapConfigTest, AnUnsplittablePostBootstrapIsAnErrorNamingTheKey) {
  EXPECT_TRUE(HasError(WithBootstrap("  post_bootstrap: \"/bin/x 'y\n"), "bootstrap.post_bootstrap: unterminated"));
  EXPECT_TRUE(HasError(WithBootstrap("  post_init: [a, b]\n"), "bootstrap.post_init: must be a string"));
}

TEST(BootstrapConfigTest, UsersAreParsedAndDeprecatedOnce) {
  auto r = WithBootstrap(
      "  users:\n"
      "    admin:\n"
      "      password: admin%\n"
      "      options: [createrole, createdb, 'connection limit 5', \"valid until '2030-01-01'\"]\n"
      "    reader: {options: [nologin]}\n");
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  const auto& u = r.config->bootstrap.users;
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].name, "admin");
  EXPECT_EQ(u[0].password, "admin%");
  EXPECT_EQ(u[0].options,
            (std::vector<std::string>{"CREATEROLE", "CREATEDB", "CONNECTION LIMIT 5", "VALID UNTIL '2030-01-01'"}));
  EXPECT_EQ(u[1].name, "reader");
  EXPECT_EQ(u[1].password, "");
  int deprecated = 0;
  for (const auto& w : r.warnings) deprecated += w.find("bootstrap.users: deprecated") != std::string::npos;
  EXPECT_EQ(deprecated, 1);
}

TEST(BootstrapConfigTest, SomethingThatIsNotARoleOptionIsRefusedWithItsPath) {
  auto r = WithBootstrap("  users:\n    admin:\n      options: [createdb, 'superuser; drop table x']\n");
  EXPECT_TRUE(HasError(r, "bootstrap.users.admin.options[1]: 'superuser; drop table x' is not a role option"))
      << r.errors[0];
  EXPECT_TRUE(HasError(WithBootstrap("  users: [admin]\n"), "bootstrap.users: must be a mapping"));
  EXPECT_TRUE(HasError(WithBootstrap("  users:\n    admin:\n      options: createdb\n"),
                       "bootstrap.users.admin.options: must be a list"));
}

TEST(BootstrapConfigTest, PgHbaLinesAreKept) {
  auto r = WithBootstrap("  pg_hba:\n  - host all all 0.0.0.0/0 md5\n");
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.config->bootstrap.pg_hba, (std::vector<std::string>{"host all all 0.0.0.0/0 md5"}));
  EXPECT_FALSE(HasWarning(r, "bootstrap.pg_hba"));
}

TEST(BootstrapConfigTest, UseUnixSocketReplSaysWhatItMeans) {
  auto r = Load(Replace(kGoodConfig, "  pgpass:", "  use_unix_socket_repl: true\n  pgpass:"));
  ASSERT_TRUE(r.errors.empty());
  EXPECT_TRUE(HasWarning(r, "postgresql.use_unix_socket_repl: accepted for Patroni compatibility, without effect"));
  EXPECT_TRUE(HasWarning(r, "primary_conninfo does not depend on it"));
}

std::shared_ptr<const Config> Cfg(const std::string& bootstrap_lines, const std::string& pg_lines = "") {
  auto r = Load(
      Replace(Replace(kGoodConfig, kBootstrapAt, bootstrap_lines + kBootstrapAt), "  pgpass:", pg_lines + "  pgpass:"));
  if (!r.errors.empty()) ADD_FAILURE() << r.errors[0];
  return r.config;
}

const std::vector<std::string> kInitdbLines = {"local all all trust", "host all all 127.0.0.1/32 trust",
                                               "local replication all trust"};

TEST(BootstrapHbaTest, BootstrapLinesFollowInitdbsLines) {
  auto cfg = Cfg("  pg_hba:\n  - host replication replicator 10.0.0.0/8 md5\n  - host all all 0.0.0.0/0 md5\n");
  std::string hba = RenderPgHba(*cfg, cfg->bootstrap.dynamic, false, kInitdbLines);
  EXPECT_NE(hba.find("\nlocal all all trust\nhost all all 127.0.0.1/32 trust\nlocal replication all trust\n"
                     "host replication replicator 10.0.0.0/8 md5\nhost all all 0.0.0.0/0 md5\n"),
            std::string::npos)
      << hba;
  EXPECT_EQ(hba.find("scram-sha-256"), std::string::npos) << "no default lines, no added replication line: " << hba;
}

TEST(BootstrapHbaTest, AReplicationLineIsAddedWhenTheBootstrapLinesHaveNone) {
  // initdb's own replication lines only admit local connections: a replica elsewhere could not stream.
  auto cfg = Cfg("  pg_hba:\n  - host all all 0.0.0.0/0 md5\n");
  std::string hba = RenderPgHba(*cfg, cfg->bootstrap.dynamic, false, kInitdbLines);
  EXPECT_NE(hba.find("\nhost replication replicator all scram-sha-256\nlocal all all trust\n"), std::string::npos)
      << hba;
}

TEST(BootstrapHbaTest, PostgresqlPgHbaAndTheDynamicOneWin) {
  auto local = Cfg("  pg_hba:\n  - host all all 0.0.0.0/0 md5\n", "  pg_hba:\n  - host all all 10.0.0.0/8 md5\n");
  std::string hba = RenderPgHba(*local, local->bootstrap.dynamic, false, kInitdbLines);
  EXPECT_NE(hba.find("10.0.0.0/8"), std::string::npos);
  EXPECT_EQ(hba.find("0.0.0.0/0"), std::string::npos) << hba;
  EXPECT_EQ(hba.find("trust"), std::string::npos) << "initdb's lines go with the bootstrap lines only: " << hba;
  auto cfg = Cfg("  pg_hba:\n  - host all all 0.0.0.0/0 md5\n");
  DynamicConfig dyn = cfg->bootstrap.dynamic;
  dyn.pg_hba = {"host all all 192.168.0.0/16 md5"};
  hba = RenderPgHba(*cfg, dyn, false, kInitdbLines);
  EXPECT_NE(hba.find("192.168.0.0/16"), std::string::npos);
  EXPECT_EQ(hba.find("0.0.0.0/0"), std::string::npos) << hba;
}

TEST(BootstrapHbaTest, WithoutBootstrapLinesInitdbsFileIsNotUsed) {
  auto cfg = Cfg("");
  std::string hba = RenderPgHba(*cfg, cfg->bootstrap.dynamic, false, kInitdbLines);
  EXPECT_NE(hba.find("local all all peer"), std::string::npos) << hba;
  EXPECT_EQ(hba.find("trust"), std::string::npos) << hba;
}

TEST(BootstrapHbaTest, HbaLinesDropCommentsAndBlankLines) {
  EXPECT_EQ(HbaLines("# TYPE DATABASE\n\nlocal   all all   trust\r\n   # indented comment\nhost all all ::1/128 trust"),
            (std::vector<std::string>{"local   all all   trust", "host all all ::1/128 trust"}));
}

TEST(BootstrapRoleTest, RoleStatementsAsPatroniWritesThem) {
  EXPECT_EQ(RoleStatement(false, "\"admin\"", {"createrole", "createdb"}, "'pw'"),
            "CREATE ROLE \"admin\" WITH CREATEROLE CREATEDB LOGIN PASSWORD 'pw'");
  EXPECT_EQ(RoleStatement(true, "\"replicator\"", {"REPLICATION"}, "'x'"),
            "ALTER ROLE \"replicator\" WITH REPLICATION LOGIN PASSWORD 'x'");
  EXPECT_EQ(RoleStatement(false, "\"r\"", {"NOLOGIN"}, ""), "CREATE ROLE \"r\" WITH NOLOGIN");
}

TEST(BootstrapScriptTest, ConnectionStringForTheLocalSuperuser) {
  auto cfg = Cfg("");
  EXPECT_EQ(PostBootstrapConninfo(*cfg), "dbname=postgres user=postgres host=127.0.0.1 port=5432");
  auto ssl = Load(Replace(Replace(kGoodConfig, "superuser: {username: postgres, password: secret}",
                                  "superuser: {username: 'my admin', password: secret, sslmode: require}"),
                          "  pgpass:", "  use_unix_socket: true\n  pgpass:"));
  ASSERT_TRUE(ssl.errors.empty()) << ssl.errors[0];
  EXPECT_EQ(PostBootstrapConninfo(*ssl.config),
            "dbname=postgres user='my admin' host=/var/run/postgresql port=5432 sslmode=require");
}

}  // namespace

namespace ha {
namespace {

TEST_F(DecideTest, AFailedBootstrapStopsTheAgentNamingTheCause) {
  tweak_ = [](Inputs& in) { in.state.bootstrap_failed = "post_bootstrap script /bin/false failed (exit code 1)"; };
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kFatal});
  EXPECT_NE(As<Fatal>(d.actions[0]).why.find("Failed to bootstrap cluster: post_bootstrap script /bin/false failed"),
            std::string::npos)
      << As<Fatal>(d.actions[0]).why;
  EXPECT_NE(As<Fatal>(d.actions[0]).why.find("initialize key"), std::string::npos);
}

TEST_F(DecideTest, WithoutAFailedBootstrapAnEmptyNodeStillRaces) {
  auto d = Run();
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kAttemptInitialize, AT::kBootstrap}));
}

}  // namespace
}  // namespace ha
}  // namespace pgw
