// Callbacks (postgresql.callbacks.on_start / on_stop / on_restart / on_reload / on_role_change) and the pre_promote
// hook, run as Patroni runs them: the configured command line, split like a POSIX shell would split words (quotes
// and backslashes, no expansion, no shell), followed by the arguments ACTION ROLE SCOPE.
//
// Callbacks run asynchronously, one at a time: a callback still running when the next one fires is killed, as in
// Patroni. pre_promote runs synchronously; a non-zero exit vetoes the promotion.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/shlex.h"
#include "common/status.h"

namespace pgw {

// The ROLE argument of a callback, in Patroni 4's words: `primary`, `standby_leader` (a node in recovery holding
// the leader key of a standby cluster) or `replica`.
inline const char* CallbackRole(bool primary, bool standby_leader) {
  return primary ? "primary" : standby_leader ? "standby_leader" : "replica";
}

class CallbackRunner {
 public:
  explicit CallbackRunner(Logger& log) : log_(log) {}
  ~CallbackRunner();

  // Fires `command_line ACTION ROLE SCOPE` in the background, killing a previous callback that still runs.
  void Fire(const std::string& command_line, const std::string& action, const std::string& role,
            const std::string& scope);
  // Runs `command_line` (no extra arguments, as Patroni runs pre_promote) and waits (bounded); true when it
  // exited 0. `what` names it in the log.
  bool RunSync(const std::string& command_line, const std::string& what, Duration timeout);

 private:
  Logger& log_;
  std::mutex mu_;
  pid_t running_ = 0;
};

}  // namespace pgw
