// The key table (src/common/config_table.h): its shape, its PATRONI_* variables against Patroni's, and that the
// schema and the environment mapping read it the same way.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "common/config.h"
#include "common/config_table.h"

namespace pgw::config_internal {
namespace {

// Patroni's variables for the sections pgwarden reads (patroni/config.py, _build_environment_configuration, 3.x and
// 4.x; docs/ENVIRONMENT.rst), with the key each sets.
std::map<std::string, std::string> PatroniVariables() {
  std::map<std::string, std::string> v = {
      {"PATRONI_NAME", "name"},
      {"PATRONI_NAMESPACE", "namespace"},
      {"PATRONI_SCOPE", "scope"},
      {"PATRONI_RESTAPI_USERNAME", "restapi.authentication.username"},
      {"PATRONI_RESTAPI_PASSWORD", "restapi.authentication.password"},
  };
  auto section = [&](const std::string& s, std::initializer_list<const char*> keys) {
    for (const char* k : keys) {
      std::string upper;
      for (const char* p = k; *p; ++p) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(*p))));
      std::string su;
      for (char ch : s) su.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
      v["PATRONI_" + su + "_" + upper] = s + "." + k;
    }
  };
  section("restapi", {"listen", "connect_address", "certfile", "keyfile", "keyfile_password", "cafile", "ciphers",
                      "verify_client", "http_extra_headers", "https_extra_headers", "allowlist",
                      "allowlist_include_members", "request_queue_size", "thread_pool_size", "server_tokens"});
  section("ctl", {"insecure", "cacert", "certfile", "keyfile", "keyfile_password"});
  section("postgresql", {"listen", "connect_address", "proxy_address", "config_dir", "data_dir", "pgpass", "bin_dir"});
  section("log", {"type", "level", "traceback_level", "format", "dateformat", "static_fields", "max_queue_size", "dir",
                  "mode", "file_size", "file_num", "loggers", "deduplicate_heartbeat_logs"});
  // The DCS rule's suffixes that etcd3 has, and the credentials Patroni reads for etcd and etcd3.
  section("etcd3", {"host", "hosts", "use_proxies", "protocol", "srv", "srv_suffix", "url", "proxy", "cacert", "cert",
                    "key", "verify", "key_password", "username", "password"});
  for (const char* who : {"superuser", "replication", "rewind"}) {
    std::string w(who), wu;
    for (char ch : w) wu.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    for (const char* k : {"username", "password", "sslmode", "sslkey", "sslpassword", "sslcert", "sslrootcert",
                          "sslcrl", "sslcrldir", "sslnegotiation", "gssencmode", "channel_binding"}) {
      std::string ku;
      for (const char* p = k; *p; ++p) ku.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(*p))));
      v["PATRONI_" + wu + "_" + ku] = "postgresql.authentication." + w + "." + k;
    }
  }
  return v;
}

TEST(ConfigTableTest, PathsAreUniqueAndParentsComeFirst) {
  std::set<std::string> seen;
  for (const auto& r : KeyTable()) {
    EXPECT_TRUE(seen.insert(r.path).second) << "twice: " << r.path;
    auto dot = r.path.rfind('.');
    if (dot == std::string::npos) continue;
    std::string parent = r.path.substr(0, dot);
    ASSERT_TRUE(seen.count(parent)) << r.path << " comes before its section " << parent;
    const KeyRow* p = FindKey(parent);
    EXPECT_TRUE(p->kind == Kind::kMap || p->kind == Kind::kOpenMap) << parent << " holds " << r.path;
  }
}

TEST(ConfigTableTest, EveryPatroniVariableSetsItsKey) {
  for (const auto& [var, path] : PatroniVariables()) {
    const KeyRow* row = FindEnv(var);
    ASSERT_NE(row, nullptr) << var << " (Patroni sets " << path << " with it) has no row";
    EXPECT_EQ(row->path, path) << var;
  }
}

TEST(ConfigTableTest, NoRowInventsAVariable) {
  auto patroni = PatroniVariables();
  for (const auto& r : KeyTable()) {
    if (r.env.empty()) continue;
    ASSERT_TRUE(patroni.count(r.env)) << r.path << ": " << r.env << " is not one of Patroni's variables";
    EXPECT_EQ(patroni.at(r.env), r.path);
  }
}

TEST(ConfigTableTest, ListVariablesAreReadAsYaml) {
  EXPECT_TRUE(FindEnv("PATRONI_ETCD3_HOSTS")->EnvIsYaml());
  EXPECT_TRUE(FindEnv("PATRONI_RESTAPI_ALLOWLIST")->EnvIsYaml());
  EXPECT_TRUE(FindEnv("PATRONI_LOG_LOGGERS")->EnvIsYaml());
  EXPECT_FALSE(FindEnv("PATRONI_ETCD3_URL")->EnvIsYaml());
  EXPECT_FALSE(FindEnv("PATRONI_RESTAPI_USERNAME")->EnvIsYaml());
}

// Through the loader: each variable of a key pgwarden reads reaches the snapshot.
TEST(ConfigTableTest, VariablesReachTheSnapshot) {
  LoadOptions o;
  o.check_bin_dir = false;
  o.env = {{"PATRONI_NAME", "n1"},
           {"PATRONI_SCOPE", "s1"},
           {"PATRONI_ETCD3_HOSTS", "['10.0.0.1:2379', '10.0.0.2:2379']"},
           {"PATRONI_POSTGRESQL_LISTEN", "127.0.0.1:5439"},
           {"PATRONI_POSTGRESQL_CONNECT_ADDRESS", "127.0.0.1:5439"},
           {"PATRONI_POSTGRESQL_DATA_DIR", "/tmp/pgw-table-test"},
           {"PATRONI_SUPERUSER_USERNAME", "su"},
           {"PATRONI_SUPERUSER_SSLMODE", "require"},
           {"PATRONI_REPLICATION_USERNAME", "rep"},
           {"PATRONI_RESTAPI_LISTEN", "127.0.0.1:8019"},
           {"PATRONI_RESTAPI_CONNECT_ADDRESS", "127.0.0.1:8019"},
           {"PATRONI_RESTAPI_USERNAME", "api"},
           {"PATRONI_RESTAPI_ALLOWLIST", "[10.0.0.0/8]"},
           {"PATRONI_CTL_CACERT", "/etc/ca.pem"},
           {"PATRONI_LOG_LEVEL", "DEBUG"}};
  auto r = LoadConfigText("", o);
  ASSERT_TRUE(r.errors.empty()) << r.errors.front();
  const Config& c = *r.config;
  EXPECT_EQ(c.name, "n1");
  EXPECT_EQ(c.scope, "s1");
  ASSERT_EQ(c.etcd3.hosts.size(), 2u);
  EXPECT_EQ(c.etcd3.hosts[1].host, "10.0.0.2");
  EXPECT_EQ(c.postgresql.port, 5439);
  EXPECT_EQ(c.postgresql.superuser.username, "su");
  EXPECT_EQ(c.postgresql.superuser.options.at("sslmode"), "require");
  EXPECT_EQ(c.restapi.username, "api");
  EXPECT_EQ(c.restapi.allowlist, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(c.ctl.cacert, "/etc/ca.pem");
  EXPECT_EQ(c.log.level, LogLevel::kDebug);
}

}  // namespace
}  // namespace pgw::config_internal
