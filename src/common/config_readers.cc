// Extraction into Config, driven by the key table (config_table.h): the readers of bound keys by type, the readers
// and checks of keys with rules of their own, and the walk over the rows.
#include <unistd.h>

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
#include "common/config_parameters.h"
#include "common/fs.h"
#include "common/shlex.h"

namespace pgw::config_internal {
namespace {

// The node at the first `count` parts of a path under `root` (undefined when a section on the way is missing).
// Returned by value: assigning one yaml-cpp node to another rewrites the node both handles share.
YAML::Node At(const YAML::Node& root, const std::vector<std::string>& parts, size_t count) {
  if (count == 0) return root;
  return Sub(At(root, parts, count - 1), parts[count - 1]);
}

}  // namespace

void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& /*x*/, std::string* v) { *v = Str(n, row.def); }

void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& /*x*/, bool* v) { *v = Bool(n, row.def == "true"); }

void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& /*x*/, int* v) {
  long long def = 0;
  ParseIntText(row.def, &def);
  *v = static_cast<int>(Int(n, def));
}

void ReadValue(const KeyRow& /*row*/, const YAML::Node& n, LoadContext& /*x*/, std::vector<std::string>* v) {
  v->clear();
  if (!n || !n.IsSequence()) return;
  for (const auto& e : n) v->push_back(Str(e));
}

void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, HostPort* v) {
  if (!n) return;
  auto hp = ParseHostPort(Str(n));
  if (!hp.ok()) {
    x.errors->push_back(row.path + ": " + hp.status().message());
  } else {
    *v = *hp;
  }
}

void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, LogLevel* v) {
  if (!n) return;
  if (!ParseLogLevel(Str(n), v)) {
    x.errors->push_back(row.path + ": '" + Str(n) + "' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL");
  }
}

// Patroni's split_host_port: restapi.listen ":port" binds every address (0.0.0.0, which IPv4 clients reach whatever
// the host's IPv6 settings); postgresql.listen without a port takes 5432. restapi.listen needs its port.
void ReadListen(const KeyRow& row, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  if (!n) return;
  bool rest = row.path == "restapi.listen";
  bool all = rest && !Str(n).empty() && Str(n).front() == ':';
  auto l = ParseListen(all ? "0.0.0.0" + Str(n) : Str(n), rest ? 0 : 5432);
  if (!l.ok() && all) {
    x.errors->push_back(row.path + ": '" + Str(n) + "' is not :port (a port in 1..65535)");
  } else if (!l.ok()) {
    x.errors->push_back(row.path + ": " + l.status().message());
  } else if (rest) {
    x.c->restapi.listen_host = l->first.front();
    x.c->restapi.listen_port = l->second;
  } else {
    x.c->postgresql.listen_hosts = l->first;
    x.c->postgresql.port = l->second;
  }
}

