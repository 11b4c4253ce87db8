// The key table (config_table.h). C++17: the fuzz build compiles the config files so (tests/fuzz/CMakeLists.txt).
#include "common/config_table.h"

#include <algorithm>
#include <map>
#include <utility>

#include "common/config_internal.h"

namespace pgw::config_internal {
namespace {

// "postgresql.data_dir" -> "PATRONI_POSTGRESQL_DATA_DIR": Patroni's rule for most of its variables.
std::string StandardEnv(const std::string& path) {
  std::string e = "PATRONI_";
  for (char ch : path) e.push_back(ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  return e;
}

// Builds one row: B("path", kind, flags).Env().
class B {
 public:
  B(std::string path, Kind kind, unsigned flags = kNone) {
    r_.path = std::move(path);
    r_.kind = kind;
    r_.flags = flags;
  }
  // The key's PATRONI_* variable: Patroni's standard name when `name` is empty.
  B&& Env(std::string name = "") && {
    r_.env = name.empty() ? StandardEnv(r_.path) : std::move(name);
    return std::move(*this);
  }
  B&& Note(std::string note) && {
    r_.note = std::move(note);
    return std::move(*this);
  }
  B&& Yaml() && {
    r_.flags |= kEnvYaml;
    return std::move(*this);
  }
  operator KeyRow() && { return std::move(r_); }  // NOLINT(google-explicit-constructor): rows of an initializer list

 private:
  KeyRow r_;
};

B Ign(std::string path, std::string note = "") {
  return B(std::move(path), Kind::kAny, kIgnored).Note(std::move(note));
}

void AddUser(std::vector<KeyRow>* t, const std::string& who, unsigned flags) {
  std::string base = "postgresql.authentication." + who;
  std::string env = StandardEnv(who) + "_";
  t->push_back(B(base, Kind::kMap, flags));
  t->push_back(B(base + ".username", Kind::kStr, kRequired).Env(env + "USERNAME"));
  // Debian's template: "password:" with no value
  t->push_back(B(base + ".password", Kind::kStr, kEmptyOk).Env(env + "PASSWORD"));
  for (const char* k : {"sslmode", "sslkey", "sslpassword", "sslcert", "sslrootcert", "sslcrl", "sslcrldir",
                        "sslnegotiation", "gssencmode", "channel_binding"}) {
    std::string key(k);
    t->push_back(B(base + "." + key, Kind::kStr).Env(env + StandardEnv(key).substr(8)));
  }
}

std::vector<KeyRow> BuildTable() {
  using K = Kind;
  std::vector<KeyRow> t = {
      B("name", K::kStr, kRequired).Env(),
      B("scope", K::kStr, kRequired).Env(),
      B("namespace", K::kStr).Env(),
      // Patroni 4's PATRONI_THREAD_POOL_SIZE and _STACK_SIZE are not mapped: pgwarden never read them (no warning).
      Ign("thread_pool_size"),
      Ign("thread_stack_size"),
      B("log", K::kMap),
      B("log.level", K::kStr).Env(),
      B("log.dir", K::kStr).Env(),
      Ign("log.type").Env(),
      Ign("log.traceback_level").Env(),
      Ign("log.format").Env(),
      Ign("log.dateformat").Env(),
      Ign("log.static_fields").Env().Yaml(),
      Ign("log.max_queue_size").Env(),
      Ign("log.mode").Env(),
      Ign("log.file_num").Env(),
      Ign("log.file_size").Env(),
      Ign("log.loggers").Env().Yaml(),
      Ign("log.deduplicate_heartbeat_logs").Env(),
      B("bootstrap", K::kMap),
      B("bootstrap.dcs", K::kAny),
      B("bootstrap.method", K::kStr),
      B("bootstrap.initdb", K::kAny),
      B("bootstrap.post_bootstrap", K::kStr),
      B("bootstrap.post_init", K::kStr),  // into post_bootstrap
      B("bootstrap.users", K::kAny),
      B("bootstrap.pg_hba", K::kStrList),
      // host, hosts, url and proxy are read together into etcd3.hosts (url and proxy also set the protocol).
      B("etcd3", K::kMap),
      B("etcd3.host", K::kStr).Env(),
      B("etcd3.hosts", K::kStrOrList).Env(),
      B("etcd3.url", K::kStr).Env(),
      B("etcd3.proxy", K::kStr).Env(),
      Ign("etcd3.srv").Env(),
      Ign("etcd3.srv_suffix").Env(),
      B("etcd3.use_proxies", K::kBool).Env(),
      B("etcd3.protocol", K::kStr).Env(),
      B("etcd3.username", K::kStr).Env(),
      B("etcd3.password", K::kStr).Env(),
      B("etcd3.cacert", K::kStr).Env(),
      B("etcd3.cert", K::kStr).Env(),
      B("etcd3.key", K::kStr).Env(),
      Ign("etcd3.key_password").Env(),
      Ign("etcd3.verify").Env(),
      Ign("citus"),
      B("postgresql", K::kMap, kRequired),
      B("postgresql.listen", K::kStr, kRequired).Env(),
      B("postgresql.connect_address", K::kStr, kRequired).Env(),
      Ign("postgresql.proxy_address").Env(),
      B("postgresql.data_dir", K::kStr, kRequired).Env(),
      Ign("postgresql.config_dir").Env(),
      B("postgresql.bin_dir", K::kStr).Env(),
      Ign("postgresql.bin_name"),  // PATRONI_POSTGRESQL_BIN_<PROGRAM>: ApplyEnv's rule for sections
      B("postgresql.pgpass", K::kStr).Env(),
      B("postgresql.use_unix_socket", K::kBool),
      Ign("postgresql.use_unix_socket_repl",
          "accepted for Patroni compatibility, without effect: Patroni uses it for its own replication "
          "connection to the local PostgreSQL (reading a replica's timeline) and for the temporary trust "
          "lines of a custom bootstrap; pgwarden makes no such connection (it reads the timeline over its "
          "regular local connection, see use_unix_socket), and its custom bootstrap trusts the unix socket and "
          "loopback whatever this says. A replica's "
          "primary_conninfo does not depend on it, in Patroni either"),
      B("postgresql.authentication", K::kMap, kRequired),
  };
  AddUser(&t, "superuser", kRequired);
  AddUser(&t, "replication", kRequired);
  AddUser(&t, "rewind", kNone);
  std::vector<KeyRow> rest = {
      B("postgresql.callbacks", K::kMap),
      B("postgresql.callbacks.on_start", K::kStr),
      B("postgresql.callbacks.on_stop", K::kStr),
      B("postgresql.callbacks.on_restart", K::kStr),
      B("postgresql.callbacks.on_reload", K::kStr),
      B("postgresql.callbacks.on_role_change", K::kStr),
      // Both names, with each custom method's postgresql.<method> section (config_methods.cc).
      B("postgresql.create_replica_methods", K::kStrList),
      B("postgresql.create_replica_method", K::kStrList),
      B("postgresql.basebackup", K::kAny),
      Ign("postgresql.recovery_conf"),
      Ign("postgresql.custom_conf"),
      B("postgresql.parameters", K::kOpenMap),
      B("postgresql.pg_hba", K::kStrList),
      Ign("postgresql.pg_ident"),
      B("postgresql.pg_ctl_timeout", K::kInt),
      B("postgresql.use_pg_rewind", K::kBool),
      Ign("postgresql.rewind"),
      B("postgresql.remove_data_directory_on_rewind_failure", K::kBool),
      B("postgresql.remove_data_directory_on_diverged_timelines", K::kBool),
      B("postgresql.pre_promote", K::kStr),
      Ign("postgresql.before_stop"),
      Ign("postgresql.krbsrvname"),
      B("restapi", K::kMap, kRequired),
      B("restapi.listen", K::kStr, kRequired).Env(),
      B("restapi.connect_address", K::kStr, kRequired).Env(),
      B("restapi.authentication", K::kMap),
      B("restapi.authentication.username", K::kStr).Env("PATRONI_RESTAPI_USERNAME"),
      B("restapi.authentication.password", K::kStr).Env("PATRONI_RESTAPI_PASSWORD"),
      B("restapi.certfile", K::kStr).Env(),
      B("restapi.keyfile", K::kStr).Env(),
      Ign("restapi.keyfile_password").Env(),
      B("restapi.cafile", K::kStr).Env(),
      Ign("restapi.ciphers").Env(),
      B("restapi.verify_client", K::kStr).Env(),
      B("restapi.allowlist", K::kStrList).Env(),
      B("restapi.allowlist_include_members", K::kBool).Env(),
      Ign("restapi.http_extra_headers").Env().Yaml(),
      Ign("restapi.https_extra_headers").Env().Yaml(),
      Ign("restapi.request_queue_size").Env(),
      Ign("restapi.thread_pool_size").Env(),
      Ign("restapi.server_tokens").Env(),
      // `ctl`: how a client calls the agents' REST API; the agent does not use it.
      B("ctl", K::kMap),
      B("ctl.cacert", K::kStr).Env(),
      B("ctl.certfile", K::kStr).Env(),
      B("ctl.keyfile", K::kStr).Env(),
      Ign("ctl.keyfile_password").Env(),
      Ign("ctl.insecure").Env(),
      Ign("ctl.authentication"),
      B("watchdog", K::kMap),
      B("watchdog.mode", K::kStr),
      B("watchdog.device", K::kStr),
      B("watchdog.safety_margin", K::kInt),
      Ign("watchdog.driver"),
      // The typed tags (nofailover, ...) are derived from the same keys as `published`, which holds every tag set.
      B("tags", K::kOpenMap),
      B("tags.nofailover", K::kBool),
      B("tags.noloadbalance", K::kBool),
      B("tags.clonefrom", K::kBool),
      B("tags.nosync", K::kBool),
      B("tags.failover_priority", K::kInt),
      B("tags.replicatefrom", K::kStr),
      Ign("tags.nostream"),
      Ign("tags.sync_priority"),
  };
  for (auto& r : rest) t.push_back(std::move(r));
  return t;
}

}  // namespace

bool KeyRow::EnvIsYaml() const {
  return Has(kEnvYaml) || kind == Kind::kStrList || kind == Kind::kStrOrList || kind == Kind::kMap ||
         kind == Kind::kOpenMap;
}

const std::vector<KeyRow>& KeyTable() {
  static const std::vector<KeyRow> table = BuildTable();
  return table;
}

const KeyRow* FindKey(const std::string& path) {
  const auto& t = KeyTable();
  auto it = std::find_if(t.begin(), t.end(), [&](const KeyRow& r) { return r.path == path; });
  return it == t.end() ? nullptr : &*it;
}

const KeyRow* FindEnv(const std::string& var) {
  static const std::map<std::string, const KeyRow*> by_env = [] {
    std::map<std::string, const KeyRow*> m;
    for (const auto& r : KeyTable()) {
      if (!r.env.empty()) m[r.env] = &r;
    }
    return m;
  }();
  auto it = by_env.find(var);
  return it == by_env.end() ? nullptr : it->second;
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    out.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

}  // namespace pgw::config_internal
