#include "ctl/ctl.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/base64.h"
#include "common/config.h"
#include "common/fs.h"
#include "common/hostport.h"
#include "common/process.h"
#include "dcs/etcd_client.h"
#include "dcs/http.h"
#include "ha/decide.h"

namespace pgw::ctl {

namespace {

bool TrueField(const Json& j, const std::string& k) {
  if (!j.is_object()) return false;
  auto it = j.find(k);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string HostOf(const Member& m) {
  if (!m.conn) return "";
  return m.conn->port == 5432 ? m.conn->host : m.conn->host + ":" + std::to_string(m.conn->port);
}

std::string RoleLabel(const ClusterView& c, const std::string& name) {
  if (c.leader && c.leader->name == name) return ha::IsStandbyCluster(c) ? "Standby Leader" : "Leader";
  // `sync_standby` is a comma-separated list with synchronous_node_count >= 2: decoded where the agent decodes it.
  auto standbys = ha::SyncStandbys(c, ha::SyncLeader(c));
  if (std::find(standbys.begin(), standbys.end(), name) != standbys.end()) return "Sync Standby";
  return "Replica";
}

// loop_wait from the dynamic configuration (10, Patroni's default, when absent or not a number).
int LoopWait(const ClusterView& c) {
  if (!c.config || !c.config->is_object()) return 10;
  auto it = c.config->find("loop_wait");
  return it != c.config->end() && it->is_number() ? static_cast<int>(it->get<double>()) : 10;
}

std::string LagMb(const ClusterView& c, const Member& m) {
  if (c.leader && c.leader->name == m.name) return "";
  if (!c.last_lsn || !m.xlog_location) return "unknown";
  double mb = static_cast<double>(std::max<int64_t>(0, *c.last_lsn - *m.xlog_location)) / 1024 / 1024;
  return std::to_string(static_cast<long long>(std::llround(mb)));
}

YAML::Node JsonToYaml(const Json& j) {
  YAML::Node n;
  if (j.is_object()) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    for (const auto& k : keys) n[k] = JsonToYaml(j.at(k));
  } else if (j.is_array()) {
    for (const auto& v : j) n.push_back(JsonToYaml(v));
  } else if (j.is_string()) {
    n = j.get<std::string>();
  } else if (j.is_boolean()) {
    n = j.get<bool>();
  } else if (j.is_number_integer()) {
    n = j.get<long long>();
  } else if (j.is_number()) {
    n = j.get<double>();
  }
  return n;
}

Json YamlScalarToJson(const std::string& v) {
  if (v == "null" || v == "~" || v.empty()) return nullptr;
  if (v == "true" || v == "True" || v == "on") return true;
  if (v == "false" || v == "False" || v == "off") return false;
  char* end = nullptr;
  long long i = std::strtoll(v.c_str(), &end, 10);
  if (*end == 0) return i;
  double d = std::strtod(v.c_str(), &end);
  if (*end == 0) return d;
  if (v.size() >= 2 && ((v.front() == '\'' && v.back() == '\'') || (v.front() == '"' && v.back() == '"'))) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

// ---- the command line ----

struct Options {
  std::string config_file;
  std::string dcs_url;
  std::string format = "pretty";
  bool force = false;
  bool wait = false;
  bool pending = false;
  std::string leader, candidate, scheduled, role, member;
  std::vector<std::string> sets, pgs;
  std::vector<std::string> positional;
};

struct Target {
  std::string scope, namespace_ = "/service";
  std::vector<HostPort> etcd;
  std::string protocol = "http";
  std::string username, password;      // etcd
  std::string api_user, api_password;  // restapi.authentication
  std::string cacert, cert, key;       // for https api_urls: ctl.cacert/certfile/keyfile, else restapi.cafile
};

// Reading patroni.yml for pgwardenctl. Every lookup checks the node's kind first: yaml-cpp throws on a subscript of
// a scalar and on converting a mapping to a string, and a file of the wrong shape must be an error naming the key.
// A key set to null counts as absent.
Status YamlString(const YAML::Node& map, const char* key, const std::string& path, std::string* out) {
  const YAML::Node n = map[key];
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsScalar()) return InvalidArgument(path + " must be a string");
  *out = n.Scalar();
  return Status::Ok();
}

Status YamlMap(const YAML::Node& map, const char* key, const std::string& path, YAML::Node* out) {
  const YAML::Node n = map[key];
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return InvalidArgument(path + " must be a mapping");
  *out = n;
  return Status::Ok();
}

Status LoadTargetYaml(const YAML::Node& root, Target* t) {
  if (!root || root.IsNull()) return Status::Ok();  // an empty file
  if (!root.IsMap()) return InvalidArgument("the file must be a mapping of patroni.yml keys");
  PGW_RETURN_IF_ERROR(YamlString(root, "scope", "scope", &t->scope));
  PGW_RETURN_IF_ERROR(YamlString(root, "namespace", "namespace", &t->namespace_));
  YAML::Node e;
  PGW_RETURN_IF_ERROR(YamlMap(root, "etcd3", "etcd3", &e));
  if (e) {
    std::vector<std::string> hosts;
    const YAML::Node h = e["hosts"];
    if (h && h.IsSequence()) {
      for (const auto& item : h) {
        if (!item.IsScalar()) return InvalidArgument("etcd3.hosts must be a list of host:port strings");
        hosts.push_back(item.Scalar());
      }
    } else if (h && !h.IsNull()) {
      std::string all;
      PGW_RETURN_IF_ERROR(YamlString(e, "hosts", "etcd3.hosts", &all));
      size_t p = 0;
      while (p <= all.size()) {
        auto c = all.find(',', p);
        hosts.push_back(all.substr(p, c == std::string::npos ? std::string::npos : c - p));
        if (c == std::string::npos) break;
        p = c + 1;
      }
    } else {
      std::string one;
      PGW_RETURN_IF_ERROR(YamlString(e, "host", "etcd3.host", &one));
      if (!one.empty()) hosts.push_back(one);
    }
    for (const auto& host : hosts) {
      auto hp = ParseHostPort(host);
      if (!hp.ok()) return hp.status().Context("etcd3.hosts");
      t->etcd.push_back(*hp);
    }
    PGW_RETURN_IF_ERROR(YamlString(e, "protocol", "etcd3.protocol", &t->protocol));
    PGW_RETURN_IF_ERROR(YamlString(e, "username", "etcd3.username", &t->username));
    PGW_RETURN_IF_ERROR(YamlString(e, "password", "etcd3.password", &t->password));
  }
  YAML::Node restapi, ctl, auth;
  PGW_RETURN_IF_ERROR(YamlMap(root, "restapi", "restapi", &restapi));
  if (restapi) {
    PGW_RETURN_IF_ERROR(YamlString(restapi, "cafile", "restapi.cafile", &t->cacert));
    PGW_RETURN_IF_ERROR(YamlMap(restapi, "authentication", "restapi.authentication", &auth));
  }
  PGW_RETURN_IF_ERROR(YamlMap(root, "ctl", "ctl", &ctl));
  if (ctl) {
    PGW_RETURN_IF_ERROR(YamlString(ctl, "cacert", "ctl.cacert", &t->cacert));
    PGW_RETURN_IF_ERROR(YamlString(ctl, "certfile", "ctl.certfile", &t->cert));
    PGW_RETURN_IF_ERROR(YamlString(ctl, "keyfile", "ctl.keyfile", &t->key));
  }
  if (auth) {
    PGW_RETURN_IF_ERROR(YamlString(auth, "username", "restapi.authentication.username", &t->api_user));
    PGW_RETURN_IF_ERROR(YamlString(auth, "password", "restapi.authentication.password", &t->api_password));
  }
  return Status::Ok();
}

Status LoadTarget(const Options& o, Target* t) {
  if (!o.config_file.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(o.config_file);
    } catch (const std::exception& e) {
      return InvalidArgument("cannot read " + o.config_file + ": " + e.what());
    }
    PGW_RETURN_IF_ERROR(LoadTargetYaml(root, t).Context(o.config_file));
  }
  if (!o.dcs_url.empty()) {
    std::string u = o.dcs_url;
    for (const char* scheme : {"etcd3://", "http://", "https://"}) {
      if (u.rfind(scheme, 0) == 0) u = u.substr(std::string(scheme).size());
    }
    auto hp = ParseHostPort(u);
    if (!hp.ok()) return hp.status().Context("--dcs-url");
    t->etcd = {*hp};
  }
  if (t->etcd.empty()) return InvalidArgument("no etcd to talk to: give -c patroni.yml (with etcd3.hosts) or --dcs-url");
  return Status::Ok();
}

class Session {
 public:
  Session(Target t, FILE* out, FILE* err) : t_(std::move(t)), out_(out), err_(err), log_(err, LogLevel::kCritical) {
    etcd::ClientOptions o;
    o.endpoints = t_.etcd;
    o.protocol = t_.protocol;
    o.username = t_.username;
    o.password = t_.password;
    o.request_timeout = Duration(3000);
    client_ = std::make_unique<etcd::Client>(o, log_);
  }
  std::string Prefix(const std::string& scope) const {
    std::string p = "/" + t_.namespace_ + "/" + scope + "/";
    std::string out;
    for (char c : p) {
      if (c == '/' && !out.empty() && out.back() == '/') continue;
      out += c;
    }
    return out;
  }
  Result<ClusterView> Cluster(const std::string& scope) {
    auto r = client_->GetPrefix(Prefix(scope));
    if (!r.ok()) return r.status().Context("reading the cluster from etcd");
    std::map<std::string, etcd::KeyValue> kvs;
    for (auto& kv : r->kvs) kvs[kv.key] = kv;
    if (kvs.empty()) return NotFound("no cluster named '" + scope + "' under " + t_.namespace_ + " in etcd");
    return BuildClusterView(Prefix(scope), kvs, r->revision);
  }
  // POST/PATCH to a member's REST API. Returns (status, body).
  Result<HttpResponse> Api(const Member& m, const std::string& method, const std::string& path, const Json& body,
                           Duration timeout = Duration(60000)) {
    if (m.api_url.empty()) return Unavailable("member " + m.name + " publishes no api_url");
    std::string base = m.api_url;
    auto slash = base.find('/', base.find("://") + 3);
    if (slash != std::string::npos) base = base.substr(0, slash);
    HttpRequest req;
    req.method = method;
    req.url = base + path;
    if (!body.is_null()) {
      req.body = body.dump();
      req.headers["Content-Type"] = "application/json";
    }
    if (!t_.api_user.empty()) {
      req.headers["Authorization"] = "Basic " + Base64Encode(t_.api_user + ":" + t_.api_password);
    }
    req.timeout = timeout;
    req.cacert = t_.cacert;
    req.cert = t_.cert;
    req.key = t_.key;
    HttpClient http;
    return http.Do(req);
  }
  etcd::Client& etcd() { return *client_; }
  FILE* out() { return out_; }
  FILE* err() { return err_; }

