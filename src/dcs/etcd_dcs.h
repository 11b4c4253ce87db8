// Dcs over etcd v3: a watch cache for reads, a client for writes, and a lease keeper that renews the lease on its
// own timer and its own connection, independent of the HA loop (DESIGN.md safety rule 3).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "dcs/dcs.h"
#include "dcs/etcd_client.h"
#include "dcs/lease_keeper.h"
#include "dcs/watch_cache.h"

namespace pgw {

// The etcd client settings of a configuration (endpoints, protocol, credentials, TLS): the agent's and pgwardenctl's.
etcd::ClientOptions EtcdClientOptions(const Config& cfg, Duration timeout);

// Whether the watch cache's snapshot holds exactly what the store held when the fingerprint was read (a quorum
// read): it applied that revision, or it has as many keys and the same highest mod_revision.
bool CacheMatches(const WatchCache::Snapshot& snap, const etcd::PrefixFingerprint& f);

class EtcdDcs final : public Dcs {
 public:
  // `on_change` wakes the HA loop when the watch sees a change.
  EtcdDcs(const Config& cfg, const Clock& clock, Logger& log, std::function<void()> on_change);
  ~EtcdDcs() override;

  // Starts the watch and, once a lease is granted, the lease keeper. Does not block on etcd.
  void Start(int ttl_seconds) override;
  void Stop() override;
  // Revokes the lease (members/<name> and leader disappear at once). For clean shutdown.
  void RevokeLease() override;
  // Changes the TTL (dynamic config changed). A lease's TTL is fixed when granted, so when a lease is held this
  // grants one with the new TTL, moves the leader key (only while it is ours) and the member key onto it in one
  // transaction, and only then revokes the old lease: the keys never lapse. On failure the old lease stays in use
  // and the next call retries. From the HA loop.
  Status SetTtl(int ttl_seconds) override;
  // The HA loop counts the lease stale after retry_timeout without a renewal: the renewal period stays within 2/3 of
  // it.
  void SetRetryTimeout(Duration retry_timeout) override;
  // Ensures a lease exists (grants one if needed). Called by the HA loop before it writes keys.
  Status EnsureLease() override;

  // The leader, config and initialize keys with their revisions: the loop wakes early only when this changes.
  std::string WakeSignature() const override;

  Result<ClusterView> Cluster() override;
  // The same view without copying it (nullptr when there is none yet): for readers that only look, such as every
  // health check of a load balancer. Immutable; valid as long as the caller holds it.
  std::shared_ptr<const ClusterView> ClusterSnapshot() override;
  // The view proven fresh by a linearizable read of the prefix (issue 10 item 8): the watch cache when it holds
  // what the read returned (waiting up to 200 ms for events in flight), else the read itself, and the watch is
  // moved to another endpoint. When the read fails the cache is returned as is (freshness unproven).
  Result<ClusterView> FreshCluster() override;
  int watch_reconnects() const;
  int64_t LeaseId() const override { return keeper_state_->Id(); }
  MonoTime LeaseDeadline() const override;
  Status AttemptInitialize(const std::string& value) override;
  Status SetInitialize(const std::string& sysid, const std::string& expected) override;
  Status CancelInitialize() override;
  Status AttemptLeader() override;
  Status RefreshLeader() override;
  Status DeleteLeader() override;
  Status TouchMember(const std::string& json) override;
  Status WriteStatus(const std::string& json) override;
  Status InitializeConfig(const std::string& json) override;
  Status WriteHistory(const std::string& json) override;
  Status WriteFailsafe(const std::string& json) override;
  // failover := json (unconditional, as Patroni) / removed. From the HA loop.
  Status DeleteFailover() override;
  // sync := json if its mod_revision is still `expect_mod` (0: only if absent). kConflict when it changed.
  Status WriteSync(const std::string& json, int64_t expect_mod) override;
  // Removes the `sync` key (synchronous_mode turned off).
  Status DeleteSync() override;

