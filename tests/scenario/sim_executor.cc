// Model of Agent::Cycle and TouchMember (agent.cc) and of Executor::Execute, ExecuteOne, PromoteNow,
// DemoteGracefully and Bootstrap (executor*.cc). Keep in step with them: see sim_agent.h.
#include "agent/status_json.h"
#include "ha/sync.h"
#include "sim_agent.h"

namespace pgw::sim {

namespace {
std::string ActionList(const ha::Decision& d) {
  std::string s;
  for (const auto& a : d.actions) {
    if (a.type == ha::ActionType::kWriteStatus || a.type == ha::ActionType::kSyncSlots) continue;
    s += s.empty() ? "" : " ";
    s += ha::ActionName(a.type);
    if (a.mode != ha::Mode::kNone)
      s += std::string("(") + ha::ModeName(a.mode) + (a.target.empty() ? "" : " " + a.target) + ")";
    else if (a.type == ha::ActionType::kWriteSync) {
      std::string l;
      for (const auto& n : a.sync) l += (l.empty() ? "" : ",") + n;
      s += "(" + l + ")";
    } else if (a.type == ha::ActionType::kSetSyncNames) {
      s += "(" + a.sync_names + ")";
    }
  }
  return s;
}
}  // namespace

Result<ClusterView> SimAgent::FreshView() {
  // EtcdDcs::FreshCluster: a quorum read; the watch view when it holds what the read returned (a watch lagging by
  // up to 200 ms catches up during the wait), else the read itself, and the watch moves to another endpoint (in
  // the model: off the stale one).
  if (!w_.EtcdReachable(n_)) return View();
  const auto& latest = w_.etcd().Latest();
  auto covers = [&] {
    if (!n_.view_ready || !n_.view) return false;
    if (n_.view_revision >= latest.revision) return true;
    if (n_.view->size() != latest.kvs->size()) return false;
    for (const auto& [k, kv] : *latest.kvs) {
      auto it = n_.view->find(k);
      if (it == n_.view->end() || it->second.mod_revision != kv.mod_revision) return false;
    }
    return true;
  };
  if (covers()) return View();
  if (n_.view_ready && !n_.f.stale && n_.f.lag_ms <= 200) {
    return BuildClusterView(w_.etcd().prefix(), *latest.kvs, latest.revision);
  }
  w_.Trace(n_.name, "etcd watch view is behind a quorum read: deciding on the read, moving the watch");
  n_.f.stale = false;
  return BuildClusterView(w_.etcd().prefix(), *latest.kvs, latest.revision);
}

void SimAgent::Cycle() {
  // Agent::Cycle: a view proven fresh while the lease is not suspect.
  MonoTime last_renewal = keeper_.Deadline() - Duration(int64_t{dyn_.ttl} * 1000);
  bool suspect = keeper_.Id() == 0 || Now() - last_renewal > ha::SuspectAfter(dyn_);
  auto view = suspect ? View() : FreshView();
  if (!view.ok()) return;
  if (view->config) {
    std::vector<std::string> problems;
    DynamicConfig d = DynamicConfig::FromJson(*view->config, "config", &problems);
    if (problems.empty()) dyn_ = d;
  }
  failsafe_.Configure(dyn_.failsafe_mode, dyn_.ttl);
  keeper_.SetRetryTimeout(dyn_.RetryTimeout());  // dcs_->SetRetryTimeout(dyn_.retry_timeout)
  SetTtl(dyn_.ttl);                              // dcs_->SetTtl(dyn_.ttl): a live change rotates the lease
  LocalView local = w_.Observe(n_);
  core_ = ha::ObservePostgres(std::move(core_), local);
  if (!local.running || (local.query_ok && local.in_recovery)) {
    if (!fencer_.armed) n_.sup.armed = false;  // RetireOthers
  }
  pg_state_.Observe(local.running, local.query_ok);
  ha::Inputs in;
  in.config = n_.cfg.get();
  in.dynamic = dyn_;
  in.cluster = &*view;
  in.local = &local;
  in.my_lease = keeper_.Id();
  in.now = Now();
  in.lease_deadline = keeper_.Deadline();
  failsafe_.HoldBackAfterRestart(*view, born_);
  in.failsafe_primary_until = failsafe_.VouchedUntil();
  in.failsafe_restart_hold = failsafe_.RestartHold();
  in.watchdog_unusable = false;
  in.wall_now = n_.clock.WallSeconds();
  in.state = core_;
  core_ = in.state = ha::ObserveGate(in);
  in.restart_requested = false;
  ha::Decision d = ha::Decide(in);
  if (!d.actions.empty() && d.actions.front().type == ha::ActionType::kCheckPeers) {
    in.peers = peers_.CheckPeers(*view, n_.name, Duration(2000));
    in.peers_checked = true;
    d = ha::Decide(in);
  }
  failsafe_.SetMembers(view->failsafe);
  if (!d.actions.empty() && d.actions.front().type == ha::ActionType::kCheckFailsafe) {
    in.failsafe_checked = true;
    in.failsafe_ok = failsafe_.Check(fencer_.Margin());
    d = ha::Decide(in);
  }
  // Every decision names its reason (ha/reason.h): /metrics counts them, and a trace line shows the code.
  if (d.reason == ha::Reason::kNone) w_.Violation(n_.name + ": decision without a reason code: " + d.message);
  std::string line = d.message + " [" + ActionList(d) + "] {" + ha::ReasonName(d.reason) + "}";
  if (line != last_traced_) {
    w_.Trace(n_.name, line);
    last_traced_ = line;
  }
  Publish(local);
  bool ok = Execute(d, *view, local);
  if (n_.f.agent_dead) return;
  if (ok && !d.actions.empty() && d.actions.front().type != ha::ActionType::kWait) local = w_.Observe(n_);
  if (local.running) pg_state_.Observe(local.running, local.query_ok);
  bool leading_primary = view->leader && view->leader->name == n_.name && local.query_ok && !local.in_recovery;
  sync_note_ = leading_primary ? ha::SynchronousNote(dyn_, *view, n_.name) : "";
  if (!ha::LeaseSuspect(in) || in.my_lease == 0 || in.my_lease != keeper_.Id()) TouchMember(local);
  auto fresh = View();
  UpdateFencing(local, fresh.ok() ? &*fresh : &*view);
  Publish(local);
}

bool SimAgent::Execute(const ha::Decision& d, const ClusterView& view, const LocalView& local) {
  for (const auto& a : d.actions) {
    ha::ActionReport report;
    Status s = ExecuteOne(a, view, local, &report);
    report.ok = s.ok();
    core_ = ha::Record(std::move(core_), a, report, local, dyn_);
    if (!s.ok()) {
      if (a.type == ha::ActionType::kFatal) return false;
      bool race = s.code() == Code::kAlreadyExists &&
                  (a.type == ha::ActionType::kAttemptInitialize || a.type == ha::ActionType::kAttemptLeader);
      if (!race) w_.Trace(n_.name, std::string(ha::ActionName(a.type)) + " failed: " + s.message());
      return false;
    }
  }
  return true;
}

Status SimAgent::ExecuteOne(const ha::Action& a, const ClusterView& view, const LocalView& local,
                            ha::ActionReport* report) {
  using ha::ActionType;
  switch (a.type) {
    case ActionType::kWait:
    case ActionType::kCheckPeers:
    case ActionType::kCheckFailsafe: return Status::Ok();
    case ActionType::kFatal:
      w_.Trace(n_.name, "agent stops: fatal condition");
      n_.f.agent_dead = true;
      return Internal("fatal");
    case ActionType::kAttemptInitialize: {
      if (!w_.EtcdReachable(n_)) return Unavailable("initialize race: etcd unreachable");
      auto r = w_.etcd().CreateOnly("initialize", "", 0, w_.now_ms());
      w_.AfterWrite(n_);
      if (!r.ok()) return r.status();
      if (!*r) return Status(Code::kAlreadyExists, "initialize race: key exists already");
      return Status::Ok();
    }
    case ActionType::kBootstrap: return Bootstrap();
    case ActionType::kBootstrapStandby:
      // Standby clusters are not modelled (no remote primary in the simulated world): no scenario configures one.
      return Internal("standby clusters are not modelled by the simulator");
    case ActionType::kClone: {
      pg_state_.Move(ha::PgState::kCreatingReplica, ha::PgCause::kClone);
      TouchMember(local);
      // Replica creation methods that work without a leader (a restore from a backup) are not modelled.
      if (!a.address) return Internal("creating a replica without a leader is not modelled by the simulator");
      Status s = w_.PgClone(n_, *a.address);
      if (!s.ok()) {
        pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kFailed);
        w_.PgWipe(n_);
        return s.Context("cloning from " + a.target);
      }
      return Status::Ok();
    }
    case ActionType::kStartPrimary: {
      Status armed = ArmFencing();
      if (!armed.ok()) {
        report->fenced = false;
        (void)DeleteLeader();
        return armed.Context("not starting as primary");
      }
      pg_state_.Move(ha::PgState::kStarting, ha::PgCause::kStart);
      if (a.mode == ha::Mode::kGated) {
        n_.pg.gate_marker = true;  // pg_->CloseGate()
        report->at = Now();
      }
      std::optional<std::string> names;
      if (dyn_.synchronous_mode) {
        names = ha::RenderSyncNames(ha::SyncStandbys(view, n_.name), dyn_.synchronous_node_count,
                                    dyn_.synchronous_mode_strict);
      }
      report->start_attempted = true;
      Status s = w_.PgStart(n_, std::nullopt, false);
      if (s.ok() && names) n_.pg.sync_names = *names;
      return s;
    }
    case ActionType::kStartReplica: {
      pg_state_.Move(ha::PgState::kStarting, ha::PgCause::kStart);
      if (a.mode == ha::Mode::kGated) {
        // Kept across the read-only start (following nobody): honoured if this node is promoted later.
        n_.pg.gate_marker = true;  // pg_->CloseGate()
        w_.Trace(n_.name, "client gate closed: this crashed primary starts read-only");
      }
      report->start_attempted = true;
      return w_.PgStart(n_, a.upstream, true);
    }
    case ActionType::kFollow: {
      if (!n_.pg.running) return Unavailable("follow: PostgreSQL is not running");
      if (n_.pg.frozen) return Timeout("follow: reload timed out");
      n_.pg.upstream = a.upstream;
      return Status::Ok();
    }
    case ActionType::kAttemptLeader: return AttemptLeader();
    case ActionType::kRefreshLeader: return RefreshLeader();
    case ActionType::kPromote: return PromoteNow(view, report);
    case ActionType::kDemote: {
      if (a.mode == ha::Mode::kGraceful) return DemoteGracefully(a.target, view, report);
      Status s = w_.PgStop(n_, a.mode == ha::Mode::kOffline);
      if (!s.ok()) return s;
      Disarm();
      pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kStop);
      return Status::Ok();
    }
    case ActionType::kReleaseLeader: {
      report->at = Now();
      Status s = DeleteLeader();
      if (s.code() == Code::kConflict) return Status::Ok();
      return s;
    }
    case ActionType::kRewind: {
      return w_.PgRewind(n_, *a.address);
    }
    case ActionType::kReinitialize: w_.PgWipe(n_); return Status::Ok();
    case ActionType::kDeleteFailover: return DeleteKey("failover");
    case ActionType::kSetSyncNames: {
      if (!n_.pg.running) return Unavailable("set sync names: PostgreSQL is not running");
      if (n_.pg.frozen) return Timeout("reload timed out");
      n_.pg.sync_names = a.sync_names;
      if (a.sync.empty()) return Status::Ok();
      // Safety rule 9: measured after the change, so the position covers every commit acknowledged before it.
      LocalView after = w_.Observe(n_);
      if (!after.query_ok || after.in_recovery) {
        return Unavailable("cannot read the WAL position after changing synchronous_standby_names");
      }
      report->wal_position = after.wal_position;
      return Status::Ok();
    }
    case ActionType::kDeleteSync: return DeleteKey("sync");
    case ActionType::kWriteSync: {
      return WriteSync(EncodeSync(n_.name, a.sync), view.sync_mod_revision);
    }
    case ActionType::kRestart: {
      bool primary = local.running && local.query_ok && !local.in_recovery;
      std::optional<Upstream> up = primary ? std::nullopt : local.upstream;
      Status s = w_.PgStop(n_, true);
      if (s.ok()) {
        if (primary) s = ArmFencing();
        if (s.ok()) s = w_.PgStart(n_, up, !primary);
      }
      return s;
    }
    case ActionType::kWriteFailsafe: return PutKey("failsafe", EncodeFailsafe(ha::FailsafeMembers(view)));
    case ActionType::kWriteStatus: return PutKey("status", EncodeStatus(a.optime, a.slot_lsns));
    case ActionType::kSyncSlots:
      if (!n_.pg.running || n_.pg.frozen) return Unavailable("slots: PostgreSQL unavailable");
      // A primary never drops the slot of a member whose key exists (issue 10 item 12).
      if (!n_.pg.in_recovery) {
        const auto& kvs = *w_.etcd().Latest().kvs;
        for (const auto& s : n_.pg.slots) {
          if (std::find(a.slots.begin(), a.slots.end(), s) != a.slots.end()) continue;
          for (const auto& [k, kv] : kvs) {
            std::string mp = w_.etcd().prefix() + "members/";
            if (k.rfind(mp, 0) == 0 && SlotNameFromMemberName(k.substr(mp.size())) == s) {
              w_.Violation(n_.name + " dropped the slot " + s + " of a live member");
            }
          }
        }
      }
      n_.pg.slots = a.slots;
      return Status::Ok();
    case ActionType::kOpenGate:
      n_.pg.gate_marker = false;
      n_.pg.gated = false;
      w_.Trace(n_.name, "client gate opened: " + a.target);
      return Status::Ok();
  }
  return Internal("unknown action");
}

