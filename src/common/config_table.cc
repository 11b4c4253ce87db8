// The key table (config_table.h). C++17: the fuzz build compiles the config files so (tests/fuzz/CMakeLists.txt).
#include "common/config_table.h"

#include <algorithm>
#include <map>
#include <tuple>
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

using C = ChangeClass;

// Builds one row: B("path", kind, flags).Env().Field(...). Each template member keeps its accessor in a static of
// its own instantiation (each lambda has its own type), so the row's function pointers reach it without a capture.
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
  // How the key is read (a reader of its own: listen, etcd3's endpoints, ...), and the checks across keys.
  B&& Read(ExtractFn f) && {
    r_.extract = f;
    return std::move(*this);
  }
  B&& ReadBy(std::string path) && {
    r_.read_by = std::move(path);
    return std::move(*this);
  }
  B&& Check(CheckFn f) && {
    r_.check = f;
    return std::move(*this);
  }
  // The Config fields the key sets, as `get` returns them (std::tie of members), and what a change takes: the
  // reload diff compares them and keeps the running ones of a kAgentRestart key.
  template <typename Get>
  B&& Diff(ChangeClass cls, Get get) && {
    static const Get kGet = get;
    r_.field.cls = cls;
    r_.field.same = [](const Config& a, const Config& b) { return kGet(a) == kGet(b); };
    r_.field.keep = [](const Config& from, Config* to) { kGet(*to) = kGet(from); };
    return std::move(*this);
  }
  // A mapping whose keys a reload reports one by one ("postgresql.parameters.work_mem").
  B&& Entries(const Json& (*entries)(const Config&), ChangeClass (*entry_class)(const std::string&)) && {
    r_.field.entries = entries;
    r_.field.entry_class = entry_class;
    return std::move(*this);
  }
  // A key read into one field by its type, `def` (YAML text) when absent; a reload diffs it with its section.
  template <typename Get>
  B&& Bind(Get get, std::string def = "") && {
    static const Get kGet = get;
    r_.bound = true;
    r_.def = std::move(def);
    r_.extract = [](const KeyRow& row, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
      ReadValue(row, n, x, &std::get<0>(kGet(*x.c)));
    };
    return std::move(*this);
  }
  // A key read into one field by its type (string, boolean, integer, list of strings, host:port, log level),
  // `def` (YAML text) when absent: the same accessor reads it and diffs it.
  template <typename Get>
  B&& Field(ChangeClass cls, Get get, std::string def = "") && {
    return std::move(*this).Bind(get, std::move(def)).Diff(cls, get);
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
  B user(base, Kind::kMap, flags);
  // The superuser is how the agent and its health check connect: the connection is set up at start.
  if (who == "superuser") {
    t->push_back(std::move(user).Read(ReadUser).Diff(C::kAgentRestart,
                                                     [](auto& c) { return std::tie(c.postgresql.superuser); }));
  } else if (who == "replication") {
    t->push_back(
        std::move(user).Read(ReadUser).Diff(C::kLive, [](auto& c) { return std::tie(c.postgresql.replication); }));
  } else {
    t->push_back(std::move(user).Read(ReadUser).Diff(
        C::kLive, [](auto& c) { return std::tie(c.postgresql.rewind, c.postgresql.has_rewind_user); }));
  }
  t->push_back(B(base + ".username", Kind::kStr, kRequired).Env(env + "USERNAME"));
  // Debian's template: "password:" with no value
  t->push_back(B(base + ".password", Kind::kStr, kEmptyOk).Env(env + "PASSWORD"));
  for (const char* k : {"sslmode", "sslkey", "sslpassword", "sslcert", "sslrootcert", "sslcrl", "sslcrldir",
                        "sslnegotiation", "gssencmode", "channel_binding"}) {
    std::string key(k);
    t->push_back(B(base + "." + key, Kind::kStr).Env(env + StandardEnv(key).substr(8)));
  }
}

