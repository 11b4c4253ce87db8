#include "common/config.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/fs.h"

extern char** environ;

namespace pgw {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Schema: Patroni's key tree. Each node says what type it takes, whether it is required, and whether pgwarden
// acts on it (kIgnored: Patroni knows it, pgwarden accepts it with a warning).
enum class Kind { kMap, kOpenMap, kStr, kInt, kBool, kStrList, kStrOrList, kAny };
enum Flag : unsigned { kNone = 0, kRequired = 1, kIgnored = 2 };

struct Node {
  Kind kind = Kind::kAny;
  unsigned flags = kNone;
  std::vector<std::pair<std::string, Node>> children;  // kMap / kOpenMap: known keys
};

Node Leaf(Kind k, unsigned f = kNone) { return Node{k, f, {}}; }
Node Map(std::vector<std::pair<std::string, Node>> c, unsigned f = kNone) { return Node{Kind::kMap, f, std::move(c)}; }
Node OpenMap(std::vector<std::pair<std::string, Node>> c, unsigned f = kNone) {
  return Node{Kind::kOpenMap, f, std::move(c)};
}
Node Ign() { return Leaf(Kind::kAny, kIgnored); }

Node UserSchema(unsigned f) {
  std::vector<std::pair<std::string, Node>> c = {{"username", Leaf(Kind::kStr, kRequired)},
                                                 {"password", Leaf(Kind::kStr)}};
  for (const char* k : {"sslmode", "sslkey", "sslpassword", "sslcert", "sslrootcert", "sslcrl", "sslcrldir",
                        "sslnegotiation", "gssencmode", "channel_binding"}) {
    c.push_back({k, Leaf(Kind::kStr)});
  }
  return Map(std::move(c), f);
}

const Node& RootSchema() {
  static const Node root = Map({
      {"name", Leaf(Kind::kStr, kRequired)},
      {"scope", Leaf(Kind::kStr, kRequired)},
      {"namespace", Leaf(Kind::kStr)},
      {"thread_pool_size", Ign()},
      {"thread_stack_size", Ign()},
      {"log", Map({{"level", Leaf(Kind::kStr)}, {"dir", Leaf(Kind::kStr)}, {"type", Ign()},
                   {"traceback_level", Ign()}, {"format", Ign()}, {"dateformat", Ign()}, {"static_fields", Ign()},
                   {"max_queue_size", Ign()}, {"mode", Ign()}, {"file_num", Ign()}, {"file_size", Ign()},
                   {"loggers", Ign()}, {"deduplicate_heartbeat_logs", Ign()}})},
      {"bootstrap", Map({{"dcs", Leaf(Kind::kAny)}, {"method", Leaf(Kind::kStr)}, {"initdb", Leaf(Kind::kAny)},
                         {"post_bootstrap", Ign()}, {"post_init", Ign()}, {"users", Ign()}, {"pg_hba", Ign()}})},
      {"etcd3", Map({{"host", Leaf(Kind::kStr)}, {"hosts", Leaf(Kind::kStrOrList)}, {"url", Leaf(Kind::kStr)},
                     {"proxy", Leaf(Kind::kStr)}, {"srv", Ign()}, {"srv_suffix", Ign()},
                     {"use_proxies", Leaf(Kind::kBool)}, {"protocol", Leaf(Kind::kStr)},
                     {"username", Leaf(Kind::kStr)}, {"password", Leaf(Kind::kStr)}, {"cacert", Leaf(Kind::kStr)},
                     {"cert", Leaf(Kind::kStr)}, {"key", Leaf(Kind::kStr)}, {"key_password", Ign()},
                     {"verify", Ign()}})},
      {"citus", Ign()},
      {"postgresql",
       Map({{"listen", Leaf(Kind::kStr, kRequired)},
            {"connect_address", Leaf(Kind::kStr, kRequired)},
            {"proxy_address", Ign()},
            {"data_dir", Leaf(Kind::kStr, kRequired)},
            {"config_dir", Ign()},
            {"bin_dir", Leaf(Kind::kStr)},
            {"bin_name", Ign()},
            {"pgpass", Leaf(Kind::kStr)},
            {"use_unix_socket", Leaf(Kind::kBool)},
            {"use_unix_socket_repl", Ign()},
            {"authentication", Map({{"superuser", UserSchema(kRequired)},
                                    {"replication", UserSchema(kRequired)},
                                    {"rewind", UserSchema(kNone)}},
                                   kRequired)},
            {"callbacks", Map({{"on_start", Leaf(Kind::kStr)}, {"on_stop", Leaf(Kind::kStr)},
                               {"on_restart", Leaf(Kind::kStr)}, {"on_reload", Leaf(Kind::kStr)},
                               {"on_role_change", Leaf(Kind::kStr)}})},
            {"create_replica_methods", Leaf(Kind::kStrList)},
            {"basebackup", Leaf(Kind::kAny)},
            {"recovery_conf", Ign()},
            {"custom_conf", Ign()},
            {"parameters", OpenMap({})},
            {"pg_hba", Leaf(Kind::kStrList)},
            {"pg_ident", Ign()},
            {"pg_ctl_timeout", Leaf(Kind::kInt)},
            {"use_pg_rewind", Leaf(Kind::kBool)},
            {"rewind", Ign()},
            {"remove_data_directory_on_rewind_failure", Leaf(Kind::kBool)},
            {"remove_data_directory_on_diverged_timelines", Leaf(Kind::kBool)},
            {"pre_promote", Leaf(Kind::kStr)},
            {"before_stop", Ign()},
            {"krbsrvname", Ign()}},
           kRequired)},
      {"restapi", Map({{"listen", Leaf(Kind::kStr, kRequired)},
                       {"connect_address", Leaf(Kind::kStr, kRequired)},
                       {"authentication", Map({{"username", Leaf(Kind::kStr)}, {"password", Leaf(Kind::kStr)}})},
                       {"certfile", Leaf(Kind::kStr)}, {"keyfile", Leaf(Kind::kStr)}, {"keyfile_password", Ign()},
                       {"cafile", Leaf(Kind::kStr)}, {"ciphers", Ign()}, {"verify_client", Leaf(Kind::kStr)},
                       {"allowlist", Leaf(Kind::kStrList)}, {"allowlist_include_members", Leaf(Kind::kBool)}, {"http_extra_headers", Ign()},
                       {"https_extra_headers", Ign()}, {"request_queue_size", Ign()}, {"thread_pool_size", Ign()},
                       {"server_tokens", Ign()}},
                      kRequired)},
      {"ctl", Ign()},
      {"watchdog", Map({{"mode", Leaf(Kind::kStr)}, {"device", Leaf(Kind::kStr)},
                        {"safety_margin", Leaf(Kind::kInt)}})},
      {"tags", OpenMap({{"nofailover", Leaf(Kind::kBool)}, {"noloadbalance", Leaf(Kind::kBool)},
                        {"clonefrom", Leaf(Kind::kBool)}, {"nosync", Leaf(Kind::kBool)},
                        {"failover_priority", Leaf(Kind::kInt)}, {"replicatefrom", Leaf(Kind::kStr)},
                        {"nostream", Ign()}, {"sync_priority", Ign()}})},
  });
  return root;
}

// DCS sections Patroni supports and pgwarden does not.
const std::set<std::string> kOtherDcs = {"etcd", "consul", "zookeeper", "exhibitor", "kubernetes", "raft"};

std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

bool ParseBoolText(const std::string& s, bool* out) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (l == "true" || l == "yes" || l == "on" || l == "y") { *out = true; return true; }
  if (l == "false" || l == "no" || l == "off" || l == "n") { *out = false; return true; }
  return false;
}

