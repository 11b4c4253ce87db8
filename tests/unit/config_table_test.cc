// The key table (src/common/config_table.h): its shape, its PATRONI_* variables against Patroni's, and that the
// schema, the environment mapping and the loader read it the same way.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "common/config.h"
#include "common/config_fields.h"
#include "common/config_table.h"
#include "test_util.h"

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
      {"PATRONI_THREAD_POOL_SIZE", "thread_pool_size"},  // 4.1.1+
      {"PATRONI_THREAD_STACK_SIZE", "thread_stack_size"},
      {"PATRONI_CTL_USERNAME", "ctl.authentication.username"},
      {"PATRONI_CTL_PASSWORD", "ctl.authentication.password"},
      {"PATRONI_CITUS_GROUP", "citus.group"},
      {"PATRONI_CITUS_DATABASE", "citus.database"},
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
  section("etcd3", {"host", "hosts", "port", "use_proxies", "protocol", "srv", "srv_suffix", "url", "proxy", "cacert",
                    "cert", "key", "verify", "key_password", "username", "password"});
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

// A variable of a key pgwarden accepts but does not use is not dropped without a word: it sets its key, and the
// warning names the key (Patroni 4's PATRONI_THREAD_POOL_SIZE used to vanish silently).
TEST(ConfigTableTest, VariablesOfIgnoredKeysAreWarnedAbout) {
  const std::map<std::string, std::string> kWarned = {
      {"PATRONI_THREAD_POOL_SIZE", "thread_pool_size"},
      {"PATRONI_THREAD_STACK_SIZE", "thread_stack_size"},
      {"PATRONI_CITUS_GROUP", "citus"},
      {"PATRONI_CITUS_DATABASE", "citus"},
      {"PATRONI_ETCD3_USE_PROXIES", "etcd3.use_proxies"},
      {"PATRONI_LOGFORMAT", "log.format"},  // the names Patroni still reads for log.format and log.dateformat
      {"PATRONI_LOG_DATEFMT", "log.dateformat"},
  };
  for (const auto& [var, warned_key] : kWarned) {
    const std::string& key = warned_key;  // clang 14 cannot capture a structured binding
    auto r = pgw::testing::Load(pgw::testing::kGoodConfig, {{var, var == "PATRONI_ETCD3_USE_PROXIES" ? "true" : "8"}});
    EXPECT_TRUE(r.errors.empty()) << var << ": " << (r.errors.empty() ? "" : r.errors.front());
    bool warned = std::any_of(r.warnings.begin(), r.warnings.end(),
                              [&](const std::string& w) { return w.rfind(key + ":", 0) == 0; });
    EXPECT_TRUE(warned) << var << " gave no warning about " << key;
  }
  // The new names win over the old ones, as in Patroni.
  auto r =
      pgw::testing::Load(pgw::testing::kGoodConfig, {{"PATRONI_LOGLEVEL", "ERROR"}, {"PATRONI_LOG_LEVEL", "DEBUG"}});
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(r.config->log.level, LogLevel::kDebug);
}

// The row that reads a key: its own, the one it names (read_by), its nearest section with a reader, or (for a
// section diffed as a whole) one of its keys.
const KeyRow* Reader(const KeyRow& row) {
  if (!row.read_by.empty()) return FindKey(row.read_by);
  for (std::string p = row.path;;) {
    const KeyRow* r = FindKey(p);
    if (r->extract) return r;
    auto dot = p.rfind('.');
    if (dot == std::string::npos) break;
    p = p.substr(0, dot);
  }
  for (const auto& r : KeyTable()) {
    if (r.extract && r.path.rfind(row.path + ".", 0) == 0) return &r;
  }
  return nullptr;
}

// The schema and the extraction cannot disagree: every key the schema accepts without a warning is read (by its own
// reader or its section's), and no key it warns about is read or diffed.
TEST(ConfigTableTest, EveryKeyTheSchemaAcceptsIsReadAndNoIgnoredOneIs) {
  for (const auto& r : KeyTable()) {
    if (r.Has(kIgnored)) {
      EXPECT_EQ(r.extract, nullptr) << r.path << " is ignored with a warning, yet read";
      EXPECT_EQ(r.field.same, nullptr) << r.path << " is ignored with a warning, yet diffed";
      continue;
    }
    if (r.kind == Kind::kMap && !r.extract && !r.field.same) continue;  // a section: its keys are checked
    EXPECT_NE(Reader(r), nullptr) << r.path << " is accepted but nothing reads it";
    if (!r.read_by.empty()) {
      EXPECT_NE(FindKey(r.read_by), nullptr) << r.path;
    }
  }
}

