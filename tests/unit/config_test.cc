#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/config.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::Errors;
using testing::HasError;
using testing::kGoodConfig;
using testing::Load;
using testing::Replace;

TEST(ConfigTest, GoodFileParsesIntoTypedSnapshot) {
  auto r = Load(kGoodConfig);
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.name, "pg0");
  EXPECT_EQ(c.scope, "demo");
  EXPECT_EQ(c.KeyPrefix(), "/service/demo/");
  EXPECT_EQ(c.restapi.listen_port, 8008);
  ASSERT_EQ(c.etcd3.hosts.size(), 2u);
  EXPECT_EQ(c.etcd3.hosts[1].ToString(), "127.0.0.2:2379");
  EXPECT_EQ(c.postgresql.port, 5432);
  EXPECT_EQ(c.postgresql.listen_hosts, std::vector<std::string>{"0.0.0.0"});
  EXPECT_EQ(c.postgresql.connect_address.host, "127.0.0.1");
  EXPECT_EQ(c.bootstrap.initdb_args, (std::vector<std::string>{"--encoding=UTF8", "--data-checksums"}));
  EXPECT_EQ(c.bootstrap.dynamic.ttl, 30);
  EXPECT_EQ(c.bootstrap.dynamic.parameters.at("max_connections"), 200);
  EXPECT_TRUE(c.tags.clonefrom);
  // Defaulted booleans are not published; set ones and custom tags are.
  EXPECT_EQ(c.tags.published, (Json{{"clonefrom", true}, {"custom", "abc"}}));
}

TEST(ConfigTest, UnknownKeyIsAWarningNamedWithItsPath) {
  // Patroni ignores keys it does not know; pgwarden starts too, and says which key it ignored.
  auto r = Load(Replace(kGoodConfig, "  pgpass:", "  lisen: 1.2.3.4:5\n  pgpass:"));
  EXPECT_TRUE(r.errors.empty()) << Errors(r);
  ASSERT_TRUE(r.config);
  EXPECT_TRUE(std::any_of(r.warnings.begin(), r.warnings.end(), [](const std::string& w) {
    return w.find("postgresql.lisen: unknown key, ignored") != std::string::npos;
  }));
}

TEST(ConfigTest, WrongTypesAreNamed) {
  auto r = Load(Replace(Replace(kGoodConfig, "ttl: 30", "ttl: thirty"), "clonefrom: true", "nofailover: maybe"));
  EXPECT_TRUE(HasError(r, "bootstrap.dcs.ttl: must be an integer")) << Errors(r);
  EXPECT_TRUE(HasError(r, "tags.nofailover: must be a boolean")) << Errors(r);
}

TEST(ConfigTest, MissingRequiredKeys) {
  auto r = Load(Replace(Replace(kGoodConfig, "name: pg0\n", ""), "  data_dir: /var/lib/postgresql/15/main\n", ""));
  EXPECT_TRUE(HasError(r, "name: required key is missing")) << Errors(r);
  EXPECT_TRUE(HasError(r, "postgresql.data_dir: required key is missing")) << Errors(r);
}

TEST(ConfigTest, BadHostPort) {
  auto r = Load(Replace(Replace(kGoodConfig, "listen: 127.0.0.1:8008", "listen: 127.0.0.1:99999"),
                        "connect_address: 127.0.0.1:5432", "connect_address: dbhost"));
  EXPECT_TRUE(HasError(r, "restapi.listen: '127.0.0.1:99999': port 99999 is outside 1..65535")) << Errors(r);
  EXPECT_TRUE(HasError(r, "postgresql.connect_address: 'dbhost' is not host:port (no port)")) << Errors(r);
}