bool ParseIntText(const std::string& s, long long* out) {
  if (s.empty()) return false;
  size_t pos = 0;
  try {
    *out = std::stoll(s, &pos, 10);
  } catch (const std::exception&) {
    return false;
  }
  return pos == s.size();
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kMap: case Kind::kOpenMap: return "a mapping";
    case Kind::kStr: return "a string";
    case Kind::kInt: return "an integer";
    case Kind::kBool: return "a boolean (true/false)";
    case Kind::kStrList: return "a list of strings";
    case Kind::kStrOrList: return "a string or a list of strings";
    case Kind::kAny: return "a value";
  }
  return "?";
}

struct Checker {
  std::vector<std::string>* errors;
  std::vector<std::string>* warnings;
  std::set<std::string> extra_known;  // e.g. postgresql.<custom replica method>

  void Check(const YAML::Node& n, const Node& s, const std::string& path) {
    if (s.flags & kIgnored) {
      warnings->push_back(path + ": accepted for Patroni compatibility, but pgwarden does not use it");
      return;
    }
    switch (s.kind) {
      case Kind::kAny: return;
      case Kind::kStr:
        if (!n.IsScalar()) errors->push_back(path + ": must be " + KindName(s.kind));
        return;
      case Kind::kInt: {
        long long v;
        if (!n.IsScalar() || !ParseIntText(n.Scalar(), &v)) {
          errors->push_back(path + ": must be " + KindName(s.kind) + ", got '" + Describe(n) + "'");
        }
        return;
      }
      case Kind::kBool: {
        bool b;
        if (!n.IsScalar() || !ParseBoolText(n.Scalar(), &b)) {
          errors->push_back(path + ": must be " + KindName(s.kind) + ", got '" + Describe(n) + "'");
        }
        return;
      }
      case Kind::kStrList:
      case Kind::kStrOrList:
        if (s.kind == Kind::kStrOrList && n.IsScalar()) return;
        if (!n.IsSequence()) {
          errors->push_back(path + ": must be " + KindName(s.kind));
          return;
        }
        for (size_t i = 0; i < n.size(); ++i) {
          if (!n[i].IsScalar()) errors->push_back(path + "[" + std::to_string(i) + "]: must be a string");
        }
        return;
      case Kind::kMap:
      case Kind::kOpenMap:
        break;
    }
    if (!n.IsMap()) {
      if (n.IsNull()) return;  // "tags:" with nothing under it
      errors->push_back(path + ": must be a mapping");
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      seen.insert(key);
      auto it = std::find_if(s.children.begin(), s.children.end(), [&](const auto& c) { return c.first == key; });
      std::string child_path = Join(path, key);
      if (it != s.children.end()) {
        Check(kv.second, it->second, child_path);
      } else if (path.empty() && kOtherDcs.count(key)) {
        errors->push_back(key + ": pgwarden supports the etcd3 DCS only (use an 'etcd3:' section)");
      } else if (extra_known.count(child_path)) {
        warnings->push_back(child_path + ": replica creation method accepted, but pgwarden only runs basebackup");
      } else if (s.kind != Kind::kOpenMap) {
        errors->push_back(child_path + ": unknown key");
      }
    }
    for (const auto& [key, child] : s.children) {
      if ((child.flags & kRequired) && !seen.count(key)) {
        errors->push_back(Join(path, key) + ": required key is missing");
      }
    }
  }

