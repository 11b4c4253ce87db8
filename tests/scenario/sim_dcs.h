// SimDcs: the Dcs interface (dcs/dcs.h) over the simulator's model etcd (sim_model.h), as EtcdDcs (dcs/etcd_dcs.cc)
// behaves over a real one: the REAL LeaseKeeper over the model's leases, create-only and compare-and-swap writes,
// the node's watch cache (which the world moves; it can lag or freeze), the quorum read of FreshCluster, the lease
// rotation of a ttl change, and AwaitCache after the writes that wait for it. A node cut off from etcd (or whose
// machine is paused) gets kUnavailable from every call that talks to etcd, as EtcdDcs's calls time out.
// Methods the agent's HA loop and executor never call in the model (the REST API's writes aside) answer
// kUnimplemented.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "dcs/dcs.h"
#include "dcs/lease_keeper.h"
#include "sim_world.h"

namespace pgw::sim {

class SimLeaseApi final : public LeaseApi {
 public:
  SimLeaseApi(World& w, SimNode& n) : w_(w), n_(n) {}
  Result<int64_t> Grant(int ttl_seconds) override;
  Result<int64_t> KeepAlive(int64_t id) override;
  Status Revoke(int64_t id) override;

 private:
  World& w_;
  SimNode& n_;
};

class SimDcs final : public Dcs {
 public:
  SimDcs(World& w, SimNode& n);

  // One turn of EtcdDcs::KeeperLoop (the lease keeper thread); returns the wait until the next one.
  Duration KeeperTurn();
  Duration KeeperPeriod() const { return keeper_.Period(); }

  Result<ClusterView> Cluster() override;
  int64_t LeaseId() const override { return keeper_.Id(); }
  MonoTime LeaseDeadline() const override { return keeper_.Deadline(); }
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

  void Start(int ttl_seconds) override;
  void Stop() override {}
  void RevokeLease() override { keeper_.Revoke(); }
  Status SetTtl(int ttl_seconds) override;
  void SetRetryTimeout(Duration retry_timeout) override { keeper_.SetRetryTimeout(retry_timeout); }
  Status EnsureLease() override { return keeper_.Ensure(); }

  std::string WakeSignature() const override;
  std::shared_ptr<const ClusterView> ClusterSnapshot() override;
  Result<ClusterView> FreshCluster() override;

  Status DeleteFailover() override { return DeleteKey("failover"); }
  Status WriteSync(const std::string& json, int64_t expect_mod) override;
  Status DeleteSync() override { return DeleteKey("sync"); }
  Status UpdateFailovers(const std::optional<std::string>& seen, int64_t seen_mod,
                         const std::function<std::optional<std::string>(const std::optional<std::string>&)>& change,
                         int attempts) override;

  Status ApiSetFailover(const std::string& json) override;
  Status ApiDeleteFailover() override { return DeleteKey("failover"); }
  Status ApiWriteConfig(const std::string& json, int64_t expect_mod) override;
  // AwaitCache is World::AfterWrite (the wait itself takes no simulated time).
  void WaitForCache(int64_t /*revision*/, Duration /*timeout*/) override { w_.AfterWrite(n_); }

  void SetOnRenewed(std::function<void(int64_t, MonoTime)> f) override { on_renewed_ = std::move(f); }
  void SetOnLeaseMoved(std::function<void(int64_t, MonoTime, int)> f) override { on_lease_moved_ = std::move(f); }
  void SetRenewGate(std::function<bool()> allow) override { keeper_.SetGate(std::move(allow)); }

  uint64_t LeaseRenewals() const override { return keeper_.renewals(); }
  uint64_t LeaseFailures() const override { return keeper_.failures(); }

 private:
  bool Reachable() const { return w_.EtcdReachable(n_); }
  Status Unreachable(const std::string& what) const { return Unavailable(what + ": etcd unreachable"); }
  Status DeleteKey(const std::string& rel);
  Status PutKey(const std::string& rel, const std::string& json, bool await);
  // EtcdDcs::MoveKeys: one txn; the member key always, the leader key only while it is ours.
  Status MoveKeys(int64_t to, bool* leader_moved);

  World& w_;
  SimNode& n_;
  SimLeaseApi lease_api_;
  LeaseKeeper keeper_;
  std::string last_member_json_;
  bool retry_soon_ = false;
  std::function<void(int64_t, MonoTime)> on_renewed_;
  std::function<void(int64_t, MonoTime, int)> on_lease_moved_;
};

}  // namespace pgw::sim
