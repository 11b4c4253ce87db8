// Model of Agent::Cycle and the threads around it (agent.cc). Keep in step with agent.cc: see sim_agent.h.
#include "sim_agent.h"

#include <algorithm>

#include "agent/fencer.h"
#include "agent/status_json.h"

namespace pgw::sim {

Result<int64_t> SimLeaseApi::Grant(int ttl_seconds) {
  if (!w_.EtcdReachable(n_)) return Unavailable("etcd unreachable");
  return w_.etcd().Grant(ttl_seconds, w_.now_ms());
}

Result<int64_t> SimLeaseApi::KeepAlive(int64_t id) {
  if (!w_.EtcdReachable(n_)) return Unavailable("etcd unreachable");
  return w_.etcd().KeepAlive(id, w_.now_ms());
}

Status SimLeaseApi::Revoke(int64_t id) {
  if (!w_.EtcdReachable(n_)) return Unavailable("etcd unreachable");
  w_.etcd().Revoke(id, w_.now_ms());
  return Status::Ok();
}

Duration SimFencer::Margin() const { return FenceMargin(ttl_s, safety_margin_s); }

SimAgent::SimAgent(World& w, SimNode& n)
    : w_(w),
      n_(n),
      log_(w.quiet_log()),
      lease_api_(w, n),
      peers_(w, n),
      keeper_(lease_api_, n.clock, w.quiet_log()),
      cfg_cell_(n.cfg),
      failsafe_(cfg_cell_, n.clock, w.quiet_log(), peers_, FailsafeHooks()) {
  dyn_ = n_.cfg->bootstrap.dynamic;
  failsafe_.Configure(dyn_.failsafe_mode, dyn_.ttl);
  fencer_.safety_margin_s = n_.cfg->watchdog.safety_margin;
  keeper_.SetRetryTimeout(dyn_.RetryTimeout());  // Agent::Run: dcs_->SetRetryTimeout before Start
  keeper_.SetTtl(dyn_.ttl);                      // EtcdDcs::Start(dyn_.ttl)
  // Agent::Agent: the renew gate of an armed primary depends on PostgreSQL health (pg_health.h).
  keeper_.SetGate([this] { return RenewGate(); });
  pg_last_ok_ = Now();  // PgHealth::Start marks the start as a success
  next_cycle_ = Now();
  born_ = Now();
  next_renew_ = Now() + keeper_.Period();
  // A restarted agent finds the supervisor of its predecessor still armed (it outlives the agent).
}

// --- EtcdDcs over the model ---------------------------------------------------------------------------------

Result<ClusterView> SimAgent::View() {
  if (!n_.view_ready) return Unavailable("no view of etcd yet");
  return BuildClusterView(w_.etcd().prefix(), *n_.view, n_.view_revision);
}

Status SimAgent::EnsureLease() { return keeper_.Ensure(); }

void SimAgent::SetTtl(int ttl) {
  // EtcdDcs::SetTtl
  if (!keeper_.SetTtl(ttl)) return;
  bool leader_moved = false;
  Status s = keeper_.Rotate([&](int64_t, int64_t to) { return MoveKeys(to, &leader_moved); });
  int64_t fence_lease = s.ok() ? keeper_.Id() : keeper_.PendingId();
  // Agent::Agent's SetOnLeaseMoved: the fence follows the leader key onto the new lease.
  if (fence_lease != 0 && (leader_moved || !s.ok()) && fencer_.armed)
    (void)ArmWith(fence_lease, keeper_.Deadline(), ttl);
  if (!s.ok()) w_.Trace(n_.name, "changing the lease ttl to " + std::to_string(ttl) + ": " + s.message());
}

Status SimAgent::MoveKeys(int64_t to, bool* leader_moved) {
  // EtcdDcs::MoveKeys: one txn; member key always, leader key only while it is ours.
  if (!w_.EtcdReachable(n_)) return Unavailable("moving keys to the new lease: etcd unreachable");
  bool ours = w_.etcd().Get("leader") == std::optional<std::string>(n_.name);
  if (!keeper_member_json_.empty()) {
    Status p = w_.etcd().Put("members/" + n_.name, keeper_member_json_, to, w_.now_ms());
    if (!p.ok()) return p.Context("moving keys to the new lease");
  }
  if (ours) {
    Status p = w_.etcd().Put("leader", n_.name, to, w_.now_ms());
    if (!p.ok()) return p.Context("moving keys to the new lease");
  }
  *leader_moved = ours;
  w_.AfterWrite(n_);
  return Status::Ok();
}

bool SimAgent::PgHealthy() const {
  // PgHealth::Healthy: bound = max(1 s, ttl / 2)
  Duration bound(std::max<int64_t>(1000, int64_t{dyn_.ttl} * 500));
  return Now() - pg_last_ok_ <= bound;
}

bool SimAgent::RenewGate() {
  // The gate Agent::Agent sets on the lease keeper.
  if (Now() < renew_blocked_until_) return false;
  if (!fencer_.armed || PgHealthy() || !n_.pg.running) return true;
  renew_blocked_until_ = keeper_.Deadline() + Duration(1000);
  w_.Trace(n_.name, "not renewing the leader lease: PostgreSQL is running but has not answered");
  return false;
}

Status SimAgent::AttemptLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  if (!w_.EtcdReachable(n_)) return Unavailable("leader race: etcd unreachable");
  auto r = w_.etcd().CreateOnly("leader", n_.name, keeper_.Id(), w_.now_ms());
  if (!r.ok()) return r.status().Context("leader race");
  w_.AfterWrite(n_);
  if (!*r) return Status(Code::kAlreadyExists, "leader race: key exists already");
  return Status::Ok();
}