  static std::string Describe(const YAML::Node& n) {
    if (n.IsScalar()) return n.Scalar();
    if (n.IsSequence()) return "<list>";
    if (n.IsMap()) return "<mapping>";
    return "<null>";
  }
};

// ---------------------------------------------------------------------------------------------------------------
// PATRONI_* environment variables.

YAML::Node EnsurePath(YAML::Node root, const std::vector<std::string>& path) {
  YAML::Node cur = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (!cur[path[i]] || !cur[path[i]].IsMap()) cur[path[i]] = YAML::Node(YAML::NodeType::Map);
    cur.reset(cur[path[i]]);
  }
  return cur;
}

void SetPath(YAML::Node& root, const std::vector<std::string>& path, const YAML::Node& value) {
  YAML::Node parent = EnsurePath(root, path);
  parent[path.back()] = value;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void ApplyEnv(YAML::Node& root, const std::map<std::string, std::string>& env, std::vector<std::string>* errors) {
  static const std::set<std::string> kStructured = {"HOSTS", "ALLOWLIST", "LOGGERS", "STATIC_FIELDS",
                                                    "HTTP_EXTRA_HEADERS", "HTTPS_EXTRA_HEADERS", "PORTS", "LABELS"};
  auto value_for = [&](const std::string& var, const std::string& suffix, const std::string& text) -> YAML::Node {
    if (kStructured.count(suffix)) {
      try {
        return YAML::Load(text);
      } catch (const YAML::Exception& e) {
        errors->push_back(var + ": cannot parse as YAML: " + e.msg);
      }
    }
    return YAML::Node(text);
  };
  for (const auto& [var, text] : env) {
    if (var.rfind("PATRONI_", 0) != 0 || var == "PATRONI_CONFIGURATION") continue;
    std::string rest = var.substr(8);
    auto starts = [&](const std::string& p) { return rest.rfind(p, 0) == 0; };
    std::vector<std::string> path;
    std::string suffix;
    if (rest == "NAME" || rest == "NAMESPACE" || rest == "SCOPE") {
      path = {Lower(rest)};
    } else if (rest == "LOGLEVEL") {
      path = {"log", "level"};
    } else if (starts("LOG_")) {
      suffix = rest.substr(4);
      path = {"log", Lower(suffix)};
    } else if (starts("POSTGRESQL_")) {
      suffix = rest.substr(11);
      if (starts("POSTGRESQL_BIN_") && suffix != "BIN_DIR") {
        path = {"postgresql", "bin_name", Lower(suffix.substr(4))};
      } else {
        path = {"postgresql", Lower(suffix)};
      }
    } else if (starts("RESTAPI_")) {
      suffix = rest.substr(8);
      if (suffix == "USERNAME" || suffix == "PASSWORD") {
        path = {"restapi", "authentication", Lower(suffix)};
      } else {
        path = {"restapi", Lower(suffix)};
      }
    } else if (starts("SUPERUSER_") || starts("REPLICATION_") || starts("REWIND_")) {
      auto us = rest.find('_');
      suffix = rest.substr(us + 1);
      path = {"postgresql", "authentication", Lower(rest.substr(0, us)), Lower(suffix)};
    } else {
      for (const char* dcs : {"ETCD3_", "ETCD_", "CONSUL_", "ZOOKEEPER_", "EXHIBITOR_", "KUBERNETES_", "RAFT_"}) {
        if (starts(dcs)) {
          std::string d(dcs);
          suffix = rest.substr(d.size());
          path = {Lower(d.substr(0, d.size() - 1)), Lower(suffix)};
          break;
        }
      }
    }
    if (path.empty()) continue;  // PATRONI_CTL_*, bootstrap users, ...: not configuration of the agent
    SetPath(root, path, value_for(var, suffix, text));
  }
}

// Deep-merges `src` into `dst` (mappings merged key by key, everything else replaced).
void Merge(YAML::Node dst, const YAML::Node& src) {
  if (!src.IsMap()) return;
  for (const auto& kv : src) {
    std::string k = kv.first.Scalar();
    if (kv.second.IsMap() && dst[k] && dst[k].IsMap()) {
      Merge(dst[k], kv.second);
    } else {
      dst[k] = YAML::Clone(kv.second);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Typed extraction. The schema check has already reported type errors, so these helpers fall back to defaults.

Json YamlToJson(const YAML::Node& n) {
  if (n.IsMap()) {
    Json o = Json::object();
    for (const auto& kv : n) o[kv.first.Scalar()] = YamlToJson(kv.second);
    return o;
  }
  if (n.IsSequence()) {
    Json a = Json::array();
    for (const auto& e : n) a.push_back(YamlToJson(e));
    return a;
  }
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted in the YAML: keep as string
    long long i;
    if (ParseIntText(s, &i)) return i;
    bool b;
    if (s == "true" || s == "false" || s == "True" || s == "False") {
      ParseBoolText(s, &b);
      return b;
    }
    try {
      size_t pos = 0;
      double d = std::stod(s, &pos);
      if (pos == s.size() && s.find_first_of(".eE") != std::string::npos) return d;
    } catch (const std::exception&) {
    }
    return s;
  }
  return nullptr;
}

std::string Str(const YAML::Node& n, const std::string& def = "") {
  return n && n.IsScalar() ? n.Scalar() : def;
}
bool Bool(const YAML::Node& n, bool def) {
  bool b;
  return n && n.IsScalar() && ParseBoolText(n.Scalar(), &b) ? b : def;
}
long long Int(const YAML::Node& n, long long def) {
  long long v;
  return n && n.IsScalar() && ParseIntText(n.Scalar(), &v) ? v : def;
}

bool IsExecutable(const std::string& p) { return access(p.c_str(), X_OK) == 0 && !IsDirectory(p); }

const std::vector<std::string> kRequiredPrograms = {"pg_ctl", "initdb", "pg_controldata", "pg_basebackup",
                                                    "postgres", "pg_isready"};

std::vector<std::string> MissingPrograms(const std::string& dir) {
  std::vector<std::string> missing;
  for (const auto& prog : kRequiredPrograms) {
    if (!IsExecutable(dir + "/" + prog)) missing.push_back(prog);
  }
  return missing;
}

// PATH first, then Debian's /usr/lib/postgresql/<newest>/bin.
std::string FindBinDir(const std::map<std::string, std::string>& env) {
  auto path = env.count("PATH") ? env.at("PATH") : std::string("/usr/local/bin:/usr/bin:/bin");
  size_t start = 0;
  while (start <= path.size()) {
    auto colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty() && MissingPrograms(dir).empty()) return dir;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  std::error_code ec;
  std::vector<std::string> versions;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    versions.push_back(e.path().filename().string());
  }
  std::sort(versions.begin(), versions.end(), [](const std::string& a, const std::string& b) {
    return std::atoi(a.c_str()) > std::atoi(b.c_str());
  });
  for (const auto& v : versions) {
    std::string dir = "/usr/lib/postgresql/" + v + "/bin";
    if (MissingPrograms(dir).empty()) return dir;
  }
  return "";
}

PgUser ParseUser(const YAML::Node& n) {
  PgUser u;
  if (!n || !n.IsMap()) return u;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    if (k == "username") u.username = Str(kv.second);
    else if (k == "password") u.password = Str(kv.second);
    else u.options[k] = Str(kv.second);
  }
  return u;
}

// bootstrap.initdb: ["data-checksums", {encoding: UTF8}] -> --data-checksums --encoding=UTF8
std::vector<std::string> ParseInitdb(const YAML::Node& n, std::vector<std::string>* errors) {
  std::vector<std::string> out;
  if (!n) return out;
  if (!n.IsSequence()) {
    errors->push_back("bootstrap.initdb: must be a list of options (strings or one-key mappings)");
    return out;
  }
  static const std::set<std::string> kForbidden = {"pgdata", "D", "username", "U", "pwfile", "auth"};
  for (size_t i = 0; i < n.size(); ++i) {
    std::string p = "bootstrap.initdb[" + std::to_string(i) + "]";
    const auto& e = n[i];
    if (e.IsScalar()) {
      out.push_back("--" + e.Scalar());
    } else if (e.IsMap() && e.size() == 1) {
      auto kv = *e.begin();
      std::string k = kv.first.Scalar();
      if (kForbidden.count(k)) {
        errors->push_back(p + ": option '" + k + "' is set by pgwarden and cannot be given here");
        continue;
      }
      if (!kv.second.IsScalar()) {
        errors->push_back(p + "." + k + ": must be a string");
        continue;
      }
      out.push_back("--" + k + "=" + kv.second.Scalar());
    } else {
      errors->push_back(p + ": must be a string or a one-key mapping");
    }
  }
  return out;
}

// postgresql.basebackup: {max-rate: 100M} or [verbose, {max-rate: 100M}]
std::vector<std::string> ParseBasebackup(const YAML::Node& n, std::vector<std::string>* errors) {
  std::vector<std::string> out;
  if (!n) return out;
  static const std::set<std::string> kForbidden = {"pgdata", "format", "wal-method", "gzip", "compress", "dbname",
                                                   "host", "port", "username", "password", "D", "F", "X", "d", "h",
                                                   "p", "U", "W", "z", "Z"};
  auto add = [&](const std::string& path, const std::string& k, const YAML::Node* v) {
    if (kForbidden.count(k)) {
      errors->push_back(path + ": option '" + k + "' is set by pgwarden and cannot be given here");
      return;
    }
    if (v == nullptr) out.push_back("--" + k);
    else if (v->IsScalar()) out.push_back("--" + k + "=" + v->Scalar());
    else errors->push_back(path + "." + k + ": must be a string");
  };
  if (n.IsMap()) {
    for (const auto& kv : n) add("postgresql.basebackup", kv.first.Scalar(), &kv.second);
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      std::string p = "postgresql.basebackup[" + std::to_string(i) + "]";
      if (n[i].IsScalar()) add(p, n[i].Scalar(), nullptr);
      else if (n[i].IsMap() && n[i].size() == 1) add(p, n[i].begin()->first.Scalar(), &n[i].begin()->second);
      else errors->push_back(p + ": must be a string or a one-key mapping");
    }
  } else {
    errors->push_back("postgresql.basebackup: must be a mapping or a list");
  }
  return out;
}

