#include "agent/agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/peers.h"
#include "common/config_parameters.h"
#include "common/fs.h"
#include "ha/sync.h"
#include "pg/fence.h"

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
    : cfg_(std::move(cfg)), clock_(clock), log_(log), callbacks_(log) {
  dyn_ = cfg_->bootstrap.dynamic;
  PeerTls peer_tls;
  peer_tls.cacert = cfg_->restapi.cafile;
  if (cfg_->restapi.verify_client != "none") {
    peer_tls.cert = cfg_->restapi.certfile;
    peer_tls.key = cfg_->restapi.keyfile.empty() ? cfg_->restapi.certfile : cfg_->restapi.keyfile;
    peer_tls.key_password = cfg_->restapi.keyfile_password;
  }
  peers_ = std::make_unique<HttpPeerClient>(peer_tls);
  FenceOptions fo;
  fo.data_dir = cfg_->postgresql.data_dir;
  fo.safety_margin_s = cfg_->watchdog.safety_margin;
  fo.watchdog_mode = cfg_->watchdog.mode;
  fo.watchdog_device = cfg_->watchdog.device;
  fencer_ = std::make_unique<Fencer>(clock_, log_, fo);
  pg_ = std::make_unique<PgController>(cfg_.shared(), log_);
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
  pg_health_ = std::make_unique<PgHealth>([this] { return LocalHealthConninfo(*cfg_); }, clock_, log_);
  // An armed primary renews its lease only while its PostgreSQL answered a fresh session within the bound; a
  // postmaster that is not running at all is the HA loop's to restart in place. Replicas are never gated.
  // Once closed, the gate stays closed until the lease has surely lapsed (deadline + 1 s), so that the fence's kill
  // of the hung postmaster does not let this node renew again and keep the key: a replica takes over.
  dcs_->SetRenewGate([this] {
    if (clock_.Now() < MonoTime(Duration(renew_blocked_until_ms_.load()))) return false;
    if (!fencer_->armed() || pg_health_->Healthy() || !PostmasterRunning(cfg_->postgresql.data_dir)) return true;
    renew_blocked_until_ms_ = (dcs_->LeaseDeadline() + Duration(1000)).time_since_epoch().count();
    log_.Warn("not renewing the leader lease: PostgreSQL is running but has not answered for " +
              std::to_string(pg_health_->Bound().count()) + " ms; the lease lapses and the fence fires");
    return false;
  });
  dcs_->SetOnRenewed([this](int64_t lease, MonoTime deadline) { fencer_->OnLeaseRenewed(lease, deadline); });
  // A ttl change moved the leader key to a new lease: the fence follows it at once (its deadline may be earlier).
  dcs_->SetOnLeaseMoved([this](int64_t lease, MonoTime deadline, int ttl_s) {
    if (!fencer_->armed()) return;
    Status s = fencer_->Arm(lease, deadline, ttl_s);
    if (!s.ok()) log_.Error(s.message());
  });
  Executor::Host& host = *this;  // a private base: converted here, where it is accessible
  executor_ = std::make_unique<Executor>(cfg_, dyn_, clock_, log_, *dcs_, *pg_, callbacks_, pg_state_, host);
  failsafe_ = std::make_unique<Failsafe>(cfg_, clock_, log_, *peers_, FailsafeHooks());
  AgentControl& control = *this;  // a private base, as Executor::Host above
  api_ = std::make_unique<ApiHandlers>(control, clock_, log_);
  rest_ = std::make_unique<RestServer>([this](const HttpServerRequest& r) { return api_->Handle(r); });
}

Agent::~Agent() {
  if (rest_) rest_->Stop();
  if (dcs_) dcs_->Stop();
}

Status Agent::ArmFencing() {
  int64_t lease = dcs_->LeaseId();
  if (lease == 0) return Unavailable("no lease to arm fencing with");
  // Arming starts the health bound afresh (pg_health.h): the checker's last success may date from before a long
  // initdb or start, and that gap is not a hang of the PostgreSQL this node now runs as primary.
  if (!fencer_->armed()) pg_health_->MarkOk();
  Status s = fencer_->Arm(lease, dcs_->LeaseDeadline(), dyn_.ttl);
  if (s.ok()) pg_health_->SetActive(true);
  return s;
}

