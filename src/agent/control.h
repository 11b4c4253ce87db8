// The narrow interface between the REST handlers (agent/api_handlers.h) and the agent: what the handlers read and
// the requests they pass to the HA loop, nothing else. `Agent` implements it; unit tests drive the handlers over a
// fake (tests/unit/api_handlers_test.cc).
//
// Threads: Snapshot, Counters and the requests marked "cheap" are called on the REST server thread and must never
// wait for PostgreSQL or etcd. The others are called from the server's deferred-job workers only; they may block up
// to the DCS client's deadline.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/api.h"
#include "agent/status_json.h"
#include "common/config.h"
#include "common/status.h"
#include "dcs/keys.h"
#include "ha/decide.h"

namespace pgw {

// What a GET answers from: the state the HA loop last published plus what the agent's clocks say now.
struct ControlSnapshot {
  // The configuration in force. The agent keeps every snapshot it published for its whole life, so the pointer
  // stays valid as long as the control does (deferred jobs may hold it).
  const Config* cfg = nullptr;
  // As the loop published it, with failsafe_active also set when the clocks say failsafe is active now (the loop
  // may be stuck in an etcd call while the primary runs on failsafe confirmations).
  NodeState state;
  uint64_t generation = 0;                     // changes with every publication of `state` (status JSON cache key)
  std::shared_ptr<const ClusterView> cluster;  // the watch cache, borrowed; null without a view of the DCS
  // The `failsafe` key as the HA loop last saw it: filled only when `cluster` is null (etcd down is when it
  // matters); with a view, the view's own `failsafe` is the one to use.
  std::optional<FailsafeTopology> failsafe_members;
  bool failsafe_enabled = false;  // failsafe_mode in the dynamic configuration in force
  bool loop_alive = true;         // the HA loop ran recently enough (GET /liveness)
  int64_t loop_wait_s = 10;       // loop_wait in force (how long a switchover is waited for)
};

// Restart attempts the HA loop finished, and how the last one ended.
struct RestartProgress {
  uint64_t finished = 0;
  bool last_ok = false;
};

class AgentControl {
 public:
  virtual ~AgentControl() = default;

  // Cheap, any thread.
  virtual ControlSnapshot Snapshot() = 0;
  virtual api::Counters MetricsCounters() = 0;
  virtual bool Stopping() const = 0;
  // Wakes the HA loop now (something it should act on was requested or written).
  virtual void RequestWake() = 0;
  // POST /failsafe from a member the handler has checked: this replica stops racing for the leader key for ttl.
  virtual void VouchFailsafe() = 0;
  // POST /reinitialize: on its next cycle the loop stops PostgreSQL, wipes the data directory and clones again.
  // Wakes the loop.
  virtual void RequestReinitialize() = 0;
  // POST /restart now: nullopt when a restart is already requested; otherwise the RestartProgress::finished count
  // before this request (the restart is done when it grows). Does not wake the loop.
  virtual std::optional<uint64_t> RequestRestart() = 0;
  virtual RestartProgress Restarts() const = 0;
  // Scheduled restart at wall seconds `at`: false when one is already scheduled.
  virtual bool ScheduleRestart(double at) = 0;
  // DELETE /restart: false when none was scheduled.
  virtual bool CancelScheduledRestart() = 0;

  // Blocking (deferred-job workers only).
  // A view of the cluster read from etcd now (not the watch cache): what a write is based on.
  virtual Result<ClusterView> ReadCluster() = 0;
  // GET /patroni of the named members (at most a couple of seconds).
  virtual std::vector<ha::PeerStatus> CheckMembers(const ClusterView& cluster,
                                                   const std::vector<std::string>& names) = 0;
  // The `failover` key: written as given (`json`), or deleted.
  virtual Status WriteFailover(const std::string& json) = 0;
  virtual Status DeleteFailover() = 0;
  // The `config` key, compare-and-swap on `expect_mod_revision` (0: unconditional). kConflict when it moved.
  virtual Status WriteConfig(const std::string& json, int64_t expect_mod_revision) = 0;
  // POST /reload: reads the local configuration again; the errors of an invalid one (nothing changes then).
  virtual std::vector<std::string> ReloadConfig() = 0;
};

}  // namespace pgw