Status SimAgent::RefreshLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  if (!w_.EtcdReachable(n_)) return Unavailable("refreshing leader key: etcd unreachable");
  auto r = w_.etcd().PutIfValue("leader", n_.name, n_.name, keeper_.Id(), w_.now_ms());
  if (!r.ok()) return r.status().Context("refreshing leader key");
  w_.AfterWrite(n_);
  if (!*r) return Conflict("leader key is not ours");
  return Status::Ok();
}

Status SimAgent::DeleteLeader() {
  if (!w_.EtcdReachable(n_)) return Unavailable("deleting leader key: etcd unreachable");
  bool ok = w_.etcd().DeleteIfValue("leader", n_.name, w_.now_ms());
  w_.AfterWrite(n_);
  if (!ok) return Conflict("leader key is not ours");
  return Status::Ok();
}

Status SimAgent::WriteSync(const std::string& json, int64_t expect_mod) {
  if (!w_.EtcdReachable(n_)) return Unavailable("writing sync: etcd unreachable");
  bool ok = w_.etcd().PutIfMod("sync", expect_mod, json, w_.now_ms());
  w_.AfterWrite(n_);
  if (!ok) return Conflict("synchronous replication state was updated by somebody else");
  return Status::Ok();
}

Status SimAgent::PutKey(const std::string& rel, const std::string& json) {
  if (!w_.EtcdReachable(n_)) return Unavailable("writing " + rel + ": etcd unreachable");
  Status s = w_.etcd().Put(rel, json, 0, w_.now_ms());
  w_.AfterWrite(n_);
  return s;
}

