// The interface between the agent and the DCS: everything the agent asks of etcd goes through it (issue 14), so
// that an agent can be assembled over another implementation. Every write to initialize, leader and config is
// conditional (safety rule 2): create-only on create_revision 0, or compare-and-swap on value / mod_revision.
//
// Threads: the HA loop calls everything not marked otherwise; the Api* writes come from the REST API's worker
// threads; ClusterSnapshot and the counters from any thread; the hooks run on the implementation's threads (the
// lease keeper, the watch).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "dcs/keys.h"

namespace pgw {

class Dcs {
 public:
  virtual ~Dcs() = default;

  // A consistent snapshot of the scope. kUnavailable until the first read succeeded.
  virtual Result<ClusterView> Cluster() = 0;
  // This agent's lease (0 when none is held right now).
  virtual int64_t LeaseId() const = 0;
  // Monotonic time until which the lease is known to be alive (from the send time of the last acknowledged
  // keepalive plus the TTL). Used for fencing.
  virtual MonoTime LeaseDeadline() const = 0;

  // Create-only race for the `initialize` key. kAlreadyExists when another node got it.
  virtual Status AttemptInitialize(const std::string& value) = 0;
  // initialize := sysid, only if it still holds `expected` (normally "" written by our own AttemptInitialize).
  virtual Status SetInitialize(const std::string& sysid, const std::string& expected) = 0;
  virtual Status CancelInitialize() = 0;
  // Create-only acquire of `leader` with our lease. kAlreadyExists when someone holds it.
  virtual Status AttemptLeader() = 0;
  // Re-attach `leader` to our current lease, only if its value is our name (after an agent restart).
  virtual Status RefreshLeader() = 0;
  // Delete `leader`, only if its value is our name.
  virtual Status DeleteLeader() = 0;
  // members/<name> with our lease.
  virtual Status TouchMember(const std::string& json) = 0;
  virtual Status WriteStatus(const std::string& json) = 0;
  // Create-only write of `config` (bootstrap seeds it once).
  virtual Status InitializeConfig(const std::string& json) = 0;
  virtual Status WriteHistory(const std::string& json) = 0;
  // failsafe := json (unconditional, as Patroni; only the leader writes it).
  virtual Status WriteFailsafe(const std::string& json) = 0;

  // --- lifecycle and the lease ---
  // Starts watching the scope and, once a lease is granted, keeping it alive. Does not block on the DCS.
  virtual void Start(int ttl_seconds) = 0;
  virtual void Stop() = 0;
  // Revokes the lease (members/<name> and leader disappear at once). For clean shutdown.
  virtual void RevokeLease() = 0;
  // A new ttl (dynamic config changed): the keys move to a lease with that ttl without ever lapsing; on failure the
  // old lease stays in use and the next call retries.
  virtual Status SetTtl(int ttl_seconds) = 0;
  // retry_timeout bounds the renewal period (2/3 of it at most).
  virtual void SetRetryTimeout(Duration retry_timeout) = 0;
  // Ensures a lease exists (grants one if needed), before the loop writes keys.
  virtual Status EnsureLease() = 0;

  // --- reads ---
  // What the loop wakes early for when it changes (leader, config, initialize with their revisions).
  virtual std::string WakeSignature() const = 0;
  // The view without copying it (nullptr when there is none yet); immutable. Any thread.
  virtual std::shared_ptr<const ClusterView> ClusterSnapshot() = 0;
  // The view proven fresh by a linearizable read (issue 10 item 8); the unproven view when that read fails.
  virtual Result<ClusterView> FreshCluster() = 0;

  // --- writes of the HA loop beyond the core ones ---
  virtual Status DeleteFailover() = 0;
  // sync := json if its mod_revision is still `expect_mod` (0: only if absent). kConflict when it changed.
  virtual Status WriteSync(const std::string& json, int64_t expect_mod) = 0;
  virtual Status DeleteSync() = 0;
  // Read-modify-write of the `failovers` key with compare-and-swap (`seen` / `seen_mod` first, then fresh reads);
  // `change` returns the new value or nullopt to write nothing. kConflict after `attempts` lost races.
  virtual Status UpdateFailovers(
      const std::optional<std::string>& seen, int64_t seen_mod,
      const std::function<std::optional<std::string>(const std::optional<std::string>&)>& change, int attempts = 5) = 0;

  // --- writes of the REST API (worker threads, on their own connection) ---
  virtual Status ApiSetFailover(const std::string& json) = 0;
  virtual Status ApiDeleteFailover() = 0;
  // config := json if its mod_revision is still `expect_mod` (0: unconditional). kConflict when it changed.
  virtual Status ApiWriteConfig(const std::string& json, int64_t expect_mod) = 0;
  // Waits (bounded) until the view shows `revision` or later.
  virtual void WaitForCache(int64_t revision, Duration timeout) = 0;

  // --- hooks (set before Start) ---
  // After every acknowledged keepalive, with the lease and its new deadline (fencing). Lease keeper thread.
  virtual void SetOnRenewed(std::function<void(int64_t, MonoTime)> f) = 0;
  // The leader key may now live on lease `lease` (a ttl change moved it): the fence must follow it.
  virtual void SetOnLeaseMoved(std::function<void(int64_t lease, MonoTime deadline, int ttl_s)> f) = 0;
  // Keepalives are sent only while `allow` returns true (the PostgreSQL health gate, agent/pg_health.h).
  virtual void SetRenewGate(std::function<bool()> allow) = 0;

  // --- counters (any thread) ---
  virtual uint64_t LeaseRenewals() const = 0;
  virtual uint64_t LeaseFailures() const = 0;
};

}  // namespace pgw
