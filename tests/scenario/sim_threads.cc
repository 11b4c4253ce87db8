// The simulated agent's threads and fencing (sim_agent.h): PgHealth, the fencer, the failsafe hooks, GET /patroni
// and POST /failsafe of peers, and the executor's Io. Keep in step with agent.cc, agent_failsafe.cc, fencer.cc,
// pg_health.cc, peers.cc, agent_control.cc and api_handlers.cc.
#include <algorithm>

#include "agent/fencer.h"
#include "sim_agent.h"

namespace pgw::sim {

Duration SimFencer::Margin() const { return FenceMargin(ttl_s, safety_margin_s); }

bool SimAgent::PgHealthy() const {
  // PgHealth::Healthy: bound = max(1 s, ttl / 2)
  Duration bound(std::max<int64_t>(1000, int64_t{dyn_.ttl} * 500));
  return Now() - pg_last_ok_ <= bound;
}

bool SimAgent::RenewGate() {
  // The gate Agent::Agent sets on the lease keeper.
  if (Now() < renew_blocked_until_) return false;
  if (!fencer_.armed || PgHealthy() || !n_.pg.running) return true;
  renew_blocked_until_ = dcs_.LeaseDeadline() + Duration(1000);
  w_.Trace(n_.name, "not renewing the leader lease: PostgreSQL is running but has not answered");
  return false;
}

bool SimAgent::AcceptFailsafe(const std::string& sender) {
  // api_handlers.cc POST /failsafe with api::CheckFailsafeSender: only members listed in the failsafe key (or, with
  // no such key, members of the cluster) may vote.
  std::optional<FailsafeTopology> key = failsafe_.Members();
  auto v = dcs_.Cluster();
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
  h.lease_deadline = [this] { return dcs_.LeaseDeadline(); };
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
  int64_t lease = dcs_.LeaseId();
  if (lease == 0) return Unavailable("no lease to arm fencing with");
  if (n_.f.watchdog_fails) return Unavailable("watchdog device cannot be used (watchdog.mode is required)");
  if (!fencer_.armed) pg_last_ok_ = Now();  // PgHealth::MarkOk: arming starts the health bound afresh
  return ArmWith(lease, dcs_.LeaseDeadline(), dyn_.ttl);
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
  // Agent::UpdateFencing
  bool primary = local.running && local.query_ok && !local.in_recovery;
  bool unknown = local.running && !local.query_ok;
  if (!primary && !unknown) {
    Disarm();
  } else if (primary) {
    if (dyn_.pause) {
      Disarm();
    } else if (view && view->leader && view->leader->name == n_.name && view->leader->lease != 0 &&
               view->leader->lease == dcs_.LeaseId()) {
      Status s = ArmFencing();
      (void)s;
    }
  }
}

// --- the executor's Io -------------------------------------------------------------------------------------------

Result<std::string> SimIo::ReadTimelineHistory(int timeline) {
  if (!n_.pg.has_data || n_.pg.timeline != timeline || n_.pg.history.empty())
    return NotFound("no history file for timeline " + std::to_string(timeline));
  return n_.pg.history;
}

namespace {
// PostgreSQL sessions to the candidates of a switchover (executor_io.cc RealCandidates).
class SimCandidates final : public Executor::Io::Candidates {
 public:
  SimCandidates(World& w, SimNode& self, std::vector<SimNode*> nodes, std::function<void(Duration)> sleep)
      : w_(w), self_(self), nodes_(std::move(nodes)), sleep_(std::move(sleep)) {}

  bool AwaitReceived(int64_t lsn, MonoTime give_up, const std::function<bool()>& stopping) override {
    bool confirmed = false;
    while (!confirmed && !nodes_.empty() && self_.clock.Now() < give_up && !stopping()) {
      for (SimNode* c : nodes_) {
        // SELECT pg_last_wal_receive_lsn(): NULL (0) on a primary; no answer from a stopped or frozen one.
        if (!c->pg.running || c->pg.frozen || !w_.Link(self_, *c)) continue;
        int64_t received = c->pg.in_recovery ? Lsn(c->pg.wal.size()) : 0;
        if (received > lsn) confirmed = true;
      }
      if (!confirmed) sleep_(Duration(5));
    }
    return confirmed;
  }

 private:
  World& w_;
  SimNode& self_;
  std::vector<SimNode*> nodes_;
  std::function<void(Duration)> sleep_;
};
}  // namespace

std::unique_ptr<Executor::Io::Candidates> SimIo::ConnectCandidates(const ClusterView& view,
                                                                   const std::vector<std::string>& names) {
  std::vector<SimNode*> nodes;
  for (const auto& name : names) {
    const Member* m = view.FindMember(name);
    if (m == nullptr || !m->conn) continue;
    SimNode* c = w_.ByAddress(*m->conn);
    if (c != nullptr && c->pg.running && !c->pg.frozen && w_.Link(n_, *c)) nodes.push_back(c);
  }
  return std::make_unique<SimCandidates>(w_, n_, std::move(nodes), sleep_);
}

}  // namespace pgw::sim