Status SimAgent::DemoteGracefully(const std::string& candidate, const ClusterView& view, ha::ActionReport* report) {
  // Checkpoint, stop fast (the shutdown checkpoint reaches the streaming replicas), then release the key once a
  // candidate has received it.
  if (!candidate.empty() && view.failover) {
    const auto& f = view.failover->request;
    if (f && f->member.empty()) {
      // A switchover without a named candidate: name the one the core chose (issue 10 item 12).
      Json named = view.failover->raw.is_object() ? view.failover->raw : Json::object();
      named["leader"] = n_.name;
      named["member"] = candidate;
      Status wr = PutKey("failover", named.dump());
      if (!wr.ok()) w_.Trace(n_.name, "manual failover: could not name " + candidate + " in the failover key");
    }
  }
  size_t before = n_.pg.wal.size();
  PGW_RETURN_IF_ERROR(w_.PgStop(n_, true));
  Disarm();
  pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kStop);
  int64_t ckpt = n_.pg.wal.size() > before ? Lsn(n_.pg.wal.size()) : 0;
  bool confirmed = false;
  for (const auto& [name, m] : view.members) {
    if (name == n_.name || !(candidate.empty() || name == candidate)) continue;
    SimNode* c = w_.Find(name);
    if (c == nullptr || !c->pg.running || c->pg.frozen || !w_.Link(n_, *c)) continue;
    if (ckpt > 0 && Lsn(c->pg.wal.size()) >= ckpt && IsPrefix(n_.pg.wal, c->pg.wal)) confirmed = true;
  }
  report->handed_over = confirmed;
  // GET /patroni must stop calling us primary before the key goes.
  Publish(w_.Observe(n_));
  Status rel = DeleteLeader();
  if (rel.ok()) w_.Trace(n_.name, "manual failover: leader key released");
  return rel.code() == Code::kConflict ? Status::Ok() : rel;
}

