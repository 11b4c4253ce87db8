// A model of src/agent/agent*.cc's HA loop and executor*.cc (Cycle, Execute, ExecuteOne, PromoteNow,
// DemoteGracefully, Bootstrap, UpdateFencing, the lease keeper thread), driving the REAL ha::Decide with its REAL
// state transitions (ha/core_state.h), the REAL LeaseKeeper and the REAL Failsafe over the model etcd and
// PostgreSQL. There is no in-memory Dcs or PgControl yet (issue 14), so this file copies the executor's rules: KEEP
// IT IN STEP WITH agent.cc and executor*.cc (docs/testing.md). Each function names the agent function it models.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "agent/failsafe.h"
#include "agent/peers.h"
#include "dcs/lease_keeper.h"
#include "ha/core_state.h"
#include "ha/decide.h"
#include "ha/pg_state.h"
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

class SimAgent;

// The agent's PeerClient (agent/peers.h) over the world's model agents: a peer answers when its agent runs, is
// not frozen, its machine is not paused, and the network links the two nodes.
class SimPeerClient final : public PeerClient {
 public:
  SimPeerClient(World& w, SimNode& self) : w_(w), self_(self) {}
  std::vector<ha::PeerStatus> CheckMembers(const ClusterView& cluster, const std::vector<std::string>& names,
                                           Duration timeout) override;
  // The sender's name is `self`; the body and credentials are not modelled.
  bool PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self, const std::string& body,
                    Duration timeout, const std::string& username, const std::string& password) override;

 private:
  // The peer's agent when it can answer a request from this node now, else nullptr.
  SimAgent* Reachable(const std::string& name) const;

  World& w_;
  SimNode& self_;
};

// The in-agent Fencer (agent/fencer.cc): fence time = max(lease deadline, failsafe until) - margin. Pushes its
// state to the node's supervisor, which is what kills PostgreSQL in the model.
struct SimFencer {
  bool armed = false;
  int64_t lease_id = 0;
  int ttl_s = 30;
  MonoTime lease_deadline{};
  MonoTime failsafe_until{};
  int safety_margin_s = 5;
  Duration Margin() const;
  MonoTime FenceAt() const { return std::max(lease_deadline, failsafe_until) - Margin(); }
};

class SimAgent {
 public:
  SimAgent(World& w, SimNode& n);

  // One tick of this agent's threads (lease keeper, failsafe thread, HA loop), at the node's current time.
  void Tick();
  // GET /patroni as a peer sees it.
  ha::PeerStatus PeerView() const;
  // POST /failsafe from `sender`: whether this agent accepts (and then stays out of races for a ttl).
  bool AcceptFailsafe(const std::string& sender);
  void Wake() { wake_ = true; }
  bool fencer_armed() const { return fencer_.armed; }
  const DynamicConfig& dyn() const { return dyn_; }

 private:
  // Agent::Cycle
  void Cycle();
  bool Execute(const ha::Decision& d, const ClusterView& view, const LocalView& local);
  Status ExecuteOne(const ha::Action& a, const ClusterView& view, const LocalView& local, ha::ActionReport* r);
  Status PromoteNow(const ClusterView& view, ha::ActionReport* r);
  Status DemoteGracefully(const std::string& candidate, const ClusterView& view, ha::ActionReport* r);
  Status Bootstrap();
  Status FinishBootstrap();
  Status ArmFencing();
  Status ArmWith(int64_t lease, MonoTime deadline, int ttl);  // Fencer::Arm
  // EtcdDcs::SetTtl: a live ttl change rotates the lease (grant, move keys by txn, revoke the old one).
  void SetTtl(int ttl);
  Status MoveKeys(int64_t to, bool* leader_moved);
  // PgHealth::Healthy and the renew gate set up in Agent::Agent.
  bool PgHealthy() const;
  bool RenewGate();
  void UpdateFencing(const LocalView& local, const ClusterView* view);
  void Disarm();
  // What the real failsafe coordination (agent/failsafe.h) needs of this agent, as Agent::FailsafeHooks.
  Failsafe::Hooks FailsafeHooks();
  void TouchMember(const LocalView& local);
  void Publish(const LocalView& local) { published_ = local; }
  void PushSupervisor();
  // The lease keeper thread (EtcdDcs::KeeperLoop) and the failsafe thread (Failsafe's thread).
  void KeeperTick();
  void FailsafeTick();

  // EtcdDcs over the model etcd.
  Result<ClusterView> View();
  Result<ClusterView> FreshView();
  Status EnsureLease();
  Status AttemptLeader();
  Status RefreshLeader();
  Status DeleteLeader();
  Status WriteSync(const std::string& json, int64_t expect_mod);
  Status PutKey(const std::string& rel, const std::string& json);
  Status DeleteKey(const std::string& rel);
  Status DcsTouchMember(const std::string& json);

  MonoTime Now() const { return n_.clock.Now(); }

  World& w_;
  SimNode& n_;
  Logger& log_;
  SimLeaseApi lease_api_;
  SimPeerClient peers_;
  LeaseKeeper keeper_;
  SimFencer fencer_;
  DynamicConfig dyn_;
  ConfigCell cfg_cell_;
  Failsafe failsafe_;  // the real one, over peers_ and this node's clock; its thread is not started

  bool started_ = false;  // WaitForDcs done
  MonoTime next_cycle_{};
  MonoTime next_renew_{};
  MonoTime next_failsafe_{};
  bool retry_soon_ = false;
  bool wake_ = false;
  MonoTime busy_until_{};        // a slow call (promotion) holds the loop until then
  bool initdb_running_ = false;  // a slow initdb holds the loop; FinishBootstrap runs when it is done

  ha::CoreState core_;  // the decision core's own state, as Agent::core_
  MonoTime born_{};     // Agent::started_at_
  ha::PgStateMachine pg_state_;
  std::string sync_note_;
  std::string last_member_json_;
  int64_t last_member_lease_ = 0;
  std::string keeper_member_json_;
  LocalView published_;
  std::string last_traced_;
  MonoTime pg_last_ok_{};  // PgHealth: the last check that answered
  MonoTime next_health_check_{};
  MonoTime renew_blocked_until_{};
};

}  // namespace pgw::sim