bool HasWarning(const LoadResult& r, const std::string& needle) {
  return std::any_of(r.warnings.begin(), r.warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

TEST(ConfigTest, TimingRuleIsAdjustedAsPatroniDoes) {
  // ttl 20 / loop_wait 10 / retry_timeout 10 breaks loop_wait + 2*retry_timeout <= ttl: Patroni starts with
  // loop_wait 1 and retry_timeout (ttl-1)/2.
  auto r = Load(Replace(kGoodConfig, "ttl: 30", "ttl: 20"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->bootstrap.dynamic.ttl, 20);
  EXPECT_EQ(r.config->bootstrap.dynamic.loop_wait, 1);
  EXPECT_EQ(r.config->bootstrap.dynamic.retry_timeout, 9);
  EXPECT_TRUE(HasWarning(r, "bootstrap.dcs: loop_wait (10) + 2*retry_timeout (10) exceeds ttl (20)"));
  auto fast = Load(Replace(Replace(Replace(kGoodConfig, "ttl: 30", "ttl: 3"), "loop_wait: 10", "loop_wait: 1"),
                           "retry_timeout: 10", "retry_timeout: 1"));
  ASSERT_TRUE(fast.errors.empty()) << Errors(fast);
  EXPECT_TRUE(fast.warnings.empty());
  EXPECT_EQ(fast.config->bootstrap.dynamic.ttl, 3);
  auto tiny = Load(Replace(kGoodConfig, "ttl: 30", "ttl: 1"));
  ASSERT_TRUE(tiny.errors.empty()) << Errors(tiny);
  EXPECT_EQ(tiny.config->bootstrap.dynamic.ttl, 2);
  EXPECT_TRUE(HasWarning(tiny, "ttl=1 is below the minimum of 2 seconds, using 2"));
}

TEST(ConfigTest, RetryTimeoutTakesDecimalsSoThatTtlTwoKeepsTheRule) {
  // The fast profile: ttl 2 needs retry_timeout 0.5 under loop_wait + 2*retry_timeout <= ttl.
  std::string fast = Replace(Replace(kGoodConfig, "ttl: 30", "ttl: 2"), "loop_wait: 10", "loop_wait: 1");
  for (const char* rt : {"0.5", "\"0.5\"", "'0.5'"}) {
    auto r = Load(Replace(fast, "retry_timeout: 10", std::string("retry_timeout: ") + rt));
    ASSERT_TRUE(r.errors.empty()) << rt << ": " << Errors(r);
    EXPECT_TRUE(r.warnings.empty()) << rt;
    EXPECT_EQ(r.config->bootstrap.dynamic.retry_timeout, 0.5) << rt;
    EXPECT_EQ(r.config->bootstrap.dynamic.RetryTimeout(), Duration(500)) << rt;
  }
  // ttl 2 with whole seconds breaks the rule: adjusted to 0.5, the floor (Patroni's (ttl-1)/2 would be 0).
  auto adjusted = Load(Replace(fast, "retry_timeout: 10", "retry_timeout: 1"));
  ASSERT_TRUE(adjusted.errors.empty()) << Errors(adjusted);
  EXPECT_EQ(adjusted.config->bootstrap.dynamic.retry_timeout, 0.5);
  EXPECT_TRUE(HasWarning(adjusted, "2*retry_timeout (1) exceeds ttl (2): using loop_wait=1 and retry_timeout=0.5"))
      << adjusted.warnings.size();
  auto low = Load(Replace(kGoodConfig, "retry_timeout: 10", "retry_timeout: 0.1"));
  EXPECT_TRUE(HasWarning(low, "retry_timeout=0.1 is below the minimum of 0.5, using 0.5"));
  auto bad = Load(Replace(kGoodConfig, "retry_timeout: 10", "retry_timeout: soon"));
  EXPECT_TRUE(HasError(bad, "bootstrap.dcs.retry_timeout: must be a number of seconds, got")) << Errors(bad);
  auto nan = Load(Replace(kGoodConfig, "retry_timeout: 10", "retry_timeout: .nan"));
  EXPECT_FALSE(nan.errors.empty()) << "NaN accepted as a retry_timeout";
  EXPECT_EQ(FormatSeconds(0.5), "0.5");
  EXPECT_EQ(FormatSeconds(10), "10");
  EXPECT_EQ(FormatSeconds(2.25), "2.25");
}

TEST(ConfigTest, HugeTimingValuesAreRefusedWithTheKeyPath) {
  auto r = Load(Replace(kGoodConfig, "ttl: 30", "ttl: 4294968"));  // ttl*1000 overflows an int
  EXPECT_TRUE(HasError(r, "bootstrap.dcs.ttl: 4294968 is beyond the maximum of")) << Errors(r);
  auto lw = Load(Replace(kGoodConfig, "loop_wait: 10", "loop_wait: 9999999999"));
  EXPECT_TRUE(HasError(lw, "bootstrap.dcs.loop_wait: 9999999999 is beyond the maximum of")) << Errors(lw);
}

TEST(ConfigTest, EtcdV2SectionSaysToUseEtcd3) {
  auto r = Load(Replace(kGoodConfig, "etcd3:\n", "etcd:\n"));
  EXPECT_TRUE(HasError(r, "etcd: the etcd v2 protocol is not supported")) << Errors(r);
  EXPECT_TRUE(HasError(r, "rename the section to 'etcd3:' with the same hosts")) << Errors(r);
}

TEST(ConfigTest, InitdbAuthOptionsPassThrough) {
  auto r = Load(Replace(kGoodConfig, "  - data-checksums\n",
                        "  - data-checksums\n  - auth: scram-sha-256\n  - auth-host: md5\n  - auth-local: trust\n"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->bootstrap.initdb_args,
            (std::vector<std::string>{"--encoding=UTF8", "--data-checksums", "--auth=scram-sha-256", "--auth-host=md5",
                                      "--auth-local=trust"}));
}

TEST(ConfigTest, PatroniTestOnlyKeysStart) {
  // The example: a newer Patroni's key, watchdog.driver, ttl 20 / loop_wait 2 / retry_timeout 10.
  auto r = Load(Replace(Replace(Replace(kGoodConfig, "ttl: 30", "ttl: 20"), "loop_wait: 10", "loop_wait: 2"),
                        "tags:", "watchdog:\n  mode: off\n  driver: testing\nfuture_key: 1\ntags:"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_TRUE(HasWarning(r, "watchdog.driver: accepted for Patroni compatibility"));
  EXPECT_TRUE(HasWarning(r, "future_key: unknown key, ignored"));
}

TEST(ConfigTest, AllProblemsAreListedTogether) {
  auto r = Load(Replace(Replace(kGoodConfig, "scope: demo\n", "bogus: 1\n"), "ttl: 30", "ttl: x"));
  EXPECT_GE(r.errors.size(), 2u) << Errors(r);
  EXPECT_TRUE(HasError(r, "bootstrap.dcs.ttl: must be an integer"));
  EXPECT_TRUE(HasError(r, "scope: required key is missing"));
}

TEST(ConfigTest, EnvironmentOverridesFile) {
  auto r = Load(kGoodConfig, {{"PATRONI_NAME", "pg9"},
                              {"PATRONI_ETCD3_HOSTS", "['10.0.0.1:2379', '10.0.0.2:2379', '10.0.0.3:2379']"},
                              {"PATRONI_SUPERUSER_PASSWORD", "from-env"},
                              {"PATRONI_POSTGRESQL_LISTEN", "127.0.0.1:6543"},
                              {"PATRONI_RESTAPI_USERNAME", "admin"},
                              {"PATRONI_CTL_USERNAME", "ignored"}});
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->name, "pg9");
  EXPECT_EQ(r.config->etcd3.hosts.size(), 3u);
  EXPECT_EQ(r.config->postgresql.superuser.password, "from-env");
  EXPECT_EQ(r.config->postgresql.port, 6543);
  EXPECT_EQ(r.config->restapi.username, "admin");
}

// PATRONI_* variables as Patroni reads them (config.py _get_environment): lists and mappings without their brackets
// (Patroni's own docker-compose example writes PATRONI_ETCD3_HOSTS so: only its first host was kept), and an empty
// variable sets nothing (it blanked the file's superuser password).
TEST(ConfigTest, EnvironmentListsMappingsAndEmptyValuesAreReadAsPatroniReadsThem) {
  auto r = Load(kGoodConfig, {{"PATRONI_ETCD3_HOSTS", "'etcd1:2379','etcd2:2379','etcd3:2379'"},
                              {"PATRONI_RESTAPI_ALLOWLIST", "10.0.0.0/8,192.168.0.1"},
                              {"PATRONI_LOG_LOGGERS", "patroni.postmaster: WARNING, urllib3: DEBUG"},
                              {"PATRONI_RESTAPI_HTTP_EXTRA_HEADERS", "X-Frame-Options: SAMEORIGIN, X-Foo: bar"},
                              {"PATRONI_SUPERUSER_PASSWORD", ""},
                              {"PATRONI_NAME", ""}});
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  ASSERT_EQ(r.config->etcd3.hosts.size(), 3u);
  EXPECT_EQ(r.config->etcd3.hosts[2].ToString(), "etcd3:2379");
  EXPECT_EQ(r.config->restapi.allowlist, (std::vector<std::string>{"10.0.0.0/8", "192.168.0.1"}));
  EXPECT_EQ(r.config->postgresql.superuser.password, "secret");
  EXPECT_EQ(r.config->name, "pg0");
  // Still accepted in their bracketed forms, and a single unbracketed host.
  auto b =
      Load(kGoodConfig, {{"PATRONI_ETCD3_HOSTS", "['a:2379', 'b:2379']"}, {"PATRONI_RESTAPI_ALLOWLIST", "- 10.1.1.1"}});
  ASSERT_TRUE(b.errors.empty()) << Errors(b);
  EXPECT_EQ(b.config->etcd3.hosts.size(), 2u);
  EXPECT_EQ(b.config->restapi.allowlist, (std::vector<std::string>{"10.1.1.1"}));
  auto one = Load(kGoodConfig, {{"PATRONI_ETCD3_HOSTS", "10.0.0.7:2379"}});
  ASSERT_TRUE(one.errors.empty()) << Errors(one);
  ASSERT_EQ(one.config->etcd3.hosts.size(), 1u);
  EXPECT_EQ(one.config->etcd3.hosts[0].ToString(), "10.0.0.7:2379");
}

TEST(ConfigTest, EnvironmentCanSupplyRequiredKeys) {
  auto r = Load(Replace(kGoodConfig, "scope: demo\n", ""), {{"PATRONI_SCOPE", "envscope"}});
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->scope, "envscope");
}

// etcd3's endpoints as Patroni 3 reads them (dcs/etcd.py, get_etcd_client). Before, a URL with credentials or
// without a port, a host without a port and etcd3.port were refused or ignored, so real Patroni files failed.
TEST(ConfigTest, Etcd3EndpointsFollowPatronisRules) {
  const std::string kEtcd = "etcd3:\n  hosts: 127.0.0.1:2379,127.0.0.2:2379\n";
  auto with = [&](const std::string& section, std::map<std::string, std::string> env = {}) {
    return Load(Replace(kGoodConfig, kEtcd, section), std::move(env));
  };
  auto hosts = [](const LoadResult& r) {
    std::string s;
    for (const auto& h : r.config->etcd3.hosts) s += (s.empty() ? "" : ",") + h.ToString();
    return s;
  };
  auto warned = [](const LoadResult& r, const std::string& what) {
    return std::any_of(r.warnings.begin(), r.warnings.end(),
                       [&](const std::string& w) { return w.find(what) != std::string::npos; });
  };
  // url: scheme, credentials, and port 2379 when it names none; the username/password keys give way to it.
  auto u = with("etcd3:\n  url: HTTPS://root:s3cret@10.0.0.7/\n  username: other\n  password: x\n");
  ASSERT_TRUE(u.errors.empty()) << Errors(u);
  EXPECT_EQ(hosts(u), "10.0.0.7:2379");
  EXPECT_EQ(u.config->etcd3.protocol, "https");
  EXPECT_EQ(u.config->etcd3.username, "root");
  EXPECT_EQ(u.config->etcd3.password, "s3cret");
  EXPECT_TRUE(warned(u, "etcd3.username, etcd3.password: ignored with etcd3.url"));
  // No credentials in the URL: none at all, as in Patroni.
  auto bare = with("etcd3:\n  url: http://10.0.0.7:2380\n  username: other\n  password: x\n");
  ASSERT_TRUE(bare.errors.empty()) << Errors(bare);
  EXPECT_EQ(bare.config->etcd3.username, "");
  // proxy before url before hosts before host; the others are named in a warning.
  auto order =
      with("etcd3:\n  host: 10.0.0.1\n  hosts: [10.0.0.2]\n  url: http://10.0.0.3\n  proxy: http://[::1]:2390\n");
  ASSERT_TRUE(order.errors.empty()) << Errors(order);
  EXPECT_EQ(hosts(order), "[::1]:2390");
  EXPECT_TRUE(warned(order, "etcd3.url: ignored, etcd3.proxy is used"));
  EXPECT_TRUE(warned(order, "etcd3.host: ignored"));
  // hosts: entries without a port take etcd3.port, else 2379; host: etcd3.port replaces its port.
  auto hs = with("etcd3:\n  hosts: 10.0.0.1, 10.0.0.2:2380\n  port: 2381\n");
  ASSERT_TRUE(hs.errors.empty()) << Errors(hs);
  EXPECT_EQ(hosts(hs), "10.0.0.1:2381,10.0.0.2:2380");
  auto h = with("etcd3:\n  host: 10.0.0.1\n");
  ASSERT_TRUE(h.errors.empty()) << Errors(h);
  EXPECT_EQ(hosts(h), "10.0.0.1:2379");
  auto hp = with("etcd3:\n  host: 10.0.0.1:2380\n  port: 2390\n");
  ASSERT_TRUE(hp.errors.empty()) << Errors(hp);
  EXPECT_EQ(hosts(hp), "10.0.0.1:2390");
  // The same through PATRONI_ETCD3_* variables.
  auto env = with("etcd3:\n  host: 10.0.0.1\n", {{"PATRONI_ETCD3_PORT", "2385"}});
  ASSERT_TRUE(env.errors.empty()) << Errors(env);
  EXPECT_EQ(hosts(env), "10.0.0.1:2385");
  // Bad values are named.
  EXPECT_TRUE(HasError(with("etcd3:\n  host: 10.0.0.1\n  port: 70000\n"), "etcd3.port: '70000' is not a port"));
  EXPECT_TRUE(HasError(with("etcd3:\n  url: http://10.0.0.1:http\n"), "etcd3.url:"));
  EXPECT_TRUE(HasError(with("etcd3:\n  url: gopher://10.0.0.1\n"), "etcd3.protocol: 'gopher' must be http or https"));
}

TEST(ConfigTest, OtherDcsIsRejectedClearly) {
  auto r = Load(Replace(kGoodConfig, "etcd3:\n  hosts: 127.0.0.1:2379,127.0.0.2:2379\n", "consul:\n  host: x:8500\n"));
  EXPECT_TRUE(HasError(r, "consul: pgwarden supports the etcd3 DCS only")) << Errors(r);
}

TEST(ConfigTest, PatroniKeysPgwardenIgnoresAreWarnings) {
  auto r = Load(std::string(kGoodConfig) + "ctl:\n  insecure: true\n  keyfile_password: secret\nthread_pool_size: 5\n");
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  ASSERT_EQ(r.warnings.size(), 1u) << ::testing::PrintToString(r.warnings);
  // ctl.cacert/certfile/keyfile/keyfile_password/insecure/authentication are read (by pgwardenctl); Patroni 4.1's
  // thread_pool_size is not.
  EXPECT_NE(r.warnings.front().find("thread_pool_size:"), std::string::npos);
  EXPECT_TRUE(r.config->ctl.insecure);
  EXPECT_EQ(r.config->ctl.keyfile_password, "secret");
}

TEST(ConfigTest, InvalidYamlIsAnErrorNotACrash) {
  auto r = Load("scope: [unclosed\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("not valid YAML"), std::string::npos);
  auto list = Load("- a\n- b\n");
  EXPECT_TRUE(HasError(list, "top level must be a mapping"));
}

TEST(ConfigTest, ForbiddenBasebackupAndInitdbOptions) {
  auto r = Load(Replace(Replace(kGoodConfig, "  - data-checksums\n", "  - data-checksums\n  - pgdata: /x\n"),
                        "  pgpass:", "  basebackup: {max-rate: 100M, wal-method: fetch}\n  pgpass:"));
  EXPECT_TRUE(HasError(r, "bootstrap.initdb[2]: option 'pgdata' is set by pgwarden")) << Errors(r);
  EXPECT_TRUE(HasError(r, "postgresql.basebackup: option 'wal-method' is set by pgwarden")) << Errors(r);
}

TEST(ConfigTest, BinDirWithoutPostgresIsNamed) {
  auto dir = std::filesystem::temp_directory_path() / "pgw-empty-bin";
  std::filesystem::create_directories(dir);
  LoadOptions o;
  o.check_bin_dir = true;
  auto r = LoadConfigText(Replace(kGoodConfig, "  pgpass:", "  bin_dir: " + dir.string() + "\n  pgpass:"), o);
  EXPECT_TRUE(HasError(r, "postgresql.bin_dir: '" + dir.string() + "' has no PostgreSQL programs (missing pg_ctl"))
      << Errors(r);
  std::filesystem::remove_all(dir);
}

TEST(ConfigTest, DirectoryOfFilesIsMergedAlphabetically) {
  auto dir = std::filesystem::temp_directory_path() / "pgw-confdir";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "00-base.yml") << kGoodConfig;
  std::ofstream(dir / "10-node.yaml") << "name: pg5\npostgresql:\n  listen: 127.0.0.1:6000\n";
  LoadOptions o;
  o.check_bin_dir = false;
  auto r = LoadConfigFile(dir.string(), o);
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->name, "pg5");
  EXPECT_EQ(r.config->postgresql.port, 6000);
  EXPECT_EQ(r.config->postgresql.data_dir, "/var/lib/postgresql/15/main");  // merged, not replaced
  std::filesystem::remove_all(dir);
}

// Patroni's order (config.py): the file when it exists, else PATRONI_CONFIGURATION. Before, the variable replaced
// an existing file.
TEST(ConfigTest, AnExistingFileWinsOverPatroniConfiguration) {
  auto dir = std::filesystem::temp_directory_path() / "pgw-confenv";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "patroni.yml") << kGoodConfig;
  LoadOptions o;
  o.check_bin_dir = false;
  o.env = {{"PATRONI_CONFIGURATION", Replace(kGoodConfig, "name: pg0", "name: from-env")}};
  auto file = LoadConfigFile((dir / "patroni.yml").string(), o);
  ASSERT_TRUE(file.errors.empty()) << Errors(file);
  EXPECT_EQ(file.config->name, "pg0");
  auto env = LoadConfigFile((dir / "missing.yml").string(), o);
  ASSERT_TRUE(env.errors.empty()) << Errors(env);
  EXPECT_EQ(env.config->name, "from-env");
  o.env.clear();
  EXPECT_FALSE(LoadConfigFile((dir / "missing.yml").string(), o).errors.empty());
  std::filesystem::remove_all(dir);
}

// Patroni's parse_mode (watchdog/base.py): auto/automatic, require/required (any case), off/disable/disabled and
// YAML false all name a mode.
TEST(ConfigTest, WatchdogModeTakesPatroniSpellings) {
  const std::pair<const char*, const char*> cases[] = {{"auto", "automatic"},   {"Automatic", "automatic"},
                                                       {"require", "required"}, {"REQUIRED", "required"},
                                                       {"off", "off"},          {"disable", "off"},
                                                       {"disabled", "off"},     {"false", "off"},
                                                       {"False", "off"},        {"no", "off"}};
  for (const auto& [given, mode] : cases) {
    auto r = Load(std::string(kGoodConfig) + "watchdog:\n  mode: " + given + "\n");
    ASSERT_TRUE(r.errors.empty()) << given << ": " << Errors(r);
    EXPECT_EQ(r.config->watchdog.mode, mode) << given;
  }
  auto r = Load(std::string(kGoodConfig) + "watchdog:\n  mode: sometimes\n");
  EXPECT_TRUE(HasError(r, "watchdog.mode: 'sometimes' must be off, automatic or required")) << Errors(r);
}

// Patroni reads these with parse_bool (utils.py): on/true/yes/1 and off/false/no/0, any case; integers too.
TEST(ConfigTest, TagBooleansTakeParseBoolWordsAndIntegers) {
  auto r = Load(Replace(Replace(kGoodConfig, "  clonefrom: true\n",
                                "  clonefrom: 1\n  nofailover: 0\n  noloadbalance: 'ON'\n  nosync: Yes\n"),
                        "  connect_address: 127.0.0.1:8008\n",
                        "  connect_address: 127.0.0.1:8008\n  allowlist_include_members: 1\n"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_TRUE(r.config->restapi.allowlist_include_members);
  EXPECT_TRUE(r.config->tags.clonefrom);
  EXPECT_FALSE(r.config->tags.nofailover);
  EXPECT_TRUE(r.config->tags.noloadbalance);
  EXPECT_TRUE(r.config->tags.nosync);
  r = Load(Replace(kGoodConfig, "  clonefrom: true\n", "  nofailover: 1\n  clonefrom: 0\n"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_TRUE(r.config->tags.nofailover);
  EXPECT_FALSE(r.config->tags.clonefrom);
  EXPECT_EQ(r.config->tags.published, (Json{{"nofailover", true}, {"custom", "abc"}}));
  for (const char* v : {"1", "on", "TRUE"}) {
    r = Load(kGoodConfig, {{"PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", v}});
    ASSERT_TRUE(r.errors.empty()) << v << ": " << Errors(r);
    EXPECT_TRUE(r.config->restapi.allowlist_include_members) << v;
  }
  r = Load(kGoodConfig, {{"PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", "0"}});
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_FALSE(r.config->restapi.allowlist_include_members);
  r = Load(kGoodConfig, {{"PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS", "2"}});
  EXPECT_TRUE(HasError(r, "restapi.allowlist_include_members: must be a boolean")) << Errors(r);
}

// A key with no value (YAML null: every entry commented out) is unset, as Patroni reads it.
TEST(ConfigTest, KeysWithNoValueAreUnset) {
  auto r = Load(Replace(
      Replace(Replace(kGoodConfig, "  initdb:\n  - encoding: UTF8\n  - data-checksums\n", "  initdb:\n  pg_hba:\n"),
              "  pgpass: /tmp/pgpass0\n",
              "  pgpass: /tmp/pgpass0\n  pg_hba:\n#  - host all all 0.0.0.0/0 md5\n  pg_ident:\n"),
      "  custom: abc\n", "  custom: abc\n  replicatefrom:\n"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_TRUE(r.config->bootstrap.initdb_args.empty());
  EXPECT_TRUE(r.config->bootstrap.pg_hba.empty());
  EXPECT_TRUE(r.config->postgresql.pg_hba.empty());
  EXPECT_TRUE(r.config->postgresql.pg_ident.empty());
  EXPECT_EQ(r.config->tags.replicatefrom, "");
  EXPECT_EQ(r.config->tags.published, (Json{{"clonefrom", true}, {"custom", "abc"}}));
  // A value of the wrong type is still refused.
  r = Load(Replace(kGoodConfig, "  pgpass: /tmp/pgpass0\n", "  pgpass: /tmp/pgpass0\n  pg_hba: host all all\n"));
  EXPECT_TRUE(HasError(r, "postgresql.pg_hba: must be a list of strings")) << Errors(r);
}

// Patroni's split_host_port: restapi.listen ":8008" binds every address; postgresql.listen without a port takes
// 5432 (postgresql/config.py). The REST API still needs its port.
TEST(ConfigTest, ListenWithoutHostOrPort) {
  auto r = Load(Replace(Replace(kGoodConfig, "listen: 127.0.0.1:8008", "listen: \":8008\""), "listen: 0.0.0.0:5432",
                        "listen: 0.0.0.0"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->restapi.listen_host, "0.0.0.0");
  EXPECT_EQ(r.config->restapi.listen_port, 8008);
  EXPECT_EQ(r.config->postgresql.listen_hosts, std::vector<std::string>{"0.0.0.0"});
  EXPECT_EQ(r.config->postgresql.port, 5432);
  r = Load(Replace(kGoodConfig, "listen: 0.0.0.0:5432", "listen: 'localhost, 10.0.0.1'"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->postgresql.listen_hosts, (std::vector<std::string>{"localhost", "10.0.0.1"}));
  EXPECT_EQ(r.config->postgresql.port, 5432);
  r = Load(Replace(kGoodConfig, "listen: 127.0.0.1:8008", "listen: 127.0.0.1"));
  EXPECT_TRUE(HasError(r, "restapi.listen: '127.0.0.1' is not host:port (no port)")) << Errors(r);
  r = Load(Replace(kGoodConfig, "listen: 127.0.0.1:8008", "listen: ':'"));
  EXPECT_TRUE(HasError(r, "restapi.listen: ':' is not :port (a port in 1..65535)")) << Errors(r);
}

// Patroni writes the standby cluster's primary_slot_name through slot_name_from_member_name.
TEST(ConfigTest, StandbyClusterSlotNameIsNormalised) {
  auto r =
      Load(Replace(kGoodConfig, "    ttl: 30\n",
                   "    ttl: 30\n    standby_cluster:\n      host: 10.0.0.9\n      primary_slot_name: Standby-DC2\n"));
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  ASSERT_TRUE(r.config->bootstrap.dynamic.standby_cluster);
  EXPECT_EQ(r.config->bootstrap.dynamic.standby_cluster->primary_slot_name, "standby_dc2");
}

TEST(HostPortTest, Parsing) {
  EXPECT_EQ(ParseHostPort("[::1]:5432")->host, "::1");
  EXPECT_FALSE(ParseHostPort(":5432").ok());
  EXPECT_FALSE(ParseHostPort("h:0").ok());
  EXPECT_FALSE(ParseHostPort("h:12x").ok());
  auto l = ParseListen("127.0.0.1, 10.0.0.1:5433");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->first, (std::vector<std::string>{"127.0.0.1", "10.0.0.1"}));
  EXPECT_EQ(l->second, 5433);
}

}  // namespace
}  // namespace pgw
