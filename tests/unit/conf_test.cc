#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/fs.h"
#include "pg/conf.h"
#include "pg/controller.h"
#include "test_util.h"

namespace pgw {
namespace {

// The test config with `from` replaced by `to`.
std::shared_ptr<const Config> Cfg(const std::string& from = "", const std::string& to = "") {
  auto r = testing::Load(from.empty() ? testing::kGoodConfig : testing::Replace(testing::kGoodConfig, from, to));
  if (!r.errors.empty()) ADD_FAILURE() << r.errors[0];
  return r.config;
}

TEST(ConfTest, ClusterWideParametersComeFromTheDynamicConfigOnly) {
  auto cfg = Cfg();
  Json p = EffectiveParameters(*cfg, cfg->bootstrap.dynamic);
  EXPECT_EQ(p["max_connections"], 200);  // local 10 ignored: must be equal on every node
  EXPECT_EQ(p["work_mem"], "8MB");       // local wins for ordinary parameters
  EXPECT_EQ(p["wal_level"], "replica");  // default
  EXPECT_EQ(p["wal_retrieve_retry_interval"], "500ms")
      << "promotion must not sleep out PostgreSQL's 5 s retry interval";
  EXPECT_EQ(p["listen_addresses"], "0.0.0.0");
  EXPECT_EQ(p["port"], 5432);
  EXPECT_EQ(p["cluster_name"], "demo");
}

// Values as PyYAML reads them for Patroni. `unix_socket_permissions: 0770` is octal (504); read as decimal 770 it
// was capped by PostgreSQL's range to 511, i.e. 0777: a world-writable socket. A parameter with no value is not
// written (Patroni writes no None); it was written as 'null' (an archiver running `null`).
TEST(ConfTest, OctalModesAndEmptyParametersAreReadAsPatroniReadsThem) {
  auto cfg = Cfg("    work_mem: 8MB\n",
                 "    work_mem: 8MB\n    unix_socket_permissions: 0770\n    log_file_mode: 0640\n"
                 "    quoted_mode: '0770'\n    hex_value: 0x1F\n    spaced: 1_000\n    not_octal: 08\n"
                 "    archive_command:\n    wal_level:\n");
  Json p = EffectiveParameters(*cfg, cfg->bootstrap.dynamic);
  EXPECT_EQ(p["unix_socket_permissions"], 504);
  EXPECT_EQ(p["log_file_mode"], 416);
  EXPECT_EQ(p["quoted_mode"], "0770");  // quoted: a string, which PostgreSQL reads as octal itself
  EXPECT_EQ(p["hex_value"], 31);
  EXPECT_EQ(p["spaced"], 1000);
  EXPECT_EQ(p["not_octal"], "08");  // not a YAML 1.1 integer
  EXPECT_FALSE(p.contains("archive_command")) << p.dump();
  EXPECT_EQ(p["wal_level"], "replica");  // pgwarden's own default stays
  std::string conf = RenderPostgresqlConf(*cfg, p, std::nullopt, false);
  EXPECT_NE(conf.find("unix_socket_permissions = 504\n"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("null"), std::string::npos) << conf;
}

// Keys Patroni does not pass to libpq are not passed by pgwarden either (the schema check warns that they are
// ignored): `database` in a conninfo makes libpq refuse the whole string.
TEST(ConfTest, OnlyLibpqOptionsOfAUserReachItsConninfo) {
  auto cfg = Cfg("superuser: {username: postgres, password: secret}",
                 "superuser: {username: postgres, password: secret, sslmode: require, database: postgres}");
  std::string su = SuperuserConninfo(*cfg, "10.0.0.2", 5433);
  EXPECT_NE(su.find("sslmode='require'"), std::string::npos) << su;
  EXPECT_EQ(su.find("database"), std::string::npos) << su;
}

// use_unix_socket: the first absolute directory of unix_socket_directories, else TCP (Patroni's rule). `..` (the
// value in Patroni's own example file) was taken as the host, which libpq reads as a host name.
TEST(ConfTest, LocalSocketIsTheFirstAbsoluteDirectoryElseTcp) {
  auto with = [](const std::string& dirs) {
    return Cfg("    work_mem: 8MB\n",
               "    work_mem: 8MB\n    unix_socket_directories: '" + dirs + "'\n  use_unix_socket: true\n");
  };
  EXPECT_EQ(LocalHost(*with("..")), "127.0.0.1");  // listen 0.0.0.0: loopback over TCP
  EXPECT_EQ(LocalHost(*with("@abstract, /tmp ,/run/pg")), "/tmp");
  EXPECT_EQ(LocalHost(*with("/var/run/postgresql")), "/var/run/postgresql");
  EXPECT_EQ(LocalHost(*Cfg("  pgpass:", "  use_unix_socket: true\n  pgpass:")), "/var/run/postgresql");
}

// With use_unix_socket the agent connects where the running postmaster listens (postmaster.pid's socket line): the
// directory may come from the dynamic configuration, which Patroni honours. Before, only the local parameters were
// read, and a node whose unix_socket_directories is in bootstrap.dcs looked in /var/run/postgresql and never
// reached its own PostgreSQL (FamilyTest.UnixSocketWithPeer... with real processes). Without a running postmaster
// the configured rule applies, bootstrap.dcs's value included.
TEST(ConfTest, LocalSocketIsWhereTheRunningPostmasterListensElseTheConfiguredOne) {
  auto loaded = testing::Load(testing::Replace(
      testing::Replace(testing::kGoodConfig, "      parameters: {max_connections: 200}\n",
                       "      parameters: {max_connections: 200, unix_socket_directories: '/run/dyn, /tmp'}\n"),
      "  pgpass: /tmp/pgpass0\n", "  pgpass: /tmp/pgpass0\n  use_unix_socket: true\n"));
  ASSERT_TRUE(loaded.errors.empty()) << loaded.errors[0];
  const auto& dynamic_only = loaded.config;
  EXPECT_EQ(LocalHost(*dynamic_only), "/run/dyn");
  EXPECT_EQ(LocalHost(*dynamic_only, "/run/started-with"), "/run/started-with");
  EXPECT_EQ(LocalHost(*dynamic_only, "@abstract"), "/run/dyn");  // not a directory: the configured rule
  auto tcp = Cfg("    work_mem: 8MB\n", "    work_mem: 8MB\n    unix_socket_directories: /tmp\n");
  EXPECT_EQ(LocalHost(*tcp, "/tmp"), "127.0.0.1");  // without use_unix_socket: TCP, whatever the postmaster has

  std::string dir = ::testing::TempDir() + "/pgw-running-socket-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  EXPECT_EQ(RunningSocketDir(dir), "") << "no pid file";
  auto pidfile = [&](const std::string& text) { ASSERT_TRUE(WriteFileAtomic(dir + "/postmaster.pid", text).ok()); };
  pidfile("4242\n" + dir + "\n1700000000\n5432\n");
  EXPECT_EQ(RunningSocketDir(dir), "") << "written before the socket exists: no line 5 yet";
  pidfile("4242\n" + dir + "\n1700000000\n5432\n/run/pg sock\n127.0.0.1\n  5432001  65538\nready   \n");
  EXPECT_EQ(RunningSocketDir(dir), "/run/pg sock");
  pidfile("4242\n" + dir + "\n1700000000\n5432\n\n*\n");
  EXPECT_EQ(RunningSocketDir(dir), "") << "no unix socket";
  std::filesystem::remove_all(dir);
}

TEST(ConfTest, EveryConnectionOfAUserCarriesItsSslSettings) {
  // With client certificates for all users (pg_hba `cert`), the agent's own sessions, pg_basebackup and pg_rewind
  // need the user's sslmode/sslcert/sslkey/sslrootcert as much as primary_conninfo does.
  auto cfg = Cfg("superuser: {username: postgres, password: secret}",
                 "superuser: {username: postgres, sslmode: verify-ca, sslcert: /c/su.crt, sslkey: /c/su.key, "
                 "sslrootcert: /c/ca.crt}");
  std::string su = SuperuserConninfo(*cfg, "10.0.0.2", 5433);
  for (const char* want : {"sslmode='verify-ca'", "sslcert='/c/su.crt'", "sslkey='/c/su.key'",
                           "sslrootcert='/c/ca.crt'", "user='postgres'", "host='10.0.0.2'"}) {
    EXPECT_NE(su.find(want), std::string::npos) << want << " not in " << su;
  }
  std::string rep = UserConninfo(cfg->postgresql.superuser, {{"host", "h"}});
  EXPECT_EQ(rep,
            "host='h' user='postgres' sslcert='/c/su.crt' sslkey='/c/su.key' sslmode='verify-ca' "
            "sslrootcert='/c/ca.crt'");
}

TEST(ConfTest, ReplicaConfHasPatroniStylePrimaryConninfo) {
  auto cfg = Cfg();
  std::string conf = RenderPostgresqlConf(*cfg, EffectiveParameters(*cfg, cfg->bootstrap.dynamic),
                                          Upstream{HostPort{"10.0.0.2", 5433}, "pg0"}, true);
  EXPECT_NE(conf.find("include 'postgresql.base.conf'"), std::string::npos);
  EXPECT_NE(conf.find("primary_conninfo = 'user=replicator passfile=/tmp/pgpass0 host=10.0.0.2 port=5433 "
                      "sslmode=prefer application_name=pg0'"),
            std::string::npos)
      << conf;
  EXPECT_NE(conf.find("primary_slot_name = 'pg0'"), std::string::npos);
  EXPECT_NE(conf.find("recovery_target_timeline = 'latest'"), std::string::npos);
  std::string primary = RenderPostgresqlConf(*cfg, Json::object(), std::nullopt, false);
  EXPECT_EQ(primary.find("primary_conninfo"), std::string::npos);
}

TEST(ConfTest, ConfValuesAreQuoted) {
  EXPECT_EQ(ConfValue(Json(100)), "100");
  EXPECT_EQ(ConfValue(Json(true)), "on");
  EXPECT_EQ(ConfValue(Json("it's")), "'it''s'");
  // A bare 1e+20 or a raw line break would be a syntax error that stops PostgreSQL from starting.
  EXPECT_EQ(ConfValue(Json(1e20)), "'1e+20'");
  EXPECT_EQ(ConfValue(Json(0.9)), "'0.9'");
  EXPECT_EQ(ConfValue(Json(-1)), "-1");
  EXPECT_EQ(ConfValue(Json("a\nb\r")), "'a\\nb\\r'");
  EXPECT_EQ(ConfText(Json(false)), "off");
  EXPECT_EQ(ConfText(Json(0.5)), "0.5");
}

TEST(ConfTest, HbaGetsAReplicationLineWhenMissing) {
  auto cfg = Cfg("  pgpass:", "  pg_hba:\n  - host all all 0.0.0.0/0 md5\n  pgpass:");
  ASSERT_TRUE(cfg);
  std::string hba = RenderPgHba(*cfg, cfg->bootstrap.dynamic);
  EXPECT_NE(hba.find("host replication replicator all scram-sha-256"), std::string::npos) << hba;
  auto cfg2 = Cfg("  pgpass:", "  pg_hba:\n  - host replication replicator 10.0.0.0/8 md5\n  pgpass:");
  ASSERT_TRUE(cfg2);
  std::string hba2 = RenderPgHba(*cfg2, cfg2->bootstrap.dynamic);
  EXPECT_EQ(hba2.find("scram-sha-256"), std::string::npos) << hba2;
}

TEST(ConfTest, GatedHbaKeepsOnlyReplicationAndPgwardensRoles) {
  auto cfg = Cfg("  pgpass:",
                 "  pg_hba:\n"
                 "  - local all all peer\n"
                 "  - host replication replicator 10.0.0.0/8 md5\n"
                 "  - host all app,postgres 10.0.0.0/8 md5   # comment\n"
                 "  - host \"all\" \"app\" 0.0.0.0/0 md5\n"
                 "  - hostssl all +admins 0.0.0.0/0 cert\n"
                 "  - include other.conf\n"
                 "  pgpass:");
  ASSERT_TRUE(cfg);
  std::string open = RenderPgHba(*cfg, cfg->bootstrap.dynamic);
  EXPECT_NE(open.find("host all app,postgres 10.0.0.0/8 md5"), std::string::npos) << open;
  std::string gated = RenderPgHba(*cfg, cfg->bootstrap.dynamic, true);
  std::string own = cfg->postgresql.superuser.username;
  if (cfg->postgresql.has_rewind_user) own += "," + cfg->postgresql.rewind.username;
  EXPECT_NE(gated.find("\nlocal all " + own + " peer\n"), std::string::npos) << gated;
  EXPECT_NE(gated.find("\nhost replication replicator 10.0.0.0/8 md5\n"), std::string::npos) << gated;
  EXPECT_NE(gated.find("\nhost all postgres 10.0.0.0/8 md5\n"), std::string::npos) << gated;
  EXPECT_EQ(gated.find("app"), std::string::npos) << "application roles are refused while gated:\n" << gated;
  EXPECT_EQ(gated.find("admins"), std::string::npos) << gated;
  EXPECT_EQ(gated.find("include"), std::string::npos) << gated;
  EXPECT_NE(gated.find("Client gate"), std::string::npos) << "the file says why it looks like this";
}

TEST(ConfTest, PgpassEscapesSeparators) {
  auto cfg =
      Cfg("superuser: {username: postgres, password: secret}", "superuser: {username: postgres, password: 'a:b\\c'}");
  ASSERT_TRUE(cfg);
  std::string pgpass = RenderPgpass(*cfg);
  EXPECT_NE(pgpass.find("*:*:*:postgres:a\\:b\\\\c"), std::string::npos) << pgpass;
  EXPECT_NE(pgpass.find("*:*:*:replicator:rep-pass"), std::string::npos);
}

TEST(ControlDataTest, ParsesPgControldata) {
  auto d = ParseControlData(
      "pg_control version number:            1300\n"
      "Database system identifier:           7710784184727718416\n"
      "Database cluster state:               shut down in recovery\n"
      "Latest checkpoint's TimeLineID:       3\n");
  EXPECT_EQ(d.sysid, "7710784184727718416");
  EXPECT_EQ(d.state, "shut down in recovery");
  EXPECT_EQ(d.timeline, 3);
  EXPECT_EQ(*ParseLsn("0/3000060"), 0x3000060);
  EXPECT_EQ(*ParseLsn("1/0"), int64_t{1} << 32);
  EXPECT_FALSE(ParseLsn("zz"));
  auto hp = ConninfoHostPort("user=replicator passfile=/x host=10.0.0.2 port=5433 application_name=pg0");
  EXPECT_EQ(hp->host, "10.0.0.2");
  EXPECT_EQ(hp->port, 5433);
  EXPECT_FALSE(ConninfoHostPort(""));
}

// A standby leader streaming through a slot asks for a primary (Patroni's primary_conninfo for a remote member with
// a slot), and the observed setting reads back as the same Upstream, so that it is not rewritten every cycle.
TEST(ConfTest, StandbyLeaderWithASlotConnectsOnlyToAPrimary) {
  auto cfg = Cfg();
  Upstream u{HostPort{"a,b", 5432}, "standby_b"};
  u.read_write = true;
  std::string conf = RenderPostgresqlConf(*cfg, Json::object(), u, false);
  std::string line = conf.substr(conf.find("primary_conninfo"));
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(line.find("target_session_attrs=read-write"), std::string::npos) << line;
  std::string conninfo = PrimaryConninfo(*cfg, u.address, true);
  EXPECT_TRUE(ConninfoReadWrite(conninfo)) << conninfo;
  EXPECT_FALSE(ConninfoReadWrite(PrimaryConninfo(*Cfg(), u.address, false)));
}

}  // namespace
}  // namespace pgw