Status SimAgent::PromoteNow(const ClusterView& view, ha::ActionReport* report) {
  if (n_.f.pre_promote_fails) {
    report->vetoed = true;
    report->at = Now();
    (void)DeleteLeader();
    return Internal("Promotion cancelled because the pre-promote script failed");
  }
  if (dyn_.synchronous_mode) {
    Status wr = WriteSync(EncodeSync(n_.name, {}), view.sync_mod_revision);
    if (!wr.ok()) {
      (void)DeleteLeader();
      return wr.Context("Postponing promotion because synchronous replication state was updated by somebody else");
    }
    if (n_.pg.running && !n_.pg.frozen) n_.pg.sync_names = dyn_.synchronous_mode_strict ? "*" : "";
  }
  Status armed = ArmFencing();
  if (!armed.ok()) {
    (void)DeleteLeader();
    return armed.Context("Not promoting self because watchdog could not be activated");
  }
  PGW_RETURN_IF_ERROR(w_.PgPromote(n_));
  report->promoted = true;
  // pg_->Promote() waits for the promotion: a slow one holds the loop.
  if (n_.pg.promote_done_ms >= 0) busy_until_ = MonoTime(Duration(1000000 + n_.pg.promote_done_ms));
  if (w_.EtcdReachable(n_)) (void)PutKey("history", "[]");
  return Status::Ok();
}