 private:
  Target t_;
  FILE* out_;
  FILE* err_;
  Logger log_;
  std::unique_ptr<etcd::Client> client_;
};

bool Confirm(const Options& o, FILE* out, const std::string& question) {
  if (o.force) return true;
  if (!isatty(0)) return false;
  std::fprintf(out, "%s [y/N]: ", question.c_str());
  std::fflush(out);
  std::string line;
  std::getline(std::cin, line);
  return line == "y" || line == "Y" || line == "yes";
}

}  // namespace

std::string Table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& right, const std::string& title) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::string border = "+";
  for (size_t x : w) border += std::string(x + 2, '-') + "+";
  auto line = [&](const std::vector<std::string>& cells, bool head) {
    std::string s = "|";
    for (size_t i = 0; i < w.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      std::string pad(w[i] - c.size(), ' ');
      bool r = i < right.size() && right[i];
      (void)head;
      s += " " + (r ? pad + c : c + pad) + " |";
    }
    return s + "\n";
  };
  std::string top = border;
  if (!title.empty()) {
    std::string t = "+ " + title + " ";
    top = t.size() < border.size() ? t + border.substr(t.size()) : t;
  }
  std::string out = top + "\n" + line(header, true) + border + "\n";
  for (const auto& r : rows) out += line(r, false);
  return out + border + "\n";
}

