// PostgreSQL health for the lease (issue 10 item 4): a primary whose PostgreSQL hangs (postmaster SIGSTOPped, I/O
// stall) must not keep the leader key. Its own thread checks every Interval(), with a connect and statement
// timeout, that
//   * the postmaster answers a new connection (a frozen postmaster still lets existing sessions answer, so a kept
//     session alone proves nothing): a PQping that offers no password, so the server's authentication request
//     is the answer and neither side pays a SCRAM key derivation every interval;
//   * a kept session answers `SELECT 1` (backends, shared memory and locks work); it is reconnected when lost.
//     The query is sent before the ping and read after it, so the two round trips overlap (issue 14).
// A postmaster that answers "starting up" (57P03) counts as healthy: how long a start may take is
// primary_start_timeout's business, as in Patroni. Healthy() is true while the last success is at most Bound()
// old; the agent closes the lease renew gate of an armed primary when it is not, so the lease lapses and the
// fence fires.
//
//   bound    = max(1 s, ttl / 2)
//   interval = min(1 s, bound / 4)
//   timeout  = bound (per connect and per statement; libpq's connect_timeout is at least 2 s)
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"

namespace pgw {

// The superuser conninfo of the local PostgreSQL (as the controller connects; with use_unix_socket, in the socket
// directory the running postmaster names).
std::string LocalHealthConninfo(const Config& cfg);
// `conninfo` for a ping that must not authenticate: no password (nor a password file), no TLS or GSS handshake.
std::string PasswordlessPing(const std::string& conninfo);
// Whether the postmaster of `data_dir` runs (its pid file names a live process; a stopped one counts as live).
bool PostmasterRunning(const std::string& data_dir);

class PgHealth {
 public:
  // `conninfo` is asked again whenever a check needs a new session (where the local PostgreSQL listens may change
  // with a restart).
  PgHealth(std::function<std::string()> conninfo, const Clock& clock, Logger& log);
  PgHealth(const std::string& conninfo, const Clock& clock, Logger& log)
      : PgHealth([conninfo] { return conninfo; }, clock, log) {}
  ~PgHealth();

  void Start();
  void Stop();
  void SetTtl(int ttl_s) { ttl_s_ = ttl_s; }
  Duration Bound() const { return Duration(std::max<int64_t>(1000, int64_t{ttl_s_.load()} * 500)); }
  Duration Interval() const { return std::min(Duration(1000), Bound() / 4); }
  // Whether a check succeeded within Bound().
  bool Healthy() const;
  MonoTime LastOk() const { return MonoTime(Duration(last_ok_ms_.load())); }
  // Counts now as a success: at the start, and when the fence is armed (a new primary gets one bound to prove
  // itself, however long initdb or the start took before it).
  void MarkOk() { last_ok_ms_ = clock_.Now().time_since_epoch().count(); }
  // Checks run only while active: Healthy() matters only to an armed primary (the renew gate and failsafe ask it
  // only then), so replicas pay no ping. Activating counts as a success (MarkOk) and checks at once; deactivating
  // closes the kept session after the check in progress. Inactive at construction.
  void SetActive(bool active);
  bool active() const;

 private:
  void Loop();

  std::function<std::string()> conninfo_;
  const Clock& clock_;
  Logger& log_;
  std::atomic<int> ttl_s_{30};
  std::atomic<int64_t> last_ok_ms_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool active_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace pgw
