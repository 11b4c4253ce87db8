// Helpers shared by the sandbox's source files (sandbox.cc, sandbox_router.cc); not part of its interface.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/process.h"
#include "common/status.h"

namespace pgw::sandbox_internal {

// Sends `sig` to `pid` (if alive) and waits until it exited; true when it is gone.
bool StopPid(pid_t pid, int sig, Duration timeout);
Status ChownTree(const std::string& path, const std::optional<RunAs>& who);

}  // namespace pgw::sandbox_internal
