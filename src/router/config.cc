#include "router/config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <functional>
#include <optional>

#include "common/config.h"
#include "common/fs.h"
#include "net/socket.h"
#include "router/config_tls.h"

namespace pgw::router {

const char* ClientTlsModeName(ClientTlsMode m) {
  switch (m) {
    case ClientTlsMode::kDisable: return "disable";
    case ClientTlsMode::kAllow: return "allow";
    case ClientTlsMode::kPrefer: return "prefer";
    case ClientTlsMode::kRequire: return "require";
  }
  return "?";
}

const char* ServerTlsModeName(ServerTlsMode m) {
  switch (m) {
    case ServerTlsMode::kDisable: return "disable";
    case ServerTlsMode::kPrefer: return "prefer";
    case ServerTlsMode::kRequire: return "require";
    case ServerTlsMode::kVerifyCa: return "verify-ca";
    case ServerTlsMode::kVerifyFull: return "verify-full";
  }
  return "?";
}

std::string RouterConfig::KeyPrefix() const {
  std::string ns = namespace_;
  if (ns.empty() || ns.front() != '/') ns = "/" + ns;
  if (ns.back() != '/') ns += "/";
  return ns + scope + "/";
}

namespace {

// One setting: its key in the file, its flag, and how its text is applied. Values arrive as text (flags and YAML
// scalars alike), so a setting is parsed the same way whichever source gave it.
struct Field {
  const char* key;
  const char* flag;
  const char* help;
  bool repeatable;
  std::function<std::optional<std::string>(const std::vector<std::string>&, RouterConfig*)> apply;  // error text
};

std::optional<int64_t> ParseInt(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Bytes with an optional unit (B, kB, MB, GB; PostgreSQL's units, powers of 1024).
std::optional<int64_t> ParseBytes(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"GB", 1LL << 30}, {"MB", 1LL << 20}, {"kB", 1LL << 10}, {"B", 1}};
  for (const auto& [unit, mult] : kUnits) {
    std::string u = unit;
    if (s.size() > u.size() && s.compare(s.size() - u.size(), u.size(), u) == 0) {
      std::string num = s.substr(0, s.size() - u.size());
      while (!num.empty() && num.back() == ' ') num.pop_back();
      auto v = ParseInt(num);
      if (!v || *v < 0 || *v > (INT64_MAX / mult)) return std::nullopt;
      return *v * mult;
    }
  }
  auto v = ParseInt(s);
  if (!v || *v < 0) return std::nullopt;
  return v;
}

std::optional<bool> ParseBool(const std::string& s) {
  if (s == "true" || s == "on" || s == "yes" || s == "1") return true;
  if (s == "false" || s == "off" || s == "no" || s == "0") return false;
  return std::nullopt;
}

// "HOST:PORT" or ":PORT" (the loopback address); the host must be an IP address (the router never resolves names
// on its loops).
std::optional<std::string> ParseListenAddr(const std::string& s, HostPort* out) {
  std::string text = s;
  if (!text.empty() && text.front() == ':') text = "127.0.0.1" + text;
  auto hp = ParseHostPort(text);
  if (!hp.ok()) return hp.status().message();
  if (!net::IsIpLiteral(hp->host)) return "'" + s + "': the host must be an IP address";
  *out = *hp;
  return std::nullopt;
}

std::optional<std::string> Duration1(const std::string& s, Duration* out) {
  auto ms = PgDurationMs(Json(s));
  if (!ms) {
    if (auto v = ParseInt(s)) ms = *v;
  }
  if (!ms || *ms < 0 || *ms > 3600 * 1000) return "'" + s + "' is not a duration up to 1h (ms, or 5s, 100ms)";
  *out = Duration(*ms);
  return std::nullopt;
}

std::optional<std::string> ApplyDcsUrls(const std::vector<std::string>& urls, RouterConfig* c) {
  c->etcd.endpoints.clear();
  std::string protocol;
  for (const auto& u : urls) {
    std::string rest = u, scheme = "http";
    auto sep = u.find("://");
    if (sep != std::string::npos) {
      scheme = u.substr(0, sep);
      rest = u.substr(sep + 3);
    }
    if (scheme != "http" && scheme != "https") return "'" + u + "': the scheme must be http or https";
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto hp = ParseHostPort(rest);
    if (!hp.ok()) return hp.status().message();
    if (!protocol.empty() && protocol != scheme) return "all URLs must use the same scheme (http or https)";
    protocol = scheme;
    c->etcd.endpoints.push_back(*hp);
  }
  if (!protocol.empty()) c->etcd.protocol = protocol;
  return std::nullopt;
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = {
      {"dcs_urls", "--dcs-url", "etcd v3 endpoint http(s)://HOST:PORT (repeat for several)", true, ApplyDcsUrls},
      {"scope", "--scope", "cluster name (Patroni's scope)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         if (v[0].empty() || v[0].find('/') != std::string::npos) return "'" + v[0] + "' is not a scope name";
         c->scope = v[0];
         return std::nullopt;
       }},
      {"namespace", "--namespace", "key namespace (default /service)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         if (v[0].empty()) return "must not be empty";
         c->namespace_ = v[0];
         return std::nullopt;
       }},
      {"listen_write", "--listen-write", "HOST:PORT of the read-write port (default 127.0.0.1:6432)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) { return ParseListenAddr(v[0], &c->listen_write); }},
      {"listen_read", "--listen-read", "HOST:PORT of the read-only port (default :6433)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) { return ParseListenAddr(v[0], &c->listen_read); }},
      {"listen_admin", "--listen-admin", "HOST:PORT of /health, /stats, /metrics (default :8404)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) { return ParseListenAddr(v[0], &c->listen_admin); }},
      {"workers", "--workers", "worker threads (default: the number of cores)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         auto n = ParseInt(v[0]);
         if (!n || *n < 1 || *n > 256) return "'" + v[0] + "' is not a number of workers in 1..256";
         c->workers = static_cast<int>(*n);
         return std::nullopt;
       }},
      {"read_max_lag", "--read-max-lag", "replicas further behind leave the read pool (bytes; kB, MB, GB)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         auto b = ParseBytes(v[0]);
         if (!b) return "'" + v[0] + "' is not a size (bytes, or with kB, MB, GB)";
         c->read_max_lag_bytes = *b;
         return std::nullopt;
       }},
      {"read_return_lag", "--read-return-lag",
       "a replica that left the read pool for lag returns at or below this "
       "(bytes; kB, MB, GB; default half of read_max_lag)",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         auto b = ParseBytes(v[0]);
         if (!b) return "'" + v[0] + "' is not a size (bytes, or with kB, MB, GB)";
         c->read_return_lag_bytes = *b;
         return std::nullopt;
       }},
      {"read_max_lag_time", "--read-max-lag-time",
       "replicas known to be further behind in time leave the read pool "
       "too (30s, 1min; 0 off, the default; resolution about one loop_wait)",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) { return Duration1(v[0], &c->read_max_lag_time); }},
      {"read_fallback_to_primary", "--read-fallback-to-primary",
       "read port uses the primary when no replica "
       "qualifies (true/false, default false)",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         auto b = ParseBool(v[0]);
         if (!b) return "'" + v[0] + "' is not true or false";
         c->read_fallback_to_primary = *b;
         return std::nullopt;
       }},
      {"no_leader_wait", "--no-leader-wait", "how long a new connection waits for a routable server (default 5s)",
       false, [](const std::vector<std::string>& v, RouterConfig* c) { return Duration1(v[0], &c->no_leader_wait); }},
      {"connect_timeout", "--connect-timeout", "TCP connect timeout to a server (default 2s)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         auto e = Duration1(v[0], &c->connect_timeout);
         if (!e && c->connect_timeout.count() == 0) return "must be more than 0";
         return e;
       }},
      {"recovery_check", "--recovery-check",
       "how the write port checks the leader left recovery: auto "
       "(in_hot_standby, or a query before PostgreSQL 14) or query (always SELECT pg_is_in_recovery())",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         if (v[0] == "auto")
           c->recovery_check = RecoveryCheck::kAuto;
         else if (v[0] == "query")
           c->recovery_check = RecoveryCheck::kQuery;
         else
           return "'" + v[0] + "' is not auto or query";
         return std::nullopt;
       }},
      {"log_level", "--log-level", "DEBUG, INFO, WARNING, ERROR (default INFO)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         if (!ParseLogLevel(v[0], &c->log_level)) return "'" + v[0] + "' is not a log level";
         return std::nullopt;
       }},
      {"client_tls_cert_file", "--client-tls-cert-file", "PEM certificate (chain) offered to clients that ask for TLS",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         c->client_tls_cert_file = v[0];
         return std::nullopt;
       }},
      {"client_tls_key_file", "--client-tls-key-file", "PEM private key of client_tls_cert_file", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         c->client_tls_key_file = v[0];
         return std::nullopt;
       }},
      {"client_tls_sslmode", "--client-tls-sslmode",
       "TLS from clients: disable, allow, prefer, require (default "
       "prefer with a certificate, else disable; require refuses clients in clear)",
       false,
       [](const std::vector<std::string>& v,
          RouterConfig* c) -> std::
                               optional<std::string> {
                                 for (auto m : {ClientTlsMode::kDisable, ClientTlsMode::kAllow, ClientTlsMode::kPrefer,
                                                ClientTlsMode::kRequire}) {
                                   if (v[0] == ClientTlsModeName(m)) {
                                     c->client_tls_sslmode = m;
                                     c->client_tls_sslmode_set = true;
                                     return std::nullopt;
                                   }
                                 }
                                 return "'" + v[0] + "' is not disable, allow, prefer or require";
                               }},
      {"server_tls_sslmode", "--server-tls-sslmode",
       "TLS to PostgreSQL: disable, prefer, require, verify-ca, verify-full (default disable)", false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::optional<std::string> {
         for (auto m : {ServerTlsMode::kDisable, ServerTlsMode::kPrefer, ServerTlsMode::kRequire,
                        ServerTlsMode::kVerifyCa, ServerTlsMode::kVerifyFull}) {
           if (v[0] == ServerTlsModeName(m)) {
             c->server_tls_sslmode = m;
             return std::nullopt;
           }
         }
         return "'" + v[0] + "' is not disable, prefer, require, verify-ca or verify-full";
       }},
      {"server_tls_ca_file", "--server-tls-ca-file", "PEM CA certificates that verify-ca/verify-full check against",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::
                                                                  optional<std::string> {
                                                                    c->server_tls_ca_file = v[0];
                                                                    return std::nullopt;
                                                                  }},
      {"server_tls_cert_file", "--server-tls-cert-file",
       "PEM client certificate (chain) presented to PostgreSQL "
       "(libpq's sslcert)",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::
                                                                  optional<std::string> {
                                                                    c->server_tls_cert_file = v[0];
                                                                    return std::nullopt;
                                                                  }},
      {"server_tls_key_file", "--server-tls-key-file", "PEM private key of server_tls_cert_file (libpq's sslkey)",
       false,
       [](const std::vector<std::string>& v, RouterConfig* c) -> std::
                                                                  optional<std::string> {
                                                                    c->server_tls_key_file = v[0];
                                                                    return std::nullopt;
                                                                  }},
  };
  return kFields;
}