void Agent::UpdateFencing(const LocalView& local, const ClusterView* view) {
  bool primary = local.running && local.query_ok && !local.in_recovery;
  bool unknown = local.running && !local.query_ok;
  if (!primary && !unknown) {
    fencer_->Disarm();
  } else if (primary) {
    if (dyn_.pause) {
      fencer_->Disarm();  // maintenance mode: nobody is promoted automatically, and we never touch PostgreSQL
    } else if (view && view->leader && view->leader->name == cfg_->name && view->leader->lease != 0 &&
               view->leader->lease == dcs_->LeaseId()) {
      Status s = ArmFencing();
      if (!s.ok()) log_.Error(s.message());
    }
    // Otherwise keep what is armed: the old lease's deadline (plus failsafe confirmations) still bounds us.
  }
  if (!old_supervisors_retired_ && (fencer_->armed() || (!primary && !unknown))) {
    if (fencer_->supervisor()) fencer_->supervisor()->RetireOthers();
    old_supervisors_retired_ = true;
  }
  // Only an armed primary's renewals depend on the health check (the renew gate): nobody else pays for it.
  pg_health_->SetActive(fencer_->armed());
  // The failsafe thread sleeps until this holds.
  if (failsafe_->Enabled() && fencer_->armed()) failsafe_->Notify();
}

void Agent::FireCallbacks(const LocalView& before, const LocalView& after) {
  const auto& cb = cfg_->postgresql.callbacks;
  auto fire = [&](const char* what, const std::string& role) {
    auto it = cb.find(what);
    if (it != cb.end() && !it->second.empty()) callbacks_.Fire(it->second, what, role, cfg_->scope);
  };
  bool was_up = before.running && before.query_ok, is_up = after.running && after.query_ok;
  // A replica that takes the leader key of a standby cluster changes role without leaving recovery: Patroni calls
  // on_role_change standby_leader then (and replica when it gives the key up).
  std::string role = is_up ? CallbackRole(!after.in_recovery, standby_leader_) : last_role_;
  if (!was_up && is_up) fire("on_start", role);
  if (before.running && !after.running) fire("on_stop", last_role_.empty() ? "replica" : last_role_);
  if (is_up) {
    if (!last_role_.empty() && role != last_role_) fire("on_role_change", role);
    last_role_ = role;
  }
}

void Agent::RequestStop() {
  stop_ = true;
  failsafe_->RequestStop();
  std::lock_guard<std::mutex> l(wake_mu_);
  wake_ = true;
  wake_cv_.notify_all();
}

void Agent::RequestWake() {
  std::lock_guard<std::mutex> l(wake_mu_);
  wake_ = true;
  wake_cv_.notify_all();
}

