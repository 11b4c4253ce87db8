#include "agent/agent.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/peers.h"
#include "ha/sync.h"
#include "pg/fence.h"
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
    : cfg_(std::move(cfg)), clock_(clock), log_(log), callbacks_(log) {
  dyn_ = cfg_->bootstrap.dynamic;
  peer_tls_.cacert = cfg_->restapi.cafile;
  if (cfg_->restapi.verify_client != "none") {
    peer_tls_.cert = cfg_->restapi.certfile;
    peer_tls_.key = cfg_->restapi.keyfile.empty() ? cfg_->restapi.certfile : cfg_->restapi.keyfile;
  }
  FenceOptions fo;
  fo.data_dir = cfg_->postgresql.data_dir;
  fo.safety_margin_s = cfg_->watchdog.safety_margin;
  fo.watchdog_mode = cfg_->watchdog.mode;
  fo.watchdog_device = cfg_->watchdog.device;
  fencer_ = std::make_unique<Fencer>(clock_, log_, fo);
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
  pg_health_ = std::make_unique<PgHealth>(LocalHealthConninfo(*cfg_), clock_, log_);
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
  rest_ = std::make_unique<RestServer>([this](const HttpServerRequest& r) { return HandleHttp(r); });
}

Agent::~Agent() {
  if (rest_) rest_->Stop();
  if (dcs_) dcs_->Stop();
}

Status Agent::ArmFencing() {
  int64_t lease = dcs_->LeaseId();
  if (lease == 0) return Unavailable("no lease to arm fencing with");
  return fencer_->Arm(lease, dcs_->LeaseDeadline(), dyn_.ttl);
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
}

void Agent::FireCallbacks(const LocalView& before, const LocalView& after) {
  const auto& cb = cfg_->postgresql.callbacks;
  auto fire = [&](const char* what, const std::string& role) {
    auto it = cb.find(what);
    if (it != cb.end() && !it->second.empty()) callbacks_.Fire(it->second, what, role, cfg_->scope);
  };
  bool was_up = before.running && before.query_ok, is_up = after.running && after.query_ok;
  std::string role = is_up ? (after.in_recovery ? "replica" : "primary") : last_role_;
  if (!was_up && is_up) fire("on_start", role);
  if (before.running && !after.running) fire("on_stop", last_role_.empty() ? "replica" : last_role_);
  if (is_up) {
    if (!last_role_.empty() && role != last_role_) fire("on_role_change", role);
    last_role_ = role;
  }
}

void Agent::RequestStop() {
  stop_ = true;
  std::lock_guard<std::mutex> l(wake_mu_);
  wake_ = true;
  wake_cv_.notify_all();
}

