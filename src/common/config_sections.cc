// The parsers of the sections with a shape of their own (users, initdb, basebackup, tags), and where PostgreSQL's
// programs are. The key table (config_table.cc) calls them through the readers of config_readers.cc.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
#include "common/fs.h"

namespace pgw::config_internal {
namespace {

bool IsExecutable(const std::string& p) { return access(p.c_str(), X_OK) == 0 && !IsDirectory(p); }

const std::vector<std::string> kRequiredPrograms = {"pg_ctl",        "initdb",   "pg_controldata",
                                                    "pg_basebackup", "postgres", "pg_isready"};

}  // namespace

std::vector<std::string> MissingPrograms(const std::string& dir) {
  std::vector<std::string> missing;
  for (const auto& prog : kRequiredPrograms) {
    if (!IsExecutable(dir + "/" + prog)) missing.push_back(prog);
  }
  return missing;
}

PgUser ParseUser(const YAML::Node& n) {
  // Patroni's _AUTH_ALLOWED_PARAMETERS (config.py): only these reach libpq. Another key (`database`, say) is
  // warned about as unknown by the schema check, and must then really be ignored: in a conninfo libpq refuses
  // the whole string ("invalid connection option").
  static const std::set<std::string> kLibpqOptions = {"sslmode",     "sslkey",         "sslpassword", "sslcert",
                                                      "sslrootcert", "sslcrl",         "sslcrldir",   "sslnegotiation",
                                                      "gssencmode",  "channel_binding"};
  PgUser u;
  if (!n || !n.IsMap()) return u;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    if (k == "username") {
      u.username = Str(kv.second);
    } else if (k == "password") {
      u.password = Str(kv.second);
    } else if (kLibpqOptions.count(k)) {
      u.options[k] = Str(kv.second);
    }
  }
  return u;
}

// bootstrap.initdb: ["data-checksums", {encoding: UTF8}] -> --data-checksums --encoding=UTF8
std::vector<std::string> ParseInitdb(const YAML::Node& n, std::vector<std::string>* errors) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;  // "initdb:" with every option commented out: none, as in Patroni
  if (!n.IsSequence()) {
    errors->push_back("bootstrap.initdb: must be a list of options (strings or one-key mappings)");
    return out;
  }
  static const std::set<std::string> kForbidden = {"pgdata", "D", "username", "U", "pwfile"};
  // auth, auth-host and auth-local pass through to initdb as in Patroni.
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

namespace {

// Whether `opt` (upper case) is a CREATE ROLE option Patroni's users section could have meant: a keyword
// (CREATEDB, NOLOGIN...), CONNECTION LIMIT <n>, or VALID UNTIL '<timestamp>'. Patroni pastes options into the SQL
// unchecked; pgwarden refuses anything else when loading, instead of failing the bootstrap.
bool IsRoleOption(const std::string& opt) {
  static const std::set<std::string> kWords = {"SUPERUSER", "CREATEDB",    "CREATEROLE", "INHERIT",
                                               "LOGIN",     "REPLICATION", "BYPASSRLS"};
  if (kWords.count(opt) || (opt.rfind("NO", 0) == 0 && kWords.count(opt.substr(2)))) return true;
  const std::string limit = "CONNECTION LIMIT ", until = "VALID UNTIL '";
  if (opt.rfind(limit, 0) == 0) {
    long long n;
    return ParseIntText(opt.substr(limit.size()), &n) && n >= -1;
  }
  if (opt.rfind(until, 0) == 0 && opt.size() > until.size() + 1 && opt.back() == '\'') {
    return opt.substr(until.size(), opt.size() - until.size() - 1).find_first_of("'\\") == std::string::npos;
  }
  return false;
}

}  // namespace

std::string RoleOptionProblem(const YAML::Node& n, std::string* upper) {
  std::string o = n.IsScalar() ? n.Scalar() : "";
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return std::toupper(c); });
  if (IsRoleOption(o)) {
    *upper = o;
    return "";
  }
  return "'" + (n.IsScalar() ? n.Scalar() : std::string()) +
         "' is not a role option (SUPERUSER, CREATEDB, CREATEROLE, INHERIT, LOGIN, REPLICATION, BYPASSRLS, their NO "
         "forms, CONNECTION LIMIT n, VALID UNTIL 'timestamp')";
}

