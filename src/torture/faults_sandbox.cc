// The built-in sandbox faults (torture/faults.h), moved here from the torture benchmark.
#include <dirent.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "net/http_client.h"
#include "pg/libpq.h"
#include "torture/faults.h"

namespace pgw::torture {

namespace {

using Json = nlohmann::json;

// The postmaster of a node and every process whose parent it is (backends, walsender, walreceiver...).
std::vector<pid_t> PostgresProcesses(const Sandbox& sb, const std::string& node) {
  std::vector<pid_t> out;
  auto pm = sb.PostmasterPid(node);
  if (!pm) return out;
  out.push_back(*pm);
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
    if (pid <= 0) continue;
    auto stat = ReadFile("/proc/" + std::string(e->d_name) + "/stat");
    if (!stat.ok()) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat->c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == *pm) out.push_back(pid);
  }
  closedir(d);
  return out;
}

void SignalAll(const std::vector<pid_t>& pids, int sig) {
  for (pid_t p : pids) kill(p, sig);
}

// The agent, its fence supervisors and its postmaster, SIGKILLed together (a machine dying).
void KillMachine(const Sandbox& sb, const std::string& node) {
  const SandboxNode* n = sb.Node(node);
  auto pm = sb.PostmasterPid(node);
  for (pid_t p : FenceSupervisorsOf(n->data_dir)) kill(p, SIGKILL);
  kill(n->pid, SIGKILL);
  if (pm) kill(*pm, SIGKILL);
}

Result<HttpResponse> Api(const Sandbox& sb, const std::string& node, const std::string& method, const std::string& path,
                         const std::string& body, Duration timeout) {
  HttpClient http;
  HttpRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(sb.Node(node)->api_port) + path;
  req.body = body;
  if (!body.empty()) req.headers["Content-Type"] = "application/json";
  req.timeout = timeout;
  return http.Do(req);
}

Status Expect200(const Result<HttpResponse>& r, const std::string& what) {
  if (!r.ok()) return r.status().Context(what);
  if (r->status != 200) return Unavailable(what + " answered " + std::to_string(r->status) + ": " + r->body);
  return Status::Ok();
}

// The member GET /sync answers 200 on: the published synchronous standby ("" when none).
std::string PublishedSyncStandby(const Sandbox& sb) {
  for (const auto& n : sb.nodes()) {
    auto r = Api(sb, n.name, "GET", "/sync", "", Duration(1000));
    if (r.ok() && r->status == 200) return n.name;
  }
  return "";
}

std::string Setting(const std::string& conninfo, const std::string& name) {
  PgConnection c;
  if (!c.Connect(conninfo, Duration(3000)).ok()) return "";
  auto r = c.Query("SHOW " + name);
  return r.ok() && !r->empty() && r->front()[0] ? *r->front()[0] : "";
}

class SandboxFault final : public Fault {
 public:
  SandboxFault(std::string name, SandboxCluster& c, std::optional<Duration> hold)
      : name_(std::move(name)), c_(c), sb_(c.sandbox()), ttl_(c.Ttl()), hold_(hold) {
    if (!hold_) hold_ = DefaultHold();
  }
  ~SandboxFault() override { Recover().ok(); }

  std::optional<Duration> Hold() const override { return hold_; }
  bool ExpectsSameLeader() const override { return name_ == "ttl-change"; }

  Status Inject() override {
    leader_ = c_.Leader();
    if (leader_.empty()) return Unavailable("no leader to inject " + name_ + " on");
    const SandboxNode* n = sb_.Node(leader_);
    if (name_ == "kill-primary") {
      auto pm = sb_.PostmasterPid(leader_);
      if (!pm) return Unavailable("the leader " + leader_ + " has no postmaster to kill");
      kill(*pm, SIGKILL);
    } else if (name_ == "kill-agent") {
      kill(n->pid, SIGKILL);
      restart_ = {leader_};
    } else if (name_ == "kill-machine") {
      KillMachine(sb_, leader_);
      restart_ = {leader_};
    } else if (name_ == "freeze-agent") {
      Freeze({n->pid});
    } else if (name_ == "freeze-postgres") {
      Freeze(PostgresProcesses(sb_, leader_));
    } else if (name_ == "stop-etcd") {
      if (sb_.EtcdPid() <= 0) return Unavailable("this sandbox uses an etcd it did not start: stop-etcd cannot run");
      Freeze({sb_.EtcdPid()});
    } else if (name_ == "switchover") {
      std::string candidate;
      for (const auto& m : sb_.nodes()) {
        if (m.name != leader_ && candidate.empty()) candidate = m.name;
      }
      Json body{{"leader", leader_}, {"candidate", candidate}};
      return Expect200(Api(sb_, leader_, "POST", "/switchover", body.dump(), Duration(60000)), "POST /switchover");
    } else if (name_ == "partition-primary") {
      link_ = c_.EtcdLink(leader_);
      if (link_ == nullptr) {
        return InvalidArgument(
            "partition-primary needs a sandbox this run starts (--sandbox on a directory without "
            "one), whose agents reach etcd through forwarders");
      }
      link_->SetMode(Forwarder::Mode::kFreeze);
    } else if (name_ == "ttl-change") {
      ttl_patched_ = true;
      return Expect200(Api(sb_, leader_, "PATCH", "/config", Json{{"ttl", ttl_ + 3}}.dump(), Duration(10000)),
                       "PATCH /config");
    } else if (name_ == "lagging-sync") {
      return InjectLaggingSync();
    } else {
      return InvalidArgument("unknown fault " + name_);
    }
    return Status::Ok();
  }

