// The simulated agent: the REAL executor (Executor, agent/executor.h) over in-memory seams (SimDcs over the model
// etcd, SimPgControl over the model PostgreSQL, SimIo for scripts and the switchover candidates), driven by a thin
// model of Agent::Cycle that calls the REAL decision core (ha::Decide and its state transitions, ha/core_state.h),
// the REAL LeaseKeeper (inside SimDcs) and the REAL Failsafe. What stays a model here is what the agent does with
// threads: the HA loop's schedule (Agent::Run), the lease keeper and failsafe threads (ticked by the world), the
// fencer and its supervisor, PgHealth, the acceptance of POST /failsafe and GET /patroni. Those functions name the
// agent function they model: keep them in step with agent*.cc, fencer.cc and pg_health.cc (docs/testing.md).
//
// The HA loop runs on a Fiber (sim_fiber.h): a call that takes time in the real agent suspends it.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "agent/callbacks.h"
#include "agent/config_reload.h"
#include "agent/executor.h"
#include "agent/failsafe.h"
#include "agent/peers.h"
#include "ha/core_state.h"
#include "ha/decide.h"
#include "ha/pg_state.h"
#include "sim_dcs.h"
#include "sim_fiber.h"
#include "sim_pg_control.h"
#include "sim_world.h"

namespace pgw::sim {

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

// The executor's Io (Executor::Io): the pre_promote script fails while the node's `veto-promote` fault is on;
// callbacks are not modelled (no scenario configures one); the timeline history file is ModelPg::history; the
// candidates of a switchover are queried on the model PostgreSQL, the wait polling once per tick.
class SimIo final : public Executor::Io {
 public:
  SimIo(World& w, SimNode& n, std::function<void(Duration)> sleep) : w_(w), n_(n), sleep_(std::move(sleep)) {}
  void FireCallback(const std::string&, const std::string&, const std::string&, const std::string&) override {}
  bool RunPrePromote(const std::string& /*command_line*/, Duration /*timeout*/) override {
    return !n_.f.pre_promote_fails;
  }
  Result<std::string> ReadTimelineHistory(int timeline) override;
  std::unique_ptr<Candidates> ConnectCandidates(const ClusterView& view,
                                                const std::vector<std::string>& names) override;

 private:
  World& w_;
  SimNode& n_;
  std::function<void(Duration)> sleep_;
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

class SimAgent final : private Executor::Host {
 public:
  SimAgent(World& w, SimNode& n);
  ~SimAgent() override;

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
  // Executor::Host, as Agent implements it.
  Status ArmFencing() override;
  void DisarmFencing() override { Disarm(); }
  void TouchMember(const LocalView& local) override;
  void Publish(const LocalView& local, const ClusterView* /*view*/) override { published_ = local; }
  bool Stopping() const override { return n_.f.agent_dead; }
  void Fatal() override;
  void CountDemotion() override {}
  void CountPromotion(double /*seconds*/) override {}
  void RestartStarting() override { n_.f.restart_requested = false; }  // Agent: the request is taken
  void RestartFinished(bool /*ok*/) override {}

  // Agent::Cycle
  void Cycle();
  // Runs or continues the HA loop's fiber; schedules the next cycle once one has finished (Agent::Run).
  void RunLoop();
  // Inside the fiber: the HA loop waits `d` of the node's clock (a slow call of the real agent).
  void Sleep(Duration d);
  Status ArmWith(int64_t lease, MonoTime deadline, int ttl);  // Fencer::Arm
  // PgHealth::Healthy and the renew gate set up in Agent::Agent.
  bool PgHealthy() const;
  bool RenewGate();
  void UpdateFencing(const LocalView& local, const ClusterView* view);
  void Disarm();
  // What the real failsafe coordination (agent/failsafe.h) needs of this agent, as Agent::FailsafeHooks.
  Failsafe::Hooks FailsafeHooks();
  void PushSupervisor();
  // The executor's log: the lines a golden trace shows (an action that failed, a bootstrap, a released key, the
  // client gate) go to the world's trace.
  static ssize_t LogWrite(void* self, const char* buf, size_t size);
  void LogLine(const std::string& line);

  MonoTime Now() const { return n_.clock.Now(); }

  World& w_;
  SimNode& n_;
  FILE* log_file_;
  std::string log_pending_;
  Logger exec_log_;
  SimDcs dcs_;
  SimPgControl pg_;
  SimIo io_;
  SimPeerClient peers_;
  SimFencer fencer_;
  DynamicConfig dyn_;
  ConfigCell cfg_cell_;
  ha::PgStateMachine pg_state_;
  Failsafe failsafe_;  // the real one, over peers_ and this node's clock; its thread is not started
  Executor executor_;  // the real one

  std::unique_ptr<Fiber> loop_;  // the HA loop
  bool cycle_done_ = false;      // the fiber finished a cycle (else it sleeps in one)
  bool sleeping_ = false;
  MonoTime wake_at_{};
  MonoTime cycle_start_{};

  bool started_ = false;  // WaitForDcs done
  MonoTime next_cycle_{};
  MonoTime next_renew_{};
  bool wake_ = false;

  ha::CoreState core_;  // the decision core's own state, as Agent::core_
  MonoTime born_{};     // Agent::started_at_
  std::string sync_note_;
  std::string last_member_json_;
  int64_t last_member_lease_ = 0;
  LocalView published_;
  std::string last_traced_;
  MonoTime pg_last_ok_{};  // PgHealth: the last check that answered
  MonoTime next_health_check_{};
  MonoTime renew_blocked_until_{};
};

}  // namespace pgw::sim
