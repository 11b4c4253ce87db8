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

#include "agent/callbacks.h"
#include "agent/config_reload.h"
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

class Agent {
 public:
  Agent(std::shared_ptr<const Config> cfg, const Clock& clock, Logger& log);
  ~Agent();

  // Runs until RequestStop() (then shuts down cleanly) or a fatal condition. Returns the process exit code.
  int Run();
  // Thread-safe; called from the signal-handling thread.
  void RequestStop();
  // Wakes the HA loop now (a REST request wants it to act).
  void RequestWake();
  // How ReloadConfig reads the configuration again: the loader and path the agent was started with.
  void SetConfigLoader(ConfigReloader::Loader loader) { reloader_.SetLoader(std::move(loader)); }
  // SIGHUP and POST /reload (agent/agent_reload.cc): reads the configuration again and, when it is valid, has the
  // HA loop apply it and reload PostgreSQL; returns the errors of an invalid one (logged, nothing changes). Any
  // thread but an event loop's: it reads files.
  std::vector<std::string> ReloadConfig();

 private:
  Status StartupChecks();
  bool WaitForDcs();
  void Cycle();
  // Executes the plan; returns false when an action failed (the rest of the plan is skipped).
  bool Execute(const ha::Decision& d, const ClusterView& view, const LocalView& local);
  Status ExecuteOne(const ha::Action& a, const ClusterView& view, const LocalView& local);
  // kBootstrap (agent/bootstrap.cc): initdb and start, post_bootstrap, roles, then the DCS keys. A failure before
  // the DCS keys is cleaned up (initialize key removed, PostgreSQL stopped, data directory wiped) and recorded in
  // bootstrap_failed_, which makes the core stop the agent.
  Status Bootstrap();
  // kBootstrapStandby (agent/bootstrap.cc): clone from the remote primary, start in recovery following it, then
  // the same DCS keys as Bootstrap; a failure is cleaned up and stops the agent as a failed bootstrap does.
  Status BootstrapStandby(const ha::Action& a);
  // A failed bootstrap: initialize key removed, PostgreSQL stopped, data directory wiped; sets bootstrap_failed_.
  void CleanUpFailedBootstrap(const Status& cause);
  Result<std::string> BootstrapPostgres();
  Status RunPostBootstrap();
  // Appends the timeline switches of `after`'s .history file to Patroni's `history` key; *switch_lsn := where the
  // newest timeline begins (left alone when the file cannot be read).
  Status WriteHistoryAfterPromote(const ClusterView& view, const LocalView& after, int64_t* switch_lsn);
  // agent/agent_records.cc, the failovers key: the record of the promotion just made (from `view`, the view it was
  // decided on) and, on a former leader running again as a replica, how it came back.
  void RecordPromotion(const ClusterView& view, const LocalView& after, int64_t switch_lsn, double promoted_at);
  void ReportRejoin(const ClusterView& view, const LocalView& local);
  void TouchMember(const LocalView& local);
  void Publish(const LocalView& local, const ClusterView* view);
  void Shutdown();
  // Arms the fencer for our lease (the one holding the leader key). Fails when watchdog.mode is required and the
  // device cannot be used.
  Status ArmFencing();
  // After a cycle: arm or disarm the fencer to match what PostgreSQL is now; retire supervisors of a dead agent.
  void UpdateFencing(const LocalView& local, const ClusterView* view);
  // on_start / on_stop / on_role_change, from what changed in this cycle.
  void FireCallbacks(const LocalView& before, const LocalView& after);
  Status PromoteNow(const ClusterView& view);
  // kSyncSlots: the slot plan of the decision (ha/slots.h).
  Status SyncSlots(const ha::Action& a, const LocalView& local);
  // Moves local copies of permanent slots up to the positions in `status.slots` (after a promotion).
  void AdvanceToPublished(const ClusterView& view);
  // Failsafe mode: while this node runs as an armed primary and keepalives go unanswered, POST /failsafe to every
  // member on its own thread (the HA loop may be stuck in an etcd call) and extend the fence on success.
  void FailsafeLoop();
  // POST /failsafe to every member now; on success extends the fence. Thread-safe.
  bool ConfirmFailsafe();
  // Whether the PostgreSQL health gate keeps this primary from renewing or confirming its leadership.
  bool PgHealthBlocksLeadership();
  void HoldBackAfterRestartInFailsafe(const ClusterView& view);
  // Waits up to `d` for RequestWake/RequestStop; true when woken by them.
  bool WaitNextCycle(Duration d);
  // Waits until `due` (the next loop_wait cycle), a wake, or, on an armed primary, a lease that stopped being fresh.
  void WaitUntilDue(MonoTime due);
  MonoTime LastRenewal() const;
  std::optional<MonoTime> NextFreshnessDeadline(MonoTime now) const;
  // A reload requested by ReloadConfig, on the HA loop: the new snapshot published and the changes logged, then
  // PostgreSQL's files rewritten and reloaded when it runs.
  void ApplyReload(const LocalView& local);
  HttpServerResponse HandleHttp(const HttpServerRequest& req);
  HttpServerResponse HandleSwitchover(const std::string& action, const HttpServerRequest& req);
  HttpServerResponse HandleConfigWrite(const HttpServerRequest& req);
  // PATCH (merge, compare-and-swap) or PUT `body` into the config key. Worker thread: it calls etcd.
  HttpServerResponse WriteConfig(const std::string& method, const Json& body);
  HttpServerResponse HandleRestart(const HttpServerRequest& req);
  // Graceful demotion for a planned switchover: checkpoint, fast shutdown, wait until `candidate` (any replica
  // when empty) received the shutdown checkpoint, release the leader key.
  Status DemoteGracefully(const std::string& candidate, const ClusterView& view);