Status SimAgent::DeleteKey(const std::string& rel) {
  if (!w_.EtcdReachable(n_)) return Unavailable("removing " + rel + ": etcd unreachable");
  w_.etcd().Delete(rel, w_.now_ms());
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimAgent::DcsTouchMember(const std::string& json) {
  PGW_RETURN_IF_ERROR(EnsureLease());
  if (!w_.EtcdReachable(n_)) return Unavailable("writing member key: etcd unreachable");
  int64_t lease = keeper_.Id();
  Status s = w_.etcd().Put("members/" + n_.name, json, lease, w_.now_ms());
  if (!s.ok()) {
    if (s.code() == Code::kNotFound) keeper_.Forget(lease);
    return s.Context("writing member key");
  }
  keeper_member_json_ = json;
  w_.AfterWrite(n_);
  return Status::Ok();
}

// --- threads ----------------------------------------------------------------------------------------------------

void SimAgent::Tick() {
  MonoTime now = Now();
  if (now >= next_health_check_) {
    // PgHealth::Loop: a fresh session every interval = min(1 s, bound / 4)
    if (n_.pg.running && !n_.pg.frozen) pg_last_ok_ = now;
    Duration bound(std::max<int64_t>(1000, int64_t{dyn_.ttl} * 500));
    next_health_check_ = now + std::min(Duration(1000), bound / 4);
  }
  if (now >= next_renew_ && started_) KeeperTick();
  FailsafeTick();
  if (busy_until_ > now) return;
  if (initdb_running_) {
    Status s = FinishBootstrap();
    if (!s.ok()) w_.Trace(n_.name, "bootstrap failed: " + s.message());
  }
  if (!started_) {
    // Agent::WaitForDcs
    if (now < next_cycle_) return;
    Status s = EnsureLease();
    if (s.ok() && View().ok()) {
      started_ = true;
      next_renew_ = Now() + keeper_.Period();
    } else {
      next_cycle_ = now + Duration(500);
      return;
    }
  }
  if (!wake_ && now < next_cycle_) return;
  wake_ = false;
  Cycle();
  // Agent::Run: the next cycle loop_wait after this one started, at once when this one took that long (a slow
  // initdb or promotion held it until busy_until_), earlier when the lease of an armed primary goes stale.
  MonoTime end = std::max(Now(), busy_until_);
  Duration period(int64_t{dyn_.loop_wait} * 1000);
  Duration elapsed = std::chrono::duration_cast<Duration>(end - now);
  if (elapsed >= period) {
    next_cycle_ = end;
    return;
  }
  Duration wait = period - elapsed;
  if (fencer_.armed) {
    MonoTime last_renewal = keeper_.Deadline() - Duration(int64_t{dyn_.ttl} * 1000);
    std::vector<MonoTime> at = {last_renewal + dyn_.RetryTimeout() + Duration(10)};
    if (dyn_.failsafe_mode) at.push_back(last_renewal + ha::SuspectAfter(dyn_) + Duration(10));
    for (MonoTime t : at) {
      Duration until = std::chrono::duration_cast<Duration>(t - end);
      if (until > Duration(0) && until < wait) wait = until;
    }
  }
  next_cycle_ = end + wait;
}

void SimAgent::KeeperTick() {
  // EtcdDcs::KeeperLoop
  LeaseKeeper::Outcome o = keeper_.Renew();
  retry_soon_ = o == LeaseKeeper::Outcome::kFailed;
  if (o == LeaseKeeper::Outcome::kRenewed) {
    // Fencer::OnLeaseRenewed, under the pending lease while a ttl change is unfinished (EtcdDcs::KeeperLoop)
    int64_t lease = keeper_.PendingId() != 0 ? keeper_.PendingId() : keeper_.Id();
    if (fencer_.armed && lease == fencer_.lease_id && keeper_.Deadline() > fencer_.lease_deadline) {
      fencer_.lease_deadline = keeper_.Deadline();
      PushSupervisor();
    }
  }
  if (o == LeaseKeeper::Outcome::kExpired) {
    Status s = EnsureLease();
    if (s.ok() && !keeper_member_json_.empty()) s = DcsTouchMember(keeper_member_json_);
  }
  Duration wait = keeper_.Period();
  if (retry_soon_) wait = std::max(Duration(100), wait / 4);
  next_renew_ = Now() + wait;
}

void SimAgent::FailsafeTick() {
  // Failsafe's thread (every 100 ms in the agent; every tick here)
  if (failsafe_.Due()) failsafe_.Confirm();
}

bool SimAgent::AcceptFailsafe(const std::string& sender) {
  // agent_http.cc POST /failsafe with api::CheckFailsafeSender: only members listed in the failsafe key (or, with
  // no such key, members of the cluster) may vote.
  std::optional<FailsafeTopology> key = failsafe_.Members();
  auto v = View();
  if (v.ok() && v->failsafe) key = v->failsafe;
  if (sender == n_.name) return false;
  if (key && !key->empty()) {
    if (!key->contains(sender)) return false;
  } else if (!v.ok() || v->FindMember(sender) == nullptr) {
    return false;
  }
  failsafe_.Vouch();
  return true;
}

Failsafe::Hooks SimAgent::FailsafeHooks() {
  Failsafe::Hooks h;
  h.armed = [this] { return fencer_.armed; };
  h.lease_deadline = [this] { return keeper_.Deadline(); };
  h.withhold = [this] {
    // Agent::PgHealthBlocksLeadership
    bool blocked = Now() < renew_blocked_until_ || (fencer_.armed && !PgHealthy() && n_.pg.running);
    return blocked ? std::string("PostgreSQL is running but has not answered") : std::string();
  };
  h.extend_fence = [this](MonoTime until) {
    // Fencer::ExtendUntil
    if (fencer_.armed && until > fencer_.failsafe_until) {
      fencer_.failsafe_until = until;
      PushSupervisor();
    }
  };
  return h;
}

ha::PeerStatus SimAgent::PeerView() const {
  // GET /patroni (status_json.cc) parsed by peers.cc ParsePeerStatus: from the agent's published state.
  ha::PeerStatus p;
  p.name = n_.name;
  p.reachable = true;
  const LocalView& l = published_;
  if (l.query_ok) {
    p.is_primary = !l.in_recovery;
    p.wal_position = l.in_recovery ? std::max(l.received_location, l.replayed_location) : l.wal_position;
  }
  p.nofailover = n_.cfg->tags.NeverPromote();
  p.failover_priority = n_.cfg->tags.failover_priority.value_or(1);
  return p;
}

SimAgent* SimPeerClient::Reachable(const std::string& name) const {
  SimNode* peer = w_.Find(name);
  if (peer == nullptr || !peer->agent || peer->f.agent_dead || peer->f.agent_frozen || peer->f.paused ||
      !w_.Link(self_, *peer)) {
    return nullptr;
  }
  return peer->agent.get();
}

std::vector<ha::PeerStatus> SimPeerClient::CheckMembers(const ClusterView& cluster,
                                                        const std::vector<std::string>& names, Duration /*timeout*/) {
  // peers.cc CheckMembers: members without an api_url are not asked; one that cannot answer is unreachable.
  std::vector<ha::PeerStatus> out;
  for (const auto& [name, m] : cluster.members) {
    if (std::find(names.begin(), names.end(), name) == names.end() || m.api_url.empty()) continue;
    SimAgent* peer = Reachable(name);
    if (peer == nullptr) {
      ha::PeerStatus p;
      p.name = name;
      out.push_back(p);
      continue;
    }
    out.push_back(peer->PeerView());
  }
  return out;
}

bool SimPeerClient::PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self,
                                 const std::string& /*body*/, Duration /*timeout*/, const std::string& /*username*/,
                                 const std::string& /*password*/) {
  // peers.cc PostFailsafe: every other listed member must accept; an empty api_url cannot be asked.
  if (!failsafe || !failsafe->contains(self)) return false;
  bool all = true;
  for (const auto& [name, url] : *failsafe) {
    if (name == self) continue;
    if (url.empty()) return false;
    SimAgent* peer = Reachable(name);
    all = peer != nullptr && peer->AcceptFailsafe(self) && all;
  }
  return all;
}

