#include "testkit/sandbox.h"
#include "testkit/sandbox_internal.h"

#include "common/config.h"
#include "pg/fence.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/wait.h"
#include "dcs/keys.h"
#include "net/http_client.h"

namespace pgw {

using Json = nlohmann::json;

Result<std::vector<int>> FreePorts(int n) {
  // Every socket stays bound until all are picked: the kernel may hand a port it just released out again, so ports
  // picked one at a time (bind, close, bind) can repeat (two sandbox nodes once got the same REST port).
  std::vector<int> fds, ports;
  Status st;
  for (int i = 0; i < n && st.ok(); ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      st = IoError("cannot find a free port");
    } else {
      ports.push_back(static_cast<int>(ntohs(a.sin_port)));
    }
    if (fd >= 0) fds.push_back(fd);
  }
  for (int fd : fds) close(fd);
  if (!st.ok()) return st;
  return ports;
}

Result<int> FreePort() {
  auto p = FreePorts(1);
  if (!p.ok()) return p.status();
  return p->front();
}

namespace sandbox_internal {

bool StopPid(pid_t pid, int sig, Duration timeout) {
  if (pid <= 0 || !ProcessAlive(pid)) {
    Reap(pid);
    return true;
  }
  kill(pid, sig);
  return WaitFor([&] { return Reap(pid) || !ProcessAlive(pid); }, timeout);
}

Status ChownTree(const std::string& path, const std::optional<RunAs>& who) {
  if (!who) return Status::Ok();
  if (chown(path.c_str(), who->uid, who->gid) != 0) return IoError("cannot chown " + path);
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (lchown(e.path().c_str(), who->uid, who->gid) != 0) return IoError("cannot chown " + e.path().string());
  }
  return Status::Ok();
}

}  // namespace sandbox_internal

using sandbox_internal::ChownTree;
using sandbox_internal::StopPid;

std::optional<RunAs> Sandbox::RunAsUser() const {
  if (geteuid() != 0) return std::nullopt;
  auto u = LookupUser(spec_.run_as);
  if (!u.ok()) return std::nullopt;
  return *u;
}

std::string Sandbox::KeyPrefix() const { return spec_.namespace_ + "/" + spec_.scope + "/"; }

const SandboxNode* Sandbox::Node(const std::string& name) const {
  for (const auto& n : nodes_) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

std::string Sandbox::Conninfo(const std::string& name) const {
  const SandboxNode* n = Node(name);
  if (!n) return "";
  return "host=127.0.0.1 port=" + std::to_string(n->pg_port) + " user=postgres password=" + kSuperuserPassword +
         " dbname=postgres";
}

Status Sandbox::SaveState() const {
  Json j;
  j["scope"] = spec_.scope;
  j["namespace"] = spec_.namespace_;
  j["etcd_endpoint"] = etcd_endpoint_;
  j["etcd_pid"] = etcd_pid_;
  j["pgwarden_bin"] = spec_.pgwarden_bin;
  j["run_as"] = spec_.run_as;
  if (router_.pid > 0) {
    j["router"] = {{"pid", router_.pid},
                   {"write_port", router_.write_port},
                   {"read_port", router_.read_port},
                   {"admin_port", router_.admin_port},
                   {"log", router_.log_path}};
  }
  j["nodes"] = Json::array();
  for (const auto& n : nodes_) {
    j["nodes"].push_back({{"name", n.name},
                          {"pg_port", n.pg_port},
                          {"api_port", n.api_port},
                          {"pid", n.pid},
                          {"config", n.config_path},
                          {"log", n.log_path},
                          {"data_dir", n.data_dir}});
  }
  return WriteFileAtomic(spec_.dir + "/sandbox.json", j.dump(2) + "\n", 0644);
}

Result<Sandbox> Sandbox::Load(const std::string& dir) {
  auto text = ReadFile(dir + "/sandbox.json");
  if (!text.ok()) return NotFound("no sandbox in " + dir + " (no sandbox.json)");
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded()) return InvalidArgument(dir + "/sandbox.json is not valid JSON");
  Sandbox s;
  s.spec_.dir = dir;
  s.spec_.scope = j.value("scope", "demo");
  s.spec_.namespace_ = j.value("namespace", "/service");
  s.spec_.pgwarden_bin = j.value("pgwarden_bin", "");
  s.spec_.run_as = j.value("run_as", "postgres");
  s.etcd_endpoint_ = j.value("etcd_endpoint", "");
  s.etcd_pid_ = j.value("etcd_pid", 0);
  for (const auto& n : j.value("nodes", Json::array())) {
    s.nodes_.push_back(SandboxNode{n.value("name", ""), n.value("pg_port", 0), n.value("api_port", 0),
                                   n.value("pid", 0), n.value("config", ""), n.value("log", ""),
                                   n.value("data_dir", "")});
  }
  s.spec_.nodes = static_cast<int>(s.nodes_.size());
  if (j.contains("router") && j["router"].is_object()) {
    const Json& r = j["router"];
    s.router_ = SandboxRouter{r.value("pid", 0), r.value("write_port", 0), r.value("read_port", 0),
                              r.value("admin_port", 0), r.value("log", "")};
  }
  return s;
}