  ConfigCell cfg_;  // read from every thread; replaced by ApplyReload only
  ConfigReloader reloader_;
  const Clock& clock_;
  Logger& log_;
  std::unique_ptr<PeerClient> peers_;  // HttpPeerClient
  std::unique_ptr<Dcs> dcs_;           // EtcdDcs; the agent uses only the interface
  std::unique_ptr<PgControl> pg_;      // PgController
  std::unique_ptr<RestServer> rest_;
  std::unique_ptr<Fencer> fencer_;
  std::unique_ptr<PgHealth> pg_health_;             // gates the lease renewal of an armed primary
  std::atomic<bool> failsafe_withheld_{false};      // logged once per episode
  std::atomic<int64_t> renew_blocked_until_ms_{0};  // MonoTime ms: the gate stays closed until the lease lapsed
  CallbackRunner callbacks_;
  DynamicConfig dyn_;
  // Read by the REST thread.
  std::atomic<bool> failsafe_mode_{false};
  std::atomic<int> ttl_s_{30};
  MonoTime started_at_{};
  bool failsafe_restart_checked_ = false;
  int64_t restart_hold_until_ms_ = -1;  // MonoTime ms of the hold HoldBackAfterRestartInFailsafe set  //
                                        // HoldBackAfterRestartInFailsafe ran (first cycle with failsafe_mode)
  std::atomic<int64_t> failsafe_primary_until_ms_{0};    // MonoTime ms: a primary vouched for itself via POST /failsafe
  std::atomic<int64_t> failsafe_confirmed_until_ms_{0};  // MonoTime ms: members' promise not to race covers us
  std::mutex failsafe_mu_;                               // guards failsafe_members_
  std::optional<FailsafeTopology> failsafe_members_;     // the `failsafe` key as last seen
  std::thread failsafe_thread_;

  // What earlier cycles learned, for the decision core (ha::Inputs).
  bool primary_start_failed_ = false;
  bool rewind_failed_ = false;
  MonoTime no_race_until_{};
  bool failsafe_active_ = false;
  bool old_supervisors_retired_ = false;
  bool clean_demote_ = false;
  bool unreconciled_ = false;                      // see ha::Inputs::unreconciled_primary
  std::string bootstrap_failed_;                   // see ha::Inputs::bootstrap_failed
  MonoTime gate_since_{};                          // see ha::Inputs::gate_since (zero: the client gate is open)
  std::map<std::string, int64_t> sync_added_lsn_;  // see ha::Inputs::sync_added_lsn
  std::string sync_note_;                          // ha::SynchronousNote while we lead as primary, for the member key
  std::string last_role_;
  bool standby_leader_ = false;  // holds the leader key in a standby cluster (role "standby_leader")

  // For the failovers key (agent/agent_records.cc).
  ha::LeaderTrail leader_trail_;  // the leader key as the views showed it
  double acquired_at_ = 0;        // wall seconds: when this node last took the leader key
  std::string rejoin_outcome_;    // how this node was reconciled since it last led: "" / "rewound" / "recloned"

  // Requests from the REST API to the HA loop.
  std::atomic<bool> restart_requested_{false};
  std::atomic<bool> reload_requested_{false};
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
  void CountDecision(const ha::Decision& d) { ++decisions_[static_cast<size_t>(d.reason)]; }

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  std::atomic<bool> stop_{false};
  int exit_code_ = 0;
  std::string last_leader_sig_;  // leader key as last seen by the watch callback

  ha::PgStateMachine pg_state_;  // what the member key and the API report as "state"
  std::string last_member_json_;
  int64_t last_member_lease_ = 0;

  std::mutex state_mu_;  // guards state_, state_gen_ and status_cache_
  NodeState state_;
  uint64_t state_gen_ = 1;  // counts Publish() calls
  // The status JSON as last rendered for a GET (agent/agent_http.cc): a load balancer's checks between two
  // publications of the state get the same bytes without rendering them again.
  struct StatusCache {
    uint64_t gen = 0;                                    // of state_; 0: empty
    bool failsafe_active = false, sync_standby = false;  // set per request, outside state_
    std::string body;
  } status_cache_;
};

}  // namespace pgw
