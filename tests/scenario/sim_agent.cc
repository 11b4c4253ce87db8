// The simulated agent's HA loop (sim_agent.h): Agent::Run's schedule and Agent::Cycle around the real executor.
#include "sim_agent.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "agent/status_json.h"

namespace pgw::sim {

namespace {
std::string ActionList(const ha::Decision& d) {
  std::string s;
  for (const auto& a : d.actions) {
    if (a.Get<ha::WriteStatus>() != nullptr || a.Get<ha::SyncSlots>() != nullptr) continue;
    s += s.empty() ? "" : " ";
    s += ha::ActionName(a.type());
    std::optional<std::string> args;  // what the trace shows of the step's fields, in parentheses
    // A step of a promotion reads as one from its place in the plan: its mode is left out.
    if (std::string mode = ha::ModeName(a); !mode.empty() && mode != "promotion") {
      const auto* demote = a.Get<ha::Demote>();
      args = mode + (demote == nullptr || demote->target.empty() ? "" : " " + demote->target);
    } else if (const auto* w = a.Get<ha::WriteSync>()) {
      std::string l;
      for (const auto& n : w->sync) l += (l.empty() ? "" : ",") + n;
      args = l;
    } else if (const auto* n = a.Get<ha::SetSyncNames>()) {
      args = n->sync_names;
    }
    if (const auto* start = a.Get<ha::StartPrimary>(); start != nullptr && start->sync_names) {
      std::string v = start->sync_names->empty() ? "''" : *start->sync_names;
      args = (args ? *args + " " : "") + "sync_names=" + v;
    }
    if (args) s += "(" + *args + ")";
  }
  return s;
}

// The executor's log lines a trace shows: the message, or the shorter text the golden files use.
std::optional<std::string> TracedLine(const std::string& msg) {
  static const char* const kPrefixes[] = {
      "initialized a new cluster", "manual failover: leader key released",
      "client gate opened: ", "client gate closed: this crashed primary starts read-only"};
  for (const char* p : kPrefixes) {
    std::string ps(p);
    if (msg.rfind(ps, 0) != 0) continue;
    // The durations and explanations after these prefixes are real time or prose: the trace keeps the prefix.
    if (ps.back() == ' ') return msg;
    return ps;
  }
  // Execute's "<action> failed: <why>" (a lost race is logged as such at INFO and not traced).
  auto f = msg.find(" failed: ");
  if (f != std::string::npos && f > 0 && msg.find(' ') == f) return msg;
  return std::nullopt;
}
}  // namespace

SimAgent::SimAgent(World& w, SimNode& n)
    : w_(w),
      n_(n),
      log_file_(fopencookie(this, "w", cookie_io_functions_t{nullptr, &SimAgent::LogWrite, nullptr, nullptr})),
      exec_log_(log_file_ != nullptr ? log_file_ : stderr, LogLevel::kInfo, "|"),
      dcs_(w, n),
      pg_(w, n, [this](Duration d) { Sleep(d); }),
      io_(w, n, [this](Duration d) { Sleep(d); }),
      peers_(w, n),
      cfg_cell_(n.cfg),
      failsafe_(cfg_cell_, n.clock, w.quiet_log(), peers_, FailsafeHooks()),
      executor_(cfg_cell_, n.cfg->bootstrap.dynamic, n.clock, exec_log_, dcs_, pg_, io_, pg_state_, *this) {
  dyn_ = n_.cfg->bootstrap.dynamic;
  failsafe_.Configure(dyn_.failsafe_mode, dyn_.ttl);
  fencer_.safety_margin_s = n_.cfg->watchdog.safety_margin;
  // Agent::Agent: the hooks of the lease keeper; Agent::Run: retry_timeout, then Start.
  dcs_.SetRenewGate([this] { return RenewGate(); });
  dcs_.SetOnRenewed([this](int64_t lease, MonoTime deadline) {
    // Fencer::OnLeaseRenewed
    if (fencer_.armed && lease == fencer_.lease_id && deadline > fencer_.lease_deadline) {
      fencer_.lease_deadline = deadline;
      PushSupervisor();
    }
  });
  dcs_.SetOnLeaseMoved([this](int64_t lease, MonoTime deadline, int ttl_s) {
    if (fencer_.armed) (void)ArmWith(lease, deadline, ttl_s);
  });
  dcs_.SetRetryTimeout(dyn_.RetryTimeout());
  dcs_.Start(dyn_.ttl);
  pg_last_ok_ = Now();  // PgHealth::Start marks the start as a success
  next_cycle_ = Now();
  born_ = Now();
  next_renew_ = Now() + dcs_.KeeperPeriod();
  loop_ = std::make_unique<Fiber>([this] {
    for (;;) {
      Cycle();
      cycle_done_ = true;
      loop_->Suspend();
    }
  });
  // A restarted agent finds the supervisor of its predecessor still armed (it outlives the agent).
}

SimAgent::~SimAgent() {
  loop_.reset();  // unwinds a cycle suspended in a slow call before what it uses goes
  if (log_file_ != nullptr) std::fclose(log_file_);
}

// --- the executor's log -------------------------------------------------------------------------------------------

ssize_t SimAgent::LogWrite(void* self, const char* buf, size_t size) {
  auto* a = static_cast<SimAgent*>(self);
  a->log_pending_.append(buf, size);
  size_t nl;
  while ((nl = a->log_pending_.find('\n')) != std::string::npos) {
    a->LogLine(a->log_pending_.substr(0, nl));
    a->log_pending_.erase(0, nl + 1);
  }
  return static_cast<ssize_t>(size);
}

void SimAgent::LogLine(const std::string& line) {
  // Logger: "<date> <time>,<ms> LEVEL: |message"
  auto p = line.find(": |");
  if (p == std::string::npos) return;
  if (auto t = TracedLine(line.substr(p + 3))) w_.Trace(n_.name, *t);
}

// --- Agent::Run -----------------------------------------------------------------------------------------------------

void SimAgent::Tick() {
  MonoTime now = Now();
  if (now >= next_health_check_) {
    // PgHealth::Loop: a fresh session every interval = min(1 s, bound / 4)
    if (n_.pg.running && !n_.pg.frozen) pg_last_ok_ = now;
    Duration bound(std::max<int64_t>(1000, int64_t{dyn_.ttl} * 500));
    next_health_check_ = now + std::min(Duration(1000), bound / 4);
  }
  if (now >= next_renew_ && started_) next_renew_ = Now() + dcs_.KeeperTurn();  // the lease keeper thread
  if (failsafe_.Due()) failsafe_.Confirm();  // the failsafe thread (every 100 ms in the agent; every tick here)
  if (sleeping_) {
    if (now >= wake_at_) RunLoop();
    return;
  }
  if (!started_) {
    // Agent::WaitForDcs
    if (now < next_cycle_) return;
    Status s = dcs_.EnsureLease();
    if (s.ok() && dcs_.Cluster().ok()) {
      started_ = true;
      next_renew_ = Now() + dcs_.KeeperPeriod();
    } else {
      next_cycle_ = now + Duration(500);
      return;
    }
  }
  if (!wake_ && now < next_cycle_) return;
  wake_ = false;
  cycle_start_ = now;
  RunLoop();
}

void SimAgent::RunLoop() {
  cycle_done_ = false;
  loop_->Resume();
  if (!cycle_done_) return;  // suspended in a slow call: resumed at wake_at_
  // Agent::Run: the next cycle loop_wait after this one started, at once when this one took that long (a slow
  // initdb or promotion), earlier when the lease of an armed primary goes stale.
  MonoTime end = Now();
  Duration period(int64_t{dyn_.loop_wait} * 1000);
  Duration elapsed = std::chrono::duration_cast<Duration>(end - cycle_start_);
  if (elapsed >= period && period > Duration(0)) {
    // "Loop time exceeded, rescheduling immediately."
    wake_ = false;
    cycle_start_ = end;
    RunLoop();
    return;
  }
  Duration wait = period - elapsed;
  if (fencer_.armed) {
    MonoTime last_renewal = dcs_.LeaseDeadline() - Duration(int64_t{dyn_.ttl} * 1000);
    std::vector<MonoTime> at = {last_renewal + dyn_.RetryTimeout() + Duration(10)};
    if (dyn_.failsafe_mode) at.push_back(last_renewal + ha::SuspectAfter(dyn_) + Duration(10));
    for (MonoTime t : at) {
      Duration until = std::chrono::duration_cast<Duration>(t - end);
      if (until > Duration(0) && until < wait) wait = until;
    }
  }
  next_cycle_ = end + wait;
}

void SimAgent::Sleep(Duration d) {
  sleeping_ = true;
  wake_at_ = Now() + d;
  loop_->Suspend();
  sleeping_ = false;
}

// --- Agent::Cycle ---------------------------------------------------------------------------------------------------

void SimAgent::Cycle() {
  // A view proven fresh while the lease is not suspect.
  MonoTime last_renewal = dcs_.LeaseDeadline() - Duration(int64_t{dyn_.ttl} * 1000);
  bool suspect = dcs_.LeaseId() == 0 || Now() - last_renewal > ha::SuspectAfter(dyn_);
  auto view = suspect ? dcs_.Cluster() : dcs_.FreshCluster();
  if (!view.ok()) return;
  if (view->config) {
    std::vector<std::string> problems;
    DynamicConfig d = DynamicConfig::FromJson(*view->config, "config", &problems);
    if (problems.empty()) dyn_ = d;
  }
  pg_.SetDynamicConfig(dyn_);
  executor_.SetDynamic(dyn_);
  if (!dyn_.synchronous_mode) pg_.SetSyncNames(std::nullopt);
  dcs_.SetRetryTimeout(dyn_.RetryTimeout());
  (void)dcs_.SetTtl(dyn_.ttl);  // a live change rotates the lease
  failsafe_.Configure(dyn_.failsafe_mode, dyn_.ttl);
  LocalView local = pg_.Observe();
  core_ = ha::ObservePostgres(std::move(core_), local);
  if (!local.running || (local.query_ok && local.in_recovery)) {
    if (!fencer_.armed) n_.sup.armed = false;  // RetireOthers
  }
  pg_state_.Observe(local.running, local.query_ok);
  executor_.ObserveLeader(*view);
  ha::Inputs in;
  in.config = n_.cfg.get();
  in.dynamic = dyn_;
  in.cluster = &*view;
  in.local = &local;
  in.my_lease = dcs_.LeaseId();
  in.now = Now();
  in.lease_deadline = dcs_.LeaseDeadline();
  failsafe_.HoldBackAfterRestart(*view, born_);
  in.failsafe_primary_until = failsafe_.VouchedUntil();
  in.failsafe_restart_hold = failsafe_.RestartHold();
  in.watchdog_unusable = false;
  in.wall_now = n_.clock.WallSeconds();
  in.state = core_;
  core_ = in.state = ha::ObserveGate(in);
  in.restart_requested = n_.f.restart_requested;
  in.reinit_requested = std::exchange(n_.f.reinit_requested, false);
  ha::Decision d = ha::Decide(in);
  if (!d.actions.empty() && d.actions.front().type() == ha::ActionType::kCheckPeers) {
    in.peers = peers_.CheckPeers(*view, n_.name, Duration(2000));
    in.peers_checked = true;
    d = ha::Decide(in);
  }
  failsafe_.SetMembers(view->failsafe);
  if (!d.actions.empty() && d.actions.front().type() == ha::ActionType::kCheckFailsafe) {
    in.failsafe_checked = true;
    in.failsafe_ok = failsafe_.Check(fencer_.Margin());
    d = ha::Decide(in);
  }
  auto trace = [&](const ha::Decision& dd) {
    // Every decision names its reason (ha/reason.h): /metrics counts them, and a trace line shows the code.
    if (dd.reason == ha::Reason::kNone) w_.Violation(n_.name + ": decision without a reason code: " + dd.message);
    std::string line = dd.message + " [" + ActionList(dd) + "] {" + ha::ReasonName(dd.reason) + "}";
    if (line != last_traced_) {
      w_.Trace(n_.name, line);
      last_traced_ = line;
    }
  };
  trace(d);
  Publish(local, &*view);
  bool ok = executor_.Execute(d, *view, local, &core_);
  if (!ok && !core_.bootstrap_failed.empty()) {
    // The bootstrap failed and was cleaned up: the core decides what that means now.
    in.state = core_;
    d = ha::Decide(in);
    trace(d);
    executor_.Execute(d, *view, pg_.Observe(), &core_);
  }
  if (n_.f.agent_dead) return;
  if (ok && !d.actions.empty() && d.actions.front().type() != ha::ActionType::kWait) local = pg_.Observe();
  if (local.running) pg_state_.Observe(local.running, local.query_ok);
  bool leading_primary = view->leader && view->leader->name == n_.name && local.query_ok && !local.in_recovery;
  sync_note_ = leading_primary ? ha::SynchronousNote(dyn_, *view, n_.name) : "";
  if (!ha::LeaseSuspect(in) || in.my_lease == 0 || in.my_lease != dcs_.LeaseId()) TouchMember(local);
  auto fresh = dcs_.ClusterSnapshot();
  UpdateFencing(local, fresh ? fresh.get() : &*view);
  executor_.ReportRejoin(fresh ? *fresh : *view, local, core_.unreconciled_primary);
  Publish(local, fresh ? fresh.get() : &*view);
}

void SimAgent::Fatal() {
  w_.Trace(n_.name, "agent stops: fatal condition");
  n_.f.agent_dead = true;
}

void SimAgent::TouchMember(const LocalView& local) {
  // Agent::TouchMember (no standby clusters in the model)
  MemberData m =
      MemberKeyData(local, pg_state_, /*standby_leader=*/false, n_.cfg->tags.published, dyn_.pause, sync_note_);
  m.conn_url = ConnUrl(n_.pg_address());
  m.api_url = ApiUrl(n_.api_address());
  std::string json = EncodeMember(m);
  int64_t lease = dcs_.LeaseId();
  if (json == last_member_json_ && lease == last_member_lease_ && lease != 0) return;
  Status s = dcs_.TouchMember(json);
  if (!s.ok()) return;
  last_member_json_ = json;
  last_member_lease_ = dcs_.LeaseId();
}

}  // namespace pgw::sim
