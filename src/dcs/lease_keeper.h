// The lease keeper: owns this agent's etcd lease and knows, on the monotonic clock, until when the lease is
// certainly alive. Fencing is built on that deadline (docs/fencing.md), so its rules are kept here, apart from
// threads and sockets, and unit-tested on a manual clock:
//
//   * the deadline is the *send* time of the last acknowledged grant/keepalive plus the TTL etcd returned.
//     etcd starts the TTL when it receives the request, which is never earlier than we sent it, so the lease
//     cannot expire on the server before our deadline (given clocks that advance at the same rate);
//   * a failed keepalive never moves the deadline;
//   * a keepalive answered "lease not found" means the lease is gone: the keeper forgets it, and the deadline
//     stays where it was (in the past);
//   * a TTL change replaces the lease, new one first (a lease's TTL is fixed when it is granted): Rotate grants a
//     lease with the new TTL, lets the caller move the keys onto it, and only then revokes the old one. Until the
//     move is known to have happened both leases are renewed and Deadline() is the earlier of the two, since the
//     keys may be on either;
//   * a closed renew gate (PostgreSQL not known healthy, see agent/pg_health.h) skips keepalives, so the lease and
//     the keys on it lapse and the fence fires.
//
// Not thread-safe by itself except for the accessors; EtcdDcs serialises Ensure/Renew.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace pgw {

// The three lease calls of etcd, narrowed so that a fake can stand in for etcd.
class LeaseApi {
 public:
  virtual ~LeaseApi() = default;
  virtual Result<int64_t> Grant(int ttl_seconds) = 0;
  // Returns the TTL etcd reports for the renewed lease; kNotFound when the lease no longer exists.
  virtual Result<int64_t> KeepAlive(int64_t id) = 0;
  virtual Status Revoke(int64_t id) = 0;
};

class LeaseKeeper {
 public:
  // kGated: the renew gate is closed, no keepalive was sent.
  enum class Outcome { kNoLease, kRenewed, kFailed, kExpired, kGated };
  // Re-attaches this agent's keys from lease `from` to lease `to`; an error when that is not known to be done.
  using MoveKeys = std::function<Status(int64_t from, int64_t to)>;

  LeaseKeeper(LeaseApi& api, const Clock& clock, Logger& log) : api_(api), clock_(clock), log_(log) {}

  // Grants a lease when none is held. Idempotent.
  Status Ensure();
  // One keepalive of the current lease.
  Outcome Renew();
  // Revokes the lease (keys attached to it disappear at once).
  void Revoke();
  // Forgets lease `id` when it is the current one (a write saw it gone); the next Ensure grants a new one.
  void Forget(int64_t id);

  // Sets the TTL of later grants. Returns NeedsRotation(): the current lease stays in use (and renewed) until
  // Rotate replaced it, so that no key is ever left on a lease nobody renews.
  bool SetTtl(int ttl_seconds);
  int ttl() const { return ttl_.load(); }
  // Whether a lease is held whose TTL differs from ttl().
  bool NeedsRotation() const;
  // Replaces the current lease by one with ttl(): grants it (or reuses the one of an earlier, unfinished
  // rotation), calls `move`, and when that succeeded makes the new lease current and revokes the old one. On
  // failure the new lease stays pending (renewed with the current one) and the next Rotate retries the move.
  // Does nothing when !NeedsRotation().
  Status Rotate(const MoveKeys& move);
  int64_t PendingId() const;
  // How often Renew should run: four times per TTL of the shortest lease held, so that one lost keepalive never
  // costs the lease, and at most 2/3 of retry_timeout, the age after which the HA loop counts the lease stale
  // (ttl 5 with retry_timeout 1 is a valid Patroni timing; a ttl/4 period alone made such a primary flap).
  Duration Period() const;
  void SetRetryTimeout(Duration d) { retry_timeout_ms_ = d.count(); }
  Duration retry_timeout() const { return Duration(retry_timeout_ms_.load()); }
  // Renew sends keepalives only while `allow` returns true (unset: always).
  void SetGate(std::function<bool()> allow);

  int64_t Id() const { return id_.load(); }
  MonoTime Deadline() const;
  // Keepalives acknowledged / failed since start (for /metrics and logs).
  uint64_t renewals() const { return renewals_.load(); }
  uint64_t failures() const { return failures_.load(); }

 private:
  LeaseApi& api_;
  const Clock& clock_;
  Logger& log_;
  std::atomic<int64_t> id_{0};
  std::atomic<int> ttl_{30};
  std::atomic<int> lease_ttl_{30};
  std::atomic<int64_t> retry_timeout_ms_{0};  // 0: no bound beyond the ttl  // TTL the current lease was granted with
  std::atomic<uint64_t> renewals_{0};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex mu_;
  MonoTime deadline_{};
  // A lease granted by an unfinished Rotate (guarded by mu_).
  int64_t pending_id_ = 0;
  int pending_ttl_ = 0;
  MonoTime pending_deadline_{};
  std::function<bool()> gate_;  // guarded by mu_
};

}  // namespace pgw