std::vector<std::pair<std::string, int>> TopologyOrder(const ClusterView& c) {
  std::string leader = c.leader ? c.leader->name : "";
  std::map<std::string, std::vector<std::string>> children;  // parent ("" = no leader) -> members, name order
  for (const auto& [name, m] : c.members) {
    if (name == leader) continue;
    std::string parent = m.ReplicateFrom();
    if (parent.empty() || parent == name || parent == leader || c.members.count(parent) == 0) parent = leader;
    children[parent].push_back(name);
  }
  std::vector<std::pair<std::string, int>> out;
  std::set<std::string> seen;
  std::function<void(const std::string&, int)> walk = [&](const std::string& n, int level) {
    if (!seen.insert(n).second) return;
    out.emplace_back(n, level);
    for (const auto& child : children[n]) walk(child, level + 1);
  };
  if (!leader.empty() && c.members.count(leader)) {
    walk(leader, 0);
  } else {
    for (const auto& child : children[leader]) walk(child, 1);
  }
  for (const auto& [name, m] : c.members) {
    if (!seen.count(name)) walk(name, 1);  // a replicatefrom cycle: nobody reaches it from the leader
  }
  return out;
}

std::string ListTable(const std::string& scope, const ClusterView& c, bool paused, bool topology) {
  std::vector<std::pair<std::string, int>> order;
  if (topology) {
    order = TopologyOrder(c);
  } else {
    for (const auto& [name, m] : c.members) order.emplace_back(name, 0);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, level] : order) {
    const Member& m = c.members.at(name);
    std::string shown = level > 0 ? std::string(static_cast<size_t>(level - 1) * 2, ' ') + "+ " + name : name;
    rows.push_back({shown, HostOf(m), RoleLabel(c, name), m.state, m.timeline ? std::to_string(*m.timeline) : "",
                    LagMb(c, m)});
  }
  std::string out = Table({"Member", "Host", "Role", "State", "TL", "Lag in MB"}, rows,
                          {false, false, false, false, true, true}, "Cluster: " + scope);
  if (paused) out += " Maintenance mode: on\n";
  return out;
}