// --- fencing (Agent::ArmFencing, Agent::UpdateFencing, Fencer) -------------------------------------------------

void SimAgent::PushSupervisor() {
  n_.sup.armed = fencer_.armed;
  n_.sup.fence_at = fencer_.FenceAt();
}

Status SimAgent::ArmFencing() {
  int64_t lease = keeper_.Id();
  if (lease == 0) return Unavailable("no lease to arm fencing with");
  if (!fencer_.armed) pg_last_ok_ = Now();  // PgHealth::MarkOk: arming starts the health bound afresh
  return ArmWith(lease, keeper_.Deadline(), dyn_.ttl);
}

Status SimAgent::ArmWith(int64_t lease, MonoTime deadline, int ttl) {
  if (fencer_.armed && lease == fencer_.lease_id && deadline <= fencer_.lease_deadline && ttl == fencer_.ttl_s) {
    return Status::Ok();
  }
  bool same = fencer_.armed && lease == fencer_.lease_id;
  fencer_.armed = true;
  if (!same) fencer_.failsafe_until = MonoTime{};
  fencer_.lease_deadline = same ? std::max(fencer_.lease_deadline, deadline) : deadline;
  fencer_.lease_id = lease;
  fencer_.ttl_s = ttl;
  PushSupervisor();
  return Status::Ok();
}

void SimAgent::Disarm() {
  if (!fencer_.armed) {
    n_.sup.armed = false;  // RetireOthers: a predecessor's supervisor has nothing to guard
    return;
  }
  fencer_.armed = false;
  fencer_.lease_id = 0;
  fencer_.failsafe_until = MonoTime{};
  PushSupervisor();
}

void SimAgent::UpdateFencing(const LocalView& local, const ClusterView* view) {
  // The real agent is still inside pg_->Promote() (pg_promote(wait => true)) while a model promotion is pending;
  // it updates the fence only once that returned, with PostgreSQL a primary. Disarming here would be a model
  // artefact (a pending promotion looks like a replica).
  if (n_.pg.promote_done_ms >= 0) return;
  bool primary = local.running && local.query_ok && !local.in_recovery;
  bool unknown = local.running && !local.query_ok;
  if (!primary && !unknown) {
    Disarm();
  } else if (primary) {
    if (dyn_.pause) {
      Disarm();
    } else if (view && view->leader && view->leader->name == n_.name && view->leader->lease != 0 &&
               view->leader->lease == keeper_.Id()) {
      Status s = ArmFencing();
      (void)s;
    }
  }
}

}  // namespace pgw::sim
