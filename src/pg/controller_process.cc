// The postmaster's life (pg/controller.h): start it and wait until it accepts connections, stop it with a
// signal that escalates until no process of the data directory is left, and promote it.
#include <signal.h>

#include <array>
#include <chrono>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "common/process.h"
#include "pg/controller.h"
#include "pg/fence.h"

namespace pgw {

std::string RunningSocketDir(const std::string& data_dir) {
  auto text = ReadFile(data_dir + "/postmaster.pid");
  if (!text.ok()) return "";
  std::istringstream in(*text);
  std::string line;
  for (int i = 1; i <= 5 && std::getline(in, line); ++i) {
    if (i == 5) return in.eof() && line.empty() ? "" : line;
  }
  return "";
}

Status PgController::Start(const std::optional<Upstream>& upstream, bool standby) {
  standby_ = standby || upstream.has_value();
  if (upstream && !upstream->address.host.empty()) {
    // A replica of a leader has nothing to gate; the marker may also have come along with pg_basebackup or
    // pg_rewind. A read-only start following nobody keeps it: a crashed primary may be promoted later.
    PGW_RETURN_IF_ERROR(RemoveAll(GatePath()));
  }
  PGW_RETURN_IF_ERROR(Launch(upstream));
  const auto& pg = cfg_->postgresql;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(pg.pg_ctl_timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto exited = PostmasterExited()) return IoError("postgres exited during start-up: " + *exited);
    // Evaluated per attempt: with use_unix_socket the socket directory comes from the new postmaster.pid.
    if (PgAcceptsConnections(LocalConninfo())) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Timeout("postgres did not accept connections within " + std::to_string(pg.pg_ctl_timeout) + " s");
}

std::optional<std::string> PgController::PostmasterExited() {
  if (child_pid_ <= 0 || !Reap(child_pid_)) return std::nullopt;
  child_pid_ = 0;
  auto tail = ReadFile(cfg_->postgresql.data_dir + "/pgwarden-postmaster.log");
  std::string last;
  if (tail.ok()) {
    std::istringstream in(*tail);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
  }
  return last;
}

Status PgController::Launch(const std::optional<Upstream>& upstream) {
  PGW_RETURN_IF_ERROR(WriteConfiguration(upstream));
  const auto& pg = cfg_->postgresql;
  if (!LivePostmaster(pg.data_dir)) {
    auto orphans = KillOrphanedBackends(pg.data_dir);
    if (!orphans.ok()) return orphans.status().Context("start");
    if (*orphans > 0)
      log_.Warn("killed " + std::to_string(*orphans) + " backends left running by a postmaster that died");
  }
  std::string log_path = pg.data_dir + "/pgwarden-postmaster.log";
  auto pid = StartDetached(
      {cfg_->PgBin("postgres"), "-D", pg.data_dir, "--config-file=" + pg.data_dir + "/postgresql.conf"}, log_path);
  if (!pid.ok()) return pid.status();
  child_pid_ = *pid;
  return Status::Ok();
}

Status PgController::Stop(StopMode mode) {
  conn_.Close();
  Status s = SignalPostmaster(mode);
  // Stopped means no process of the data directory is left, whatever the pid file said (missing, unreadable, or
  // naming a postmaster that died and left its backends running): kill what remains, fail if anything survives.
  auto left = FenceDataDir(cfg_->postgresql.data_dir);
  if (!left.ok()) return left.status().Context("stop");
  if (*left > 0) log_.Warn("stop: killed " + std::to_string(*left) + " processes left in the data directory");
  if (!s.ok()) log_.Warn(s.message() + "; no process of the data directory is left now");
  if (child_pid_ > 0 && Reap(child_pid_)) child_pid_ = 0;
  return Status::Ok();
}

Status PgController::SignalPostmaster(StopMode mode) {
  auto pid = LivePostmaster(cfg_->postgresql.data_dir);  // never signal a recycled pid named by a stale pid file
  if (!pid) return Status::Ok();
  int sig = mode == StopMode::kSmart ? SIGTERM : mode == StopMode::kFast ? SIGINT : SIGQUIT;
  auto wait_gone = [&](Duration d) {
    auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline) {
      if (*pid == child_pid_ && Reap(child_pid_)) {
        child_pid_ = 0;
        return true;
      }
      if (!ProcessAlive(*pid)) return true;
      // A planned switchover waits here with writes stopped: poll finely (a signal-0 probe costs microseconds).
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  kill(*pid, sig);
  if (wait_gone(Duration(cfg_->postgresql.pg_ctl_timeout * 1000))) return Status::Ok();
  log_.Warn("postgres did not stop within pg_ctl_timeout; escalating to immediate shutdown");
  kill(*pid, SIGQUIT);
  if (wait_gone(Duration(10000))) return Status::Ok();
  kill(*pid, SIGKILL);
  if (wait_gone(Duration(5000))) return Status::Ok();
  return Timeout("postgres (pid " + std::to_string(*pid) + ") did not stop");
}

Status PgController::Promote() {
  // pg_promote(true) checks only every 100 ms whether recovery ended, while writes wait: signal the promotion
  // and watch for its end every 5 ms instead (a promotion on an idle standby takes some tens of ms).
  auto r = Query("SELECT pg_promote(false)");
  if (!r.ok()) return r.status().Context("promote");
  if (r->empty() || r->front()[0].value_or("f") != "t") return Internal("promote: PostgreSQL did not take the request");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_->postgresql.pg_ctl_timeout);
  Status last = Status::Ok();
  while (std::chrono::steady_clock::now() < deadline) {
    auto q = Query("SELECT pg_is_in_recovery()");
    if (q.ok() && !q->empty() && q->front()[0].value_or("t") == "f") {
      standby_ = false;
      return Status::Ok();
    }
    if (!q.ok()) last = q.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Timeout("promote did not finish within pg_ctl_timeout (" + std::to_string(cfg_->postgresql.pg_ctl_timeout) +
                 " s)" + (last.ok() ? "" : ": " + last.message()));
}

// Here rather than next to Reload (controller.cc), which is long enough.
Result<bool> PgController::ReloadIfChanged(const std::optional<Upstream>& upstream) {
  const std::string& dir = cfg_->postgresql.data_dir;
  const std::array<std::string, 3> files = {dir + "/postgresql.conf", HbaFile(*cfg_, dyn_), IdentFile(*cfg_, dyn_)};
  auto read = [](const std::string& f) {
    auto t = ReadFile(f);
    return t.ok() ? *t : std::string();
  };
  std::array<std::string, 3> before;
  for (size_t i = 0; i < files.size(); ++i) before[i] = read(files[i]);
  PGW_RETURN_IF_ERROR(WriteConfiguration(upstream));
  bool changed = false;
  for (size_t i = 0; i < files.size(); ++i) changed = changed || read(files[i]) != before[i];
  if (!changed) return false;
  auto r = Query("SELECT pg_reload_conf()");
  if (!r.ok()) return r.status().Context("reload");
  return true;
}

}  // namespace pgw
