// The executor: carries out the actions of one decision of the core (ha::Decide), in order, stopping at the first
// that fails, and reports to the core what happened (ha::ActionReport, folded into ha::CoreState by ha::Record). It
// decides nothing itself. It reaches etcd only through Dcs, PostgreSQL only through PgControl, time through the
// Clock, the agent around it through Host (fencing, the member key, the published state, counters), and the rest
// of the machine through Io (scripts, the timeline history file, the switchover candidates' PostgreSQL). The
// simulator (tests/scenario/) runs this class over in-memory implementations of all five.
//
// Files: executor.cc (Execute, ExecuteOne, slots), executor_handover.cc (promotion, graceful demotion, the history
// key), executor_bootstrap.cc (kBootstrap, kBootstrapStandby), executor_records.cc (the failovers key),
// executor_io.cc (the real Io: CallbackRunner, files, libpq).
// Threads: the HA loop only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/callbacks.h"
#include "agent/config_reload.h"
#include "common/clock.h"
#include "common/log.h"
#include "dcs/dcs.h"
#include "ha/core_state.h"
#include "ha/decide.h"
#include "ha/failover_facts.h"
#include "ha/pg_state.h"
#include "pg/pg_control.h"

namespace pgw {

class Executor {
 public:
  // What the executor needs of the agent around it. HA loop thread.
  class Host {
   public:
    virtual ~Host() = default;
    // Arms the fencer for our lease; fails when watchdog.mode is required and the device cannot be used.
    virtual Status ArmFencing() = 0;
    virtual void DisarmFencing() = 0;
    // Writes the member key from `local` (when it changed).
    virtual void TouchMember(const LocalView& local) = 0;
    // Publishes the state the REST API answers from.
    virtual void Publish(const LocalView& local, const ClusterView* view) = 0;
    // Whether the agent is stopping: the rest of a plan is skipped, waits end early.
    virtual bool Stopping() const = 0;
    // kFatal: the agent stops with exit code 1.
    virtual void Fatal() = 0;
    // Counters for /metrics.
    virtual void CountDemotion() = 0;
    virtual void CountPromotion(double seconds) = 0;
    // kRestart begins (the request it answers is taken) and ends (the REST API waits for it).
    virtual void RestartStarting() = 0;
    virtual void RestartFinished(bool ok) = 0;
  };

  // What the executor does on the machine beyond etcd and its own PostgreSQL's control. HA loop thread.
  class Io {
   public:
    virtual ~Io() = default;
    // A postgresql.callbacks script, in the background (CallbackRunner::Fire).
    virtual void FireCallback(const std::string& command_line, const std::string& action, const std::string& role,
                              const std::string& scope) = 0;
    // The pre_promote script, waited for (bounded); true when it exited 0 (CallbackRunner::RunSync).
    virtual bool RunPrePromote(const std::string& command_line, Duration timeout) = 0;
    // The text of pg_wal/<timeline>.history in the data directory.
    virtual Result<std::string> ReadTimelineHistory(int timeline) = 0;
    // Sessions to the candidates' PostgreSQL for a graceful demotion; closed when destroyed.
    class Candidates {
     public:
      virtual ~Candidates() = default;
      // Waits until a candidate has received WAL past `lsn` (true), or until `give_up`, `stopping()` or none is
      // connected (false).
      virtual bool AwaitReceived(int64_t lsn, MonoTime give_up, const std::function<bool()>& stopping) = 0;
    };
    // Opens a session to each candidate's PostgreSQL (`names`, members of `view`), while writes still run; a
    // candidate that cannot be reached is logged and left out.
    virtual std::unique_ptr<Candidates> ConnectCandidates(const ClusterView& view,
                                                          const std::vector<std::string>& names) = 0;
  };

  // Every reference must outlive the executor. Io is the real one (executor_io.cc) over `callbacks`.
  Executor(const ConfigCell& cfg, const DynamicConfig& dyn, const Clock& clock, Logger& log, Dcs& dcs, PgControl& pg,
           CallbackRunner& callbacks, ha::PgStateMachine& pg_state, Host& host);
  // Over another Io (the simulator's).
  Executor(const ConfigCell& cfg, const DynamicConfig& dyn, const Clock& clock, Logger& log, Dcs& dcs, PgControl& pg,
           Io& io, ha::PgStateMachine& pg_state, Host& host);
  ~Executor();

  // The dynamic configuration the actions are carried out under: set by the HA loop every cycle.
  void SetDynamic(const DynamicConfig& dyn) { dyn_ = dyn; }
  // Carries out the plan; returns false when an action failed (the rest of the plan is skipped), after what the
  // action's ha::OnFailure asks for: the leader key released (best effort), or, for kContinue, the failure only
  // logged and the plan going on. The report of every action carried out is folded into *core (ha::Record).
  bool Execute(const ha::Decision& d, const ClusterView& view, const LocalView& local, ha::CoreState* core);

