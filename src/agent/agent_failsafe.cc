// The agent's side of failsafe mode (agent/failsafe.h): the hooks it gives the coordination, and the PostgreSQL
// health gate that withholds a primary's requests for promises.
#include "agent/agent.h"
#include "pg/fence.h"

namespace pgw {

bool Agent::PgHealthBlocksLeadership() {
  if (clock_.Now() < MonoTime(Duration(renew_blocked_until_ms_.load()))) return true;
  return fencer_->armed() && !pg_health_->Healthy() && PostmasterRunning(cfg_->postgresql.data_dir);
}

Failsafe::Hooks Agent::FailsafeHooks() {
  Failsafe::Hooks h;
  h.armed = [this] { return fencer_->armed(); };
  h.lease_deadline = [this] { return dcs_->LeaseDeadline(); };
  h.withhold = [this] {
    if (!PgHealthBlocksLeadership()) return std::string();
    return "PostgreSQL is running but has not answered for " + std::to_string(pg_health_->Bound().count()) + " ms";
  };
  h.extend_fence = [this](MonoTime until) { fencer_->ExtendUntil(until); };
  return h;
}

}  // namespace pgw