Status SimAgent::Bootstrap() {
  pg_state_.Move(ha::PgState::kInitializing, ha::PgCause::kBootstrap);
  auto sysid = w_.PgBootstrap(n_);
  if (!sysid.ok()) return sysid.status();
  if (n_.f.initdb_ms > 0) {
    // A slow initdb holds the HA loop (the lease keeper and the health checker go on); PostgreSQL starts after it.
    n_.pg.running = false;
    initdb_running_ = true;
    busy_until_ = Now() + Duration(n_.f.initdb_ms);
    return Status::Ok();
  }
  return FinishBootstrap();
}

Status SimAgent::FinishBootstrap() {
  initdb_running_ = false;
  n_.pg.running = true;
  std::string sysid = n_.pg.sysid;
  if (!w_.EtcdReachable(n_)) return Unavailable("writing initialize: etcd unreachable");
  auto r = w_.etcd().PutIfValue("initialize", "", sysid, 0, w_.now_ms());
  if (!r.ok() || !*r) return Conflict("initialize was changed by someone else");
  (void)w_.etcd().CreateOnly("config", n_.cfg->bootstrap.dcs.dump(), 0, w_.now_ms());
  w_.AfterWrite(n_);
  PGW_RETURN_IF_ERROR(AttemptLeader());
  pg_state_.Move(ha::PgState::kRunning, ha::PgCause::kBootstrap);
  w_.Trace(n_.name, "initialized a new cluster");
  return Status::Ok();
}

