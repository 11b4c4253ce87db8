// Extraction into Config, driven by the key table (config_table.h): the readers of bound keys by type, the readers
// and checks of keys with rules of their own, and the walk over the rows.
#include <unistd.h>

#include <filesystem>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
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

void ReadListen(const KeyRow& row, const YAML::Node& n, const YAML::Node& /*parent*/, LoadContext& x) {
  if (!n) return;
  auto l = ParseListen(Str(n));
  if (!l.ok()) {
    x.errors->push_back(row.path + ": " + l.status().message());
  } else if (row.path == "restapi.listen") {
    x.c->restapi.listen_host = l->first.front();
    x.c->restapi.listen_port = l->second;
  } else {
    x.c->postgresql.listen_hosts = l->first;
    x.c->postgresql.port = l->second;
  }
}

// etcd3: the endpoints from host, hosts, url and proxy together (url and proxy also give the protocol).
void ReadEtcdEndpoints(const KeyRow& /*row*/, const YAML::Node& e, const YAML::Node& root, LoadContext& x) {
  bool other_dcs = false;
  for (const auto& d : kOtherDcs) other_dcs = other_dcs || root[d];
  if (!e) {
    if (!other_dcs && !x.client) x.errors->push_back("etcd3: required section is missing (where is etcd?)");
    return;
  }
  if (!e.IsMap()) return;
  std::vector<std::string> items;
  int sources = 0;
  if (e["host"]) {
    items.push_back(Str(e["host"]));
    ++sources;
  }
  if (e["hosts"]) {
    ++sources;
    if (e["hosts"].IsScalar()) {
      items.push_back(e["hosts"].Scalar());
    } else if (e["hosts"].IsSequence()) {
      for (const auto& h : e["hosts"]) items.push_back(Str(h));
    }
  }
  for (const char* k : {"url", "proxy"}) {
    if (!e[k]) continue;
    ++sources;
    std::string u = Str(e[k]);
    auto scheme = u.find("://");
    if (scheme != std::string::npos) {
      x.c->etcd3.protocol = u.substr(0, scheme);
      u = u.substr(scheme + 3);
    }
    auto slash = u.find('/');
    if (slash != std::string::npos) u = u.substr(0, slash);
    items.push_back(u);
  }
  if (sources == 0) {
    x.errors->push_back("etcd3: one of host, hosts, url or proxy is required");
  } else {
    auto hps = ParseHostPortList(items);
    if (!hps.ok()) {
      x.errors->push_back("etcd3.hosts: " + hps.status().message());
    } else {
      x.c->etcd3.hosts = *hps;
    }
  }
  if (e["protocol"]) x.c->etcd3.protocol = Str(e["protocol"]);
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
  x.c->postgresql.parameters = YamlToJson(n);
  for (const char* k : {"listen_addresses", "port", "hba_file", "data_directory", "config_file"}) {
    if (x.c->postgresql.parameters.contains(k)) {
      x.errors->push_back(std::string("postgresql.parameters.") + k +
                          ": set by pgwarden (use postgresql.listen / data_dir instead)");
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
}

void CheckPostgresql(LoadContext& x) {
  if (x.c->postgresql.pg_ctl_timeout <= 0) {
    x.errors->push_back("postgresql.pg_ctl_timeout: must be a positive number of seconds");
  }
}

void CheckWatchdog(LoadContext& x) {
  const std::string& m = x.c->watchdog.mode;
  if (m != "off" && m != "automatic" && m != "required") {
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