Json ListJson(const std::string& scope, const ClusterView& c) {
  Json out = Json::array();
  for (const auto& [name, m] : c.members) {
    Json j = {{"Cluster", scope}, {"Member", name}, {"Host", HostOf(m)}, {"Role", RoleLabel(c, name)},
              {"State", m.state}};
    if (m.timeline) j["TL"] = *m.timeline;
    std::string lag = LagMb(c, m);
    if (!lag.empty()) j["Lag in MB"] = lag == "unknown" ? Json("unknown") : Json(std::stoll(lag));
    out.push_back(j);
  }
  return out;
}

std::string HistoryTable(const Json& history) {
  std::vector<std::vector<std::string>> rows;
  if (history.is_array()) {
    for (const auto& e : history) {
      if (!e.is_array()) continue;
      std::vector<std::string> r;
      for (size_t i = 0; i < 5; ++i) {
        if (i < e.size()) r.push_back(e[i].is_string() ? e[i].get<std::string>() : e[i].dump());
        else r.push_back("");
      }
      rows.push_back(r);
    }
  }
  return Table({"TL", "LSN", "Reason", "Timestamp", "New Leader"}, rows, {true, true, false, false, false}, "");
}

std::string ToYaml(const Json& j) {
  YAML::Emitter e;
  e << JsonToYaml(j);
  return std::string(e.c_str()) + "\n";
}

namespace {
void SetPath(Json& node, const std::vector<std::string>& keys, size_t i, const Json& value) {
  if (!node.is_object()) node = Json::object();
  if (i + 1 == keys.size()) {
    if (value.is_null()) node.erase(keys[i]);
    else node[keys[i]] = value;
    return;
  }
  SetPath(node[keys[i]], keys, i + 1, value);
}
}  // namespace

Status ApplySet(Json* config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) return InvalidArgument("--set needs key=value, got '" + assignment + "'");
  std::string path = assignment.substr(0, eq);
  std::vector<std::string> keys;
  size_t p = 0;
  while (true) {
    auto dot = path.find('.', p);
    std::string k = path.substr(p, dot == std::string::npos ? std::string::npos : dot - p);
    if (k.empty()) return InvalidArgument("--set: empty key in '" + path + "'");
    keys.push_back(k);
    if (dot == std::string::npos) break;
    p = dot + 1;
  }
  SetPath(*config, keys, 0, YamlScalarToJson(assignment.substr(eq + 1)));
  return Status::Ok();
}

