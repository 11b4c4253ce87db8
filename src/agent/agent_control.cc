// The agent's side of the REST API: AgentControl (agent/control.h), what the handlers (agent/api_handlers.h) read
// of the agent and the requests they pass to the HA loop.
#include "agent/agent.h"

namespace pgw {

ControlSnapshot Agent::Snapshot() {
  ControlSnapshot snap;
  snap.cfg = cfg_.get();
  {
    std::lock_guard<std::mutex> l(state_mu_);
    snap.state = state_;
    snap.generation = state_gen_;
  }
  snap.cluster = dcs_->ClusterSnapshot();  // not copied: most requests are health checks that only look
  if (!snap.cluster) snap.failsafe_members = failsafe_->Members();
  snap.failsafe_enabled = failsafe_->Enabled();
  NodeState& s = snap.state;
  const MonoTime now = clock_.Now();
  const int ttl_s = ttl_s_.load();
  {
    // From the clocks, not only the loop's last cycle: the loop may be stuck in an etcd call while we run on
    // failsafe, and a replica reports the vouching it received as Patroni's does.
    api::FailsafeClock f;
    f.enabled = snap.failsafe_enabled;
    f.primary = RoleOf(s) == MemberRole::kPrimary;
    f.now = now;
    DynamicConfig timing;
    timing.ttl = ttl_s;
    f.last_renewal = dcs_->LeaseDeadline() - Duration(int64_t{timing.ttl} * 1000);
    f.suspect_after = ha::SuspectAfter(timing);
    f.confirmed_until = failsafe_->ConfirmedUntil();
    f.vouched_until = failsafe_->VouchedUntil();
    s.failsafe_active = s.failsafe_active || api::FailsafeActive(f);
  }
  snap.loop_wait_s = loop_wait_s_.load();
  api::LoopClock l;
  l.paused = s.paused;
  l.primary = RoleOf(s) == MemberRole::kPrimary;
  l.ttl_s = ttl_s;
  l.loop_wait_s = snap.loop_wait_s;
  if (int64_t end_ms = last_cycle_end_ms_.load(); end_ms != 0) l.last_cycle_end = MonoTime(Duration(end_ms));
  l.now = now;
  snap.loop_alive = api::LoopAlive(l);
  return snap;
}

api::Counters Agent::MetricsCounters() {
  api::Counters k;
  k.lease_renewals = dcs_->LeaseRenewals();
  k.lease_failures = dcs_->LeaseFailures();
  k.cycles = cycles_;
  k.promotions = promotions_;
  k.demotions = demotions_;
  k.fences = fencer_->fences();
  for (size_t i = 0; i < k.decisions.size(); ++i) k.decisions[i] = decisions_[i].load();
  k.pg_transitions = pg_state_.Counted();
  k.last_cycle_seconds = last_cycle_seconds_;
  k.last_promotion_seconds = last_promotion_seconds_;
  k.lease_remaining_seconds =
      std::max<double>(0, static_cast<double>((dcs_->LeaseDeadline() - clock_.Now()).count()) / 1000.0);
  return k;
}

void Agent::VouchFailsafe() { failsafe_->Vouch(); }

void Agent::RequestReinitialize() {
  reinit_requested_ = true;
  RequestWake();
}

std::optional<uint64_t> Agent::RequestRestart() {
  // Read before the request is visible to the loop, so that a restart finishing before the caller starts waiting
  // is still seen as done.
  uint64_t before = restarts_done_.load();
  if (restart_requested_.exchange(true)) return std::nullopt;
  return before;
}

RestartProgress Agent::Restarts() const { return RestartProgress{restarts_done_.load(), last_restart_ok_.load()}; }

bool Agent::ScheduleRestart(double at) {
  double none = 0;
  return scheduled_restart_.compare_exchange_strong(none, at);
}

bool Agent::CancelScheduledRestart() { return scheduled_restart_.exchange(0) != 0; }

Result<ClusterView> Agent::ReadCluster() { return dcs_->Cluster(); }

std::vector<ha::PeerStatus> Agent::CheckMembers(const ClusterView& cluster, const std::vector<std::string>& names) {
  return peers_->CheckMembers(cluster, names, Duration(2000));
}

Status Agent::WriteFailover(const std::string& json) { return dcs_->ApiSetFailover(json); }

Status Agent::DeleteFailover() { return dcs_->ApiDeleteFailover(); }

Status Agent::WriteConfig(const std::string& json, int64_t expect_mod_revision) {
  return dcs_->ApiWriteConfig(json, expect_mod_revision);
}

}  // namespace pgw
