// The agent runtime: observe -> decide -> act, once per loop_wait and at once when the leader key or the
// configuration changes in etcd. Owns the PostgreSQL controller, the DCS and the REST server.
//
// Threads: the HA loop (Run), the REST server, the etcd watch, the lease keeper. The REST API answers from a
// NodeState snapshot that the loop publishes after every cycle, so it never waits for PostgreSQL or etcd.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/api_handlers.h"
#include "agent/callbacks.h"
#include "agent/config_reload.h"
#include "agent/control.h"
#include "agent/executor.h"
#include "agent/failsafe.h"
#include "agent/fencer.h"
#include "agent/peers.h"
#include "agent/pg_health.h"
#include "agent/status_json.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "dcs/etcd_dcs.h"
#include "ha/decide.h"
#include "ha/failover_facts.h"
#include "ha/pg_state.h"
#include "net/http_server.h"
#include "pg/controller.h"

namespace pgw {

// The REST handlers (agent/api_handlers.h) see it only as an AgentControl (agent/agent_control.cc).
class Agent final : private Executor::Host, private AgentControl {
 public:
  Agent(std::shared_ptr<const Config> cfg, const Clock& clock, Logger& log);
  ~Agent() override;

  // Runs until RequestStop() (then shuts down cleanly) or a fatal condition. Returns the process exit code.
  int Run();
  // Thread-safe; called from the signal-handling thread.
  void RequestStop();
  // Wakes the HA loop now (a REST request wants it to act).
  void RequestWake() override;
  // How ReloadConfig reads the configuration again: the loader and path the agent was started with.
  void SetConfigLoader(ConfigReloader::Loader loader) { reloader_.SetLoader(std::move(loader)); }
  // SIGHUP and POST /reload (agent/agent_reload.cc): reads the configuration again and, when it is valid, has the
  // HA loop apply it and reload PostgreSQL; returns the errors of an invalid one (logged, nothing changes). Any
  // thread but an event loop's: it reads files.
  std::vector<std::string> ReloadConfig() override;

 private:
  Status StartupChecks();
  bool WaitForDcs();
  void Cycle();
  // AgentControl: what the REST handlers need of the agent (agent/agent_control.cc).
  ControlSnapshot Snapshot() override;
  api::Counters MetricsCounters() override;
  void VouchFailsafe() override;
  void RequestReinitialize() override;
  std::optional<uint64_t> RequestRestart() override;
  RestartProgress Restarts() const override;
  bool ScheduleRestart(double at) override;
  bool CancelScheduledRestart() override;
  Result<ClusterView> ReadCluster() override;
  std::vector<ha::PeerStatus> CheckMembers(const ClusterView& cluster, const std::vector<std::string>& names) override;
  Status WriteFailover(const std::string& json) override;
  Status DeleteFailover() override;
  Status WriteConfig(const std::string& json, int64_t expect_mod_revision) override;
  // Executor::Host: what the executor needs of the agent.
  void TouchMember(const LocalView& local) override;
  void Publish(const LocalView& local, const ClusterView* view) override;
  void DisarmFencing() override { fencer_->Disarm(); }
  bool Stopping() const override { return stop_; }  // Executor::Host and AgentControl
  void Fatal() override {
    exit_code_ = 1;
    stop_ = true;
  }
  void CountDemotion() override { ++demotions_; }
  void CountPromotion(double seconds) override {
    ++promotions_;
    last_promotion_seconds_ = seconds;
  }
  void RestartStarting() override {
    restart_requested_ = false;
    scheduled_restart_ = 0;
  }
  void RestartFinished(bool ok) override {
    last_restart_ok_ = ok;
    ++restarts_done_;
  }
  void Shutdown();
  // Arms the fencer for our lease (the one holding the leader key). Fails when watchdog.mode is required and the
  // device cannot be used.
  Status ArmFencing() override;
  // After a cycle: arm or disarm the fencer to match what PostgreSQL is now; retire supervisors of a dead agent.
  void UpdateFencing(const LocalView& local, const ClusterView* view);
  // on_start / on_stop / on_role_change, from what changed in this cycle.
  void FireCallbacks(const LocalView& before, const LocalView& after);
  // Whether the PostgreSQL health gate keeps this primary from renewing or confirming its leadership.
  bool PgHealthBlocksLeadership();
  // agent/agent_failsafe.cc: what failsafe coordination (agent/failsafe.h) needs of this agent.
  Failsafe::Hooks FailsafeHooks();
  // Waits up to `d` for RequestWake/RequestStop; true when woken by them.
  bool WaitNextCycle(Duration d);
  // Waits until `due` (the next loop_wait cycle), a wake, or, on an armed primary, a lease that stopped being fresh.
  void WaitUntilDue(MonoTime due);
  MonoTime LastRenewal() const;
  std::optional<MonoTime> NextFreshnessDeadline(MonoTime now) const;
  // A reload requested by ReloadConfig, on the HA loop: the new snapshot published and the changes logged, then
  // PostgreSQL's files rewritten and reloaded when it runs.
  void ApplyReload(const LocalView& local);
  // Patroni applies a changed dynamic configuration at the end of each cycle: when the dynamic configuration's
  // postgresql section (or its permanent slots) differs from the one last applied, PostgreSQL's files are rewritten
  // and, if their content changed, PostgreSQL is reloaded (postmaster-level parameters then show as pending_restart).
  void ApplyDynamicPostgresql(const LocalView& local);
  // Before a rewrite of postgresql.conf outside the sync code: a synchronous primary keeps the
  // synchronous_standby_names PostgreSQL runs with when this agent has not set one (after its own restart the sync
  // code finds the value right and leaves it alone); without it the rewrite would turn synchronous replication off.
  void KeepSyncNames(const LocalView& local);