void SimAgent::TouchMember(const LocalView& local) {
  MemberData m;
  m.conn_url = ConnUrl(n_.pg_address());
  m.api_url = ApiUrl(n_.api_address());
  m.state = pg_state_.name();
  NodeState ns;
  ns.local = local;
  ns.pg_state = pg_state_.state();
  m.role = RoleName(RoleOf(ns));
  m.version = kPatroniCompatVersion;
  if (local.query_ok) m.xlog_location = local.wal_position;
  if (local.timeline) m.timeline = local.timeline;
  if (local.query_ok && local.in_recovery) {
    m.replication_state = local.replication_state;
    // As Patroni 4.1: what a read on this standby sees (replay) apart from what it holds (receive); the router
    // measures read lag from replay_lsn.
    if (local.replayed_location > 0) m.replay_lsn = local.replayed_location;
    if (local.received_location > 0) m.receive_lsn = local.received_location;
  }
  m.tags = n_.cfg->tags.published;
  m.pause = dyn_.pause;
  m.synchronous = sync_note_;
  m.client_gate_closed = local.gated;
  std::string json = EncodeMember(m);
  int64_t lease = keeper_.Id();
  if (json == last_member_json_ && lease == last_member_lease_ && lease != 0) return;
  Status s = DcsTouchMember(json);
  if (!s.ok()) return;
  last_member_json_ = json;
  last_member_lease_ = keeper_.Id();
}

}  // namespace pgw::sim
