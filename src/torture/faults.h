// Faults for a torture round. Built in for a sandbox (the leader at the moment of injection is the target):
//   kill-primary       SIGKILL the leader's postmaster (its agent restarts or replaces it)
//   kill-agent         SIGKILL the leader's agent; restarted on recovery
//   kill-machine       SIGKILL the leader's agent, fence supervisors and postmaster together; restarted on recovery
//   freeze-agent       SIGSTOP the leader's agent; SIGCONT on recovery
//   freeze-postgres    SIGSTOP every process of the leader's PostgreSQL (an I/O stall); SIGCONT on recovery
//   stop-etcd          SIGSTOP etcd; SIGCONT on recovery
//   switchover         POST /switchover to the leader, naming another member (nothing to recover)
//   partition-primary  the leader alone loses etcd (its etcd link black-holed; needs a sandbox this run started)
//   ttl-change         the dynamic ttl raised by 3 s for two lease periods under load, then set back: a live
//                      configuration change during which the leader must not change
//   lagging-sync       (synchronous mode) the asynchronous standby frozen, the synchronous one and then the
//                      leader killed: the frozen standby must not be promoted without the acknowledged rows
// For any other cluster: a user command, and optionally one to recover, each an argv vector split from the text
// with common/shlex.h (no shell).
//
// A fault with a hold is kept that long before recovery (a freeze, a dead agent); without one, recovery runs as
// soon as writes resume. Recover() is safe to call more than once and without Inject().
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "torture/cluster.h"

namespace pgw::torture {

class Fault {
 public:
  virtual ~Fault() = default;
  virtual Status Inject() = 0;
  virtual Status Recover() = 0;
  // How long the fault is kept before Recover(); nullopt: until writes resume.
  virtual std::optional<Duration> Hold() const = 0;
  // The leader was expected to stay (ttl-change): a change of leader fails the round.
  virtual bool ExpectsSameLeader() const { return false; }
};

// The names of the built-in sandbox faults, in the order above.
const std::vector<std::string>& SandboxFaultNames();
// A built-in fault on `cluster` (which must outlive it). `hold` overrides the fault's own (2 or 3 ttls for the
// faults that have one).
Result<std::unique_ptr<Fault>> MakeSandboxFault(const std::string& name, SandboxCluster& cluster,
                                                std::optional<Duration> hold);
// `fault` then, after `hold` or once writes resume, `recover` (may be empty). Each run is bounded by `timeout`;
// a non-zero exit is an error of the round.
std::unique_ptr<Fault> MakeCommandFault(std::vector<std::string> fault, std::vector<std::string> recover,
                                        std::optional<Duration> hold, Duration timeout);

}  // namespace pgw::torture
