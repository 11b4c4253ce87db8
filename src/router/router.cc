#include "router/router.h"

#include "net/http_server.h"
#include "router/admin.h"

namespace pgw::router {

Router::Router(std::shared_ptr<const RouterConfig> cfg, const Clock& clock, Logger& log)
    : cfg_(std::move(cfg)), clock_(clock), log_(log) {}

Router::~Router() { Stop(); }

Status Router::Start() {
  started_at_ = clock_.Now();
  for (int i = 0; i < cfg_->workers; ++i) {
    auto w = std::make_unique<Worker>(i, cfg_, shared_, clock_, log_);
    PGW_RETURN_IF_ERROR(w->Init());
    workers_.push_back(std::move(w));
  }
  admin_ = std::make_unique<RestServer>([this](const HttpServerRequest& req) {
    HttpServerResponse r;
    if (req.method != "GET" && req.method != "HEAD") {
      r.status = 405;
      r.body = "{\"error\": \"only GET\"}";
      return r;
    }
    if (req.path == "/health") {
      auto [code, body] = Health();
      r.status = code;
      r.body = body;
    } else if (req.path == "/stats") {
      r.body = StatsJson();
    } else if (req.path == "/metrics") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = Metrics();
    } else {
      r.status = 404;
      r.body = "{\"error\": \"not found: /health, /stats, /metrics\"}";
    }
    r.status_line_only = req.method == "HEAD";
    return r;
  });
  PGW_RETURN_IF_ERROR(admin_->Listen(cfg_->listen_admin.host, cfg_->listen_admin.port).Context("listen_admin"));
  topology_ = std::make_unique<TopologyWatcher>(cfg_->etcd, cfg_->KeyPrefix(), clock_, log_,
                                                [this](const std::shared_ptr<const Topology>& t) {
                                                  for (auto& w : workers_) w->SetTopology(t);
                                                });
  for (auto& w : workers_) w->Start();
  topology_->Start();
  admin_->Start();
  log_.Info("pgwarden-router: read-write on " + cfg_->listen_write.host + ":" + std::to_string(write_port()) +
            ", read-only on " + cfg_->listen_read.host + ":" + std::to_string(read_port()) + ", admin on " +
            cfg_->listen_admin.host + ":" + std::to_string(admin_port()) + ", " + std::to_string(workers_.size()) +
            " workers, watching " + cfg_->KeyPrefix());
  return Status::Ok();
}

void Router::Stop() {
  if (admin_) admin_->Stop();
  if (topology_) topology_->Stop();
  for (auto& w : workers_) w->Stop();
}

std::shared_ptr<const RouterConfig> Router::config() const {
  std::lock_guard<std::mutex> l(cfg_mu_);
  return cfg_;
}

ReloadPlan Router::Reload(const RouterConfigResult& loaded) {
  ReloadPlan plan;
  for (const auto& w : loaded.warnings) log_.Warn("reload: " + w);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) log_.Error("reload refused: " + e);
    log_.Error("reload refused: the configuration has errors; the running configuration is kept");
    shared_.reload_failures.fetch_add(1);
    return plan;
  }
  auto running = config();
  plan = PlanReload(*running, *loaded.config);
  {
    std::lock_guard<std::mutex> l(cfg_mu_);
    cfg_ = plan.next;
  }
  log_.SetLevel(plan.next->log_level);
  for (auto& w : workers_) w->SetConfig(plan.next);
  if (plan.etcd_changed && topology_) topology_->SetEtcd(plan.next->etcd);
  for (const auto& a : plan.applied) log_.Info("reload: applied " + a);
  for (const auto& r : plan.needs_restart) log_.Warn("reload: not applied, " + r);
  if (plan.applied.empty() && plan.needs_restart.empty()) log_.Info("reload: nothing changed");
  shared_.reloads.fetch_add(1);  // after the log lines: whoever sees the count sees them
  return plan;
}

int Router::write_port() const { return workers_.empty() ? 0 : workers_[0]->write_port(); }
int Router::read_port() const { return workers_.empty() ? 0 : workers_[0]->read_port(); }
int Router::admin_port() const { return admin_ ? admin_->port() : 0; }

std::pair<int, std::string> Router::Health() const {
  auto t = topology_ ? topology_->Current() : std::make_shared<Topology>();
  AdminView v = MakeAdminView(*t, clock_.Now(), *config());
  Json j;
  j["status"] = v.write_target.empty() ? "no write target" : "ok";
  j["dcs_fresh"] = v.dcs_fresh;
  j["write_target"] = v.write_target;
  j["write_refusal"] = v.write_refusal;
  return {v.dcs_fresh ? 200 : 503, j.dump()};
}

std::string Router::StatsJson() const {
  auto t = topology_ ? topology_->Current() : std::make_shared<Topology>();
  std::vector<const Worker*> ws;
  for (const auto& w : workers_) ws.push_back(w.get());
  return RenderStatsJson(*t, clock_.Now(), *config(), shared_, ws, topology_.get(), started_at_);
}

std::string Router::Metrics() const {
  auto t = topology_ ? topology_->Current() : std::make_shared<Topology>();
  std::vector<const Worker*> ws;
  for (const auto& w : workers_) ws.push_back(w.get());
  return RenderMetrics(*t, clock_.Now(), *config(), shared_, ws, topology_.get());
}

}  // namespace pgw::router
