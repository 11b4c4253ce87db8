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
//   * a TTL change takes effect with the next grant (a lease's TTL is fixed when it is granted).
//
// Not thread-safe by itself except for the accessors; EtcdDcs serialises Ensure/Renew.
#pragma once

#include <atomic>
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
  enum class Outcome { kNoLease, kRenewed, kFailed, kExpired };

  LeaseKeeper(LeaseApi& api, const Clock& clock, Logger& log) : api_(api), clock_(clock), log_(log) {}

  // Grants a lease when none is held. Idempotent.
  Status Ensure();
  // One keepalive of the current lease.
  Outcome Renew();
  // Revokes the lease (keys attached to it disappear at once).
  void Revoke();
  // Forgets lease `id` when it is the current one (a write saw it gone); the next Ensure grants a new one.
  void Forget(int64_t id);

  // Sets the TTL for the next grant. Returns true when it differs from the TTL of the current lease, in which
  // case the current lease is dropped (not revoked: our keys stay until the new lease replaces them).
  bool SetTtl(int ttl_seconds);
  int ttl() const { return ttl_.load(); }
  // How often Renew should run: four times per TTL, so that one lost keepalive never costs the lease.
  Duration Period() const { return Duration(std::max(200, ttl_.load() * 1000 / 4)); }

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
  std::atomic<uint64_t> renewals_{0};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex mu_;
  MonoTime deadline_{};
};

}  // namespace pgw