ChangeClass ParameterClass(const std::string& key) {
  return ParameterNeedsRestart(key) ? C::kPostgresRestart : C::kLive;
}
ChangeClass TagClass(const std::string& /*key*/) { return C::kLive; }
// A replica's postgresql.conf is rewritten and reloaded; restore_command, the one that needed a restart before
// PostgreSQL 14, is reloadable on the majors pgwarden runs.
ChangeClass RecoveryClass(const std::string& /*key*/) { return C::kLive; }

// The change classes, and the facts behind them:
// - name, scope, namespace, etcd3: who this member is and where its keys live; the DCS client holds them.
// - restapi.listen and its TLS files: the listener and its TLS context are set up once at start.
// - postgresql.listen, use_unix_socket, superuser: how the agent and its health check connect to PostgreSQL.
// - data_dir, bin_dir, pgpass: where the instance and its programs are; changing them under a running
//   PostgreSQL would lose it.
// - watchdog: the fencer is armed with them at start.
// Everything else is read where it is used (member key, REST checks, configuration writes, callbacks, clones).
std::vector<KeyRow> BuildTable() {
  using K = Kind;
  std::vector<KeyRow> t = {
      B("name", K::kStr, kRequired).Env().Field(C::kAgentRestart, [](auto& c) { return std::tie(c.name); }),
      B("scope", K::kStr, kRequired)
          .Env()
          .Field(C::kAgentRestart, [](auto& c) { return std::tie(c.scope); })
          .Check(CheckNames),
      B("namespace", K::kStr)
          .Env()
          .Field(
              C::kAgentRestart, [](auto& c) { return std::tie(c.namespace_); }, "/service"),
      // A key of the dynamic configuration, not of patroni.yml: Patroni's local file cannot override it (its
      // check_mode reads the `config` key, or bootstrap.dcs before that exists).
      Ign("check_timeline",
          "without effect here, as in Patroni: it belongs to the dynamic configuration (bootstrap.dcs, or the "
          "`config` key through pgwardenctl edit-config)"),
      // Patroni 4.1's worker threads (REST calls to members in a leader race or a failsafe check): pgwarden's own
      // are fixed (net/http_server.h, agent/peers.h).
      Ign("thread_pool_size").Env(),
      Ign("thread_stack_size").Env(),
      B("log", K::kMap),
      B("log.level", K::kStr).Env().Field(C::kLive, [](auto& c) { return std::tie(c.log.level); }),
      B("log.dir", K::kStr).Env().Field(C::kAgentRestart, [](auto& c) { return std::tie(c.log.dir); }),
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
      B("bootstrap.dcs", K::kAny)
          .Read([](const KeyRow&, const YAML::Node& n, const YAML::Node&, LoadContext& x) {
            if (!n) return;
            if (!n.IsMap()) {
              x.errors->push_back("bootstrap.dcs: must be a mapping");
            } else {
              x.c->bootstrap.dcs = YamlToJson(n);
            }
          })
          .Check(CheckBootstrapDcs)
          .Diff(C::kLive, [](auto& c) { return std::tie(c.bootstrap.dcs, c.bootstrap.dynamic); }),
      B("bootstrap.method", K::kStr)
          .Read([](const KeyRow&, const YAML::Node&, const YAML::Node& b, LoadContext& x) {
            ParseBootstrapMethod(b, x.c, x.errors, x.warnings);
          })
          .Diff(C::kLive, [](auto& c) { return std::tie(c.bootstrap.custom); }),
      B("bootstrap.initdb", K::kAny, kEmptyOk)
          .Read([](const KeyRow&, const YAML::Node& n, const YAML::Node&, LoadContext& x) {
            x.c->bootstrap.initdb_args = ParseInitdb(n, x.errors);
          })
          .Diff(C::kLive, [](auto& c) { return std::tie(c.bootstrap.initdb_args); }),
      B("bootstrap.post_bootstrap", K::kStr)
          .Read(ReadPostBootstrap)
          .Diff(C::kLive, [](auto& c) { return std::tie(c.bootstrap.post_bootstrap); }),
      B("bootstrap.post_init", K::kStr).Read(ReadPostBootstrap),  // into post_bootstrap
      B("bootstrap.users", K::kAny)
          .Read([](const KeyRow&, const YAML::Node& n, const YAML::Node&, LoadContext& x) {
            x.c->bootstrap.users = ParseBootstrapUsers(n, x.errors, x.warnings);
          })
          .Diff(C::kLive, [](auto& c) { return std::tie(c.bootstrap.users); }),
      B("bootstrap.pg_hba", K::kStrList, kEmptyOk)
          .Field(C::kLive, [](auto& c) { return std::tie(c.bootstrap.pg_hba); }),
      // host, hosts, port, url, proxy, protocol, username and password are read together (Patroni's precedence:
      // url and proxy also give the protocol and the credentials).
      B("etcd3", K::kMap).Read(ReadEtcdEndpoints).Check(CheckEtcd),
      B("etcd3.host", K::kStr).Env(),
      B("etcd3.hosts", K::kStrOrList).Env().Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.hosts); }),
      B("etcd3.port", K::kInt).Env(),
      B("etcd3.url", K::kStr).Env(),
      B("etcd3.proxy", K::kStr).Env(),
      Ign("etcd3.srv").Env(),
      Ign("etcd3.srv_suffix").Env(),
      B("etcd3.use_proxies", K::kBool, kIgnored)
          .Env()
          .Note("accepted for Patroni compatibility, without effect: pgwarden talks to the configured endpoints "
                "only and never asks etcd for its other members, which is what Patroni does with use_proxies: "
                "true; with false (Patroni's default) Patroni also uses the client URLs etcd reports"),
      B("etcd3.protocol", K::kStr).Env().Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.protocol); }),
      B("etcd3.username", K::kStr).Env().Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.username); }),
      B("etcd3.password", K::kStr).Env().Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.password); }),
      B("etcd3.cacert", K::kStr).Env().Field(C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.cacert); }),
      B("etcd3.cert", K::kStr).Env().Field(C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.cert); }),
      B("etcd3.key", K::kStr).Env().Field(C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.key); }),
      Ign("etcd3.key_password").Env(),
      Ign("etcd3.verify").Env(),
      B("citus", K::kMap, kIgnored).Note("accepted for Patroni compatibility, but pgwarden has no Citus support"),
      Ign("citus.group").Env(),
      Ign("citus.database").Env(),
      B("postgresql", K::kMap, kRequired).Check(CheckPostgresql),
      B("postgresql.listen", K::kStr, kRequired)
          .Env()
          .Read(ReadListen)
          .Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.listen_hosts, c.postgresql.port); }),
      B("postgresql.connect_address", K::kStr, kRequired)
          .Env()
          .Field(C::kLive, [](auto& c) { return std::tie(c.postgresql.connect_address); }),
      Ign("postgresql.proxy_address").Env(),
      B("postgresql.data_dir", K::kStr, kRequired)
          .Env()
          .Read(ReadDataDir)
          .Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.data_dir); }),
      Ign("postgresql.config_dir").Env(),
      B("postgresql.bin_dir", K::kStr)
          .Env()
          .Read(ReadBinDir)
          .Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.bin_dir); }),
      Ign("postgresql.bin_name"),  // PATRONI_POSTGRESQL_BIN_<PROGRAM>: ApplyEnv's rule for sections
      B("postgresql.pgpass", K::kStr)
          .Env()
          .Read(ReadPgpass)
          .Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.pgpass); }),
      B("postgresql.use_unix_socket", K::kBool)
          .Field(C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.use_unix_socket); }),
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
      B("postgresql.callbacks", K::kMap)
          .Read(ReadCallbacks)
          .Diff(C::kLive, [](auto& c) { return std::tie(c.postgresql.callbacks); }),
      B("postgresql.callbacks.on_start", K::kStr),
      B("postgresql.callbacks.on_stop", K::kStr),
      B("postgresql.callbacks.on_restart", K::kStr),
      B("postgresql.callbacks.on_reload", K::kStr),
      B("postgresql.callbacks.on_role_change", K::kStr),
      // Both names, with each custom method's postgresql.<method> section (config_methods.cc).
      B("postgresql.create_replica_methods", K::kStrList)
          .Read([](const KeyRow&, const YAML::Node&, const YAML::Node& pg, LoadContext& x) {
            ParseReplicaMethods(pg, x.c, x.errors);
          })
          .Diff(C::kLive,
                [](auto& c) { return std::tie(c.postgresql.create_replica_methods, c.postgresql.replica_methods); }),
      B("postgresql.create_replica_method", K::kStrList).ReadBy("postgresql.create_replica_methods"),
      B("postgresql.basebackup", K::kAny)
          .Read([](const KeyRow&, const YAML::Node& n, const YAML::Node&, LoadContext& x) {
            x.c->postgresql.basebackup_args = ParseBasebackup(n, x.errors);
          })
          .Diff(C::kLive, [](auto& c) { return std::tie(c.postgresql.basebackup_args); }),
      // Written for a replica only, beside the recovery settings pgwarden owns (pg/recovery_conf.h).
      B("postgresql.recovery_conf", K::kOpenMap)
          .Read(ReadRecoveryConf)
          .Diff(C::kLive, [](auto& c) { return std::tie(c.postgresql.recovery_conf); })
          .Entries([](const Config& c) -> const Json& { return c.postgresql.recovery_conf; }, RecoveryClass),
      Ign("postgresql.custom_conf"),
      B("postgresql.parameters", K::kOpenMap)
          .Read(ReadParameters)
          .Diff(C::kLive, [](auto& c) { return std::tie(c.postgresql.parameters); })
          .Entries([](const Config& c) -> const Json& { return c.postgresql.parameters; }, ParameterClass),
      B("postgresql.pg_hba", K::kStrList, kEmptyOk)
          .Field(C::kLive, [](auto& c) { return std::tie(c.postgresql.pg_hba); }),
      B("postgresql.pg_ident", K::kStrList, kEmptyOk)
          .Field(C::kLive, [](auto& c) { return std::tie(c.postgresql.pg_ident); }),
      B("postgresql.pg_ctl_timeout", K::kInt)
          .Field(
              C::kLive, [](auto& c) { return std::tie(c.postgresql.pg_ctl_timeout); }, "60"),
      B("postgresql.use_pg_rewind", K::kBool)
          .Field(C::kLive, [](auto& c) { return std::tie(c.postgresql.use_pg_rewind); }),
      Ign("postgresql.rewind"),
      B("postgresql.remove_data_directory_on_rewind_failure", K::kBool)
          .Field(C::kLive, [](auto& c) { return std::tie(c.postgresql.remove_data_directory_on_rewind_failure); }),
      B("postgresql.remove_data_directory_on_diverged_timelines", K::kBool)
          .Field(C::kLive, [](auto& c) { return std::tie(c.postgresql.remove_data_directory_on_diverged_timelines); }),
      B("postgresql.pre_promote", K::kStr).Field(C::kLive, [](auto& c) { return std::tie(c.postgresql.pre_promote); }),
      Ign("postgresql.before_stop"),
      Ign("postgresql.krbsrvname"),
      B("restapi", K::kMap, kRequired).Check(CheckRestapi),
      B("restapi.listen", K::kStr, kRequired)
          .Env()
          .Read(ReadListen)
          .Diff(C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.listen_host, c.restapi.listen_port); }),
      B("restapi.connect_address", K::kStr, kRequired)
          .Env()
          .Field(C::kLive, [](auto& c) { return std::tie(c.restapi.connect_address); }),
      B("restapi.authentication", K::kMap)
          .Diff(C::kLive, [](auto& c) { return std::tie(c.restapi.username, c.restapi.password); }),
      B("restapi.authentication.username", K::kStr).Env("PATRONI_RESTAPI_USERNAME").Bind([](auto& c) {
        return std::tie(c.restapi.username);
      }),
      B("restapi.authentication.password", K::kStr).Env("PATRONI_RESTAPI_PASSWORD").Bind([](auto& c) {
        return std::tie(c.restapi.password);
      }),
      B("restapi.certfile", K::kStr)
          .Env()
          .Field(C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.certfile); }),
      B("restapi.keyfile", K::kStr).Env().Field(C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.keyfile); }),
      B("restapi.keyfile_password", K::kStr)
          .Env()
          .Field(C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.keyfile_password); }),
      B("restapi.cafile", K::kStr).Env().Field(C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.cafile); }),
      Ign("restapi.ciphers").Env(),
      B("restapi.verify_client", K::kStr)
          .Env()
          .Field(
              C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.verify_client); }, "none"),
      B("restapi.allowlist", K::kStrList).Env().Field(C::kLive, [](auto& c) { return std::tie(c.restapi.allowlist); }),
      B("restapi.allowlist_include_members", K::kBool, kBoolWord)
          .Env()
          .Field(C::kLive, [](auto& c) { return std::tie(c.restapi.allowlist_include_members); }),
      Ign("restapi.http_extra_headers").Env().Yaml(),
      Ign("restapi.https_extra_headers").Env().Yaml(),
      Ign("restapi.request_queue_size").Env(),
      Ign("restapi.thread_pool_size").Env(),
      Ign("restapi.server_tokens").Env(),
      // `ctl`: how a client calls the agents' REST API; the agent does not use it.
      B("ctl", K::kMap)
          .Diff(C::kLive,
                [](auto& c) {
                  return std::tie(c.ctl.cacert, c.ctl.certfile, c.ctl.keyfile, c.ctl.keyfile_password, c.ctl.username,
                                  c.ctl.password, c.ctl.insecure);
                }),
      B("ctl.cacert", K::kStr).Env().Bind([](auto& c) { return std::tie(c.ctl.cacert); }),
      B("ctl.certfile", K::kStr).Env().Bind([](auto& c) { return std::tie(c.ctl.certfile); }),
      B("ctl.keyfile", K::kStr).Env().Bind([](auto& c) { return std::tie(c.ctl.keyfile); }),
      B("ctl.keyfile_password", K::kStr).Env().Bind([](auto& c) { return std::tie(c.ctl.keyfile_password); }),
      B("ctl.insecure", K::kBool).Env().Bind([](auto& c) { return std::tie(c.ctl.insecure); }),
      B("ctl.authentication", K::kMap),
      B("ctl.authentication.username", K::kStr).Env("PATRONI_CTL_USERNAME").Bind([](auto& c) {
        return std::tie(c.ctl.username);
      }),
      B("ctl.authentication.password", K::kStr).Env("PATRONI_CTL_PASSWORD").Bind([](auto& c) {
        return std::tie(c.ctl.password);
      }),
      B("watchdog", K::kMap).Check(CheckWatchdog),
      B("watchdog.mode", K::kStr)
          .Field(
              C::kAgentRestart, [](auto& c) { return std::tie(c.watchdog.mode); }, "automatic"),
      B("watchdog.device", K::kStr)
          .Field(
              C::kAgentRestart, [](auto& c) { return std::tie(c.watchdog.device); }, "/dev/watchdog"),
      B("watchdog.safety_margin", K::kInt)
          .Field(
              C::kAgentRestart, [](auto& c) { return std::tie(c.watchdog.safety_margin); }, "5"),
      Ign("watchdog.driver"),
      // The typed tags (nofailover, ...) are derived from the same keys as `published`, which holds every tag set.
      B("tags", K::kOpenMap)
          .Read([](const KeyRow&, const YAML::Node& n, const YAML::Node&, LoadContext& x) {
            x.c->tags = ParseTags(n, x.warnings);
          })
          .Check(CheckTags)
          .Diff(C::kLive, [](auto& c) { return std::tie(c.tags.published); })
          .Entries([](const Config& c) -> const Json& { return c.tags.published; }, TagClass),
      B("tags.nofailover", K::kBool, kBoolWord),
      B("tags.noloadbalance", K::kBool, kBoolWord),
      B("tags.clonefrom", K::kBool, kBoolWord),
      B("tags.nosync", K::kBool, kBoolWord),
      B("tags.failover_priority", K::kInt),
      B("tags.replicatefrom", K::kStr, kEmptyOk),
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