Tags ParseTags(const YAML::Node& n, std::vector<std::string>* warnings) {
  Tags t;
  if (!n || !n.IsMap()) return t;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    Json v = YamlToJson(kv.second);
    if (k == "nofailover" || k == "noloadbalance" || k == "clonefrom" || k == "nosync") {
      bool b = Bool(kv.second, false);
      if (k == "nofailover") t.nofailover = b;
      if (k == "noloadbalance") t.noloadbalance = b;
      if (k == "clonefrom") t.clonefrom = b;
      if (k == "nosync") t.nosync = b;
      if (b) t.published[k] = true;
    } else if (k == "failover_priority") {
      t.failover_priority = static_cast<int>(Int(kv.second, 1));
      t.published[k] = *t.failover_priority;
    } else if (k == "replicatefrom") {
      t.replicatefrom = Str(kv.second);
      if (!t.replicatefrom.empty()) t.published[k] = t.replicatefrom;
    } else {
      t.published[k] = v;
    }
  }
  if (t.nofailover && t.failover_priority && *t.failover_priority > 0) {
    warnings->push_back("tags: conflicting configuration between nofailover: true and failover_priority: " +
                        std::to_string(*t.failover_priority) + "; nofailover wins");
  }
  return t;
}

void Extract(const YAML::Node& root, const LoadOptions& opts, Config* c, std::vector<std::string>* errors,
             std::vector<std::string>* warnings) {
  c->name = Str(root["name"]);
  c->scope = Str(root["scope"]);
  if (root["name"] && c->name.empty()) errors->push_back("name: must not be empty");
  if (root["scope"] && c->scope.empty()) errors->push_back("scope: must not be empty");
  if (c->scope.find('/') != std::string::npos) errors->push_back("scope: must not contain '/'");
  if (c->name.find('/') != std::string::npos) errors->push_back("name: must not contain '/'");
  c->namespace_ = Str(root["namespace"], "/service");

  // log
  const auto& log = root["log"];
  if (log && log["level"]) {
    if (!ParseLogLevel(Str(log["level"]), &c->log.level)) {
      errors->push_back("log.level: '" + Str(log["level"]) + "' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL");
    }
  }
  if (log) c->log.dir = Str(log["dir"]);

  // restapi
  const auto& ra = root["restapi"];
  if (ra && ra.IsMap()) {
    if (ra["listen"]) {
      auto l = ParseListen(Str(ra["listen"]));
      if (!l.ok()) errors->push_back("restapi.listen: " + l.status().message());
      else {
        c->restapi.listen_host = l->first.front();
        c->restapi.listen_port = l->second;
      }
    }
    if (ra["connect_address"]) {
      auto hp = ParseHostPort(Str(ra["connect_address"]));
      if (!hp.ok()) errors->push_back("restapi.connect_address: " + hp.status().message());
      else c->restapi.connect_address = *hp;
    }
    if (ra["authentication"]) {
      c->restapi.username = Str(ra["authentication"]["username"]);
      c->restapi.password = Str(ra["authentication"]["password"]);
    }
    auto& r = c->restapi;
    r.certfile = Str(ra["certfile"]);
    r.keyfile = Str(ra["keyfile"]);
    r.cafile = Str(ra["cafile"]);
    r.verify_client = Str(ra["verify_client"], "none");
    for (const char* k : {"certfile", "keyfile", "cafile"}) {
      std::string v = Str(ra[k]);
      if (!v.empty() && access(v.c_str(), R_OK) != 0) {
        errors->push_back(std::string("restapi.") + k + ": cannot read '" + v + "'");
      }
    }
    if (!r.keyfile.empty() && r.certfile.empty()) errors->push_back("restapi.keyfile: given without restapi.certfile");
    if (r.verify_client != "none" && r.verify_client != "optional" && r.verify_client != "required") {
      errors->push_back("restapi.verify_client: '" + r.verify_client + "' must be none, optional or required");
    } else if (r.verify_client != "none" && (r.cafile.empty() || r.certfile.empty())) {
      errors->push_back("restapi.verify_client: needs restapi.certfile and restapi.cafile");
    }
    if (ra["allowlist"] && ra["allowlist"].IsSequence()) {
      for (const auto& a : ra["allowlist"]) r.allowlist.push_back(Str(a));
    }
    r.allowlist_include_members = Bool(ra["allowlist_include_members"], false);
  }

  // etcd3
  const auto& e = root["etcd3"];
  bool other_dcs = false;
  for (const auto& d : kOtherDcs) other_dcs = other_dcs || root[d];
  if (!e) {
    if (!other_dcs) errors->push_back("etcd3: required section is missing (where is etcd?)");
  } else if (e.IsMap()) {
    std::vector<std::string> items;
    int sources = 0;
    if (e["host"]) { items.push_back(Str(e["host"])); ++sources; }
    if (e["hosts"]) {
      ++sources;
      if (e["hosts"].IsScalar()) items.push_back(e["hosts"].Scalar());
      else if (e["hosts"].IsSequence()) for (const auto& h : e["hosts"]) items.push_back(Str(h));
    }
    for (const char* k : {"url", "proxy"}) {
      if (!e[k]) continue;
      ++sources;
      std::string u = Str(e[k]);
      auto scheme = u.find("://");
      if (scheme != std::string::npos) {
        c->etcd3.protocol = u.substr(0, scheme);
        u = u.substr(scheme + 3);
      }
      auto slash = u.find('/');
      if (slash != std::string::npos) u = u.substr(0, slash);
      items.push_back(u);
    }
    if (sources == 0) {
      errors->push_back("etcd3: one of host, hosts, url or proxy is required");
    } else {
      auto hps = ParseHostPortList(items);
      if (!hps.ok()) errors->push_back("etcd3.hosts: " + hps.status().message());
      else c->etcd3.hosts = *hps;
    }
    if (e["protocol"]) c->etcd3.protocol = Str(e["protocol"]);
    if (c->etcd3.protocol != "http" && c->etcd3.protocol != "https") {
      errors->push_back("etcd3.protocol: '" + c->etcd3.protocol + "' must be http or https");
    }
    c->etcd3.username = Str(e["username"]);
    c->etcd3.password = Str(e["password"]);
    c->etcd3.cacert = Str(e["cacert"]);
    c->etcd3.cert = Str(e["cert"]);
    c->etcd3.key = Str(e["key"]);
    if (!c->etcd3.username.empty() && c->etcd3.password.empty()) {
      errors->push_back("etcd3.password: required when etcd3.username is set");
    }
  }

  // bootstrap
  const auto& b = root["bootstrap"];
  if (b && b.IsMap()) {
    if (b["dcs"]) {
      if (!b["dcs"].IsMap()) errors->push_back("bootstrap.dcs: must be a mapping");
      else c->bootstrap.dcs = YamlToJson(b["dcs"]);
    }
    if (b["method"] && Str(b["method"]) != "initdb") {
      errors->push_back("bootstrap.method: only 'initdb' is supported, got '" + Str(b["method"]) + "'");
    }
    c->bootstrap.initdb_args = ParseInitdb(b["initdb"], errors);
  }
  c->bootstrap.dynamic = DynamicConfig::FromJson(c->bootstrap.dcs, "bootstrap.dcs", errors);

  // postgresql
  const auto& pg = root["postgresql"];
  if (pg && pg.IsMap()) {
    auto& p = c->postgresql;
    if (pg["listen"]) {
      auto l = ParseListen(Str(pg["listen"]));
      if (!l.ok()) errors->push_back("postgresql.listen: " + l.status().message());
      else {
        p.listen_hosts = l->first;
        p.port = l->second;
      }
    }
    if (pg["connect_address"]) {
      auto hp = ParseHostPort(Str(pg["connect_address"]));
      if (!hp.ok()) errors->push_back("postgresql.connect_address: " + hp.status().message());
      else p.connect_address = *hp;
    }
    p.data_dir = Str(pg["data_dir"]);
    if (pg["data_dir"] && p.data_dir.empty()) errors->push_back("postgresql.data_dir: must not be empty");
    if (!p.data_dir.empty() && p.data_dir[0] != '/') {
      p.data_dir = std::filesystem::absolute(p.data_dir).lexically_normal().string();
    }
    std::string home = opts.env.count("HOME") ? opts.env.at("HOME") : "/";
    p.pgpass = Str(pg["pgpass"], home + "/pgpass");
    const auto& auth = pg["authentication"];
    if (auth && auth.IsMap()) {
      p.superuser = ParseUser(auth["superuser"]);
      p.replication = ParseUser(auth["replication"]);
      p.rewind = ParseUser(auth["rewind"]);
      p.has_rewind_user = auth["rewind"] && !p.rewind.username.empty();
    }
    if (pg["parameters"] && pg["parameters"].IsMap()) {
      p.parameters = YamlToJson(pg["parameters"]);
      for (const char* k : {"listen_addresses", "port", "hba_file", "data_directory", "config_file"}) {
        if (p.parameters.contains(k)) {
          errors->push_back(std::string("postgresql.parameters.") + k +
                            ": set by pgwarden (use postgresql.listen / data_dir instead)");
        }
      }
    }
    if (pg["pg_hba"] && pg["pg_hba"].IsSequence()) {
      for (const auto& l : pg["pg_hba"]) p.pg_hba.push_back(Str(l));
    }
    p.basebackup_args = ParseBasebackup(pg["basebackup"], errors);
    p.use_unix_socket = Bool(pg["use_unix_socket"], false);
    p.pg_ctl_timeout = static_cast<int>(Int(pg["pg_ctl_timeout"], 60));
    if (p.pg_ctl_timeout <= 0) errors->push_back("postgresql.pg_ctl_timeout: must be a positive number of seconds");
    p.use_pg_rewind = Bool(pg["use_pg_rewind"], false);
    p.remove_data_directory_on_rewind_failure = Bool(pg["remove_data_directory_on_rewind_failure"], false);
    p.remove_data_directory_on_diverged_timelines = Bool(pg["remove_data_directory_on_diverged_timelines"], false);
    p.pre_promote = Str(pg["pre_promote"]);
    if (pg["callbacks"] && pg["callbacks"].IsMap()) {
      for (const auto& kv : pg["callbacks"]) p.callbacks[kv.first.Scalar()] = Str(kv.second);
    }
    // bin_dir
    if (pg["bin_dir"]) {
      p.bin_dir = Str(pg["bin_dir"]);
      if (opts.check_bin_dir) {
        if (!IsDirectory(p.bin_dir)) {
          errors->push_back("postgresql.bin_dir: '" + p.bin_dir + "' is not a directory");
        } else {
          std::vector<std::string> missing = MissingPrograms(p.bin_dir);
          if (!missing.empty()) {
            std::string m;
            for (const auto& s : missing) m += (m.empty() ? "" : ", ") + s;
            errors->push_back("postgresql.bin_dir: '" + p.bin_dir + "' has no PostgreSQL programs (missing " + m +
                              ")");
          }
        }
      }
    } else {
      p.bin_dir = FindBinDir(opts.env);
      if (p.bin_dir.empty() && opts.check_bin_dir) {
        errors->push_back("postgresql.bin_dir: not set, and no PostgreSQL binaries in PATH or /usr/lib/postgresql/*/bin");
      }
    }
  }

  // watchdog
  const auto& w = root["watchdog"];
  if (w && w.IsMap()) {
    c->watchdog.mode = Str(w["mode"], "automatic");
    if (c->watchdog.mode != "off" && c->watchdog.mode != "automatic" && c->watchdog.mode != "required") {
      errors->push_back("watchdog.mode: '" + c->watchdog.mode + "' must be off, automatic or required");
    }
    c->watchdog.device = Str(w["device"], "/dev/watchdog");
    c->watchdog.safety_margin = static_cast<int>(Int(w["safety_margin"], 5));
  }

  c->tags = ParseTags(root["tags"], warnings);
  if (!c->tags.replicatefrom.empty() && c->tags.replicatefrom == c->name) {
    errors->push_back("tags.replicatefrom: a member cannot replicate from itself");
  }
}

