// The fence supervisor: a small process, started by the agent, that kills PostgreSQL when the agent stops
// vouching for its lease. It exists because a frozen or crashed agent cannot fence itself (docs/fencing.md).
//
// The agent writes one line per change on the supervisor's stdin (a pipe):
//   "arm <ms> [<pause_ms>]"  PostgreSQL may run as primary until <ms> on CLOCK_MONOTONIC (milliseconds); fence
//                then, or at once when a pause longer than <pause_ms> is detected (agent/pause_detector.h)
//   "disarm"     PostgreSQL is not a primary: nothing to enforce
//   "quit"       clean agent shutdown: exit without fencing
// The supervisor keeps the last deadline when the pipe closes (the agent died): it fences at that deadline, then
// exits. A restarted agent retires an old supervisor only once its own is armed with a valid deadline or PostgreSQL
// is not a primary, so no moment is left unguarded. SIGTERM makes the supervisor exit without fencing.
//
// While armed, the supervisor also watches the postmaster (a pidfd in its poll set): when the postmaster dies, the
// backends it leaves behind are killed at once (pg/fence.h KillOrphanedBackends). Such orphans keep running the
// statement they were in, and in asynchronous mode can still acknowledge a COMMIT, until they next wait.
// A fence that fails (a process of the data directory survives) keeps the supervisor armed and is retried.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/fence_wakeups.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"

namespace pgw {

// The supervisor's state machine, without I/O.
class FenceTimer {
 public:
  // Applies one protocol line. False (state unchanged) for a malformed line.
  bool Apply(std::string_view line);
  void OnEof() { eof_ = true; }
  void OnFenced() { armed_ = false; }
  // The pause that fences at once (default 1 s when the agent does not send one).
  Duration pause_threshold() const { return pause_threshold_; }
  // When the supervisor must fence; nullopt when disarmed.
  std::optional<MonoTime> FenceAt() const;
  // True when the supervisor has nothing left to do: told to quit, or the agent is gone and nothing is armed.
  bool Done() const { return quit_ || (eof_ && !armed_); }
  bool eof() const { return eof_; }

 private:
  bool armed_ = false;
  bool quit_ = false;
  bool eof_ = false;
  MonoTime deadline_{};
  Duration pause_threshold_{1000};
};

// How the supervisor reads time, samples CLOCK_BOOTTIME, kills a data directory's processes and sleeps between two
// looks at its clocks (tests inject all four; an empty `fence` is pg/fence.h's FenceDataDir, empty `wakeups` the
// kernel timers of agent/fence_wakeups.h, which need a real clock).
struct SupervisorSeams {
  const Clock& clock;
  std::function<int64_t()> boottime_ms;
  std::function<Result<int>(const std::string& data_dir)> fence;
  std::shared_ptr<FenceWakeups> wakeups = nullptr;
};

// The supervisor's main loop over `fd` (its stdin). Returns the exit code.
int RunFenceSupervisor(const std::string& data_dir, int fd, Logger& log);
int RunFenceSupervisor(const std::string& data_dir, int fd, Logger& log, const SupervisorSeams& seams);

// The agent's side: spawns the supervisor (this same binary, `--fence-supervisor DATA_DIR`) and talks to it.
// Thread-safe.
class FenceSupervisorClient {
 public:
  FenceSupervisorClient(std::string data_dir, Logger& log) : data_dir_(std::move(data_dir)), log_(log) {}
  ~FenceSupervisorClient();

  Status Start();
  // Sends "arm <deadline> <pause_threshold>"; respawns the supervisor if it died.
  void Arm(MonoTime deadline, Duration pause_threshold);
  void Disarm();
  // Clean shutdown: "quit", then reap.
  void Quit();
  // The agent exits while PostgreSQL may still run as primary: close the pipe without "quit", so that the
  // supervisor keeps the last deadline (and the postmaster watch) and fences then.
  void Detach();
  pid_t pid() const { return pid_; }
  // Supervisors of this data directory other than ours (left by an agent that died).
  std::vector<pid_t> Others() const;
  // SIGTERMs them (they exit without fencing).
  void RetireOthers();

 private:
  Status SpawnLocked();
  void SendLocked(const std::string& line);

  std::string data_dir_;
  Logger& log_;
  mutable std::mutex mu_;
  int fd_ = -1;
  pid_t pid_ = 0;
  std::string last_line_;
};

}  // namespace pgw
