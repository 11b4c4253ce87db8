#include "agent/agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/peers.h"
#include "common/fs.h"

namespace pgw {

namespace {

// True when something already listens on host:port (TCP connect succeeds).
bool PortInUse(const std::string& host, int port) {
  std::string h = host == "*" || host == "0.0.0.0" ? "127.0.0.1" : host;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, h.c_str(), &a.sin_addr) != 1) return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool used = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return used;
}

}  // namespace

Agent::Agent(std::shared_ptr<const Config> cfg, const Clock& clock, Logger& log)
    : cfg_(std::move(cfg)), clock_(clock), log_(log) {
  dyn_ = cfg_->bootstrap.dynamic;
  pg_ = std::make_unique<PgController>(cfg_, log_);
  dcs_ = std::make_unique<EtcdDcs>(*cfg_, clock_, log_, [this] {
    // Called on the watch thread: wake the loop at once when the leader, config or initialize key changed.
    // Other changes (member keys, status) wait for the next loop_wait, as in Patroni.
    std::string sig = dcs_->WakeSignature();
    std::lock_guard<std::mutex> l(wake_mu_);
    if (sig == last_leader_sig_) return;
    last_leader_sig_ = sig;
    wake_ = true;
    wake_cv_.notify_all();
  });
  rest_ = std::make_unique<RestServer>([this](const HttpServerRequest& r) { return HandleHttp(r); });
}

Agent::~Agent() {
  if (rest_) rest_->Stop();
  if (dcs_) dcs_->Stop();
}

void Agent::RequestStop() {
  stop_ = true;
  std::lock_guard<std::mutex> l(wake_mu_);
  wake_ = true;
  wake_cv_.notify_all();
}

void Agent::WaitNextCycle(Duration d) {
  std::unique_lock<std::mutex> l(wake_mu_);
  wake_cv_.wait_for(l, d, [&] { return wake_ || stop_.load(); });
  wake_ = false;
}

Status Agent::StartupChecks() {
  if (geteuid() == 0) {
    return InvalidArgument("refusing to run as root: PostgreSQL cannot run as root; run pgwarden as the OS user "
                           "that owns the data directory (usually postgres)");
  }
  std::string problem;
  if (pg_->InspectDataDir(&problem) == LocalView::Data::kInvalid) return InvalidArgument(problem);
  const auto& pg = cfg_->postgresql;
  bool pg_running = false;
  auto pidfile = ReadFile(pg.data_dir + "/postmaster.pid");
  if (pidfile.ok()) pg_running = ProcessAlive(static_cast<pid_t>(std::atol(pidfile->c_str())));
  if (!pg_running) {
    for (const auto& h : pg.listen_hosts) {
      if (PortInUse(h, pg.port)) {
        return Unavailable("postgresql.listen: port " + std::to_string(pg.port) + " on " + h +
                           " is already in use by another program");
      }
    }
  }
  Status s = rest_->Listen(cfg_->restapi.listen_host, cfg_->restapi.listen_port);
  if (!s.ok()) return s;
  return Status::Ok();
}

bool Agent::WaitForDcs() {
  std::string endpoints;
  for (const auto& h : cfg_->etcd3.hosts) endpoints += (endpoints.empty() ? "" : ",") + h.ToString();
  auto last_log = clock_.Now() - Duration(60000);
  while (!stop_) {
    Status s = dcs_->EnsureLease();
    if (s.ok() && dcs_->Cluster().ok()) return true;
    if (clock_.Now() - last_log >= Duration(5000)) {
      log_.Warn("waiting on etcd at " + endpoints + ": " + (s.ok() ? "no view of the cluster yet" : s.message()));
      last_log = clock_.Now();
    }
    WaitNextCycle(Duration(500));
  }
  return false;
}

int Agent::Run() {
  Status s = StartupChecks();
  if (!s.ok()) {
    log_.Error(s.message());
    return 1;
  }
  rest_->Start();
  log_.Info("pgwarden " + std::string(kPgwardenVersion) + " starting: member " + cfg_->name + " of scope " +
            cfg_->scope + ", REST API on " + cfg_->restapi.listen_host + ":" + std::to_string(rest_->port()));
  dcs_->Start(dyn_.ttl);
  if (!WaitForDcs()) {
    rest_->Stop();
    dcs_->Stop();
    return exit_code_;
  }
  while (!stop_) {
    auto started = clock_.Now();
    Cycle();
    if (stop_) break;
    auto elapsed = clock_.Now() - started;
    Duration period(dyn_.loop_wait * 1000);
    if (elapsed >= period) {
      log_.Info("Loop time exceeded, rescheduling immediately.");
      continue;
    }
    WaitNextCycle(period - std::chrono::duration_cast<Duration>(elapsed));
  }
  if (exit_code_ == 0) Shutdown();
  rest_->Stop();
  dcs_->Stop();
  return exit_code_;
}