  // Read-modify-write of the `failovers` key with compare-and-swap on its mod_revision, so that concurrent writers
  // (a new leader appending, an old one filling in its rejoin) never lose each other's entries. `change` gets the
  // current value (nullopt when absent) and returns the new one, or nullopt to write nothing. The first try uses
  // `seen` / `seen_mod` (from the view; mod 0: absent), later ones a fresh read. kConflict after `attempts` lost
  // races. From the HA loop.
  Status UpdateFailovers(const std::optional<std::string>& seen, int64_t seen_mod,
                         const std::function<std::optional<std::string>(const std::optional<std::string>&)>& change,
                         int attempts = 5) override;

  // Writes from the REST API's worker threads, on their own connection (the HA loop's is not shared).
  Status ApiSetFailover(const std::string& json) override;
  Status ApiDeleteFailover() override;
  // config := json if its mod_revision is still `expect_mod` (0: unconditional). kConflict when it changed.
  Status ApiWriteConfig(const std::string& json, int64_t expect_mod) override;
  // Waits until the watch cache shows `revision` or later (bounded).
  void WaitForCache(int64_t revision, Duration timeout) override { cache_->WaitForRevision(revision, timeout); }

  // Called on the keeper thread after every acknowledged keepalive, with the lease and its new deadline (fencing).
  void SetOnRenewed(std::function<void(int64_t, MonoTime)> f) override;
  // Called (from the HA loop, inside SetTtl) when the leader key may now live on lease `lease`, whose deadline is
  // `deadline`: the fencer must follow it (re-arm), or it would watch a lease that no longer holds the key.
  void SetOnLeaseMoved(std::function<void(int64_t lease, MonoTime deadline, int ttl_s)> f) override;
  // Keepalives are sent only while `allow` returns true (the PostgreSQL health gate, agent/pg_health.h).
  void SetRenewGate(std::function<bool()> allow) override { keeper_state_->SetGate(std::move(allow)); }
  // Keepalives acknowledged / failed (metrics).
  uint64_t LeaseRenewals() const override { return keeper_state_->renewals(); }
  uint64_t LeaseFailures() const override { return keeper_state_->failures(); }

 private:
  std::string Key(const char* rel) const { return prefix_ + rel; }
  std::string MemberKey() const { return prefix_ + keys::kMembers + name_; }
  // After our own write at `revision`, wait (bounded) until the cache shows it, so the next cycle reads its writes.
  void AwaitCache(int64_t revision);
  Status CreateOnly(const std::string& key, const std::string& value, int64_t lease, const char* what);
  // Deletes the scope's key `rel` through `client` and waits until the cache shows it.
  Status DeleteKey(etcd::Client& client, const char* rel, const char* what);
  // Rotate's MoveKeys: leader (if ours) and member key from lease `from` to `to`; sets *leader_moved.
  Status MoveKeys(int64_t to, bool* leader_moved);
  void KeeperLoop();

  std::string prefix_;
  std::string name_;
  const Clock& clock_;
  Logger& log_;
  etcd::ClientOptions opts_;
  std::unique_ptr<etcd::Client> client_;        // HA loop writes
  std::unique_ptr<etcd::Client> lease_client_;  // lease keeper only: never queued behind a slow write
  std::unique_ptr<LeaseApi> lease_api_;
  std::mutex api_mu_;
  std::unique_ptr<etcd::Client> api_client_;  // REST API writes (guarded by api_mu_)
  std::unique_ptr<LeaseKeeper> keeper_state_;
  std::unique_ptr<WatchCache> cache_;
  // The view built from the cache's last snapshot (Cluster()), rebuilt only when the snapshot changed.
  std::mutex view_mu_;
  std::shared_ptr<const std::map<std::string, etcd::KeyValue>> view_kvs_;  // guarded by view_mu_
  int64_t view_revision_ = -1;                                             // guarded by view_mu_
  std::shared_ptr<const ClusterView> view_;                                // guarded by view_mu_

  mutable std::mutex mu_;
  std::mutex grant_mu_;  // one grant/renewal at a time (keeper thread and HA loop may both need one)
  std::condition_variable cv_;
  std::string last_member_json_;
  std::function<void(int64_t, MonoTime)> on_renewed_;  // guarded by mu_
  std::function<void(int64_t, MonoTime, int)>
      on_lease_moved_;  // guarded by mu_  // re-put after a lease had to be re-granted
  bool stop_ = false;
  std::thread keeper_;
};

}  // namespace pgw