  // For the failovers key (executor_records.cc): the leader key as each cycle's view shows it.
  void ObserveLeader(const ClusterView& view) { leader_trail_.Observe(view, clock_.WallSeconds()); }
  // On a former leader running again as a replica: records how it came back in the failovers key (not while its
  // timeline is still unreconciled).
  void ReportRejoin(const ClusterView& view, const LocalView& local, bool unreconciled);

 private:
  Executor(const ConfigCell& cfg, const DynamicConfig& dyn, const Clock& clock, Logger& log, Dcs& dcs, PgControl& pg,
           std::unique_ptr<Io> own_io, Io* io, ha::PgStateMachine& pg_state, Host& host);
  // Carries out one action; *r := what the core needs to know about it (ha/core_state.h), r->ok aside.
  Status ExecuteOne(const ha::Action& a, const ClusterView& view, const LocalView& local, ha::ActionReport* r);
  // kBootstrap (executor_bootstrap.cc): initdb and start, post_bootstrap, roles, then the DCS keys. A failure
  // before the DCS keys is cleaned up (initialize key removed, PostgreSQL stopped, data directory wiped) and
  // reported in r->bootstrap_failed, which makes the core stop the agent.
  Status Bootstrap(ha::ActionReport* r);
  // kBootstrapStandby: clone from the remote primary, start in recovery following it, then the same DCS keys as
  // Bootstrap; a failure is cleaned up and stops the agent as a failed bootstrap does.
  Status BootstrapStandby(const ha::BootstrapStandby& a, ha::ActionReport* r);
  // A failed bootstrap: initialize key removed, PostgreSQL stopped, data directory wiped; returns why it failed
  // (with whatever went wrong in the clean-up) for ActionReport::bootstrap_failed.
  std::string CleanUpFailedBootstrap(const Status& cause);
  Result<std::string> BootstrapPostgres();
  Status RunPostBootstrap();
  // kPromote: pg_promote(), then slots, history, checkpoint and the failovers record. The steps before it
  // (pre_promote, the `sync` reset, fencing) are actions of their own (ha/decide.h).
  Status PromoteNow(const ClusterView& view, ha::ActionReport* report);
  // Appends the timeline switches of `after`'s .history file to Patroni's `history` key; *switch_lsn := where the
  // newest timeline begins (left alone when the file cannot be read).
  Status WriteHistoryAfterPromote(const ClusterView& view, const LocalView& after, int64_t* switch_lsn);
  // The failovers key: the record of the promotion just made (from `view`, the view it was decided on).
  void RecordPromotion(const ClusterView& view, const LocalView& after, int64_t switch_lsn, double promoted_at);
  // Holds the leader key of a standby cluster (the callbacks' standby_leader role).
  bool StandbyLeader(const ClusterView& view) const {
    return ha::IsStandbyCluster(dyn_) && view.leader && view.leader->name == cfg_->name;
  }
  // kSyncSlots: the slot plan of the decision (ha/slots.h).
  Status SyncSlots(const ha::SyncSlots& a, const LocalView& local);
  // Moves local copies of permanent slots up to the positions in `status.slots` (after a promotion).
  void AdvanceToPublished(const ClusterView& view);
  // Graceful demotion for a planned switchover: checkpoint, fast shutdown, wait until `candidate` (any replica
  // when empty) received the shutdown checkpoint, release the leader key.
  Status DemoteGracefully(const std::string& candidate, const ClusterView& view, ha::ActionReport* report);

  const ConfigCell& cfg_;
  DynamicConfig dyn_;
  const Clock& clock_;
  Logger& log_;
  Dcs* dcs_;
  PgControl* pg_;
  std::unique_ptr<Io> own_io_;  // the real Io, when constructed over a CallbackRunner
  Io* io_;
  ha::PgStateMachine& pg_state_;  // the agent's: what the member key and the API report as "state"
  Host* host_;

  // For the failovers key (executor_records.cc).
  ha::LeaderTrail leader_trail_;  // the leader key as the views showed it
  double acquired_at_ = 0;        // wall seconds: when this node last took the leader key
  std::string rejoin_outcome_;    // how this node was reconciled since it last led: "" / "rewound" / "recloned"
};

// The real Io (executor_io.cc): scripts through `callbacks`, files of the data directory, libpq sessions.
std::unique_ptr<Executor::Io> MakeExecutorIo(const ConfigCell& cfg, const Clock& clock, Logger& log,
                                             CallbackRunner& callbacks);

}  // namespace pgw
