#include "agent/callbacks.h"

#include <signal.h>
#include <unistd.h>

#include "common/process.h"

namespace pgw {

CallbackRunner::~CallbackRunner() {
  std::lock_guard<std::mutex> l(mu_);
  if (running_ > 0) Reap(running_);
}

void CallbackRunner::Fire(const std::string& command_line, const std::string& action, const std::string& role,
                          const std::string& scope) {
  if (command_line.empty()) return;
  auto argv = SplitCommandLine(command_line);
  if (!argv.ok()) {
    log_.Error("callback " + action + ": " + argv.status().message());
    return;
  }
  argv->insert(argv->end(), {action, role, scope});
  std::lock_guard<std::mutex> l(mu_);
  if (running_ > 0 && !Reap(running_)) {
    log_.Warn("killing the previous callback (pid " + std::to_string(running_) + "), still running");
    kill(running_, SIGKILL);
    for (int i = 0; i < 100 && !Reap(running_); ++i) usleep(10000);
  }
  running_ = 0;
  auto pid = StartDetached(*argv, "");
  if (!pid.ok()) {
    log_.Error("callback " + action + ": " + pid.status().message());
    return;
  }
  log_.Info("calling " + action + " callback: " + command_line + " " + action + " " + role + " " + scope);
  running_ = *pid;
}

bool CallbackRunner::RunSync(const std::string& command_line, const std::string& action, Duration timeout) {
  auto argv = SplitCommandLine(command_line);
  if (!argv.ok()) {
    log_.Error(action + ": " + argv.status().message());
    return false;
  }
  ProcessOptions o;
  o.timeout = timeout;
  o.on_line = [&](const std::string& line) { log_.Info(action + ": " + line); };
  auto r = Run(*argv, o);
  if (!r.ok()) {
    log_.Error(action + ": " + r.status().message());
    return false;
  }
  if (!r->Success()) {
    log_.Error(action + " script " + command_line + " failed: " + r->Describe());
    return false;
  }
  return true;
}

}  // namespace pgw
