// Fencing a primary: make PostgreSQL stop accepting writes *now*, without its cooperation.
//
// A SIGKILL of the postmaster alone is not enough: its backends keep running until they next wait for client input
// or on a latch, so a COMMIT already being executed can still be acknowledged. A process-group kill does not reach
// them either (every backend calls setsid()), and the pid file may be missing or name a postmaster that is already
// dead while its backends still run. A fence therefore does not trust the pid file: it kills EVERY process of the data
// directory, found by scanning /proc (executable named postgres, working directory the data directory: PostgreSQL
// chdir()s there at start, and every child inherits it), through pidfds so that a recycled pid is never signalled,
// and then checks that they are gone. The data directory is left as after a crash: the next start runs crash
// recovery.
//
// Assumption: the caller may signal and inspect (/proc/PID/{exe,cwd}) PostgreSQL's processes, i.e. runs as the same
// user as PostgreSQL or as root. Processes it cannot inspect are invisible to the scan.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

// The pid in <data_dir>/postmaster.pid when it names a live process whose command is postgres/postmaster.
std::optional<pid_t> LivePostmaster(const std::string& data_dir);

// Processes of `data_dir`: executable named postgres or postmaster (a binary replaced on disk, "... (deleted)",
// counts) and working directory `data_dir` (compared after resolving symlinks). Ours only (same real uid), or any
// user's when we may inspect them. Never includes the calling process.
std::vector<pid_t> DataDirProcesses(const std::string& data_dir, bool any_user = false);

// Kills every process of `data_dir` (DataDirProcesses, any user we may signal): stops them first (SIGSTOP, so a
// postmaster cannot fork while we work), SIGKILLs them through pidfds, rescans until a scan finds nothing new, then
// waits up to `verify` for all of them to be gone. Returns how many were killed (0: nothing was running), or an error
// naming the processes that are still there. Never reports success while a process of the data directory runs.
Result<int> FenceDataDir(const std::string& data_dir, Duration verify = Duration(5000));

// Backends left running after their postmaster died: every process of `data_dir` except a live postmaster (pid file)
// and its children, and, when `started_by` is given, except processes started after that instant (BootTicks(): a
// postmaster started since cannot be an orphan, even before it writes its pid file). They keep the shared memory
// attached, which stops a new postmaster from starting, and in asynchronous mode can still acknowledge commits.
// Returns how many were killed, or an error as FenceDataDir.
Result<int> KillOrphanedBackends(const std::string& data_dir, Duration verify = Duration(5000),
                                 std::optional<uint64_t> started_by = std::nullopt);
// CLOCK_BOOTTIME in the clock ticks of /proc/PID/stat's start time.
uint64_t BootTicks();

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

// A pidfd (pidfd_open) for `pid`, or -1 (gone, or the kernel has no pidfds). The caller closes it. It becomes
// readable (poll POLLIN) when the process exits, and pidfd_send_signal through it never reaches a recycled pid.
int OpenPidfd(pid_t pid);

// The fence supervisor's command line (agent/fence_supervisor.h): `<pgwarden> --fence-supervisor DATA_DIR`.
inline constexpr const char* kFenceSupervisorFlag = "--fence-supervisor";
// Fence supervisors guarding `data_dir`: ours only, or any user's (the sandbox runs agents as postgres).
std::vector<pid_t> FindFenceSupervisors(const std::string& data_dir, bool any_user = false);

}  // namespace pgw
