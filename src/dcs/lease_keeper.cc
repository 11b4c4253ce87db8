#include "dcs/lease_keeper.h"

namespace pgw {

Status LeaseKeeper::Ensure() {
  if (id_.load() != 0) return Status::Ok();
  int ttl = ttl_.load();
  MonoTime sent = clock_.Now();
  auto id = api_.Grant(ttl);
  if (!id.ok()) return id.status().Context("granting an etcd lease");
  std::lock_guard<std::mutex> l(mu_);
  id_ = *id;
  deadline_ = sent + Duration(int64_t{ttl} * 1000);
  return Status::Ok();
}

LeaseKeeper::Outcome LeaseKeeper::Renew() {
  int64_t id = id_.load();
  if (id == 0) return Outcome::kNoLease;
  MonoTime sent = clock_.Now();
  auto ttl = api_.KeepAlive(id);
  if (ttl.ok() && *ttl > 0) {
    ++renewals_;
    std::lock_guard<std::mutex> l(mu_);
    if (id_.load() == id) deadline_ = std::max(deadline_, sent + Duration(*ttl * 1000));
    return Outcome::kRenewed;
  }
  ++failures_;
  if ((ttl.ok() && *ttl <= 0) || ttl.status().code() == Code::kNotFound) {
    // etcd answers TTL 0 or "not found" for a lease that expired or was revoked: everything attached is gone.
    log_.Warn("etcd lease " + std::to_string(id) + " expired");
    int64_t expected = id;
    id_.compare_exchange_strong(expected, 0);
    return Outcome::kExpired;
  }
  log_.Warn("lease keepalive failed: " + ttl.status().message());
  return Outcome::kFailed;
}

void LeaseKeeper::Revoke() {
  int64_t id = id_.exchange(0);
  if (id == 0) return;
  Status s = api_.Revoke(id);
  if (!s.ok()) log_.Warn("could not revoke lease: " + s.message());
}

void LeaseKeeper::Forget(int64_t id) {
  int64_t expected = id;
  id_.compare_exchange_strong(expected, 0);
}

bool LeaseKeeper::SetTtl(int ttl_seconds) {
  if (ttl_.exchange(ttl_seconds) == ttl_seconds) return false;
  id_ = 0;
  return true;
}

MonoTime LeaseKeeper::Deadline() const {
  std::lock_guard<std::mutex> l(mu_);
  return deadline_;
}

}  // namespace pgw