const Field* FieldByFlag(const std::string& flag) {
  for (const auto& f : Fields()) {
    if (flag == f.flag) return &f;
  }
  return nullptr;
}

const Field* FieldByKey(const std::string& key) {
  for (const auto& f : Fields()) {
    if (key == f.key) return &f;
  }
  return nullptr;
}

std::string Label(const Field& f) { return std::string(f.key) + " (" + f.flag + ")"; }

// Takes scope, namespace and etcd3 settings from an agent's patroni.yml for what was not set explicitly.
void ApplyPatroniConfig(const std::string& path, const std::map<std::string, std::vector<std::string>>& values,
                        RouterConfig* c, RouterConfigResult* out) {
  LoadOptions lo;
  lo.check_bin_dir = false;
  auto r = LoadConfigFile(path, lo);
  if (!r.config) {
    for (const auto& e : r.errors) out->errors.push_back("patroni_config (--patroni-config) " + path + ": " + e);
    return;
  }
  const Config& p = *r.config;
  if (!values.count("scope")) c->scope = p.scope;
  if (!values.count("namespace")) c->namespace_ = p.namespace_;
  if (!values.count("dcs_urls")) {
    c->etcd.endpoints = p.etcd3.hosts;
    c->etcd.protocol = p.etcd3.protocol;
  }
  c->etcd.username = p.etcd3.username;
  c->etcd.password = p.etcd3.password;
  c->etcd.cacert = p.etcd3.cacert;
  c->etcd.cert = p.etcd3.cert;
  c->etcd.key = p.etcd3.key;
}