void Agent::Cycle() {
  auto view = dcs_->Cluster();
  if (!view.ok()) {
    log_.Warn("DCS is not accessible: " + view.status().message());
    return;
  }
  if (view->config) {
    std::vector<std::string> problems;
    DynamicConfig d = DynamicConfig::FromJson(*view->config, "config", &problems);
    if (problems.empty()) {
      dyn_ = d;
    } else {
      for (const auto& p : problems) log_.Warn("ignoring invalid dynamic configuration in etcd: " + p);
    }
  }
  pg_->SetDynamicConfig(dyn_);
  dcs_->SetTtl(dyn_.ttl);

  LocalView local = pg_->Observe();
  pg_state_ = !local.running ? (pg_state_ == "creating replica" || pg_state_ == "initializing new cluster"
                                    ? pg_state_ : "stopped")
                             : (local.query_ok ? "running" : "starting");
  ha::Inputs in;
  in.config = cfg_.get();
  in.dynamic = dyn_;
  in.cluster = &*view;
  in.local = &local;
  in.my_lease = dcs_->LeaseId();
  ha::Decision d = ha::Decide(in);
  if (!d.actions.empty() && d.actions.front().type == ha::ActionType::kCheckPeers) {
    in.peers = CheckPeers(*view, cfg_->name, Duration(2000));
    in.peers_checked = true;
    d = ha::Decide(in);
  }
  log_.Info(d.message);
  bool ok = Execute(d, *view, local);
  if (stop_) return;
  // Re-observe after acting so that the member key and the API show the state we left PostgreSQL in.
  if (ok && !d.actions.empty() && d.actions.front().type != ha::ActionType::kWait) local = pg_->Observe();
  if (local.running) pg_state_ = local.query_ok ? "running" : "starting";
  TouchMember(local);
  auto fresh = dcs_->Cluster();
  Publish(local, fresh.ok() ? &*fresh : &*view);
}

bool Agent::Execute(const ha::Decision& d, const ClusterView& view, const LocalView& local) {
  for (const auto& a : d.actions) {
    if (stop_) return false;
    Status s = ExecuteOne(a, view, local);
    if (!s.ok()) {
      if (a.type == ha::ActionType::kFatal) return false;
      if (s.code() == Code::kAlreadyExists && a.type == ha::ActionType::kAttemptInitialize) {
        log_.Info("failed to acquire initialize lock");
      } else if (s.code() == Code::kAlreadyExists && a.type == ha::ActionType::kAttemptLeader) {
        log_.Info("failed to acquire the leader lock: another member holds it");
      } else {
        log_.Error(std::string(ha::ActionName(a.type)) + " failed: " + s.message());
      }
      return false;
    }
  }
  return true;
}

Status Agent::ExecuteOne(const ha::Action& a, const ClusterView& view, const LocalView& local) {
  using ha::ActionType;
  switch (a.type) {
    case ActionType::kWait:
    case ActionType::kCheckPeers:
      return Status::Ok();
    case ActionType::kFatal:
      log_.Error(a.target.empty() ? "stopping: fatal condition" : a.target);
      exit_code_ = 1;
      stop_ = true;
      return Internal("fatal");
    case ActionType::kAttemptInitialize:
      return dcs_->AttemptInitialize("");
    case ActionType::kBootstrap:
      return Bootstrap();
    case ActionType::kClone: {
      pg_state_ = "creating replica";
      TouchMember(local);
      Status s = pg_->Clone(*a.address);
      if (!s.ok()) {
        pg_state_ = "stopped";
        Status w = pg_->WipeDataDir();
        if (!w.ok()) log_.Error(w.message());
        return s.Context("cloning from " + a.target);
      }
      log_.Info("cloned from " + a.target);
      return Status::Ok();
    }
    case ActionType::kStartPrimary:
      pg_state_ = "starting";
      return pg_->Start(std::nullopt);
    case ActionType::kStartReplica:
      pg_state_ = "starting";
      return pg_->Start(a.upstream);
    case ActionType::kFollow:
      log_.Info("changing primary_conninfo to follow " + a.target + " (" + a.upstream->address.ToString() +
                ") and reloading");
      return pg_->Follow(*a.upstream);
    case ActionType::kAttemptLeader:
      return dcs_->AttemptLeader();
    case ActionType::kRefreshLeader:
      return dcs_->RefreshLeader();
    case ActionType::kPromote: {
      PGW_RETURN_IF_ERROR(pg_->Promote());
      return WriteHistoryAfterPromote(view);
    }
    case ActionType::kDemote:
      PGW_RETURN_IF_ERROR(pg_->Stop(StopMode::kImmediate));
      return pg_->Start(a.upstream);
    case ActionType::kWriteStatus:
      return dcs_->WriteStatus(EncodeStatus(a.optime));
    case ActionType::kSyncSlots:
      return pg_->SyncSlots(a.slots, local.physical_slots);
  }
  return Internal("unknown action");
}