  ConfigCell cfg_;  // read from every thread; replaced by ApplyReload only
  ConfigReloader reloader_;
  const Clock& clock_;
  Logger& log_;
  std::unique_ptr<PeerClient> peers_;  // HttpPeerClient
  std::unique_ptr<Dcs> dcs_;           // EtcdDcs; the agent uses only the interface
  std::unique_ptr<PgControl> pg_;      // PgController
  std::unique_ptr<ApiHandlers> api_;   // before rest_: its deferred jobs use the handlers
  std::unique_ptr<RestServer> rest_;
  std::unique_ptr<Fencer> fencer_;
  std::unique_ptr<PgHealth> pg_health_;             // gates the lease renewal of an armed primary
  std::atomic<int64_t> renew_blocked_until_ms_{0};  // MonoTime ms: the gate stays closed until the lease lapsed
  // Failsafe mode: confirmations asked of the members (its own thread) and promises given to a primary. Declared
  // after what its hooks use, so that it stops first.
  std::unique_ptr<Failsafe> failsafe_;
  CallbackRunner callbacks_;
  DynamicConfig dyn_;
  // The `config` key as last parsed, and its mod_revision: parsed again only when the key changed (issue 14, idle
  // cost). HA loop only.
  int64_t parsed_config_rev_ = 0;
  DynamicConfig parsed_config_;
  std::vector<std::string> parsed_config_problems_;
  // Read by the REST thread.
  std::atomic<int> ttl_s_{30};
  MonoTime started_at_{};

  // What earlier cycles learned, for the decision core: its own state (ha/core_state.h), HA loop only.
  ha::CoreState core_;
  bool failsafe_active_ = false;  // this cycle ran on failsafe confirmations (for the REST API)
  bool old_supervisors_retired_ = false;
  std::string sync_note_;  // ha::SynchronousNote while we lead as primary, for the member key
  std::string last_role_;
  bool standby_leader_ = false;  // holds the leader key in a standby cluster (role "standby_leader")

  // Requests from the REST API to the HA loop.
  std::atomic<bool> restart_requested_{false};
  std::atomic<bool> reload_requested_{false};
  std::optional<std::string> applied_dynamic_postgresql_;  // ApplyDynamicPostgresql: what it last applied
  std::atomic<bool> reinit_requested_{false};
  std::atomic<uint64_t> restarts_done_{0};  // restart attempts finished (REST waits on it)
  std::atomic<bool> last_restart_ok_{false};
  std::atomic<double> scheduled_restart_{0};   // wall seconds, 0 = none
  std::atomic<int64_t> last_cycle_end_ms_{0};  // MonoTime ms: liveness
  std::atomic<int64_t> loop_wait_s_{10};

  // Counters for /metrics.
  std::atomic<uint64_t> cycles_{0}, promotions_{0}, demotions_{0};
  std::atomic<double> last_cycle_seconds_{0}, last_promotion_seconds_{0};
  std::array<std::atomic<uint64_t>, ha::kReasonCount> decisions_{};  // by ha::Reason
  void CountDecision(const ha::Decision& d) {
    auto i = static_cast<size_t>(d.reason);
    if (i < decisions_.size()) ++decisions_[i];
  }

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::atomic<bool> stop_{false};
  int exit_code_ = 0;
  std::string last_leader_sig_;  // leader key as last seen by the watch callback

  ha::PgStateMachine pg_state_;  // what the member key and the API report as "state"
  std::string last_member_json_;
  int64_t last_member_lease_ = 0;

  std::mutex state_mu_;  // guards state_ and state_gen_
  NodeState state_;
  uint64_t state_gen_ = 1;  // counts Publish() calls
  // Carries out the decisions (agent/executor.h); declared last, so that what it refers to outlives it.
  std::unique_ptr<Executor> executor_;
};

}  // namespace pgw