namespace {

const char* kUsage =
    "usage: pgwardenctl [-c patroni.yml | --dcs-url URL] COMMAND [CLUSTER] [options]\n"
    "commands (as patronictl):\n"
    "  list [-f pretty|json|yaml]       members, roles, states, timelines and lag\n"
    "  topology                         the same, as a tree of who streams from whom\n"
    "  history                          timeline switches\n"
    "  show-config                      the dynamic configuration\n"
    "  edit-config [--set k=v]... [--pg k=v]... [--force]   change the dynamic configuration\n"
    "  pause [--wait] | resume [--wait]  maintenance mode\n"
    "  switchover [--leader L] [--candidate C] [--scheduled ISO|now] [--force]\n"
    "  failover --candidate C [--force]\n"
    "  restart [MEMBER...] [--role primary|replica] [--scheduled ISO] [--pending] [--force]\n"
    "  reinit MEMBER... [--force] | reload [MEMBER...] [--force]\n"
    "  dsn [--member M]                 libpq connection string of the leader or a member\n"
    "  remove CLUSTER                   delete the cluster's keys from etcd (asks for confirmation)\n"
    "  sandbox up|down|status           a local cluster on loopback (see pgwardenctl sandbox --help)\n";

Result<Options> Parse(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return InvalidArgument("option " + a + " needs a value");
      return args[++i];
    };
    auto take = [&](std::string* dst) -> Status {
      auto v = value();
      if (!v.ok()) return v.status();
      *dst = *v;
      return Status::Ok();
    };
    Status s;
    if (a == "-c" || a == "--config-file") s = take(&o.config_file);
    else if (a == "-d" || a == "--dcs-url" || a == "--dcs") s = take(&o.dcs_url);
    else if (a == "-f" || a == "--format") s = take(&o.format);
    else if (a == "--force") o.force = true;
    else if (a == "--wait") o.wait = true;
    else if (a == "--pending") o.pending = true;
    else if (a == "--leader" || a == "--primary" || a == "--master") s = take(&o.leader);
    else if (a == "--candidate") s = take(&o.candidate);
    else if (a == "--scheduled") s = take(&o.scheduled);
    else if (a == "-r" || a == "--role") s = take(&o.role);
    else if (a == "-m" || a == "--member") s = take(&o.member);
    else if (a == "-s" || a == "--set") {
      std::string v;
      s = take(&v);
      o.sets.push_back(v);
    } else if (a == "-p" || a == "--pg") {
      std::string v;
      s = take(&v);
      o.pgs.push_back(v);
    } else if (!a.empty() && a[0] == '-') {
      return InvalidArgument("unknown option '" + a + "'");
    } else {
      o.positional.push_back(a);
    }
    if (!s.ok()) return s;
  }
  if (o.format != "pretty" && o.format != "json" && o.format != "yaml") {
    return InvalidArgument("-f must be pretty, json or yaml, got '" + o.format + "'");
  }
  return o;
}

std::string Body(const Result<HttpResponse>& r) {
  if (!r.ok()) return r.status().message();
  std::string b = r->body;
  while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
  return b;
}

}  // namespace

Status CheckCommandLine(const std::vector<std::string>& args) {
  auto parsed = Parse(args);
  if (!parsed.ok()) return parsed.status();
  Target t;
  return LoadTarget(*parsed, &t);
}

