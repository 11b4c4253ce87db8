#include "torture/cluster.h"

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "net/http_client.h"
#include "pg/libpq.h"

namespace pgw::torture {

using Json = nlohmann::json;

namespace {

Result<std::string> FirstValue(const std::string& dsn, const std::string& sql) {
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(dsn, Duration(3000)));
  auto r = c.Query(sql);
  if (!r.ok()) return r.status();
  if (r->empty() || !r->front()[0]) return Internal("no answer to " + sql);
  return *r->front()[0];
}

}  // namespace

Status ReachesPrimary(const std::string& dsn) {
  auto v = FirstValue(dsn, "SELECT pg_is_in_recovery()");
  if (!v.ok()) return v.status();
  return *v == "f" ? Status::Ok() : Unavailable("the DSN reaches a server in recovery, not the primary");
}

bool WaitsForStandby(const std::string& dsn) {
  auto v = FirstValue(dsn, "SHOW synchronous_standby_names");
  return v.ok() && !v->empty();
}

Result<std::unique_ptr<SandboxCluster>> SandboxCluster::Load(const std::string& dir) {
  auto sb = Sandbox::Load(dir);
  if (!sb.ok()) return sb.status();
  std::unique_ptr<SandboxCluster> c(new SandboxCluster());
  c->sb_ = std::make_unique<Sandbox>(std::move(*sb));
  return c;
}

Result<std::unique_ptr<SandboxCluster>> SandboxCluster::Start(SandboxSpec spec, Logger& log) {
  std::unique_ptr<SandboxCluster> c(new SandboxCluster());
  c->started_here_ = true;
  spec.node_etcd_hosts.clear();
  for (int i = 0; i < spec.nodes; ++i) {
    c->links_.push_back(std::make_unique<Forwarder>());
    if (c->links_.back()->port() <= 0) return Unavailable("cannot listen for an etcd link forwarder");
    spec.node_etcd_hosts.push_back(c->links_.back()->address());
  }
  auto sb = Sandbox::Up(spec, log);
  if (!sb.ok()) {
    auto partial = Sandbox::Load(spec.dir);
    if (partial.ok()) partial->Down(false).ok();
    return sb.status();
  }
  c->sb_ = std::make_unique<Sandbox>(std::move(*sb));
  for (auto& l : c->links_) l->SetTarget(c->sb_->EtcdEndpoint());
  Status h = c->sb_->WaitHealthy(Duration(180000));
  if (!h.ok()) {
    c->Stop(/*keep=*/true).ok();
    return h.Context("the sandbox torture started did not become healthy (logs kept in " + spec.dir + ")");
  }
  return c;
}

SandboxCluster::~SandboxCluster() { Stop(/*keep=*/true).ok(); }

Status SandboxCluster::Stop(bool keep) {
  if (stopped_ || !sb_) return Status::Ok();
  stopped_ = true;
  if (!started_here_) return Status::Ok();
  return sb_->Down(!keep);
}

Status SandboxCluster::WaitHealthy(Duration timeout) { return sb_->WaitHealthy(timeout); }

std::string SandboxCluster::Leader() const {
  for (const auto& n : sb_->nodes()) {
    auto body = sb_->NodeStatus(n.name);
    if (!body.ok()) continue;
    Json j = Json::parse(*body, nullptr, false);
    std::string role = j.is_object() ? j.value("role", "") : "";
    if ((role == "primary" || role == "master") && ReachesPrimary(sb_->Conninfo(n.name)).ok()) return n.name;
  }
  return "";
}

Result<std::string> SandboxCluster::PrimaryDsn() {
  std::string leader = Leader();
  if (leader.empty()) return Unavailable("no member of the sandbox is a primary");
  return sb_->Conninfo(leader);
}

std::string SandboxCluster::DefaultDsn() const {
  std::string auth = std::string(" user=postgres password=") + Sandbox::kSuperuserPassword + " dbname=postgres";
  if (sb_->router().write_port > 0) {
    return "host=127.0.0.1 port=" + std::to_string(sb_->router().write_port) + auth;
  }
  std::string hosts, ports;
  for (const auto& n : sb_->nodes()) {
    hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1");
    ports += (ports.empty() ? "" : ",") + std::to_string(n.pg_port);
  }
  return "host=" + hosts + " port=" + ports + auth + " target_session_attrs=read-write";
}

Result<std::string> SandboxCluster::ConfigJson() const {
  HttpClient http;
  std::string last = "the sandbox has no nodes";
  for (const auto& n : sb_->nodes()) {
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(n.api_port) + "/config";
    req.timeout = Duration(2000);
    auto r = http.Do(req);
    if (r.ok() && r->status == 200) return r->body;
    last = r.ok() ? "GET /config answered " + std::to_string(r->status) : r.status().message();
  }
  return Unavailable(last);
}

int SandboxCluster::Ttl() const {
  auto body = ConfigJson();
  if (!body.ok()) return 30;
  Json j = Json::parse(*body, nullptr, false);
  return j.is_object() && j.contains("ttl") && j["ttl"].is_number() ? j["ttl"].get<int>() : 30;
}

bool SandboxCluster::SynchronousMode() const {
  auto body = ConfigJson();
  if (!body.ok()) return false;
  Json j = Json::parse(*body, nullptr, false);
  return j.is_object() && j.contains("synchronous_mode") && j["synchronous_mode"].is_boolean() &&
         j["synchronous_mode"].get<bool>();
}

Forwarder* SandboxCluster::EtcdLink(const std::string& node) {
  for (size_t i = 0; i < links_.size() && i < sb_->nodes().size(); ++i) {
    if (sb_->nodes()[i].name == node) return links_[i].get();
  }
  return nullptr;
}

Status DsnCluster::WaitHealthy(Duration timeout) {
  std::string last = "not checked";
  bool ok = WaitFor(
      [&] {
        if (health_.empty()) {
          Status s = ReachesPrimary(dsn_);
          last = s.ok() ? "" : s.message();
          return s.ok();
        }
        ProcessOptions o;
        o.timeout = Duration(30000);
        auto r = Run(health_, o);
        if (!r.ok()) {
          last = r.status().message();
          return false;
        }
        last = "the health command: " + r->Describe();
        return r->Success();
      },
      timeout, health_.empty() ? kTorturePoll : Duration(500));  // a user's health command is not run in a busy loop
  return ok ? Status::Ok() : Timeout("cluster not healthy: " + last);
}

Result<std::string> DsnCluster::PrimaryDsn() {
  PGW_RETURN_IF_ERROR(ReachesPrimary(dsn_));
  return dsn_;
}

}  // namespace pgw::torture