  Status Recover() override {
    Status result = Status::Ok();
    SignalAll(frozen_, SIGCONT);
    frozen_.clear();
    if (link_ != nullptr) link_->SetMode(Forwarder::Mode::kPass);
    link_ = nullptr;
    for (const auto& r : restart_) {
      sb_.SignalNode(r, SIGKILL, true, Duration(5000)).ok();  // reaps the killed agent when it is our child
      if (Status s = sb_.StartNode(r); !s.ok()) result = s.Context("restarting " + r);
    }
    restart_.clear();
    if (ttl_patched_) {
      ttl_patched_ = false;
      std::string target = c_.Leader().empty() ? leader_ : c_.Leader();
      Status s = Expect200(Api(sb_, target, "PATCH", "/config", Json{{"ttl", ttl_}}.dump(), Duration(10000)),
                           "PATCH /config (ttl back)");
      if (!s.ok()) result = s;
    }
    return result;
  }

 private:
  std::optional<Duration> DefaultHold() const {
    Duration ttl(ttl_ * 1000);
    if (name_ == "kill-agent" || name_ == "kill-machine" || name_ == "freeze-agent" || name_ == "stop-etcd" ||
        name_ == "ttl-change") {
      return 2 * ttl;
    }
    if (name_ == "freeze-postgres" || name_ == "partition-primary") return 3 * ttl;
    if (name_ == "lagging-sync") return ttl;
    return std::nullopt;  // kill-primary, switchover: nothing to undo
  }

  void Freeze(std::vector<pid_t> pids) {
    SignalAll(pids, SIGSTOP);
    frozen_.insert(frozen_.end(), pids.begin(), pids.end());
  }

  Status InjectLaggingSync() {
    std::string sync = PublishedSyncStandby(sb_), async;
    for (const auto& m : sb_.nodes()) {
      if (m.name != leader_ && m.name != sync) async = m.name;
    }
    if (sync.empty() || async.empty()) return Unavailable("lagging-sync needs a synchronous and an async standby");
    std::vector<pid_t> lagging = PostgresProcesses(sb_, async);
    SignalAll(lagging, SIGSTOP);
    // Acknowledged commits the frozen standby lacks pile up for a second.
    std::this_thread::sleep_for(Duration(1000));
    KillMachine(sb_, sync);
    restart_ = {sync, leader_};
    // The primary replaces the dead standby with the frozen one in synchronous_standby_names; give it a loop to
    // (wrongly) publish it before the primary dies too.
    WaitFor(
        [&] { return Setting(sb_.Conninfo(leader_), "synchronous_standby_names").find(async) != std::string::npos; },
        Duration(5000), kTorturePoll);
    std::this_thread::sleep_for(Duration(1500));
    KillMachine(sb_, leader_);
    SignalAll(lagging, SIGCONT);
    return Status::Ok();
  }

  std::string name_;
  SandboxCluster& c_;
  Sandbox& sb_;
  int ttl_;
  std::optional<Duration> hold_;
  std::string leader_;
  std::vector<pid_t> frozen_;
  std::vector<std::string> restart_;
  Forwarder* link_ = nullptr;
  bool ttl_patched_ = false;
};

}  // namespace

const std::vector<std::string>& SandboxFaultNames() {
  static const std::vector<std::string> kNames = {"kill-primary",    "kill-agent",  "kill-machine", "freeze-agent",
                                                  "freeze-postgres", "stop-etcd",   "switchover",   "partition-primary",
                                                  "ttl-change",      "lagging-sync"};
  return kNames;
}

Result<std::unique_ptr<Fault>> MakeSandboxFault(const std::string& name, SandboxCluster& cluster,
                                                std::optional<Duration> hold) {
  const auto& names = SandboxFaultNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return InvalidArgument("unknown fault '" + name + "'");
  }
  return std::unique_ptr<Fault>(new SandboxFault(name, cluster, hold));
}

}  // namespace pgw::torture