Status Agent::StartupChecks() {
  if (geteuid() == 0) {
    return InvalidArgument(
        "refusing to run as root: PostgreSQL cannot run as root; run pgwarden as the OS user "
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
  if (cfg_->restapi.Tls()) {
    const auto& r = cfg_->restapi;
    PGW_RETURN_IF_ERROR(rest_->EnableTls(r.certfile, r.keyfile, r.cafile, r.verify_client, r.keyfile_password));
  }
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
  s = fencer_->Start();
  if (!s.ok()) {
    log_.Error(s.message());
    return 1;
  }
  rest_->Start();
  failsafe_->Start();
  log_.Info("pgwarden " + std::string(kPgwardenVersion) + " starting: member " + cfg_->name + " of scope " +
            cfg_->scope + ", REST API on " + cfg_->restapi.listen_host + ":" + std::to_string(rest_->port()));
  started_at_ = clock_.Now();
  pg_health_->SetTtl(dyn_.ttl);
  pg_health_->Start();
  dcs_->SetRetryTimeout(dyn_.RetryTimeout());
  dcs_->Start(dyn_.ttl);
  if (!WaitForDcs()) {
    pg_health_->Stop();
    failsafe_->Stop();
    fencer_->Stop();
    rest_->Stop();
    dcs_->Stop();
    return exit_code_;
  }
  while (!stop_) {
    auto started = clock_.Now();
    Cycle();
    if (stop_) break;
    Duration period(dyn_.loop_wait * 1000);
    if (clock_.Now() - started >= period) {
      log_.Info("Loop time exceeded, rescheduling immediately.");
      continue;
    }
    WaitUntilDue(started + period);
  }
  if (exit_code_ == 0) Shutdown();
  failsafe_->Stop();
  pg_health_->Stop();
  fencer_->Stop();
  rest_->Stop();
  dcs_->Stop();
  return exit_code_;
}

void Agent::Cycle() {
  MonoTime cycle_start = clock_.Now();
  struct Done {
    Agent* a;
    MonoTime start;
    ~Done() {
      ++a->cycles_;
      a->last_cycle_seconds_ = static_cast<double>((a->clock_.Now() - start).count()) / 1000.0;
      a->last_cycle_end_ms_ = a->clock_.Now().time_since_epoch().count();
    }
  } done{this, cycle_start};
  // Decide on a view proven fresh by a quorum read while etcd answers (a stale watch endpoint hid the leader key's
  // expiry for good, issue 10 item 8); while keepalives go unanswered the read would only block the loop.
  MonoTime last_renewal = dcs_->LeaseDeadline() - Duration(int64_t{dyn_.ttl} * 1000);
  bool suspect = dcs_->LeaseId() == 0 || clock_.Now() - last_renewal > ha::SuspectAfter(dyn_);
  auto view = suspect ? dcs_->Cluster() : dcs_->FreshCluster();
  if (!view.ok()) {
    log_.Warn("DCS is not accessible: " + view.status().message());
    return;
  }
  if (view->config) {
    // A key's value is fixed by its mod_revision: the same revision parses to the same result.
    if (view->config_mod_revision == 0 || view->config_mod_revision != parsed_config_rev_) {
      parsed_config_problems_.clear();
      parsed_config_ = DynamicConfig::FromJson(*view->config, "config", &parsed_config_problems_);
      parsed_config_rev_ = view->config_mod_revision;
      for (const auto& w : OverriddenParameterWarnings(parsed_config_.parameters, "config.postgresql.parameters")) {
        log_.Warn(w);
      }
    }
    if (parsed_config_problems_.empty()) {
      dyn_ = parsed_config_;
    } else {
      for (const auto& p : parsed_config_problems_) log_.Warn("ignoring invalid dynamic configuration in etcd: " + p);
    }
  }
  pg_->SetDynamicConfig(dyn_);
  executor_->SetDynamic(dyn_);
  if (!dyn_.synchronous_mode) pg_->SetSyncNames(std::nullopt);
  dcs_->SetRetryTimeout(dyn_.RetryTimeout());
  dcs_->SetTtl(dyn_.ttl).ok();  // a failed ttl change is logged and retried next cycle on the old lease
  failsafe_->Configure(dyn_.failsafe_mode, dyn_.ttl);
  ttl_s_ = dyn_.ttl;
  pg_health_->SetTtl(dyn_.ttl);

  LocalView local = pg_->Observe();
  const LocalView before = local;
  core_ = ha::ObservePostgres(std::move(core_), local);
  loop_wait_s_ = dyn_.loop_wait;
  if (reload_requested_.exchange(false)) ApplyReload(local);
  ApplyDynamicPostgresql(local);
  if (!old_supervisors_retired_ && (!local.running || (local.query_ok && local.in_recovery))) {
    // PostgreSQL is not a primary: a supervisor left by a previous agent has nothing to guard, and must not kill
    // the instance we are about to start.
    if (fencer_->supervisor()) fencer_->supervisor()->RetireOthers();
    old_supervisors_retired_ = true;
  }
  pg_state_.Observe(local.running, local.query_ok);
  standby_leader_ = ha::IsStandbyCluster(dyn_) && view->leader && view->leader->name == cfg_->name;
  executor_->ObserveLeader(*view);
  ha::Inputs in;
  in.config = cfg_.get();
  in.dynamic = dyn_;
  in.cluster = &*view;
  in.local = &local;
  in.my_lease = dcs_->LeaseId();
  in.now = clock_.Now();
  in.lease_deadline = dcs_->LeaseDeadline();
  failsafe_->HoldBackAfterRestart(*view, started_at_);
  in.failsafe_primary_until = failsafe_->VouchedUntil();
  in.failsafe_restart_hold = failsafe_->RestartHold();
  in.watchdog_unusable = fencer_->WatchdogRequiredButUnusable();
  in.wall_now = clock_.WallSeconds();
  in.state = core_;
  core_ = in.state = ha::ObserveGate(in);
  double sched = scheduled_restart_.load();
  in.restart_requested = restart_requested_.load() || (sched > 0 && sched <= in.wall_now);
  in.reinit_requested = reinit_requested_.exchange(false);
  ha::Decision d = ha::Decide(in);
  if (!d.actions.empty() && d.actions.front().type() == ha::ActionType::kCheckPeers) {
    in.peers = peers_->CheckPeers(*view, cfg_->name, Duration(2000));
    in.peers_checked = true;
    d = ha::Decide(in);
  }
  failsafe_->SetMembers(view->failsafe);
  if (!d.actions.empty() && d.actions.front().type() == ha::ActionType::kCheckFailsafe) {
    in.failsafe_checked = true;
    in.failsafe_ok = failsafe_->Check(fencer_->margin());
    d = ha::Decide(in);
  }
  failsafe_active_ = in.failsafe_ok && !ha::DcsReachable(in);
  log_.Info(d.message);
  CountDecision(d);
  // Peers racing for the key we are about to release must not see the state of the previous cycle (a crashed
  // primary still reported as primary would hold them back a loop).
  Publish(local, &*view);
  bool ok = executor_->Execute(d, *view, local, &core_);
  if (!ok && !core_.bootstrap_failed.empty()) {
    // The bootstrap failed and was cleaned up: the core decides what that means now, not a loop_wait later.
    in.state = core_;
    d = ha::Decide(in);
    log_.Info(d.message);
    CountDecision(d);
    executor_->Execute(d, *view, pg_->Observe(), &core_);
  }
  if (stop_) return;
  // Taking the key of a standby cluster (its bootstrap, or a race won) makes this node the standby leader in this
  // cycle: its callbacks and member key say so, as Patroni sets the role before it starts PostgreSQL.
  if (ok && ha::IsStandbyCluster(dyn_) && std::any_of(d.actions.begin(), d.actions.end(), [](const ha::Action& a) {
        return a.type() == ha::ActionType::kBootstrapStandby || a.type() == ha::ActionType::kAttemptLeader;
      })) {
    standby_leader_ = true;
  }
  // Re-observe after acting so that the member key and the API show the state we left PostgreSQL in.
  if (ok && !d.actions.empty() && d.actions.front().type() != ha::ActionType::kWait) local = pg_->Observe();
  if (local.running) pg_state_.Observe(local.running, local.query_ok);
  bool leading_primary = view->leader && view->leader->name == cfg_->name && local.query_ok && !local.in_recovery;
  sync_note_ = leading_primary ? ha::SynchronousNote(dyn_, *view, cfg_->name) : "";
  FireCallbacks(before, local);
  // Member writes wait while keepalives go unanswered: they would only block the loop for the request timeout.
  // With no lease at all (a member write found it gone) the write is what grants a new one: without it the node
  // stayed "DCS is not accessible" for good (scenario issue10_vm_pause).
  if (!ha::LeaseSuspect(in) || in.my_lease == 0 || in.my_lease != dcs_->LeaseId()) TouchMember(local);
  auto fresh = dcs_->ClusterSnapshot();  // only looked at: borrowed, not copied
  UpdateFencing(local, fresh ? fresh.get() : &*view);
  executor_->ReportRejoin(fresh ? *fresh : *view, local, core_.unreconciled_primary);
  Publish(local, fresh ? fresh.get() : &*view);
}

void Agent::TouchMember(const LocalView& local) {
  MemberData m = MemberKeyData(local, pg_state_, standby_leader_, cfg_->tags.published, dyn_.pause, sync_note_);
  m.conn_url = ConnUrl(cfg_->postgresql.connect_address);
  m.api_url = ApiUrl(cfg_->restapi.connect_address, cfg_->restapi.Tls());
  if (double sched = scheduled_restart_.load(); sched > 0)
    m.scheduled_restart = Json{{"schedule", IsoTimestamp(sched)}};
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
  ++state_gen_;
  state_.local = local;
  state_.pg_state = pg_state_.state();
  state_.paused = dyn_.pause;
  state_.failsafe_active = failsafe_active_;
  state_.sync_note = sync_note_;
  state_.standby_cluster = ha::IsStandbyCluster(dyn_);
  state_.dcs_ok = view != nullptr;
  if (view) {
    state_.dcs_last_seen = clock_.WallSeconds();
    state_.is_leader = view->leader && view->leader->name == cfg_->name;
    state_.standby_leader = state_.standby_cluster && state_.is_leader;
    state_.cluster_unlocked = !view->leader;
    state_.last_lsn = view->last_lsn;
  }
}

void Agent::Shutdown() {
  if (dyn_.pause) {
    log_.Info("shutting down in maintenance mode: leaving PostgreSQL running and the leader key in place");
    return;
  }
  log_.Info("shutting down: stopping PostgreSQL");
  auto view = dcs_->Cluster();
  bool leader = view.ok() && view->leader && view->leader->name == cfg_->name;
  Status s = pg_->Stop(StopMode::kFast);
  if (!s.ok()) {
    // PostgreSQL may still run as primary: keep the leader key (it lapses with our lease) and the fence armed (the
    // supervisor outlives us and fences at the deadline), so that no replica is promoted next to it.
    log_.Error("stopping PostgreSQL: " + s.message() + "; keeping the leader key and the fence armed");
    TouchMember(pg_->Observe());
    return;
  }
  fencer_->Disarm();
  pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kStop);
  if (leader) {
    s = dcs_->DeleteLeader();
    if (s.ok())
      log_.Info("Leader key released");
    else
      log_.Error("could not release the leader key: " + s.message());
  }
  TouchMember(pg_->Observe());
  log_.Info("PostgreSQL stopped; pgwarden exits");
}

}  // namespace pgw
