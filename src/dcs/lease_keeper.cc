#include "dcs/lease_keeper.h"

namespace pgw {

namespace {
// etcd answers TTL 0 or "not found" for a lease that expired or was revoked: everything attached is gone.
bool Gone(const Result<int64_t>& ttl) {
  return (ttl.ok() && *ttl <= 0) || (!ttl.ok() && ttl.status().code() == Code::kNotFound);
}
}  // namespace

Status LeaseKeeper::Ensure() {
  if (id_.load() != 0) return Status::Ok();
  int ttl = ttl_.load();
  MonoTime sent = clock_.Now();
  auto id = api_.Grant(ttl);
  if (!id.ok()) return id.status().Context("granting an etcd lease");
  std::lock_guard<std::mutex> l(mu_);
  id_ = *id;
  lease_ttl_ = ttl;
  deadline_ = sent + Duration(int64_t{ttl} * 1000);
  return Status::Ok();
}

void LeaseKeeper::SetGate(std::function<bool()> allow) {
  std::lock_guard<std::mutex> l(mu_);
  gate_ = std::move(allow);
}

LeaseKeeper::Outcome LeaseKeeper::Renew() {
  int64_t id = id_.load();
  if (id == 0) return Outcome::kNoLease;
  int64_t pending;
  std::function<bool()> gate;
  {
    std::lock_guard<std::mutex> l(mu_);
    gate = gate_;
    pending = pending_id_;
  }
  if (gate && !gate()) return Outcome::kGated;  // outside mu_: the gate may read Deadline()
  MonoTime sent = clock_.Now();
  auto ttl = api_.KeepAlive(id);
  if (pending != 0) {
    // Our keys may be on the pending lease (a move whose answer was lost): keep it alive too.
    MonoTime psent = clock_.Now();
    auto pttl = api_.KeepAlive(pending);
    std::lock_guard<std::mutex> l(mu_);
    if (pending_id_ == pending && pttl.ok() && *pttl > 0) {
      pending_deadline_ = std::max(pending_deadline_, psent + Duration(*pttl * 1000));
    } else if (pending_id_ == pending && Gone(pttl)) {
      // Keys that were moved onto it are gone: the lease we hold promises nothing about them any more, so the
      // deadline must not move past the pending lease's, and the current lease is given up as well.
      log_.Warn("etcd lease " + std::to_string(pending) + " (a ttl change in progress) expired");
      deadline_ = std::min(deadline_, pending_deadline_);
      pending_id_ = 0;
      ++failures_;
      int64_t expected = id;
      id_.compare_exchange_strong(expected, 0);
      return Outcome::kExpired;
    }
  }
  if (ttl.ok() && *ttl > 0) {
    ++renewals_;
    std::lock_guard<std::mutex> l(mu_);
    if (id_.load() == id) deadline_ = std::max(deadline_, sent + Duration(*ttl * 1000));
    return Outcome::kRenewed;
  }
  ++failures_;
  if (Gone(ttl)) {
    log_.Warn("etcd lease " + std::to_string(id) + " expired");
    std::lock_guard<std::mutex> l(mu_);
    int64_t expected = id;
    if (id_.compare_exchange_strong(expected, 0) && pending_id_ != 0) {
      deadline_ = std::min(deadline_, pending_deadline_);
      pending_id_ = 0;  // left to expire: the next Ensure starts afresh
    }
    return Outcome::kExpired;
  }
  log_.Warn("lease keepalive failed: " + ttl.status().message());
  return Outcome::kFailed;
}

void LeaseKeeper::Revoke() {
  int64_t pending;
  {
    std::lock_guard<std::mutex> l(mu_);
    pending = pending_id_;
    pending_id_ = 0;
  }
  for (int64_t id : {id_.exchange(0), pending}) {
    if (id == 0) continue;
    Status s = api_.Revoke(id);
    if (!s.ok()) log_.Warn("could not revoke lease: " + s.message());
  }
}

void LeaseKeeper::Forget(int64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  int64_t expected = id;
  if (id_.compare_exchange_strong(expected, 0) && pending_id_ != 0) {
    deadline_ = std::min(deadline_, pending_deadline_);
    pending_id_ = 0;
  }
  if (pending_id_ == id) pending_id_ = 0;
}

bool LeaseKeeper::SetTtl(int ttl_seconds) {
  ttl_ = ttl_seconds;
  return NeedsRotation();
}

bool LeaseKeeper::NeedsRotation() const { return id_.load() != 0 && lease_ttl_.load() != ttl_.load(); }

int64_t LeaseKeeper::PendingId() const {
  std::lock_guard<std::mutex> l(mu_);
  return pending_id_;
}

Duration LeaseKeeper::Period() const {
  int ttl = ttl_.load();
  if (id_.load() != 0) ttl = std::min(ttl, lease_ttl_.load());
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pending_id_ != 0) ttl = std::min(ttl, pending_ttl_);
  }
  int64_t period = ttl * 1000 / 4;
  // A keepalive lost in a period is retried a quarter period later: renewals stay within retry_timeout while
  // period * 5/4 < retry_timeout; two thirds of it leaves room for the round trips.
  if (int64_t rt = retry_timeout_ms_.load(); rt > 0) period = std::min<int64_t>(period, rt * 2 / 3);
  return Duration(std::max<int64_t>(200, period));
}

Status LeaseKeeper::Rotate(const MoveKeys& move) {
  if (!NeedsRotation()) return Status::Ok();
  int64_t from = id_.load();
  int64_t to;
  {
    std::lock_guard<std::mutex> l(mu_);
    to = pending_id_;
  }
  if (to == 0) {
    int ttl = ttl_.load();
    MonoTime sent = clock_.Now();
    auto id = api_.Grant(ttl);
    if (!id.ok()) return id.status().Context("granting an etcd lease with the new ttl");
    std::lock_guard<std::mutex> l(mu_);
    pending_id_ = to = *id;
    pending_ttl_ = ttl;
    pending_deadline_ = sent + Duration(int64_t{ttl} * 1000);
  }
  Status s = move(from, to);
  if (!s.ok()) return s.Context("moving keys to the new lease " + std::to_string(to));
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pending_id_ != to || id_.load() != from) return Unavailable("lease changed during the ttl change");
    id_ = to;
    lease_ttl_ = pending_ttl_;
    deadline_ = pending_deadline_;
    pending_id_ = 0;
  }
  log_.Info("etcd lease " + std::to_string(from) + " replaced by " + std::to_string(to) + " (ttl " +
            std::to_string(lease_ttl_.load()) + ")");
  Status r = api_.Revoke(from);
  if (!r.ok()) log_.Warn("could not revoke the old lease (it expires by itself): " + r.message());
  return Status::Ok();
}

MonoTime LeaseKeeper::Deadline() const {
  std::lock_guard<std::mutex> l(mu_);
  return pending_id_ != 0 ? std::min(deadline_, pending_deadline_) : deadline_;
}

}  // namespace pgw