// etcd3's endpoints and credentials, as Patroni 3 takes them (dcs/etcd.py, get_etcd_client). The first of proxy,
// url, hosts and host that is set is used; the others are ignored, with a warning.
//   proxy, url  one endpoint, [scheme://][user[:password]@]host[:port][/path]: the scheme is the protocol (over
//               etcd3.protocol), the port 2379 when absent, user and password the credentials (etcd3.username and
//               password are then ignored, as Patroni ignores them; a user without a password means none);
//   hosts       a list, or host[:port] entries separated by commas; an entry without a port takes etcd3.port,
//               else 2379;
//   host        host[:port]; etcd3.port, when set, replaces the port.
void ReadEtcdEndpoints(const KeyRow& /*row*/, const YAML::Node& e, const YAML::Node& root, LoadContext& x) {
  bool other_dcs = false;
  for (const auto& d : kOtherDcs) other_dcs = other_dcs || root[d];
  if (!e) {
    if (!other_dcs && !x.client) x.errors->push_back("etcd3: required section is missing (where is etcd?)");
    return;
  }
  if (!e.IsMap()) return;
  auto& cfg = x.c->etcd3;
  if (e["protocol"]) cfg.protocol = Str(e["protocol"]);
  if (e["username"]) cfg.username = Str(e["username"]);
  if (e["password"]) cfg.password = Str(e["password"]);
  long long port_value = 2379;
  if (e["port"] && (!ParseIntText(Str(e["port"]), &port_value) || port_value < 1 || port_value > 65535)) {
    x.errors->push_back("etcd3.port: '" + Str(e["port"]) + "' is not a port (1..65535)");
    return;
  }
  const char* used = nullptr;
  for (const char* k : {"proxy", "url", "hosts", "host"}) {
    if (!e[k]) continue;
    if (used == nullptr) {
      used = k;
    } else {
      x.warnings->push_back(std::string("etcd3.") + k + ": ignored, etcd3." + used +
                            " is used (as Patroni, the first of proxy, url, hosts and host that is set)");
    }
  }
  if (used == nullptr) {
    x.errors->push_back("etcd3: one of host, hosts, url or proxy is required");
    return;
  }
  std::string what = std::string("etcd3.") + used;
  std::vector<std::string> items;
  if (std::string(used) == "proxy" || std::string(used) == "url") {
    std::string u = Str(e[used]);
    auto sep = u.find("://");
    if (sep != std::string::npos) {
      std::string scheme = Lower(u.substr(0, sep));
      if (e["protocol"] && Str(e["protocol"]) != scheme) {
        x.warnings->push_back("etcd3.protocol: ignored, " + what + " gives the protocol (" + scheme + ")");
      }
      cfg.protocol = scheme;
      u = u.substr(sep + 3);
    }
    u = u.substr(0, u.find_first_of("/?#"));
    auto at = u.rfind('@');
    if (e["username"] || e["password"]) {
      x.warnings->push_back("etcd3.username, etcd3.password: ignored with " + what +
                            ", as in Patroni (credentials go in the URL: http://user:password@host:port)");
    }
    cfg.username.clear();
    cfg.password.clear();
    if (at != std::string::npos) {
      std::string userinfo = u.substr(0, at);
      u = u.substr(at + 1);
      auto colon = userinfo.find(':');
      if (colon == std::string::npos) {
        x.warnings->push_back(what + ": a user without a password authenticates nobody (Patroni's rule), ignored");
      } else {
        cfg.username = userinfo.substr(0, colon);
        cfg.password = userinfo.substr(colon + 1);
      }
    }
    items.push_back(u);
  } else if (std::string(used) == "hosts") {
    if (e["hosts"].IsSequence()) {
      for (const auto& h : e["hosts"]) items.push_back(Str(h));
    } else if (e["hosts"].IsScalar()) {
      items.push_back(e["hosts"].Scalar());  // comma-separated: ParseHostPortList splits it
    }
  } else {
    items.push_back(Str(e["host"]));
  }
  // hosts entries without a port take etcd3.port; a url's or host's take 2379 (host's is replaced below).
  auto hps = ParseHostPortList(items, std::string(used) == "hosts" ? static_cast<int>(port_value) : 2379);
  if (hps.ok() && std::string(used) == "host" && e["port"]) {
    for (auto& hp : *hps) hp.port = static_cast<int>(port_value);
  }
  if (!hps.ok()) {
    x.errors->push_back(what + ": " + hps.status().message());
  } else {
    cfg.hosts = *hps;
  }
}

// post_bootstrap, or post_init when post_bootstrap is not set (Patroni runs one of them).
void ReadPostBootstrap(const KeyRow& row, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  std::string line = n && n.IsScalar() ? Str(n) : "";
  if (line.empty() || !x.c->bootstrap.post_bootstrap.empty()) return;
  auto argv = SplitCommandLine(line);
  if (!argv.ok()) {
    x.errors->push_back(row.path + ": " + argv.status().message());
  } else {
    x.c->bootstrap.post_bootstrap = *argv;
  }
}

void ReadDataDir(const KeyRow& /*row*/, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  auto& p = x.c->postgresql;
  p.data_dir = Str(n);
  if (n && p.data_dir.empty()) x.errors->push_back("postgresql.data_dir: must not be empty");
  if (!p.data_dir.empty() && p.data_dir[0] != '/') {
    p.data_dir = std::filesystem::absolute(p.data_dir).lexically_normal().string();
  }
}