void Agent::RequestWake() {
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
  if (cfg_->restapi.Tls()) {
    const auto& r = cfg_->restapi;
    PGW_RETURN_IF_ERROR(rest_->EnableTls(r.certfile, r.keyfile, r.cafile, r.verify_client));
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
  failsafe_thread_ = std::thread([this] { FailsafeLoop(); });
  log_.Info("pgwarden " + std::string(kPgwardenVersion) + " starting: member " + cfg_->name + " of scope " +
            cfg_->scope + ", REST API on " + cfg_->restapi.listen_host + ":" + std::to_string(rest_->port()));
  started_at_ = clock_.Now();
  pg_health_->SetTtl(dyn_.ttl);
  pg_health_->Start();
  dcs_->SetRetryTimeout(dyn_.retry_timeout);
  dcs_->Start(dyn_.ttl);
  if (!WaitForDcs()) {
    pg_health_->Stop();
    if (failsafe_thread_.joinable()) failsafe_thread_.join();
    fencer_->Stop();
    rest_->Stop();
    dcs_->Stop();
    return exit_code_;
  }
  while (!stop_) {
    auto started = clock_.Now();
    Cycle();
    if (stop_) break;
    auto elapsed = std::chrono::duration_cast<Duration>(clock_.Now() - started);
    Duration period(dyn_.loop_wait * 1000);
    if (elapsed >= period) {
      log_.Info("Loop time exceeded, rescheduling immediately.");
      continue;
    }
    Duration wait = period - elapsed;
    if (fencer_->armed()) {
      // A primary re-decides the moment its lease stops being fresh (last renewal older than retry_timeout) and,
      // in failsafe mode, the moment a keepalive goes unanswered: not up to loop_wait later.
      MonoTime last_renewal = dcs_->LeaseDeadline() - Duration(dyn_.ttl * 1000);
      std::vector<MonoTime> wake = {last_renewal + Duration(dyn_.retry_timeout * 1000) + Duration(10)};
      if (dyn_.failsafe_mode) wake.push_back(last_renewal + ha::SuspectAfter(dyn_) + Duration(10));
      for (MonoTime at : wake) {
        Duration until = std::chrono::duration_cast<Duration>(at - clock_.Now());
        if (until > Duration(0) && until < wait) wait = until;
      }
    }
    WaitNextCycle(wait);
  }
  if (exit_code_ == 0) Shutdown();
  {
    std::lock_guard<std::mutex> l(wake_mu_);
    wake_cv_.notify_all();
  }
  if (failsafe_thread_.joinable()) failsafe_thread_.join();
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
    std::vector<std::string> problems;
    DynamicConfig d = DynamicConfig::FromJson(*view->config, "config", &problems);
    if (problems.empty()) {
      dyn_ = d;
    } else {
      for (const auto& p : problems) log_.Warn("ignoring invalid dynamic configuration in etcd: " + p);
    }
  }
  pg_->SetDynamicConfig(dyn_);
  if (!dyn_.synchronous_mode) pg_->SetSyncNames(std::nullopt);
  dcs_->SetRetryTimeout(dyn_.retry_timeout);
  dcs_->SetTtl(dyn_.ttl).ok();  // a failed ttl change is logged and retried next cycle on the old lease
  failsafe_mode_ = dyn_.failsafe_mode;
  ttl_s_ = dyn_.ttl;
  pg_health_->SetTtl(dyn_.ttl);

  LocalView local = pg_->Observe();
  const LocalView before = local;
  if (local.running && local.query_ok) {
    primary_start_failed_ = false;
    clean_demote_ = false;
  }
  loop_wait_s_ = dyn_.loop_wait;
  if (reload_requested_.exchange(false) && local.running && local.query_ok) {
    Status r = pg_->Reload(local.in_recovery ? local.upstream : std::nullopt);
    if (!r.ok()) log_.Warn("reload: " + r.message());
    auto it = cfg_->postgresql.callbacks.find("on_reload");
    if (r.ok() && it != cfg_->postgresql.callbacks.end()) {
      callbacks_.Fire(it->second, "on_reload", local.in_recovery ? "replica" : "primary", cfg_->scope);
    }
  }
  if (reinit_requested_.exchange(false)) {
    log_.Info("reinitializing: stopping PostgreSQL and removing the data directory; the next cycle clones");
    Status r = pg_->Stop(StopMode::kImmediate);
    if (r.ok()) r = pg_->WipeDataDir();
    if (!r.ok()) log_.Error("reinitialize: " + r.message());
    local = pg_->Observe();
  }
  if (!old_supervisors_retired_ && (!local.running || (local.query_ok && local.in_recovery))) {
    // PostgreSQL is not a primary: a supervisor left by a previous agent has nothing to guard, and must not kill
    // the instance we are about to start.
    if (fencer_->supervisor()) fencer_->supervisor()->RetireOthers();
    old_supervisors_retired_ = true;
  }
  pg_state_ = !local.running ? (pg_state_ == "creating replica" || pg_state_ == "initializing new cluster"
                                    ? pg_state_ : "stopped")
                             : (local.query_ok ? "running" : "starting");
  ha::Inputs in;
  in.config = cfg_.get();
  in.dynamic = dyn_;
  in.cluster = &*view;
  in.local = &local;
  in.my_lease = dcs_->LeaseId();
  in.now = clock_.Now();
  in.lease_deadline = dcs_->LeaseDeadline();
  in.primary_start_failed = primary_start_failed_;
  in.rewind_failed = rewind_failed_;
  in.no_race_until = no_race_until_;
  HoldBackAfterRestartInFailsafe(*view);
  in.failsafe_primary_until = MonoTime(Duration(failsafe_primary_until_ms_.load()));
  in.failsafe_restart_hold = failsafe_primary_until_ms_.load() == restart_hold_until_ms_;
  in.watchdog_unusable = fencer_->WatchdogRequiredButUnusable();
  in.wall_now = clock_.WallSeconds();
  in.clean_demote = clean_demote_;
  in.unreconciled_primary = unreconciled_;
  in.bootstrap_failed = bootstrap_failed_;
  if (!local.gated) gate_since_ = MonoTime{};
  else if (gate_since_ == MonoTime{}) gate_since_ = clock_.Now();  // an agent restarted behind a closed gate
  else if (!ha::SyncCandidates(in).empty()) gate_since_ = clock_.Now();  // the grace restarts: a candidate streams
  in.gate_since = gate_since_;
  in.sync_added_lsn = sync_added_lsn_;
  double sched = scheduled_restart_.load();
  in.restart_requested = restart_requested_.load() || (sched > 0 && sched <= in.wall_now);
  ha::Decision d = ha::Decide(in);
  if (!d.actions.empty() && d.actions.front().type == ha::ActionType::kCheckPeers) {
    in.peers = CheckPeers(*view, cfg_->name, Duration(2000), peer_tls_);
    in.peers_checked = true;
    d = ha::Decide(in);
  }
  {
    std::lock_guard<std::mutex> l(failsafe_mu_);
    failsafe_members_ = view->failsafe ? *view->failsafe : Json();
  }
  // The failsafe thread asks the members; the loop only reads the outcome, so it never waits on them.
  auto confirmed = [&] {
    return clock_.Now() < MonoTime(Duration(failsafe_confirmed_until_ms_.load())) - fencer_->margin();
  };
  if (!d.actions.empty() && d.actions.front().type == ha::ActionType::kCheckFailsafe) {
    in.failsafe_checked = true;
    in.failsafe_ok = confirmed() || ConfirmFailsafe();
    d = ha::Decide(in);
  }
  failsafe_active_ = in.failsafe_ok && !ha::DcsReachable(in);
  log_.Info(d.message);
  // Peers racing for the key we are about to release must not see the state of the previous cycle (a crashed
  // primary still reported as primary would hold them back a loop).
  Publish(local, &*view);
  bool ok = Execute(d, *view, local);
  if (!ok && !bootstrap_failed_.empty()) {
    // The bootstrap failed and was cleaned up: the core decides what that means now, not a loop_wait later.
    in.bootstrap_failed = bootstrap_failed_;
    d = ha::Decide(in);
    log_.Info(d.message);
    Execute(d, *view, pg_->Observe());
  }
  if (stop_) return;
  // Re-observe after acting so that the member key and the API show the state we left PostgreSQL in.
  if (ok && !d.actions.empty() && d.actions.front().type != ha::ActionType::kWait) local = pg_->Observe();
  if (local.running) pg_state_ = local.query_ok ? "running" : "starting";
  bool leading_primary = view->leader && view->leader->name == cfg_->name && local.query_ok && !local.in_recovery;
  sync_note_ = leading_primary ? ha::SynchronousNote(dyn_, *view, cfg_->name) : "";
  FireCallbacks(before, local);
  // Member writes wait while keepalives go unanswered: they would only block the loop for the request timeout.
  // With no lease at all (a member write found it gone) the write is what grants a new one: without it the node
  // stayed "DCS is not accessible" for good (scenario issue10_vm_pause).
  if (!ha::LeaseSuspect(in) || in.my_lease == 0 || in.my_lease != dcs_->LeaseId()) TouchMember(local);
  auto fresh = dcs_->Cluster();
  UpdateFencing(local, fresh.ok() ? &*fresh : &*view);
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
    case ActionType::kStartPrimary: {
      Status armed = ArmFencing();
      if (!armed.ok()) {
        Status rel = dcs_->DeleteLeader();
        if (!rel.ok()) log_.Warn(rel.message());
        return armed.Context("not starting as primary");
      }
      pg_state_ = "starting";
      sync_added_lsn_.clear();
      if (a.mode == "gated") {
        PGW_RETURN_IF_ERROR(pg_->CloseGate());
        gate_since_ = clock_.Now();
        log_.Warn("client gate closed: only replication and pgwarden's roles may connect until a synchronous "
                  "standby has received all WAL");
      }
      if (dyn_.synchronous_mode) {
        // Restarting in place after a crash: only the published synchronous standbys (or '*' when strict) may
        // acknowledge commits from the first moment on.
        pg_->SetSyncNames(ha::RenderSyncNames(ha::SyncStandbys(view, cfg_->name), dyn_.synchronous_node_count,
                                              dyn_.synchronous_mode_strict));
      }
      Status s = pg_->Start(std::nullopt);
      if (!s.ok()) primary_start_failed_ = true;
      return s;
    }
    case ActionType::kStartReplica: {
      pg_state_ = "starting";
      pg_->SetSyncNames(std::nullopt);
      sync_added_lsn_.clear();
      if (a.mode == "gated") {
        // Kept across the read-only start (following nobody): honoured if this node is promoted later.
        PGW_RETURN_IF_ERROR(pg_->CloseGate());
        log_.Warn("client gate closed: this crashed primary starts read-only; should it be promoted, clients wait "
                  "until a synchronous standby has received all WAL");
      }
      bool was_primary = ha::WasPrimary(local);
      // A former primary started before any leader is known has not been reconciled with the leader to come.
      if (was_primary && !a.upstream && !clean_demote_) unreconciled_ = true;
      return pg_->Start(a.upstream, /*standby=*/true);
    }
    case ActionType::kFollow: {
      log_.Info("changing primary_conninfo to follow " + a.target + " (" + a.upstream->address.ToString() +
                ") and reloading");
      Status s = pg_->Follow(*a.upstream);
      auto it = cfg_->postgresql.callbacks.find("on_reload");
      if (s.ok() && it != cfg_->postgresql.callbacks.end()) {
        callbacks_.Fire(it->second, "on_reload", "replica", cfg_->scope);
      }
      return s;
    }
    case ActionType::kAttemptLeader:
      return dcs_->AttemptLeader();
    case ActionType::kRefreshLeader:
      return dcs_->RefreshLeader();
    case ActionType::kPromote:
      return PromoteNow(view);
    case ActionType::kDemote: {
      if (a.mode == "graceful") return DemoteGracefully(a.target, view);
      ++demotions_;
      StopMode mode = a.mode == "offline" ? StopMode::kFast : StopMode::kImmediate;
      log_.Info("demoting: stopping PostgreSQL (" + a.mode + ")");
      Status s = pg_->Stop(mode);
      if (!s.ok()) return s;
      fencer_->Disarm();
      pg_state_ = "stopped";
      if (a.mode == "immediate") {
        Status rel = dcs_->DeleteLeader();
        if (!rel.ok() && rel.code() != Code::kConflict) log_.Warn(rel.message());
      }
      return Status::Ok();
    }
    case ActionType::kReleaseLeader: {
      // Given up on purpose: let the others take it before racing again.
      no_race_until_ = clock_.Now() + Duration(dyn_.ttl * 1000);
      Status s = dcs_->DeleteLeader();
      if (s.code() == Code::kConflict) return Status::Ok();  // not ours any more: nothing to release
      return s;
    }
    case ActionType::kRewind: {
      Status s = pg_->Rewind(*a.address);
      rewind_failed_ = !s.ok();
      if (s.ok()) {
        unreconciled_ = false;
        log_.Info("pg_rewind from " + a.target + " finished");
      }
      return s;
    }
    case ActionType::kReinitialize: {
      log_.Info("removing the data directory to clone it again");
      rewind_failed_ = false;
      unreconciled_ = false;
      return pg_->WipeDataDir();
    }
    case ActionType::kCheckFailsafe:
      return Status::Ok();
    case ActionType::kDeleteFailover:
      return dcs_->DeleteFailover();
    case ActionType::kSetSyncNames: {
      log_.Info(a.sync_names.empty() ? std::string("synchronous_standby_names := '' (no synchronous standby)")
                                     : "synchronous_standby_names := '" + a.sync_names + "'");
      for (const auto& n : a.sync) sync_added_lsn_.erase(n);
      PGW_RETURN_IF_ERROR(pg_->ApplySyncNames(a.sync_names, std::nullopt));
      if (a.sync.empty()) return Status::Ok();
      // Safety rule 9: measured after the change, so the position covers every commit acknowledged before it.
      LocalView after = pg_->Observe();
      if (!after.query_ok || after.in_recovery) {
        return Unavailable("cannot read the WAL position after changing synchronous_standby_names");
      }
      for (const auto& n : a.sync) sync_added_lsn_[n] = after.wal_position;
      log_.Info("synchronous standby candidates added at " + FormatLsn(after.wal_position) +
                ": published once they have flushed it");
      return Status::Ok();
    }
    case ActionType::kDeleteSync:
      log_.Info("synchronous_mode is off: removing the sync key");
      return dcs_->DeleteSync();
    case ActionType::kWriteSync: {
      std::string list;
      for (const auto& n : a.sync) list += (list.empty() ? "" : ",") + n;
      log_.Info("Synchronous standby status assigned to [" + list + "]");
      Json j = {{"leader", cfg_->name}, {"sync_standby", list.empty() ? Json(nullptr) : Json(list)}};
      return dcs_->WriteSync(j.dump(), view.sync ? view.sync_mod_revision : 0);
    }
    case ActionType::kRestart: {
      restart_requested_ = false;
      scheduled_restart_ = 0;
      log_.Info("restarting PostgreSQL");
      bool primary = local.running && local.query_ok && !local.in_recovery;
      std::optional<Upstream> up = primary ? std::nullopt : local.upstream;
      Status s = pg_->Stop(StopMode::kFast);
      if (s.ok()) {
        pg_state_ = "starting";
        if (primary) s = ArmFencing();
        if (s.ok()) s = pg_->Start(up, /*standby=*/!primary);
      }
      last_restart_ok_ = s.ok();
      ++restarts_done_;
      auto it = cfg_->postgresql.callbacks.find("on_restart");
      if (s.ok() && it != cfg_->postgresql.callbacks.end()) {
        callbacks_.Fire(it->second, "on_restart", primary ? "primary" : "replica", cfg_->scope);
      }
      if (!s.ok() && primary) primary_start_failed_ = true;
      return s;
    }
    case ActionType::kWriteFailsafe:
      return dcs_->WriteFailsafe(ha::FailsafeMembers(view).dump());
    case ActionType::kWriteStatus:
      return dcs_->WriteStatus(EncodeStatus(a.optime));
    case ActionType::kSyncSlots:
      return pg_->SyncSlots(a.slots, local.physical_slots);
    case ActionType::kOpenGate: {
      Status s = pg_->OpenGate();
      if (s.ok()) log_.Info("client gate opened: " + a.target);
      return s;
    }
  }
  return Internal("unknown action");
}

