#include "agent/pg_health.h"

#include <cstdlib>

#include "common/fs.h"
#include "common/process.h"
#include "pg/controller.h"
#include "pg/libpq.h"

namespace pgw {

std::string LocalHealthConninfo(const Config& cfg) {
  return SuperuserConninfo(cfg, LocalHost(cfg, RunningSocketDir(cfg.postgresql.data_dir)), cfg.postgresql.port);
}

bool PostmasterRunning(const std::string& data_dir) {
  auto pidfile = ReadFile(data_dir + "/postmaster.pid");
  if (!pidfile.ok()) return false;
  long pid = std::atol(pidfile->c_str());
  return pid > 0 && ProcessAlive(static_cast<pid_t>(pid));
}

std::string PasswordlessPing(const std::string& conninfo) {
  // libpq takes the last value of a repeated keyword. With an empty password libpq looks for one in the password
  // file: it must name no file that exists (a ~/.pgpass would offer the password), and not a device either (libpq
  // warned on stderr at every ping that /dev/null "is not a plain file"). /dev/null is no directory, so nothing
  // can exist below it: libpq's stat fails and it goes on without a password, silently.
  return conninfo + " password='' passfile=/dev/null/none sslmode=disable gssencmode=disable";
}

PgHealth::PgHealth(std::function<std::string()> conninfo, const Clock& clock, Logger& log)
    : conninfo_(std::move(conninfo)), clock_(clock), log_(log) {}

PgHealth::~PgHealth() { Stop(); }

void PgHealth::Start() {
  MarkOk();
  thread_ = std::thread([this] { Loop(); });
}

void PgHealth::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PgHealth::SetActive(bool active) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (active_ == active) return;
    active_ = active;
    if (active) MarkOk();
  }
  cv_.notify_all();
}

bool PgHealth::active() const {
  std::lock_guard<std::mutex> l(mu_);
  return active_;
}

bool PgHealth::Healthy() const { return clock_.Now() - LastOk() <= Bound(); }

void PgHealth::Loop() {
  bool was_healthy = true;
  PgConnection session;
  std::string conninfo, ping_conninfo;
  Duration session_bound(0);
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    if (!active_) {
      session.Close();  // a replica keeps no backend of ours busy
      was_healthy = true;
      cv_.wait(l, [&] { return stop_ || active_; });
      continue;
    }
    l.unlock();
    if (!session.connected() || conninfo.empty()) {  // a kept session needs no new look at where PostgreSQL is
      conninfo = conninfo_();
      ping_conninfo = PasswordlessPing(conninfo);
    }
    MonoTime started = clock_.Now();
    Duration bound = Bound();
    // The kept session's `SELECT 1` goes out before the ping and is answered while the ping waits for the
    // postmaster: one wait for both round trips instead of one after the other. Both are still required, and both
    // were sent after `started`, so the bound means what it meant.
    bool in_flight = session.connected() && session_bound == bound && session.SendQuery("SELECT 1").ok();
    PgPingResult ping = PgPing(ping_conninfo, bound);
    // A postmaster that answers at once but refuses connections (starting up, in crash recovery after a restart in
    // place) is not hung. Only silence counts against it (a SIGSTOPped or I/O-stalled postmaster does not answer).
    bool starting = ping == PgPingResult::kRejected;
    Status s;
    if (ping == PgPingResult::kOk) {
      if (in_flight) {
        auto r = session.AwaitQuery();
        if (!r.ok()) s = r.status();
      } else {
        if (!session.connected() || session_bound != bound) {
          session.Close();
          s = session.Connect(conninfo, bound);
          session_bound = bound;
        }
        if (s.ok()) {
          auto r = session.Query("SELECT 1");
          if (!r.ok()) s = r.status();
        }
      }
      if (!s.ok()) session.Close();
    } else {
      if (!starting) {
        s = Unavailable("the postmaster did not answer a connection attempt within " + std::to_string(bound.count()) +
                        " ms");
      }
      // Not waited for: the next check connects afresh.
      if (!starting || in_flight) session.Close();
    }
    if (s.ok() || starting) {
      // The check proves PostgreSQL answered after it was started: count from then, not from the answer.
      last_ok_ms_ = std::max(last_ok_ms_.load(), started.time_since_epoch().count());
    }
    bool healthy = Healthy();
    if (was_healthy && !healthy) {
      log_.Warn("PostgreSQL has not answered a health check for " + std::to_string(Bound().count()) +
                " ms: a primary stops renewing its lease" + (s.ok() ? "" : " (" + s.message() + ")"));
    } else if (!was_healthy && healthy) {
      log_.Info("PostgreSQL answers health checks again");
    }
    was_healthy = healthy;
    l.lock();
    cv_.wait_for(l, Interval(), [&] { return stop_ || !active_; });
  }
}

}  // namespace pgw
