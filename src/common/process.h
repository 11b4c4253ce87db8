// Spawning programs. Always an argv vector, never a shell string.
//
// Run() waits for the program (with a deadline, after which it is killed) and captures stdout+stderr.
// StartDetached() starts a long-lived daemon (the postmaster, etcd) in its own session with output to a file, so that
// it survives the death of the process that started it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;  // HOME for the child
};

struct ProcessOptions {
  std::map<std::string, std::string> env_set;  // added to (or replacing in) the inherited environment
  std::vector<std::string> env_unset;
  std::string cwd;
  std::optional<RunAs> run_as;         // drop privileges in the child (only when we are root)
  Duration timeout = Duration(60000);  // Run(): kill the child (SIGKILL) once this passes
  // Run(): called with each complete output line as it arrives (for logging); may be empty.
  std::function<void(const std::string&)> on_line;
  std::string stdin_data;  // Run(): written to the child's stdin, then closed
  int stdin_fd = -1;       // StartDetached(): the child's stdin (default /dev/null)
};

struct RunResult {
  int exit_code = -1;  // valid when !signaled
  int signal = 0;      // the signal that ended the child, or 0
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved (bounded to the last 1 MiB)
  bool Success() const { return !timed_out && signal == 0 && exit_code == 0; }
  // One line for an operator: "exit code 1" / "killed by signal 9" / "timed out after ...".
  std::string Describe() const;
};

// Runs argv[0] (a path, or a name looked up in PATH) to completion. Fails only when the program could not be
// started (missing, not executable); a non-zero exit is reported in RunResult.
Result<RunResult> Run(const std::vector<std::string>& argv, const ProcessOptions& opts = {});

// Starts a daemon in a new session (setsid) with stdin from /dev/null (or opts.stdin_fd) and stdout/stderr appended
// to `log_path` (inherited from us when `log_path` is empty).
// Returns its pid. The caller reaps it with Reap() or leaves it to init if the caller exits first.
Result<pid_t> StartDetached(const std::vector<std::string>& argv, const std::string& log_path,
                            const ProcessOptions& opts = {});

// Non-blocking: true when `pid` (a child of ours) has exited, reaping it.
bool Reap(pid_t pid);
// True when a process with this pid exists (any owner).
bool ProcessAlive(pid_t pid);

// Looks up an OS user (for running PostgreSQL unprivileged when we are root).
Result<RunAs> LookupUser(const std::string& name);

}  // namespace pgw
