#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
#include "common/fs.h"
#include "common/shlex.h"

namespace pgw::config_internal {
namespace {

bool IsExecutable(const std::string& p) { return access(p.c_str(), X_OK) == 0 && !IsDirectory(p); }

const std::vector<std::string> kRequiredPrograms = {"pg_ctl",        "initdb",   "pg_controldata",
                                                    "pg_basebackup", "postgres", "pg_isready"};

std::vector<std::string> MissingPrograms(const std::string& dir) {
  std::vector<std::string> missing;
  for (const auto& prog : kRequiredPrograms) {
    if (!IsExecutable(dir + "/" + prog)) missing.push_back(prog);
  }
  return missing;
}

// PATH first, then Debian's /usr/lib/postgresql/<newest>/bin.

PgUser ParseUser(const YAML::Node& n) {
  PgUser u;
  if (!n || !n.IsMap()) return u;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    if (k == "username")
      u.username = Str(kv.second);
    else if (k == "password")
      u.password = Str(kv.second);
    else
      u.options[k] = Str(kv.second);
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
        std::string o = opts[i].IsScalar() ? opts[i].Scalar() : "";
        std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return std::toupper(c); });
        if (!IsRoleOption(o)) {
          errors->push_back(p + ".options[" + std::to_string(i) + "]: '" +
                            (opts[i].IsScalar() ? opts[i].Scalar() : "") +
                            "' is not a role option (SUPERUSER, CREATEDB, CREATEROLE, INHERIT, LOGIN, REPLICATION, "
                            "BYPASSRLS, their NO forms, CONNECTION LIMIT n, VALID UNTIL 'timestamp')");
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

}  // namespace

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

void Extract(const YAML::Node& root, const LoadOptions& opts, Config* c, std::vector<std::string>* errors,
             std::vector<std::string>* warnings) {
  c->name = Str(root["name"]);
  c->scope = Str(root["scope"]);
  if (root["name"] && c->name.empty()) errors->push_back("name: must not be empty");
  if (root["scope"] && c->scope.empty()) errors->push_back("scope: must not be empty");
  if (c->scope.find('/') != std::string::npos) errors->push_back("scope: must not contain '/'");
  if (c->name.find('/') != std::string::npos) errors->push_back("name: must not contain '/'");
  c->namespace_ = Str(root["namespace"], "/service");
  const bool client = opts.reader == LoadOptions::Reader::kClient;
  const auto& ctl = root["ctl"];
  c->ctl.cacert = Str(Sub(ctl, "cacert"));
  c->ctl.certfile = Str(Sub(ctl, "certfile"));
  c->ctl.keyfile = Str(Sub(ctl, "keyfile"));

  // log
  const auto& log = root["log"];
  if (Sub(log, "level")) {
    if (!ParseLogLevel(Str(Sub(log, "level")), &c->log.level)) {
      errors->push_back("log.level: '" + Str(Sub(log, "level")) +
                        "' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL");
    }
  }
  c->log.dir = Str(Sub(log, "dir"));

  // restapi
  const auto& ra = root["restapi"];
  if (ra && ra.IsMap()) {
    if (ra["listen"]) {
      auto l = ParseListen(Str(ra["listen"]));
      if (!l.ok())
        errors->push_back("restapi.listen: " + l.status().message());
      else {
        c->restapi.listen_host = l->first.front();
        c->restapi.listen_port = l->second;
      }
    }
    if (ra["connect_address"]) {
      auto hp = ParseHostPort(Str(ra["connect_address"]));
      if (!hp.ok())
        errors->push_back("restapi.connect_address: " + hp.status().message());
      else
        c->restapi.connect_address = *hp;
    }
    if (ra["authentication"]) {
      c->restapi.username = Str(Sub(Sub(ra, "authentication"), "username"));
      c->restapi.password = Str(Sub(Sub(ra, "authentication"), "password"));
    }
    auto& r = c->restapi;
    r.certfile = Str(ra["certfile"]);
    r.keyfile = Str(ra["keyfile"]);
    r.cafile = Str(ra["cafile"]);
    r.verify_client = Str(ra["verify_client"], "none");
    // The server's files and its client verification concern the agent only (a client may run elsewhere).
    for (const char* k : {"certfile", "keyfile", "cafile"}) {
      std::string v = Str(ra[k]);
      if (!client && !v.empty() && access(v.c_str(), R_OK) != 0) {
        errors->push_back(std::string("restapi.") + k + ": cannot read '" + v + "'");
      }
    }
    if (!client && !r.keyfile.empty() && r.certfile.empty()) {
      errors->push_back("restapi.keyfile: given without restapi.certfile");
    }
    const bool known_mode = r.verify_client == "none" || r.verify_client == "optional" || r.verify_client == "required";
    if (!client && !known_mode) {
      errors->push_back("restapi.verify_client: '" + r.verify_client + "' must be none, optional or required");
    } else if (!client && r.verify_client != "none" && (r.cafile.empty() || r.certfile.empty())) {
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
    if (!other_dcs && !client) errors->push_back("etcd3: required section is missing (where is etcd?)");
  } else if (e.IsMap()) {
    std::vector<std::string> items;
    int sources = 0;
    if (e["host"]) {
      items.push_back(Str(e["host"]));
      ++sources;
    }
    if (e["hosts"]) {
      ++sources;
      if (e["hosts"].IsScalar())
        items.push_back(e["hosts"].Scalar());
      else if (e["hosts"].IsSequence())
        for (const auto& h : e["hosts"]) items.push_back(Str(h));
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
      if (!hps.ok())
        errors->push_back("etcd3.hosts: " + hps.status().message());
      else
        c->etcd3.hosts = *hps;
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
      if (!b["dcs"].IsMap())
        errors->push_back("bootstrap.dcs: must be a mapping");
      else
        c->bootstrap.dcs = YamlToJson(b["dcs"]);
    }
    ParseBootstrapMethod(b, c, errors, warnings);
    c->bootstrap.initdb_args = ParseInitdb(b["initdb"], errors);
    // Patroni runs post_bootstrap, or post_init when post_bootstrap is not set.
    for (const char* key : {"post_bootstrap", "post_init"}) {
      std::string line = b[key] && b[key].IsScalar() ? Str(b[key]) : "";
      if (line.empty() || !c->bootstrap.post_bootstrap.empty()) continue;
      auto argv = SplitCommandLine(line);
      if (!argv.ok())
        errors->push_back(std::string("bootstrap.") + key + ": " + argv.status().message());
      else
        c->bootstrap.post_bootstrap = *argv;
    }
    c->bootstrap.users = ParseBootstrapUsers(b["users"], errors, warnings);
    if (b["pg_hba"] && b["pg_hba"].IsSequence()) {
      for (const auto& l : b["pg_hba"]) c->bootstrap.pg_hba.push_back(Str(l));
    }
  }
  c->bootstrap.dynamic = DynamicConfig::FromJson(c->bootstrap.dcs, "bootstrap.dcs", errors, warnings);

  // postgresql
  const auto& pg = root["postgresql"];
  if (pg && pg.IsMap()) {
    auto& p = c->postgresql;
    if (pg["listen"]) {
      auto l = ParseListen(Str(pg["listen"]));
      if (!l.ok())
        errors->push_back("postgresql.listen: " + l.status().message());
      else {
        p.listen_hosts = l->first;
        p.port = l->second;
      }
    }
    if (pg["connect_address"]) {
      auto hp = ParseHostPort(Str(pg["connect_address"]));
      if (!hp.ok())
        errors->push_back("postgresql.connect_address: " + hp.status().message());
      else
        p.connect_address = *hp;
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
    ParseReplicaMethods(pg, c, errors);
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
            errors->push_back("postgresql.bin_dir: '" + p.bin_dir + "' has no PostgreSQL programs (missing " + m + ")");
          }
        }
      }
    } else {
      p.bin_dir = FindBinDir(opts.env);
      if (p.bin_dir.empty() && opts.check_bin_dir) {
        errors->push_back(
            "postgresql.bin_dir: not set, and no PostgreSQL binaries in PATH or /usr/lib/postgresql/*/bin");
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

}  // namespace pgw::config_internal
