// Failsafe mode and the PostgreSQL health gate: confirmations through POST /failsafe, the hold-back of a
// restarted agent (split from agent.cc).
#include "agent/agent.h"

#include <thread>

#include "agent/peers.h"
#include "common/fs.h"
#include "ha/sync.h"
#include "pg/fence.h"

namespace pgw {

void Agent::HoldBackAfterRestartInFailsafe(const ClusterView& view) {
  // The promise a replica gives through POST /failsafe (not to race for ttl) lives in memory. A restarted agent
  // cannot know whether its predecessor gave one, so while it is listed in the failsafe key it keeps that promise
  // for a ttl from its start (scenario failsafe_restarted_replica: it raced at once and promoted next to the
  // primary still running on failsafe). Without a failsafe key nobody asked it to promise anything.
  if (failsafe_restart_checked_ || !dyn_.failsafe_mode) return;
  failsafe_restart_checked_ = true;
  if (!view.failsafe || !view.failsafe->contains(cfg_->name)) return;
  int64_t until = (started_at_ + Duration(int64_t{dyn_.ttl} * 1000)).time_since_epoch().count();
  restart_hold_until_ms_ = until;
  int64_t prev = failsafe_primary_until_ms_.load();
  while (prev < until && !failsafe_primary_until_ms_.compare_exchange_weak(prev, until)) {
  }
  if (clock_.Now() < MonoTime(Duration(until))) {
    log_.Info(
        "failsafe mode: not racing for the leader key until a ttl after this agent started (a promise to "
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
  std::optional<FailsafeTopology> members;
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
  MonoTime sent = clock_.Now();
  bool ok = peers_->PostFailsafe(members, cfg_->name, body.dump(), Duration(std::min(2000, ttl * 1000 / 4)),
                                 cfg_->restapi.username, cfg_->restapi.password);
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
    // Nothing to watch unless failsafe mode is on and this node is an armed primary: sleep until a cycle makes it
    // so (UpdateFencing notifies), instead of waking every 100 ms on every node.
    if (!failsafe_mode_ || !fencer_->armed()) {
      wake_cv_.wait(l, [&] { return stop_.load() || (failsafe_mode_ && fencer_->armed()); });
      continue;
    }
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

}  // namespace pgw
