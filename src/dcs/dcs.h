// The narrow interface between the agent and the DCS. Every write to initialize, leader and config is conditional
// (safety rule 2): create-only on create_revision 0, or compare-and-swap on value / mod_revision.
#pragma once

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
};

}  // namespace pgw