LoadResult Finish(YAML::Node root, const LoadOptions& opts) {
  LoadResult r;
  if (!root.IsMap()) {
    r.errors.push_back("configuration: the top level must be a mapping of keys");
    return r;
  }
  ApplyEnv(root, opts.env, &r.errors);
  Checker checker{&r.errors, &r.warnings, {}};
  if (root["postgresql"] && root["postgresql"]["create_replica_methods"] &&
      root["postgresql"]["create_replica_methods"].IsSequence()) {
    for (const auto& m : root["postgresql"]["create_replica_methods"]) {
      if (m.IsScalar() && m.Scalar() != "basebackup") checker.extra_known.insert("postgresql." + m.Scalar());
    }
  }
  checker.Check(root, RootSchema(), "");
  auto cfg = std::make_shared<Config>();
  Extract(root, opts, cfg.get(), &r.errors, &r.warnings);
  if (r.errors.empty()) r.config = std::move(cfg);
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------

DynamicConfig DynamicConfig::FromJson(const Json& j, const std::string& prefix, std::vector<std::string>* problems) {
  DynamicConfig d;
  if (!j.is_object()) {
    problems->push_back(prefix + ": must be a mapping");
    return d;
  }
  d.raw = j;
  auto p = [&](const std::string& k) { return prefix + "." + k; };
  auto get_int = [&](const char* key, long long* out) {
    if (!j.contains(key)) return false;
    const auto& v = j.at(key);
    if (v.is_number_integer()) {
      *out = v.get<long long>();
      return true;
    }
    if (v.is_string()) {
      long long x;
      if (ParseIntText(v.get<std::string>(), &x)) {
        *out = x;
        return true;
      }
    }
    problems->push_back(p(key) + ": must be an integer, got " + v.dump());
    return false;
  };
  auto get_bool = [&](const Json& obj, const char* key, bool* out, const std::string& path) {
    if (!obj.contains(key)) return;
    const auto& v = obj.at(key);
    if (v.is_boolean()) *out = v.get<bool>();
    else if (v.is_string() && ParseBoolText(v.get<std::string>(), out)) {
    } else if (v.is_null()) {
    } else problems->push_back(path + ": must be a boolean, got " + v.dump());
  };
  long long v;
  if (get_int("ttl", &v)) d.ttl = static_cast<int>(v);
  if (get_int("loop_wait", &v)) d.loop_wait = static_cast<int>(v);
  if (get_int("retry_timeout", &v)) d.retry_timeout = static_cast<int>(v);
  if (get_int("maximum_lag_on_failover", &v)) d.maximum_lag_on_failover = v;
  if (get_int("primary_start_timeout", &v) || get_int("master_start_timeout", &v)) {
    d.primary_start_timeout = static_cast<int>(v);
  }
  if (d.ttl < kMinTtl) problems->push_back(p("ttl") + ": " + std::to_string(d.ttl) + " is below the minimum of " +
                                           std::to_string(kMinTtl) + " seconds");
  if (d.loop_wait < kMinLoopWait) problems->push_back(p("loop_wait") + ": must be at least " +
                                                      std::to_string(kMinLoopWait) + " second");
  if (d.retry_timeout < kMinRetryTimeout) problems->push_back(p("retry_timeout") + ": must be at least " +
                                                              std::to_string(kMinRetryTimeout) + " second");
  if (d.loop_wait + 2 * d.retry_timeout > d.ttl) {
    problems->push_back(prefix + ": loop_wait (" + std::to_string(d.loop_wait) + ") + 2*retry_timeout (" +
                        std::to_string(d.retry_timeout) + ") must not exceed ttl (" + std::to_string(d.ttl) + ")");
  }
  if (d.maximum_lag_on_failover < 0) problems->push_back(p("maximum_lag_on_failover") + ": must not be negative");
  get_bool(j, "pause", &d.pause, p("pause"));
  get_bool(j, "failsafe_mode", &d.failsafe_mode, p("failsafe_mode"));
  if (j.contains("synchronous_mode") && j.at("synchronous_mode").is_string() &&
      j.at("synchronous_mode").get<std::string>() == "quorum") {
    d.synchronous_mode = true;
  } else {
    get_bool(j, "synchronous_mode", &d.synchronous_mode, p("synchronous_mode"));
  }
  get_bool(j, "synchronous_mode_strict", &d.synchronous_mode_strict, p("synchronous_mode_strict"));
  if (get_int("synchronous_node_count", &v)) {
    if (v < 1) problems->push_back(p("synchronous_node_count") + ": must be at least 1");
    else d.synchronous_node_count = static_cast<int>(v);
  }
  if (get_int("maximum_lag_on_syncnode", &v)) d.maximum_lag_on_syncnode = v;
  if (j.contains("postgresql")) {
    const auto& pg = j.at("postgresql");
    if (!pg.is_object()) {
      problems->push_back(p("postgresql") + ": must be a mapping");
    } else {
      get_bool(pg, "use_slots", &d.use_slots, p("postgresql.use_slots"));
      get_bool(pg, "use_pg_rewind", &d.use_pg_rewind, p("postgresql.use_pg_rewind"));
      if (pg.contains("parameters")) {
        if (!pg.at("parameters").is_object()) problems->push_back(p("postgresql.parameters") + ": must be a mapping");
        else d.parameters = pg.at("parameters");
      }
      if (pg.contains("pg_hba")) {
        if (!pg.at("pg_hba").is_array()) problems->push_back(p("postgresql.pg_hba") + ": must be a list of strings");
        else
          for (const auto& l : pg.at("pg_hba")) {
            if (l.is_string()) d.pg_hba.push_back(l.get<std::string>());
            else problems->push_back(p("postgresql.pg_hba") + ": entries must be strings");
          }
      }
    }
  }
  return d;
}

std::string Config::KeyPrefix() const {
  std::string joined = "/" + namespace_ + "/" + scope + "/";
  std::string out;
  for (char ch : joined) {
    if (ch == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(ch);
  }
  return out;
}

std::string Config::PgBin(const std::string& program) const { return postgresql.bin_dir + "/" + program; }

LoadResult LoadConfigText(const std::string& yaml_text, const LoadOptions& opts) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    LoadResult r;
    r.errors.push_back(std::string("configuration: not valid YAML: ") + e.what());
    return r;
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  return Finish(root, opts);
}

LoadResult LoadConfigFile(const std::string& path, const LoadOptions& opts) {
  if (opts.env.count("PATRONI_CONFIGURATION")) return LoadConfigText(opts.env.at("PATRONI_CONFIGURATION"), opts);
  std::vector<std::string> files;
  if (IsDirectory(path)) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yml" || ext == ".yaml")) files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      LoadResult r;
      r.errors.push_back(path + ": directory holds no *.yml or *.yaml file");
      return r;
    }
  } else {
    files.push_back(path);
  }
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& f : files) {
    auto text = ReadFile(f);
    if (!text.ok()) {
      LoadResult r;
      r.errors.push_back(text.status().message());
      return r;
    }
    try {
      YAML::Node n = YAML::Load(*text);
      if (!n.IsNull() && !n.IsMap()) {
        LoadResult r;
        r.errors.push_back(f + ": the top level must be a mapping of keys");
        return r;
      }
      Merge(root, n);
    } catch (const YAML::Exception& e) {
      LoadResult r;
      r.errors.push_back(f + ": not valid YAML: " + std::string(e.what()));
      return r;
    }
  }
  return Finish(root, opts);
}

std::string FindPostgresBinDir(const std::map<std::string, std::string>& env) { return FindBinDir(env); }

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

}  // namespace pgw
