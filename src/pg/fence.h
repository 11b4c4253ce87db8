// Fencing a primary: make PostgreSQL stop accepting writes *now*, without its cooperation.
//
// A SIGKILL of the postmaster alone is not enough: its backends keep running until they next wait for client input,
// so a COMMIT already being executed can still be acknowledged. A process-group kill does not reach them either
// (every backend calls setsid()). FenceKillPostmaster therefore stops the postmaster (so it cannot fork), SIGKILLs
// every child of it, then SIGKILLs the postmaster itself. When it returns, no process of that instance can send
// another byte to a client. The data directory is left as after a crash: the next start runs crash recovery.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace pgw {

// The pid in <data_dir>/postmaster.pid when it names a live process whose command is postgres/postmaster.
std::optional<pid_t> LivePostmaster(const std::string& data_dir);

// Kills the postmaster of `data_dir` and all its children. Ok (with nothing done) when none is running.
// Returns the number of processes killed.
Result<int> FenceKillPostmaster(const std::string& data_dir);

// Pids of processes whose parent is `ppid`.
std::vector<pid_t> ChildrenOf(pid_t ppid);
// argv of a process (empty when it is gone or unreadable).
std::vector<std::string> ProcessArgv(pid_t pid);
// Every process whose argv matches `pred`: ours only (same real uid), or any user's.
std::vector<pid_t> FindProcesses(const std::function<bool(const std::vector<std::string>&)>& pred,
                                 bool any_user = false);
inline std::vector<pid_t> FindOwnProcesses(const std::function<bool(const std::vector<std::string>&)>& pred) {
  return FindProcesses(pred, false);
}

// The fence supervisor's command line (agent/fence_supervisor.h): `<pgwarden> --fence-supervisor DATA_DIR`.
inline constexpr const char* kFenceSupervisorFlag = "--fence-supervisor";
// Fence supervisors guarding `data_dir`: ours only, or any user's (the sandbox runs agents as postgres).
std::vector<pid_t> FindFenceSupervisors(const std::string& data_dir, bool any_user = false);

// Backends left running after their postmaster died (SIGKILL of the postmaster alone): processes of ours whose
// working directory is `data_dir` and whose title starts with "postgres". They keep the shared memory attached,
// which stops a new postmaster from starting; they are SIGKILLed. Returns how many.
int KillOrphanedBackends(const std::string& data_dir);

}  // namespace pgw