void Agent::HoldBackAfterRestartInFailsafe(const ClusterView& view) {
  // The promise a replica gives through POST /failsafe (not to race for ttl) lives in memory. A restarted agent
  // cannot know whether its predecessor gave one, so while it is listed in the failsafe key it keeps that promise
  // for a ttl from its start (scenario failsafe_restarted_replica: it raced at once and promoted next to the
  // primary still running on failsafe). Without a failsafe key nobody asked it to promise anything.
  if (failsafe_restart_checked_ || !dyn_.failsafe_mode) return;
  failsafe_restart_checked_ = true;
  if (!view.failsafe || !view.failsafe->is_object() || !view.failsafe->contains(cfg_->name)) return;
  int64_t until = (started_at_ + Duration(int64_t{dyn_.ttl} * 1000)).time_since_epoch().count();
  restart_hold_until_ms_ = until;
  int64_t prev = failsafe_primary_until_ms_.load();
  while (prev < until && !failsafe_primary_until_ms_.compare_exchange_weak(prev, until)) {
  }
  if (clock_.Now() < MonoTime(Duration(until))) {
    log_.Info("failsafe mode: not racing for the leader key until a ttl after this agent started (a promise to "
              "the primary given before the restart may still hold)");
  }
}

bool Agent::PgHealthBlocksLeadership() {
  if (clock_.Now() < MonoTime(Duration(renew_blocked_until_ms_.load()))) return true;
  return fencer_->armed() && !pg_health_->Healthy() && PostmasterRunning(cfg_->postgresql.data_dir);
}

