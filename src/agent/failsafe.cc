#include "agent/failsafe.h"

#include <algorithm>

#include "ha/decide.h"

namespace pgw {

namespace {

// *cell := max(*cell, ms), for a time several threads may move forward.
void RaiseTo(std::atomic<int64_t>* cell, int64_t ms) {
  int64_t prev = cell->load();
  while (prev < ms && !cell->compare_exchange_weak(prev, ms)) {
  }
}

}  // namespace

Failsafe::Failsafe(const ConfigCell& cfg, const Clock& clock, Logger& log, PeerClient& peers, Hooks hooks)
    : cfg_(cfg), clock_(clock), log_(log), peers_(peers), hooks_(std::move(hooks)) {}

Failsafe::~Failsafe() { Stop(); }

void Failsafe::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Failsafe::RequestStop() {
  stop_ = true;
  std::lock_guard<std::mutex> l(mu_);
  cv_.notify_all();
}

void Failsafe::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

void Failsafe::Notify() {
  // Taking the mutex orders the notification after the thread's check of its condition.
  std::lock_guard<std::mutex> l(mu_);
  cv_.notify_all();
}

void Failsafe::Configure(bool enabled, int ttl_s) {
  enabled_ = enabled;
  ttl_s_ = ttl_s;
}

void Failsafe::SetMembers(std::optional<FailsafeTopology> members) {
  std::lock_guard<std::mutex> l(members_mu_);
  members_ = std::move(members);
}

std::optional<FailsafeTopology> Failsafe::Members() const {
  std::lock_guard<std::mutex> l(members_mu_);
  return members_;
}

void Failsafe::HoldBackAfterRestart(const ClusterView& view, MonoTime started_at) {
  // The promise a replica gives through POST /failsafe (not to race for ttl) lives in memory. A restarted agent
  // cannot know whether its predecessor gave one, so while it is listed in the failsafe key it keeps that promise
  // for a ttl from its start (scenario failsafe_restarted_replica: it raced at once and promoted next to the
  // primary still running on failsafe). Without a failsafe key nobody asked it to promise anything.
  if (restart_checked_ || !enabled_) return;
  restart_checked_ = true;
  if (!view.failsafe || !view.failsafe->contains(cfg_->name)) return;
  int64_t until = (started_at + Duration(int64_t{ttl_s_.load()} * 1000)).time_since_epoch().count();
  restart_hold_until_ms_ = until;
  RaiseTo(&primary_until_ms_, until);
  if (clock_.Now() < MonoTime(Duration(until))) {
    log_.Info(
        "failsafe mode: not racing for the leader key until a ttl after this agent started (a promise to "
        "the primary given before the restart may still hold)");
  }
}

bool Failsafe::Check(Duration margin) {
  // The thread asks the members; the loop only reads the outcome unless it is stale, so it rarely waits on them.
  return clock_.Now() < ConfirmedUntil() - margin || Confirm();
}

bool Failsafe::Confirm() {
  // A primary whose PostgreSQL hangs must not keep the cluster through its peers' failsafe promises either: the
  // renew gate closed for the same reason, and confirming here would extend the fence and hold the replicas back
  // as long as they answer (issue10_hung_postgres_failsafe). Unconfirmed, the fence fires at the bound.
  if (std::string why = hooks_.withhold(); !why.empty()) {
    if (!withheld_.exchange(true)) log_.Warn("failsafe: not asking the members to confirm: " + why);
    return false;
  }
  withheld_ = false;
  std::optional<FailsafeTopology> members = Members();
  int ttl = ttl_s_.load();
  const Config& cfg = *cfg_;
  Json body = {{"name", cfg.name},
               {"conn_url", ConnUrl(cfg.postgresql.connect_address)},
               {"api_url", ApiUrl(cfg.restapi.connect_address, cfg.restapi.Tls())},
               {"slots", Json::object()}};
  // Our own restapi credentials, as Patroni sends them: the members check them on POST /failsafe.
  MonoTime sent = clock_.Now();
  bool ok = peers_.PostFailsafe(members, cfg.name, body.dump(), Duration(std::min(2000, ttl * 1000 / 4)),
                                cfg.restapi.username, cfg.restapi.password);
  if (!ok) {
    log_.Warn("failsafe: not every member listed in the failsafe key confirmed");
    return false;
  }
  // Every member promised not to race for ttl from when it got our request, which is after `sent`.
  MonoTime until = sent + Duration(int64_t{ttl} * 1000);
  RaiseTo(&confirmed_until_ms_, until.time_since_epoch().count());
  hooks_.extend_fence(until);
  return true;
}

void Failsafe::Vouch() {
  RaiseTo(&primary_until_ms_, (clock_.Now() + Duration(ttl_s_.load() * 1000)).time_since_epoch().count());
}

bool Failsafe::Due(int ttl_s) const {
  if (!enabled_ || !hooks_.armed()) return false;
  MonoTime last_renewal = hooks_.lease_deadline() - Duration(int64_t{ttl_s} * 1000);
  MonoTime now = clock_.Now();
  if (now - last_renewal <= ha::SuspectAfter(ttl_s)) return false;
  // Not more often than every quarter ttl while confirmations are fresh.
  return ConfirmedUntil() - now <= Duration(int64_t{ttl_s} * 750);
}

void Failsafe::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    // Nothing to watch unless failsafe mode is on and this node is an armed primary: sleep until a cycle makes it
    // so (the agent's UpdateFencing notifies), instead of waking every 100 ms on every node.
    if (!enabled_ || !hooks_.armed()) {
      cv_.wait(l, [&] { return stop_.load() || (enabled_ && hooks_.armed()); });
      continue;
    }
    int ttl = ttl_s_.load();
    cv_.wait_for(l, Duration(100), [&] { return stop_.load(); });
    if (stop_) break;
    if (!Due(ttl)) continue;
    l.unlock();
    Confirm();
    l.lock();
  }
}

}  // namespace pgw