// bootstrap.users: {name: {password: ..., options: [createdb, ...]}}
std::vector<Config::Bootstrap::User> ParseBootstrapUsers(const YAML::Node& n, std::vector<std::string>* errors,
                                                         std::vector<std::string>* warnings) {
  std::vector<Config::Bootstrap::User> out;
  if (!n || n.IsNull()) return out;
  if (!n.IsMap()) {
    errors->push_back("bootstrap.users: must be a mapping of role names to {password, options}");
    return out;
  }
  warnings->push_back(
      "bootstrap.users: deprecated (Patroni 4 removed it); pgwarden still creates these roles after "
      "bootstrap, as Patroni 3 does: better create them in the post_bootstrap script");
  for (const auto& kv : n) {
    Config::Bootstrap::User u;
    u.name = Str(kv.first);
    std::string p = "bootstrap.users." + u.name;
    const YAML::Node& v = kv.second;
    if (!v.IsNull() && !v.IsMap()) {
      errors->push_back(p + ": must be a mapping with password and options");
      continue;
    }
    for (const auto& f : v) {
      std::string k = Str(f.first);
      if (k != "password" && k != "options") warnings->push_back(p + "." + k + ": unknown key, ignored");
    }
    const YAML::Node& pw = Sub(v, "password");
    if (pw && !pw.IsNull() && !pw.IsScalar()) errors->push_back(p + ".password: must be a string");
    u.password = pw && pw.IsScalar() ? Str(pw) : "";
    const YAML::Node& opts = Sub(v, "options");
    if (opts && !opts.IsNull() && !opts.IsSequence()) {
      errors->push_back(p + ".options: must be a list of role options (createdb, createrole, ...)");
    } else if (opts) {
      for (size_t i = 0; i < opts.size(); ++i) {
        std::string o;
        if (std::string why = RoleOptionProblem(opts[i], &o); !why.empty()) {
          errors->push_back(p + ".options[" + std::to_string(i) + "]: " + why);
          continue;
        }
        u.options.push_back(o);
      }
    }
    out.push_back(u);
  }
  return out;
}

// postgresql.basebackup: {max-rate: 100M} or [verbose, {max-rate: 100M}]
std::vector<std::string> ParseBasebackup(const YAML::Node& n, std::vector<std::string>* errors) {
  std::vector<std::string> out;
  if (!n) return out;
  static const std::set<std::string> kForbidden = {
      "pgdata", "format", "wal-method", "gzip", "compress", "dbname", "host", "port", "username", "password",
      "D",      "F",      "X",          "d",    "h",        "p",      "U",    "W",    "z",        "Z"};
  auto add = [&](const std::string& path, const std::string& k, const YAML::Node* v) {
    if (kForbidden.count(k)) {
      errors->push_back(path + ": option '" + k + "' is set by pgwarden and cannot be given here");
      return;
    }
    if (v == nullptr)
      out.push_back("--" + k);
    else if (v->IsScalar())
      out.push_back("--" + k + "=" + v->Scalar());
    else
      errors->push_back(path + "." + k + ": must be a string");
  };
  if (n.IsMap()) {
    for (const auto& kv : n) add("postgresql.basebackup", kv.first.Scalar(), &kv.second);
  } else if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      std::string p = "postgresql.basebackup[" + std::to_string(i) + "]";
      if (n[i].IsScalar())
        add(p, n[i].Scalar(), nullptr);
      else if (n[i].IsMap() && n[i].size() == 1)
        add(p, n[i].begin()->first.Scalar(), &n[i].begin()->second);
      else
        errors->push_back(p + ": must be a string or a one-key mapping");
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
  std::sort(versions.begin(), versions.end(),
            [](const std::string& a, const std::string& b) { return std::atoi(a.c_str()) > std::atoi(b.c_str()); });
  for (const auto& v : versions) {
    std::string dir = "/usr/lib/postgresql/" + v + "/bin";
    if (MissingPrograms(dir).empty()) return dir;
  }
  return "";
}

}  // namespace pgw::config_internal