bool Agent::ConfirmFailsafe() {
  // A primary whose PostgreSQL hangs must not keep the cluster through its peers' failsafe promises either: the
  // renew gate closed for the same reason, and confirming here would extend the fence and hold the replicas back
  // as long as they answer (issue10_hung_postgres_failsafe). Unconfirmed, the fence fires at the bound.
  if (PgHealthBlocksLeadership()) {
    if (!failsafe_withheld_.exchange(true)) {
      log_.Warn("failsafe: not asking the members to confirm: PostgreSQL is running but has not answered for " +
                std::to_string(pg_health_->Bound().count()) + " ms");
    }
    return false;
  }
  failsafe_withheld_ = false;
  Json members;
  {
    std::lock_guard<std::mutex> fl(failsafe_mu_);
    members = failsafe_members_;
  }
  int ttl = ttl_s_.load();
  Json body = {{"name", cfg_->name},
               {"conn_url", ConnUrl(cfg_->postgresql.connect_address)},
               {"api_url", ApiUrl(cfg_->restapi.connect_address, cfg_->restapi.Tls())},
               {"slots", Json::object()}};
  // Our own restapi credentials, as Patroni sends them: the members check them on POST /failsafe.
  PeerTls tls = peer_tls_;
  tls.username = cfg_->restapi.username;
  tls.password = cfg_->restapi.password;
  MonoTime sent = clock_.Now();
  bool ok = PostFailsafe(members, cfg_->name, body.dump(), Duration(std::min(2000, ttl * 1000 / 4)), tls);
  if (!ok) {
    log_.Warn("failsafe: not every member listed in the failsafe key confirmed");
    return false;
  }
  // Every member promised not to race for ttl from when it got our request, which is after `sent`.
  MonoTime until = sent + Duration(int64_t{ttl} * 1000);
  int64_t ms = until.time_since_epoch().count();
  int64_t prev = failsafe_confirmed_until_ms_.load();
  while (prev < ms && !failsafe_confirmed_until_ms_.compare_exchange_weak(prev, ms)) {
  }
  fencer_->ExtendUntil(until);
  return true;
}