Status Agent::Bootstrap() {
  pg_state_ = "initializing new cluster";
  TouchMember(LocalView{});
  auto sysid = pg_->Bootstrap();
  if (!sysid.ok()) {
    log_.Error("bootstrap failed: " + sysid.status().message() + "; removing the initialize key and the data");
    Status st = pg_->Stop(StopMode::kImmediate);
    if (!st.ok()) log_.Error(st.message());
    st = pg_->WipeDataDir();
    if (!st.ok()) log_.Error(st.message());
    st = dcs_->CancelInitialize();
    if (!st.ok()) log_.Error(st.message());
    pg_state_ = "stopped";
    return sysid.status();
  }
  PGW_RETURN_IF_ERROR(dcs_->SetInitialize(*sysid, ""));
  PGW_RETURN_IF_ERROR(dcs_->InitializeConfig(cfg_->bootstrap.dcs.dump()));
  PGW_RETURN_IF_ERROR(dcs_->AttemptLeader());
  pg_state_ = "running";
  log_.Info("initialized a new cluster");
  return Status::Ok();
}

Status Agent::WriteHistoryAfterPromote(const ClusterView& view) {
  LocalView after = pg_->Observe();
  if (after.timeline <= 1) return Status::Ok();
  char name[32];
  std::snprintf(name, sizeof name, "%08X.history", after.timeline);
  auto text = ReadFile(cfg_->postgresql.data_dir + "/pg_wal/" + name);
  if (!text.ok()) {
    log_.Warn("promoted, but cannot read the timeline history: " + text.status().message());
    return Status::Ok();
  }
  Json history = view.history.is_array() ? view.history : Json::array();
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int tl;
    std::string lsn;
    if (!(ls >> tl >> lsn)) continue;
    std::string reason;
    std::getline(ls, reason);
    while (!reason.empty() && (reason.front() == '\t' || reason.front() == ' ')) reason.erase(0, 1);
    bool known = false;
    for (const auto& e : history) known = known || (e.is_array() && !e.empty() && e[0] == tl);
    if (known) continue;
    auto lsn_bytes = ParseLsn(lsn);
    history.push_back({tl, lsn_bytes.value_or(0), reason, IsoTimestamp(clock_.WallSeconds()), cfg_->name});
  }
  return dcs_->WriteHistory(history.dump());
}

void Agent::TouchMember(const LocalView& local) {
  MemberData m;
  m.conn_url = ConnUrl(cfg_->postgresql.connect_address);
  m.api_url = ApiUrl(cfg_->restapi.connect_address);
  m.state = pg_state_;
  NodeState ns;
  ns.local = local;
  ns.pg_state = pg_state_;
  m.role = RoleOf(ns);
  m.version = kPatroniCompatVersion;
  if (local.query_ok) m.xlog_location = local.wal_position;
  if (local.timeline) m.timeline = local.timeline;
  if (local.query_ok && local.in_recovery) m.replication_state = local.replication_state;
  m.tags = cfg_->tags.published;
  std::string json = EncodeMember(m);
  int64_t lease = dcs_->LeaseId();
  if (json == last_member_json_ && lease == last_member_lease_ && lease != 0) return;
  Status s = dcs_->TouchMember(json);
  if (!s.ok()) {
    log_.Warn(s.message());
    return;
  }
  last_member_json_ = json;
  last_member_lease_ = dcs_->LeaseId();
}

void Agent::Publish(const LocalView& local, const ClusterView* view) {
  std::lock_guard<std::mutex> l(state_mu_);
  state_.local = local;
  state_.pg_state = pg_state_;
  state_.dcs_ok = view != nullptr;
  if (view) {
    state_.dcs_last_seen = clock_.WallSeconds();
    state_.is_leader = view->leader && view->leader->name == cfg_->name;
    state_.cluster_unlocked = !view->leader;
    state_.last_lsn = view->last_lsn;
  }
}

void Agent::Shutdown() {
  log_.Info("shutting down: stopping PostgreSQL");
  auto view = dcs_->Cluster();
  bool leader = view.ok() && view->leader && view->leader->name == cfg_->name;
  Status s = pg_->Stop(StopMode::kFast);
  if (!s.ok()) log_.Error("stopping PostgreSQL: " + s.message());
  pg_state_ = "stopped";
  if (leader) {
    s = dcs_->DeleteLeader();
    if (s.ok()) log_.Info("Leader key released");
    else log_.Error("could not release the leader key: " + s.message());
  }
  TouchMember(pg_->Observe());
  log_.Info("PostgreSQL stopped; pgwarden exits");
}

HttpServerResponse Agent::HandleHttp(const HttpServerRequest& req) {
  NodeState s;
  {
    std::lock_guard<std::mutex> l(state_mu_);
    s = state_;
  }
  bool status_only = req.method == "HEAD" || req.method == "OPTIONS";
  if (req.method != "GET" && !status_only) {
    return HttpServerResponse{501, "text/plain", "Unsupported method (" + req.method + ")\n", false};
  }
  int code = HealthCheckCode(*cfg_, s, req.path, req.query);
  if (code == 0) code = 503;  // unknown GET path: Patroni's generic health handler answers 503
  return HttpServerResponse{code, "application/json", StatusJson(*cfg_, s).dump(), status_only};
}

}  // namespace pgw