int Main(const std::vector<std::string>& raw, FILE* out, FILE* err) {
  auto parsed = Parse(raw);
  if (!parsed.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", parsed.status().message().c_str());
    return 2;
  }
  Options o = *parsed;
  if (o.positional.empty()) {
    std::fputs(kUsage, err);
    return 2;
  }
  std::string cmd = o.positional[0];
  std::vector<std::string> rest(o.positional.begin() + 1, o.positional.end());
  static const std::vector<std::string> kCommands = {"list", "topology", "history", "show-config", "edit-config",
                                                     "pause", "resume", "switchover", "failover", "restart",
                                                     "reinit", "reload", "dsn", "remove"};
  if (std::find(kCommands.begin(), kCommands.end(), cmd) == kCommands.end()) {
    std::fprintf(err, "pgwardenctl: unknown command '%s' (try --help)\n", cmd.c_str());
    return 2;
  }
  Target t;
  Status ts = LoadTarget(o, &t);
  if (!ts.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", ts.message().c_str());
    return 1;
  }
  // The cluster name: first positional argument, else the config file's scope.
  std::string scope = t.scope;
  if (!rest.empty() && cmd != "reinit" && cmd != "reload" && cmd != "restart") {
    scope = rest[0];
    rest.erase(rest.begin());
  } else if (!rest.empty() && (cmd == "reinit" || cmd == "reload" || cmd == "restart") && rest[0] == t.scope) {
    rest.erase(rest.begin());  // patronictl restart CLUSTER MEMBER...
  } else if (!rest.empty() && t.scope.empty()) {
    scope = rest[0];
    rest.erase(rest.begin());
  }
  if (scope.empty()) {
    std::fprintf(err, "pgwardenctl: no cluster name: give it as an argument or set scope in the config file\n");
    return 2;
  }
  Session s(t, out, err);
  auto view = s.Cluster(scope);
  if (!view.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", view.status().message().c_str());
    return 1;
  }
  const ClusterView& c = *view;
  bool paused = c.config && TrueField(*c.config, "pause");
  auto member = [&](const std::string& name) -> const Member* {
    const Member* m = c.FindMember(name);
    if (!m) std::fprintf(err, "pgwardenctl: %s is not a member of cluster %s\n", name.c_str(), scope.c_str());
    return m;
  };
  const Member* leader = c.LeaderMember();

  if (cmd == "list" || cmd == "topology") {
    if (o.format == "json") std::fprintf(out, "%s\n", ListJson(scope, c).dump().c_str());
    else if (o.format == "yaml") std::fputs(ToYaml(ListJson(scope, c)).c_str(), out);
    else std::fputs(ListTable(scope, c, paused, cmd == "topology").c_str(), out);
    return 0;
  }
  if (cmd == "history") {
    std::fputs(HistoryTable(c.history).c_str(), out);
    return 0;
  }
  if (cmd == "show-config") {
    std::fputs(ToYaml(c.config ? *c.config : Json::object()).c_str(), out);
    return 0;
  }
  if (cmd == "dsn") {
    const Member* m = o.member.empty() ? leader : member(o.member);
    if (!m || !m->conn) {
      std::fprintf(err, "pgwardenctl: %s\n", o.member.empty() ? "the cluster has no leader" : "no address published");
      return 1;
    }
    std::fprintf(out, "host=%s port=%d\n", m->conn->host.c_str(), m->conn->port);
    return 0;
  }
  if (cmd == "edit-config") {
    Json before = c.config ? *c.config : Json::object();
    Json after = before;
    for (const auto& a : o.sets) {
      Status st = ApplySet(&after, a);
      if (!st.ok()) {
        std::fprintf(err, "pgwardenctl: %s\n", st.message().c_str());
        return 2;
      }
    }
    for (const auto& a : o.pgs) {
      Status st = ApplySet(&after, "postgresql.parameters." + a);
      if (!st.ok()) {
        std::fprintf(err, "pgwardenctl: %s\n", st.message().c_str());
        return 2;
      }
    }
    if (o.sets.empty() && o.pgs.empty()) {
      const char* editor = std::getenv("EDITOR");
      std::string path = "/tmp/pgwardenctl-config-" + std::to_string(getpid()) + ".yaml";
      if (!WriteFileAtomic(path, ToYaml(before), 0600).ok()) return 1;
      ProcessOptions po;
      po.timeout = Duration(24 * 3600 * 1000);
      auto r = Run({editor ? editor : "vi", path}, po);
      auto text = ReadFile(path);
      unlink(path.c_str());
      if (!r.ok() || !r->Success() || !text.ok()) {
        std::fprintf(err, "pgwardenctl: the editor failed\n");
        return 1;
      }
      try {
        YAML::Node n = YAML::Load(*text);
        YAML::Emitter e;
        e << YAML::DoubleQuoted << YAML::Flow << YAML::BeginSeq << n << YAML::EndSeq;
        Json edited = Json::parse(std::string(e.c_str()), nullptr, false);
        if (edited.is_discarded() || !edited.is_array() || edited.empty()) throw std::runtime_error("not a mapping");
        after = edited.at(0);
      } catch (const std::exception& ex) {
        std::fprintf(err, "pgwardenctl: the edited configuration is not valid YAML: %s\n", ex.what());
        return 1;
      }
    }
    std::vector<std::string> problems, adjusted;
    DynamicConfig::FromJson(after, "config", &problems, &adjusted);
    if (!problems.empty()) {
      std::fprintf(err, "pgwardenctl: refusing an invalid configuration: %s\n", problems.front().c_str());
      return 1;
    }
    // The agents would run with another value than the one written (a timing below its floor, or breaking
    // loop_wait + 2 * retry_timeout <= ttl): refuse rather than store a value nobody uses.
    if (!adjusted.empty()) {
      std::fprintf(err, "pgwardenctl: refusing a configuration the agents would adjust: %s\n", adjusted.front().c_str());
      return 1;
    }
    if (after == before) {
      std::fprintf(out, "Not changed\n");
      return 0;
    }
    std::fprintf(out, "--- \n+++ \n%s", ToYaml(after).c_str());
    if (!Confirm(o, out, "Apply these changes?")) {
      std::fprintf(err, "Aborted (use --force to apply without asking)\n");
      return 1;
    }
    etcd::Compare cmp{s.Prefix(scope) + "config", etcd::Compare::Target::kMod, etcd::Compare::Result::kEqual,
                      c.config_mod_revision, ""};
    auto r = s.etcd().Txn({cmp}, {etcd::Op{etcd::Op::Type::kPut, s.Prefix(scope) + "config", after.dump(), 0, ""}});
    if (!r.ok() || !r->succeeded) {
      std::fprintf(err, "pgwardenctl: %s\n",
                   r.ok() ? "the configuration changed meanwhile; run edit-config again" : r.status().message().c_str());
      return 1;
    }
    std::fprintf(out, "Configuration changed\n");
    return 0;
  }
  if (cmd == "pause" || cmd == "resume") {
    bool want = cmd == "pause";
    if (paused == want) {
      std::fprintf(err, "pgwardenctl: Cluster is %s paused\n", want ? "already" : "not");
      return 1;
    }
    std::vector<const Member*> order;
    if (leader) order.push_back(leader);
    for (const auto& [name, m] : c.members) {
      if (&m != leader) order.push_back(&m);
    }
    for (const Member* m : order) {
      auto r = s.Api(*m, "PATCH", "/config", Json{{"pause", want ? Json(true) : Json(nullptr)}});
      if (!r.ok()) continue;
      if (r->status != 200) {
        std::fprintf(out, "Failed: %s cluster management status code=%ld, (%s)\n", cmd.c_str(), r->status,
                     Body(r).c_str());
        return 1;
      }
      if (o.wait) {
        std::fprintf(out, "'%s' request sent, waiting until it is recognized by all nodes\n", cmd.c_str());
        int loop_wait = LoopWait(c);
        MonoTime until = std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()) +
                         Duration((loop_wait + 1) * 1000);
        while (std::chrono::steady_clock::now() < until) {
          auto v = s.Cluster(scope);
          bool all = v.ok();
          if (v.ok()) {
            for (const auto& [name, mm] : v->members) {
              all = all && TrueField(mm.raw, "pause") == want;
            }
          }
          if (all) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
      std::fprintf(out, "Success: cluster management is %s\n", want ? "paused" : "resumed");
      return 0;
    }
    std::fprintf(err, "pgwardenctl: Can not find accessible cluster member\n");
    return 1;
  }
  if (cmd == "switchover" || cmd == "failover") {
    std::string from = o.leader.empty() && cmd == "switchover" && leader ? leader->name : o.leader;
    if (cmd == "switchover" && from.empty()) {
      std::fprintf(err, "pgwardenctl: This cluster has no leader, use failover --candidate instead\n");
      return 1;
    }
    if (cmd == "failover" && o.candidate.empty()) {
      std::fprintf(err, "pgwardenctl: failover needs --candidate\n");
      return 2;
    }
    if (!o.candidate.empty() && !member(o.candidate)) return 1;
    if (!from.empty() && (!leader || leader->name != from)) {
      std::fprintf(err, "pgwardenctl: Member %s is not the leader of cluster %s\n", from.c_str(), scope.c_str());
      return 1;
    }
    Json body = Json::object();
    if (!from.empty()) body["leader"] = from;
    if (!o.candidate.empty()) body["candidate"] = o.candidate;
    if (!o.scheduled.empty() && o.scheduled != "now") body["scheduled_at"] = o.scheduled;
    std::fputs(ListTable(scope, c, paused).c_str(), out);
    std::string q = "Are you sure you want to " + cmd + " cluster " + scope +
                    (from.empty() ? "" : ", demoting current leader " + from) + "?";
    if (!Confirm(o, out, q)) {
      std::fprintf(err, "Aborting %s (use --force)\n", cmd.c_str());
      return 1;
    }
    const Member* via = leader ? leader : member(o.candidate);
    if (!via) return 1;
    auto r = s.Api(*via, "POST", "/" + cmd, body);
    if (!r.ok()) {
      std::fprintf(err, "pgwardenctl: %s\n", r.status().message().c_str());
      return 1;
    }
    std::fprintf(out, "%s\n", Body(r).c_str());
    return r->status == 200 || r->status == 202 ? 0 : 1;
  }
  if (cmd == "restart" || cmd == "reinit" || cmd == "reload") {
    std::vector<const Member*> targets;
    if (rest.empty()) {
      if (cmd == "reinit") {
        std::fprintf(err, "pgwardenctl: reinit needs the member names\n");
        return 2;
      }
      for (const auto& [name, m] : c.members) {
        if (o.role.empty() || (o.role == "replica") != (leader && leader->name == name)) targets.push_back(&m);
      }
    } else {
      for (const auto& n : rest) {
        const Member* m = member(n);
        if (!m) return 1;
        targets.push_back(m);
      }
    }
    std::string names;
    for (const Member* m : targets) names += (names.empty() ? "" : ", ") + m->name;
    if (!Confirm(o, out, "Are you sure you want to " + cmd + " members " + names + "?")) {
      std::fprintf(err, "Aborted (use --force)\n");
      return 1;
    }
    int rc = 0;
    for (const Member* m : targets) {
      Json body = nullptr;
      std::string path = cmd == "restart" ? "/restart" : cmd == "reinit" ? "/reinitialize" : "/reload";
      if (cmd == "restart") {
        body = Json::object();
        if (!o.role.empty()) body["role"] = o.role;
        if (o.pending) body["restart_pending"] = true;
        if (!o.scheduled.empty() && o.scheduled != "now") body["schedule"] = o.scheduled;
      } else if (cmd == "reinit") {
        body = Json{{"force", o.force}};
      }
      auto r = s.Api(*m, "POST", path, body);
      bool ok = r.ok() && (r->status == 200 || r->status == 202);
      if (cmd == "restart") {
        if (ok) std::fprintf(out, "Success: restart on member %s\n", m->name.c_str());
        else std::fprintf(out, "Failed: restart for member %s, status code=%ld, (%s)\n", m->name.c_str(),
                          r.ok() ? r->status : 0L, Body(r).c_str());
      } else if (cmd == "reinit") {
        if (ok) std::fprintf(out, "Success: reinitialize for member %s\n", m->name.c_str());
        else std::fprintf(out, "Failed: reinitialize for member %s, status code=%ld, (%s)\n", m->name.c_str(),
                          r.ok() ? r->status : 0L, Body(r).c_str());
      } else {
        if (ok) std::fprintf(out, "Reload request received for member %s and will be processed within %d seconds\n",
                             m->name.c_str(), LoopWait(c));
        else std::fprintf(out, "Failed: reload for member %s, status code=%ld, (%s)\n", m->name.c_str(),
                          r.ok() ? r->status : 0L, Body(r).c_str());
      }
      if (!ok) rc = 1;
    }
    return rc;
  }
  if (cmd == "remove") {
    if (!o.force) {
      if (!isatty(0)) {
        std::fprintf(err, "pgwardenctl: remove deletes every key of the cluster; run it on a terminal, or add --force\n");
        return 1;
      }
      std::fprintf(out, "Please confirm the cluster name to remove: ");
      std::fflush(out);
      std::string line;
      std::getline(std::cin, line);
      if (line != scope) {
        std::fprintf(err, "Aborted: cluster names specified do not match\n");
        return 1;
      }
      std::fprintf(out, "You are about to remove all information in DCS for %s, please type: \"Yes I am aware\": ",
                   scope.c_str());
      std::fflush(out);
      std::getline(std::cin, line);
      if (line != "Yes I am aware") {
        std::fprintf(err, "Aborting removal\n");
        return 1;
      }
    }
    if (leader && leader->IsRunning() && !o.force) {
      std::fprintf(err, "pgwardenctl: the cluster still has a running leader (%s); stop it first or add --force\n",
                   leader->name.c_str());
      return 1;
    }
    auto r = s.etcd().DeletePrefix(s.Prefix(scope));
    if (!r.ok()) {
      std::fprintf(err, "pgwardenctl: %s\n", r.status().message().c_str());
      return 1;
    }
    std::fprintf(out, "Removed cluster %s from etcd\n", scope.c_str());
    return 0;
  }
  return 2;
}

}  // namespace pgw::ctl