// bin_dir: configured (checked to hold PostgreSQL's programs), else found in PATH or /usr/lib/postgresql.
void ReadBinDir(const KeyRow& /*row*/, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  auto& p = x.c->postgresql;
  if (!n) {
    p.bin_dir = FindBinDir(x.opts.env);
    if (p.bin_dir.empty() && x.opts.check_bin_dir) {
      x.errors->push_back(
          "postgresql.bin_dir: not set, and no PostgreSQL binaries in PATH or /usr/lib/postgresql/*/bin");
    }
    return;
  }
  p.bin_dir = Str(n);
  if (!x.opts.check_bin_dir) return;
  if (!IsDirectory(p.bin_dir)) {
    x.errors->push_back("postgresql.bin_dir: '" + p.bin_dir + "' is not a directory");
    return;
  }
  std::vector<std::string> missing = MissingPrograms(p.bin_dir);
  if (missing.empty()) return;
  std::string m;
  for (const auto& s : missing) m += (m.empty() ? "" : ", ") + s;
  x.errors->push_back("postgresql.bin_dir: '" + p.bin_dir + "' has no PostgreSQL programs (missing " + m + ")");
}

void ReadPgpass(const KeyRow& /*row*/, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  std::string home = x.opts.env.count("HOME") ? x.opts.env.at("HOME") : "/";
  x.c->postgresql.pgpass = Str(n, home + "/pgpass");
}

void ReadUser(const KeyRow& row, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  auto& p = x.c->postgresql;
  std::string who = row.path.substr(row.path.rfind('.') + 1);
  if (who == "superuser") {
    p.superuser = ParseUser(n);
  } else if (who == "replication") {
    p.replication = ParseUser(n);
  } else {
    p.rewind = ParseUser(n);
    p.has_rewind_user = n && !p.rewind.username.empty();
  }
}

void ReadParameters(const KeyRow& /*row*/, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  if (!n || !n.IsMap()) return;
  Json& params = x.c->postgresql.parameters;
  params = YamlToJson(n);
  // As in Patroni, listen_addresses and port are taken (a warning says so), and postgresql.listen's win: they go.
  for (auto& w : OverriddenParameterWarnings(params, "postgresql.parameters")) x.warnings->push_back(std::move(w));
  std::vector<std::string> keys;
  for (const auto& [k, v] : params.items()) keys.push_back(k);
  for (const auto& k : keys) {
    std::string l = Lower(k);
    if (l == "listen_addresses" || l == "port") params.erase(k);
    // Patroni passes these on, and a data_directory in postgresql.conf would move PostgreSQL's data directory
    // away from data_dir (config_file is refused by PostgreSQL in a file). hba_file and ident_file are honoured
    // (pg/conf.h HbaFile).
    if ((l == "data_directory" || l == "config_file") && !params.at(k).is_null()) {
      x.errors->push_back("postgresql.parameters." + k + ": set by pgwarden (use postgresql.data_dir instead)");
    }
  }
}

void ReadRecoveryConf(const KeyRow& /*row*/, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  if (!n || !n.IsMap()) return;  // the schema check refused anything but a mapping
  Json& rc = x.c->postgresql.recovery_conf;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) continue;  // refused by the schema check
    const std::string name = kv.first.Scalar(), path = "postgresql.recovery_conf." + name;
    if (!kv.second.IsScalar() && !kv.second.IsNull()) {
      x.errors->push_back(path + ": must be a string, a number or a boolean");
      continue;
    }
    rc[name] = kv.second.IsNull() ? Json(nullptr) : YamlToJson(kv.second);
    // The decision core reads the delay as a duration (ha/standby.h): a value it cannot read would be dropped.
    if (Lower(name) == "recovery_min_apply_delay" && !rc[name].is_null() && !PgDurationMs(rc[name])) {
      x.errors->push_back(path + ": must be a time in milliseconds or with a unit (ms, s, min, h, d), e.g. 5min");
    }
  }
}

void ReadCallbacks(const KeyRow& /*row*/, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  if (!n || !n.IsMap()) return;
  for (const auto& kv : n) x.c->postgresql.callbacks[kv.first.Scalar()] = Str(kv.second);
}

void CheckNames(LoadContext& x) {
  const Config& c = *x.c;
  if (x.root["name"] && c.name.empty()) x.errors->push_back("name: must not be empty");
  if (x.root["scope"] && c.scope.empty()) x.errors->push_back("scope: must not be empty");
  if (c.scope.find('/') != std::string::npos) x.errors->push_back("scope: must not contain '/'");
  if (c.name.find('/') != std::string::npos) x.errors->push_back("name: must not contain '/'");
}