Status Sandbox::StartEtcd() {
  auto ports = FreePorts(2);
  if (!ports.ok()) return IoError("no free ports for etcd");
  std::string c = "http://127.0.0.1:" + std::to_string((*ports)[0]);
  std::string p = "http://127.0.0.1:" + std::to_string((*ports)[1]);
  std::string data = spec_.dir + "/etcd";
  PGW_RETURN_IF_ERROR(MakeDirs(data, 0700));
  PGW_RETURN_IF_ERROR(ChownTree(data, RunAsUser()));
  ProcessOptions o;
  o.run_as = RunAsUser();
  auto pid = StartDetached({"etcd", "--name", "sandbox", "--data-dir", data, "--listen-client-urls", c,
                            "--advertise-client-urls", c, "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                            "--initial-cluster", "sandbox=" + p, "--initial-cluster-state", "new"},
                           spec_.dir + "/etcd.log", o);
  if (!pid.ok()) return pid.status().Context("starting etcd (is etcd-server installed?)");
  etcd_pid_ = *pid;
  etcd_endpoint_ = "127.0.0.1:" + std::to_string((*ports)[0]);
  HttpClient http;
  bool up = WaitFor(
      [&] {
        HttpRequest req;
        req.url = c + "/health";
        auto r = http.Do(req);
        return r.ok() && r->status == 200;
      },
      Duration(30000));
  if (!up) return Timeout("etcd did not become healthy within 30 s; see " + spec_.dir + "/etcd.log");
  return Status::Ok();
}

Result<Sandbox> Sandbox::Up(const SandboxSpec& spec, Logger& log) {
  Sandbox s;
  s.spec_ = spec;
  if (spec.nodes < 1 || spec.nodes > 9) return InvalidArgument("--nodes must be between 1 and 9");
  if (spec.ttl < DynamicConfig::kMinTtl || spec.loop_wait < DynamicConfig::kMinLoopWait ||
      spec.retry_timeout < DynamicConfig::kMinRetryTimeout) {
    return InvalidArgument("--ttl must be at least " + std::to_string(DynamicConfig::kMinTtl) +
                           ", --loop-wait at least " + std::to_string(DynamicConfig::kMinLoopWait) +
                           " and --retry-timeout at least " + FormatSeconds(DynamicConfig::kMinRetryTimeout));
  }
  if (spec.loop_wait + 2 * spec.retry_timeout > spec.ttl) {
    return InvalidArgument("--loop-wait (" + std::to_string(spec.loop_wait) + ") + 2 * --retry-timeout (" +
                           FormatSeconds(spec.retry_timeout) + ") must not exceed --ttl (" + std::to_string(spec.ttl) +
                           ")");
  }
  if (PathExists(spec.dir + "/sandbox.json")) {
    return InvalidArgument(spec.dir + " already holds a sandbox; run 'pgwardenctl sandbox down --dir " + spec.dir +
                           " --wipe' first");
  }
  if (geteuid() == 0 && !LookupUser(spec.run_as).ok()) {
    return InvalidArgument("running as root, but there is no OS user '" + spec.run_as +
                           "' to run PostgreSQL as (install postgresql, or pass --user)");
  }
  PGW_RETURN_IF_ERROR(MakeDirs(spec.dir, 0755));
  auto who = s.RunAsUser();
  PGW_RETURN_IF_ERROR(ChownTree(spec.dir, who));
  if (spec.etcd_endpoint.empty()) {
    Status st = s.StartEtcd();
    if (!st.ok()) {
      s.SaveState().ok();
      return st;
    }
  } else {
    s.etcd_endpoint_ = spec.etcd_endpoint;
  }
  auto ports = FreePorts(2 * spec.nodes);  // all at once, so that no two are the same
  if (!ports.ok()) return IoError("no free ports");
  for (int i = 0; i < spec.nodes; ++i) {
    SandboxNode n;
    n.name = spec.name_prefix + std::to_string(i);
    n.pg_port = (*ports)[2 * i];
    n.api_port = (*ports)[2 * i + 1];
    std::string home = spec.dir + "/" + n.name;
    PGW_RETURN_IF_ERROR(MakeDirs(home, 0700));
    n.data_dir = home + "/data";
    n.config_path = home + "/patroni.yml";
    n.log_path = home + "/pgwarden.log";
    std::string tags = i < static_cast<int>(spec.node_tags.size()) ? spec.node_tags[i] : "";
    std::string hosts = s.etcd_endpoint_;
    if (i < static_cast<int>(spec.node_etcd_hosts.size()) && !spec.node_etcd_hosts[i].empty()) {
      hosts = spec.node_etcd_hosts[i];
      for (size_t at = hosts.find("{etcd}"); at != std::string::npos; at = hosts.find("{etcd}")) {
        hosts.replace(at, 6, s.etcd_endpoint_);
      }
    }
    // Written out so that the same files also run Patroni, which looks only in PATH.
    std::string bin_dir = FindPostgresBinDir(ProcessEnvironment());
    // One line of YAML per source line, so that the code reads as the file it writes.
    // clang-format off
    std::string yml =
        "scope: " + spec.scope + "\n"
        "namespace: " + spec.namespace_ + "\n"
        "name: " + n.name + "\n"
        "restapi:\n"
        "  listen: 127.0.0.1:" + std::to_string(n.api_port) + "\n"
        "  connect_address: 127.0.0.1:" + std::to_string(n.api_port) + "\n" +
        spec.extra_restapi +
        "etcd3:\n"
        "  hosts: " + hosts + "\n"
        "bootstrap:\n"
        "  dcs:\n"
        "    ttl: " + std::to_string(spec.ttl) + "\n"
        "    loop_wait: " + std::to_string(spec.loop_wait) + "\n"
        "    retry_timeout: " + FormatSeconds(spec.retry_timeout) + "\n"
        "    maximum_lag_on_failover: 1048576\n"
        "    postgresql:\n"
        "      use_pg_rewind: true\n"
        "      use_slots: true\n"
        "      parameters:\n"
        "        wal_level: " + spec.wal_level + "\n"
        "        hot_standby: 'on'\n"
        "        wal_log_hints: 'on'\n"
        "        max_connections: " + std::to_string(spec.max_connections) + "\n" +
        spec.extra_dcs +
        "  initdb:\n"
        "  - encoding: UTF8\n"
        "  - data-checksums\n" +
        spec.extra_bootstrap +
        "postgresql:\n"
        "  listen: 127.0.0.1:" + std::to_string(n.pg_port) + "\n"
        "  connect_address: 127.0.0.1:" + std::to_string(n.pg_port) + "\n"
        "  data_dir: " + n.data_dir + "\n" +
        (bin_dir.empty() ? std::string() : "  bin_dir: " + bin_dir + "\n") +
        "  pgpass: " + home + "/pgpass\n"
        "  authentication:\n"
        "    superuser:\n"
        "      username: postgres\n"
        "      password: " + kSuperuserPassword + "\n"
        "    replication:\n"
        "      username: replicator\n"
        "      password: sandbox-replicator\n"
        "    rewind:\n"
        "      username: rewind_user\n"
        "      password: sandbox-rewind\n"
        "  parameters:\n"
        "    unix_socket_directories: " + home + "\n"
        "    shared_buffers: 32MB\n" +
        spec.extra_postgresql +
        (spec.postgresql_pg_hba ? std::string("  pg_hba:\n"
                                              "  - local all all trust\n"
                                              "  - host replication replicator 127.0.0.1/32 scram-sha-256\n"
                                              "  - host all all 127.0.0.1/32 scram-sha-256\n")
                                : std::string()) +
        spec.extra_top +
        (tags.empty() ? std::string() : "tags:\n" + tags);
    // clang-format on
    if (spec.node_config) yml = spec.node_config(i, n, hosts);
    PGW_RETURN_IF_ERROR(WriteFileAtomic(n.config_path, yml, 0600));
    PGW_RETURN_IF_ERROR(ChownTree(home, who));
    s.nodes_.push_back(n);
  }
  for (const auto& n : s.nodes_) {
    Status st = s.StartNode(n.name);
    if (!st.ok()) {
      s.SaveState().ok();
      return st;
    }
  }
  if (spec.start_router) {
    Status st = s.StartRouter();
    if (!st.ok()) {
      s.SaveState().ok();
      return st;
    }
  }
  PGW_RETURN_IF_ERROR(s.SaveState());
  log.Info("sandbox started in " + spec.dir);
  return s;
}

Status Sandbox::StartNode(const std::string& name) {
  SandboxNode* n = nullptr;
  for (auto& x : nodes_) {
    if (x.name == name) n = &x;
  }
  if (!n) return NotFound("no node " + name);
  ProcessOptions o;
  o.run_as = RunAsUser();
  auto pid = StartDetached({spec_.pgwarden_bin, n->config_path}, n->log_path, o);
  if (!pid.ok()) return pid.status().Context("starting " + name);
  n->pid = *pid;
  return SaveState();
}

Status Sandbox::SignalNode(const std::string& name, int sig, bool wait, Duration timeout) {
  const SandboxNode* n = Node(name);
  if (!n) return NotFound("no node " + name);
  if (!wait) {
    kill(n->pid, sig);
    return Status::Ok();
  }
  if (!StopPid(n->pid, sig, timeout)) return Timeout("agent " + name + " did not exit");
  return Status::Ok();
}

Result<std::string> Sandbox::NodeStatus(const std::string& name) const {
  const SandboxNode* n = Node(name);
  if (!n) return NotFound("no node " + name);
  HttpClient http;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(n->api_port) + "/patroni";
  req.timeout = Duration(2000);
  auto r = http.Do(req);
  if (!r.ok()) return r.status();
  return r->body;
}

Status Sandbox::WaitHealthy(Duration timeout) const {
  std::string last = "no node answered";
  bool ok = WaitFor(
      [&] {
        std::string leader;
        int replicas = 0;
        std::set<std::string> streaming;
        for (const auto& n : nodes_) {
          auto body = NodeStatus(n.name);
          if (!body.ok()) {
            last = n.name + " does not answer: " + body.status().message();
            return false;
          }
          Json j = Json::parse(*body, nullptr, false);
          if (j.is_discarded() || j.value("state", "") != "running") {
            last = n.name + " is not running yet";
            return false;
          }
          if (j.value("role", "") == "primary" || j.value("role", "") == "master") {  // Patroni 3 says master
            if (!leader.empty()) {
              last = "two primaries: " + leader + " and " + n.name;
              return false;
            }
            leader = n.name;
            for (const auto& r : j.value("replication", Json::array())) {
              if (r.value("state", "") == "streaming") streaming.insert(r.value("application_name", ""));
            }
          } else {
            ++replicas;
          }
        }
        if (leader.empty()) {
          last = "no primary yet";
          return false;
        }
        if (replicas != static_cast<int>(nodes_.size()) - 1 || streaming.size() != nodes_.size() - 1) {
          last = std::to_string(streaming.size()) + " of " + std::to_string(nodes_.size() - 1) +
                 " replicas stream from " + leader;
          return false;
        }
        Status routed = RouterRoutesTo(leader);
        if (!routed.ok()) {
          last = routed.message();
          return false;
        }
        return true;
      },
      timeout);
  if (!ok) return Timeout("cluster not healthy: " + last);
  return Status::Ok();
}

Status Sandbox::Down(bool wipe) {
  Status result = StopRouter();
  // A frozen process (a test's SIGSTOP) would not act on SIGTERM.
  if (etcd_pid_ > 0) kill(etcd_pid_, SIGCONT);
  for (const auto& n : nodes_) {
    if (n.pid > 0) kill(n.pid, SIGCONT);
  }
  for (const auto& n : nodes_) {
    if (!StopPid(n.pid, SIGTERM, Duration(60000)) && !StopPid(n.pid, SIGKILL, Duration(5000))) {
      result = Timeout("agent " + n.name + " (pid " + std::to_string(n.pid) + ") did not exit");
    }
    // A postmaster left behind (agent killed with SIGKILL): it lives in our data dir, so it is ours to stop.
    auto pidfile = ReadFile(n.data_dir + "/postmaster.pid");
    if (pidfile.ok()) {
      pid_t pm = static_cast<pid_t>(std::atol(pidfile->c_str()));
      if (pm > 0 && ProcessAlive(pm) && !StopPid(pm, SIGINT, Duration(30000))) StopPid(pm, SIGKILL, Duration(5000));
    }
    // The fence supervisor of a killed agent (it names our data dir on its command line).
    for (pid_t p : FenceSupervisorsOf(n.data_dir)) {
      if (!StopPid(p, SIGTERM, Duration(5000))) StopPid(p, SIGKILL, Duration(5000));
    }
  }
  if (etcd_pid_ > 0 && !StopPid(etcd_pid_, SIGTERM, Duration(15000))) StopPid(etcd_pid_, SIGKILL, Duration(5000));
  if (wipe && PathExists(spec_.dir + "/sandbox.json")) {
    Status w = RemoveAll(spec_.dir);
    if (!w.ok()) result = w;
  }
  return result;
}

std::vector<pid_t> FenceSupervisorsOf(const std::string& data_dir) {
  return FindFenceSupervisors(data_dir, /*any_user=*/true);
}

std::optional<pid_t> Sandbox::PostmasterPid(const std::string& name) const {
  const SandboxNode* n = Node(name);
  if (n == nullptr) return std::nullopt;
  return LivePostmaster(n->data_dir);
}

std::string Sandbox::Describe() const {
  std::string out = "etcd: http://" + etcd_endpoint_ + "   (keys under " + KeyPrefix() + ")\n";
  for (const auto& n : nodes_) {
    std::string role = "?";
    auto body = NodeStatus(n.name);
    if (body.ok()) {
      Json j = Json::parse(*body, nullptr, false);
      if (!j.is_discarded()) role = j.value("role", "?");
    }
    out += n.name + " (" + role + "): postgresql://postgres:" + kSuperuserPassword +
           "@127.0.0.1:" + std::to_string(n.pg_port) +
           "/postgres   REST http://127.0.0.1:" + std::to_string(n.api_port) + "/patroni   log " + n.log_path + "\n";
  }
  return out + DescribeRouter();
}

}  // namespace pgw