// The diff path of a key: its own row, or the nearest section that diffs it.
std::string DiffPath(const KeyRow& row) {
  for (std::string p = row.path;;) {
    const KeyRow* r = FindKey(p);
    if (r->field.same) return p;
    auto dot = p.rfind('.');
    if (dot == std::string::npos) return "";
    p = p.substr(0, dot);
  }
}

void SetAt(const YAML::Node& root, const std::vector<std::string>& parts, const YAML::Node& v) {
  YAML::Node cur = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!cur[parts[i]] || !cur[parts[i]].IsMap()) cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
    cur.reset(cur[parts[i]]);
  }
  cur[parts.back()] = v;
}

// Every key bound to a field by its type, set in a good file at the path the schema checks, changes the field
// that the reload diff reports under that path: reading, checking and diffing name the same key.
TEST(ConfigTableTest, EachBoundKeyIsReadFromItsPath) {
  // Values a key's own rules need (a file to read, a partner key, one of a few words).
  const std::map<std::string, std::string> kValue = {
      {"name", "other-name"},
      {"scope", "other-scope"},
      {"log.level", "DEBUG"},
      {"postgresql.connect_address", "10.9.9.9:5439"},
      {"restapi.connect_address", "10.9.9.9:8019"},
      {"restapi.verify_client", "none"},  // the default already: set below with the files it needs
      {"watchdog.mode", "off"},
      {"etcd3.username", "u"},
      {"etcd3.password", "p"},
      {"restapi.certfile", "/dev/null"},
      {"restapi.cafile", "/dev/null"},
      {"restapi.keyfile", "/dev/null"},
  };
  int checked = 0;
  for (const auto& r : KeyTable()) {
    if (!r.bound || r.path == "restapi.verify_client") continue;
    YAML::Node root = YAML::Load(pgw::testing::kGoodConfig);
    YAML::Node v;
    if (kValue.count(r.path)) {
      v = YAML::Node(kValue.at(r.path));
    } else if (r.kind == Kind::kBool) {
      v = YAML::Node(r.def == "true" ? "false" : "true");
    } else if (r.kind == Kind::kInt) {
      v = YAML::Node("77");
    } else if (r.kind == Kind::kStrList) {
      v = YAML::Load("['local all all trust']");
    } else {
      v = YAML::Node("/tmp/pgw-table-" + r.path);
    }
    SetAt(root, SplitPath(r.path), v);
    if (r.path == "etcd3.username") SetAt(root, {"etcd3", "password"}, YAML::Node("p"));
    if (r.path == "restapi.keyfile") SetAt(root, {"restapi", "certfile"}, YAML::Node("/dev/null"));
    YAML::Emitter out;
    out << root;
    auto before = pgw::testing::Load(pgw::testing::kGoodConfig);
    auto after = pgw::testing::Load(out.c_str());
    ASSERT_TRUE(after.errors.empty()) << r.path << ": " << after.errors.front();
    std::vector<ConfigChange> d = DiffConfig(*before.config, *after.config);
    std::string want = DiffPath(r);
    ASSERT_FALSE(want.empty()) << r.path << " is read but no reload diff covers it";
    EXPECT_TRUE(std::any_of(d.begin(), d.end(), [&](const ConfigChange& c) { return c.path == want; }))
        << r.path << " set in the file did not change " << want;
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

// Every row the reload diffs is read, and ConfigFields() holds exactly those rows.
TEST(ConfigTableTest, EveryDiffedKeyIsRead) {
  for (const auto& r : KeyTable()) {
    if (r.field.same) {
      EXPECT_NE(Reader(r), nullptr) << r.path;
    }
  }
  EXPECT_EQ(ConfigFields().size(),
            static_cast<size_t>(std::count_if(KeyTable().begin(), KeyTable().end(),
                                              [](const KeyRow& r) { return r.field.same != nullptr; })));
}

}  // namespace
}  // namespace pgw::config_internal