// The server's files and its client verification concern the agent only (a client may run elsewhere).
void CheckRestapi(LoadContext& x) {
  const auto& r = x.c->restapi;
  if (x.client) return;
  for (const std::string* f : {&r.certfile, &r.keyfile, &r.cafile}) {
    if (!f->empty() && access(f->c_str(), R_OK) != 0) {
      const char* k = f == &r.certfile ? "certfile" : f == &r.keyfile ? "keyfile" : "cafile";
      x.errors->push_back(std::string("restapi.") + k + ": cannot read '" + *f + "'");
    }
  }
  if (!r.keyfile.empty() && r.certfile.empty()) x.errors->push_back("restapi.keyfile: given without restapi.certfile");
  const bool known_mode = r.verify_client == "none" || r.verify_client == "optional" || r.verify_client == "required";
  if (!known_mode) {
    x.errors->push_back("restapi.verify_client: '" + r.verify_client + "' must be none, optional or required");
  } else if (r.verify_client != "none" && (r.cafile.empty() || r.certfile.empty())) {
    x.errors->push_back("restapi.verify_client: needs restapi.certfile and restapi.cafile");
  }
}

void CheckEtcd(LoadContext& x) {
  const auto& e = x.c->etcd3;
  if (e.protocol != "http" && e.protocol != "https") {
    x.errors->push_back("etcd3.protocol: '" + e.protocol + "' must be http or https");
  }
  if (!e.username.empty() && e.password.empty()) {
    x.errors->push_back("etcd3.password: required when etcd3.username is set");
  }
}

// bootstrap.dcs parsed as the dynamic configuration it seeds (also when absent: its defaults).
void CheckBootstrapDcs(LoadContext& x) {
  x.c->bootstrap.dynamic = DynamicConfig::FromJson(x.c->bootstrap.dcs, "bootstrap.dcs", x.errors, x.warnings);
  for (auto& w : OverriddenParameterWarnings(x.c->bootstrap.dynamic.parameters, "bootstrap.dcs.postgresql.parameters"))
    x.warnings->push_back(std::move(w));
}

void CheckPostgresql(LoadContext& x) {
  if (x.c->postgresql.pg_ctl_timeout <= 0) {
    x.errors->push_back("postgresql.pg_ctl_timeout: must be a positive number of seconds");
  }
}

// Patroni's parse_mode (watchdog/base.py) spellings, any case: auto, require, disable(d), and YAML false (PyYAML
// reads false, no and off so). Any other word is refused (Patroni would run without a watchdog).
void CheckWatchdog(LoadContext& x) {
  std::string& m = x.c->watchdog.mode;
  std::string l = Lower(m);
  if (l == "auto" || l == "automatic") {
    m = "automatic";
  } else if (l == "require" || l == "required") {
    m = "required";
  } else if (l == "off" || l == "disable" || l == "disabled" || l == "false" || l == "no") {
    m = "off";
  } else {
    x.errors->push_back("watchdog.mode: '" + m + "' must be off, automatic or required");
  }
}

void CheckTags(LoadContext& x) {
  if (!x.c->tags.replicatefrom.empty() && x.c->tags.replicatefrom == x.c->name) {
    x.errors->push_back("tags.replicatefrom: a member cannot replicate from itself");
  }
}

void Extract(const YAML::Node& root, const LoadOptions& opts, Config* c, std::vector<std::string>* errors,
             std::vector<std::string>* warnings) {
  LoadContext x{root, opts, opts.reader == LoadOptions::Reader::kClient, c, errors, warnings};
  for (const auto& row : KeyTable()) {
    if (!row.extract) continue;
    std::vector<std::string> parts = SplitPath(row.path);
    const YAML::Node parent = At(root, parts, parts.size() - 1);
    if (!parent || !parent.IsMap()) continue;  // a missing section leaves Config's defaults
    row.extract(row, Sub(parent, parts.back()), parent, x);
  }
  for (const auto& row : KeyTable()) {
    if (row.check) row.check(x);
  }
}

}  // namespace pgw::config_internal