// Reads the -c file into key -> values; problems name the key.
void ReadRouterYaml(const std::string& yaml, const std::string& label,
                    std::map<std::string, std::vector<std::string>>* vals, std::vector<std::string>* errors) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    errors->push_back(label + ": not YAML: " + e.what());
    return;
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) {
    errors->push_back(label + ": must be a mapping of settings");
    return;
  }
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>("");
    if (key != "patroni_config" && !FieldByKey(key)) {
      errors->push_back(key + ": unknown setting in " + label);
      continue;
    }
    std::vector<std::string> v;
    if (kv.second.IsScalar()) {
      v.push_back(kv.second.Scalar());
    } else if (kv.second.IsSequence() && key == "dcs_urls") {
      for (const auto& item : kv.second) {
        if (!item.IsScalar()) {
          errors->push_back(key + ": every item must be a URL");
          continue;
        }
        v.push_back(item.Scalar());
      }
    } else {
      errors->push_back(key + ": must be a single value");
      continue;
    }
    (*vals)[key] = std::move(v);
  }
}

RouterConfigResult Build(const std::optional<std::string>& file_text, const std::string& file_label,
                         const std::vector<std::string>& args, int cores) {
  RouterConfigResult out;
  std::map<std::string, std::vector<std::string>> file_vals, flag_vals;
  std::optional<std::string> config_path;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    bool has_value = false;
    if (a == "-h" || a == "--help") {
      out.help = true;
      return out;
    }
    auto eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    bool known = a == "-c" || a == "--config" || a == "--patroni-config" || FieldByFlag(a);
    if (a.empty() || a[0] != '-') {
      out.errors.push_back("'" + a + "': unexpected argument (flags are --name VALUE)");
      continue;
    }
    if (!known) {
      out.errors.push_back(a + ": unknown option (see --help)");
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        out.errors.push_back(a + ": needs a value");
        continue;
      }
      value = args[++i];
    }
    if (a == "-c" || a == "--config") {
      config_path = value;
    } else if (a == "--patroni-config") {
      flag_vals["patroni_config"] = {value};
    } else {
      const Field* f = FieldByFlag(a);
      auto& v = flag_vals[f->key];
      if (!f->repeatable) v.clear();
      v.push_back(value);
    }
  }
  if (file_text) {
    ReadRouterYaml(*file_text, file_label, &file_vals, &out.errors);
  } else if (config_path) {
    auto text = pgw::ReadFile(*config_path);
    if (!text.ok()) {
      out.errors.push_back("config (-c): " + text.status().message());
    } else {
      ReadRouterYaml(*text, *config_path, &file_vals, &out.errors);
    }
  }
  // Flags override the file, key by key (a repeated --dcs-url replaces the file's whole list).
  std::map<std::string, std::vector<std::string>> vals = file_vals;
  for (auto& [k, v] : flag_vals) vals[k] = v;

  auto c = std::make_shared<RouterConfig>();
  c->workers = cores > 0 ? cores : 1;
  if (auto it = vals.find("patroni_config"); it != vals.end()) {
    ApplyPatroniConfig(it->second[0], vals, c.get(), &out);
  }
  for (const auto& f : Fields()) {
    auto it = vals.find(f.key);
    if (it == vals.end()) continue;
    if (it->second.empty()) {
      out.errors.push_back(Label(f) + ": needs a value");
      continue;
    }
    if (auto err = f.apply(it->second, c.get())) out.errors.push_back(Label(f) + ": " + *err);
  }
  if (c->scope.empty()) out.errors.push_back("scope (--scope): required (or give --patroni-config)");
  if (c->etcd.endpoints.empty()) {
    out.errors.push_back("dcs_urls (--dcs-url): at least one etcd endpoint is required (or give --patroni-config)");
  }
  if (!vals.count("read_return_lag")) {
    c->read_return_lag_bytes = c->read_max_lag_bytes / 2;
  } else if (c->read_return_lag_bytes > c->read_max_lag_bytes) {
    out.errors.push_back("read_return_lag (--read-return-lag): " + std::to_string(c->read_return_lag_bytes) +
                         " is above read_max_lag (" + std::to_string(c->read_max_lag_bytes) +
                         "): a replica would return to the read pool still too far behind to be in it");
  }
  LoadTlsContexts(c.get(), &out.errors);
  const std::pair<const char*, const HostPort*> listens[] = {
      {"listen_write", &c->listen_write}, {"listen_read", &c->listen_read}, {"listen_admin", &c->listen_admin}};
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) {
      if (listens[i].second->port == listens[j].second->port) {
        out.errors.push_back(std::string(listens[j].first) + ": port " + std::to_string(listens[j].second->port) +
                             " is also " + listens[i].first + "'s");
      }
    }
  }
  if (out.errors.empty()) out.config = std::move(c);
  return out;
}

}  // namespace

RouterConfigResult LoadRouterConfig(const std::vector<std::string>& args, int cores) {
  return Build(std::nullopt, "", args, cores);
}

RouterConfigResult LoadRouterConfigText(const std::string& yaml, const std::string& file_label,
                                        const std::vector<std::string>& args, int cores) {
  return Build(yaml, file_label, args, cores);
}

std::string RouterUsage() {
  std::string s =
      "usage: pgwarden-router [-c router.yml] [flags]\n"
      "Flags override the file; the file's keys are the flag names with '_' for '-' (dcs_urls takes a list).\n"
      "  -c, --config FILE                router.yml\n"
      "  --patroni-config FILE            take etcd3 hosts, scope and namespace from an agent's patroni.yml\n";
  for (const auto& f : Fields()) {
    std::string flag = std::string(f.flag) + " VALUE";
    s += "  " + flag + std::string(flag.size() < 33 ? 33 - flag.size() : 1, ' ') + f.help + "\n";
  }
  return s;
}

}  // namespace pgw::router