void Agent::FailsafeLoop() {
  std::unique_lock<std::mutex> l(wake_mu_);
  while (!stop_) {
    int ttl = ttl_s_.load();
    wake_cv_.wait_for(l, Duration(100), [&] { return stop_.load(); });
    if (stop_) break;
    if (!failsafe_mode_ || !fencer_->armed()) continue;
    DynamicConfig timing;
    timing.ttl = ttl;
    MonoTime last_renewal = dcs_->LeaseDeadline() - Duration(int64_t{ttl} * 1000);
    MonoTime now = clock_.Now();
    if (now - last_renewal <= ha::SuspectAfter(timing)) continue;
    // Not more often than every quarter ttl while confirmations are fresh.
    MonoTime confirmed = MonoTime(Duration(failsafe_confirmed_until_ms_.load()));
    if (confirmed - now > Duration(int64_t{ttl} * 750)) continue;
    l.unlock();
    ConfirmFailsafe();
    l.lock();
  }
}

Status Agent::DemoteGracefully(const std::string& candidate, const ClusterView& view) {
  log_.Info("manual failover: checkpointing, then stopping PostgreSQL so that " +
            (candidate.empty() ? std::string("a replica") : candidate) + " can take over");
  ++demotions_;
  if (!candidate.empty() && view.failover) {
    auto f = ha::ParseFailover(*view.failover);
    if (f && f->member.empty()) {
      // A switchover without a named candidate: name the one the core chose, so that it promotes in the cycle the
      // key is released (watch event) instead of checking its peers and waiting a loop (issue 10 item 12).
      Json named = *view.failover;
      named["leader"] = cfg_->name;
      named["member"] = candidate;
      Status w = dcs_->ApiSetFailover(named.dump());
      if (!w.ok()) log_.Warn("manual failover: could not name " + candidate + " in the failover key: " + w.message());
    }
  }
  Status cp = pg_->Checkpoint();  // makes the shutdown checkpoint short
  if (!cp.ok()) log_.Warn(cp.message());
  PGW_RETURN_IF_ERROR(pg_->Stop(StopMode::kFast));
  fencer_->Disarm();
  pg_state_ = "stopped";
  auto cd = pg_->ReadControlData();
  int64_t ckpt = cd.ok() ? cd->checkpoint_lsn : 0;
  // Release the key once a candidate has received the shutdown checkpoint: from then on it has every commit.
  std::vector<std::string> names;
  for (const auto& [name, m] : view.members) {
    if (name != cfg_->name && (candidate.empty() || name == candidate)) names.push_back(name);
  }
  bool confirmed = false;
  MonoTime give_up = clock_.Now() + Duration(std::max(5000, dyn_.loop_wait * 2000));
  // Ask the candidates' PostgreSQL directly (their REST status is refreshed only once per loop).
  std::vector<std::unique_ptr<PgConnection>> conns;
  for (const auto& n : names) {
    const Member* m = view.FindMember(n);
    if (m == nullptr || !m->conn) continue;
    auto c = std::make_unique<PgConnection>();
    Status cs = c->Connect(SuperuserConninfo(*cfg_, m->conn->host, m->conn->port), Duration(1000));
    if (cs.ok()) conns.push_back(std::move(c));
    else log_.Warn("manual failover: cannot query " + n + ": " + cs.message());
  }
  while (ckpt > 0 && !confirmed && !conns.empty() && clock_.Now() < give_up && !stop_) {
    for (auto& c : conns) {
      auto r = c->Query("SELECT COALESCE(pg_last_wal_receive_lsn(), '0/0') - '0/0'");
      if (r.ok() && !r->empty() && std::atoll(r->front()[0].value_or("0").c_str()) > ckpt) confirmed = true;
    }
    if (!confirmed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!confirmed) log_.Warn("manual failover: no replica confirmed the shutdown checkpoint; releasing the lock anyway");
  clean_demote_ = confirmed;
  // GET /patroni must stop calling us primary before the key goes: racing peers would otherwise wait a loop.
  Publish(pg_->Observe(), &view);
  Status rel = dcs_->DeleteLeader();
  if (rel.ok()) log_.Info("manual failover: leader key released");
  auto it = cfg_->postgresql.callbacks.find("on_stop");
  if (it != cfg_->postgresql.callbacks.end()) callbacks_.Fire(it->second, "on_stop", "primary", cfg_->scope);
  return rel.code() == Code::kConflict ? Status::Ok() : rel;
}

Status Agent::PromoteNow(const ClusterView& view) {
  const std::string& hook = cfg_->postgresql.pre_promote;
  if (!hook.empty() &&
      !callbacks_.RunSync(hook, "pre_promote", Duration(cfg_->postgresql.pg_ctl_timeout * 1000))) {
    no_race_until_ = clock_.Now() + Duration(dyn_.ttl * 1000);
    Status rel = dcs_->DeleteLeader();
    if (!rel.ok()) log_.Warn(rel.message());
    return Internal("Promotion cancelled because the pre-promote script failed");
  }
  sync_added_lsn_.clear();
  if (dyn_.synchronous_mode) {
    // Before promoting: nobody is a synchronous standby of the new leader yet (reference §3.3).
    Json j = {{"leader", cfg_->name}, {"sync_standby", nullptr}};
    Status w = dcs_->WriteSync(j.dump(), view.sync ? view.sync_mod_revision : 0);
    if (!w.ok()) {
      Status rel = dcs_->DeleteLeader();
      if (!rel.ok()) log_.Warn(rel.message());
      return w.Context("Postponing promotion because synchronous replication state was updated by somebody else");
    }
    Status n = pg_->ApplySyncNames(dyn_.synchronous_mode_strict ? "*" : "", pg_->Observe().upstream);
    if (!n.ok()) log_.Warn(n.message());
  }
  // Fencing is armed before PostgreSQL can accept a single write.
  Status armed = ArmFencing();
  if (!armed.ok()) {
    Status rel = dcs_->DeleteLeader();
    if (!rel.ok()) log_.Warn(rel.message());
    return armed.Context("Not promoting self because watchdog could not be activated");
  }
  MonoTime started = clock_.Now();
  PGW_RETURN_IF_ERROR(pg_->Promote());
  auto took = clock_.Now() - started;
  ++promotions_;
  unreconciled_ = false;
  last_promotion_seconds_ = static_cast<double>(took.count()) / 1000.0;
  log_.Info("promoted PostgreSQL in " + std::to_string(took.count()) + " ms");
  Status h = WriteHistoryAfterPromote(view);
  // The end-of-recovery checkpoint puts the new timeline in pg_control, which pg_rewind on the old primary reads.
  Status cp = pg_->Checkpoint();
  if (!cp.ok()) log_.Warn(cp.message());
  return h;
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
  m.api_url = ApiUrl(cfg_->restapi.connect_address, cfg_->restapi.Tls());
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
  m.pause = dyn_.pause;
  m.synchronous = sync_note_;
  m.client_gate_closed = local.gated;
  if (double sched = scheduled_restart_.load(); sched > 0) m.scheduled_restart = Json{{"schedule", IsoTimestamp(sched)}};
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
  state_.paused = dyn_.pause;
  state_.failsafe_active = failsafe_active_;
  state_.sync_note = sync_note_;
  state_.dcs_ok = view != nullptr;
  if (view) {
    state_.dcs_last_seen = clock_.WallSeconds();
    state_.is_leader = view->leader && view->leader->name == cfg_->name;
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
  pg_state_ = "stopped";
  if (leader) {
    s = dcs_->DeleteLeader();
    if (s.ok()) log_.Info("Leader key released");
    else log_.Error("could not release the leader key: " + s.message());
  }
  TouchMember(pg_->Observe());
  log_.Info("PostgreSQL stopped; pgwarden exits");
}

}  // namespace pgw
