// One router worker: a thread running its own event loop, with its own listening sockets on the write and read
// ports (SO_REUSEPORT: the kernel spreads new connections over the workers). A client connection stays on the
// worker that accepted it for its whole life, together with its server connection.
//
// A session moves through named states, only through Move(), which counts each transition:
//   kStartup        reading the client's first packet (SSLRequest answered 'S' when client TLS is configured,
//                   else 'N'; GSSENCRequest 'N'; CancelRequest forwarded to the server that runs that backend,
//                   StartupMessage -> kWaiting)
//   kClientTls      TLS handshake with the client (non-blocking), then kStartup again inside TLS
//   kWaiting        looking for a routable server (topology changes and a 50 ms timer retry); after
//                   no_leader_wait the client gets an ErrorResponse
//   kConnecting     non-blocking TCP connect to the chosen server
//   kServerTls      server_tls_sslmode: SSLRequest sent, waiting for 'S'/'N', then the TLS handshake
//   kServerStartup  start-up packet sent; authentication relayed; the server's reply checked (ServerHandshake)
//   kAwaitWritable  write port: authenticated on the leader, which still reports in_hot_standby=on (or, when it
//                   reports none or recovery_check is query, answers true to SELECT pg_is_in_recovery()); probed
//                   until it is writable (then linked) or the wait runs out (then refused)
//   kRelaying       bytes relayed both ways unchanged
//   kClosing        an ErrorResponse is being flushed to the client before closing
// Threading: everything runs on the worker's thread except Start/Stop/SetTopology/SetConfig (any thread) and the
// stats.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "net/event_loop.h"
#include "pgwire/codec.h"
#include "router/config.h"
#include "router/handshake.h"
#include "router/shared.h"
#include "router/topology.h"

namespace pgw::router {

enum class Port { kWrite, kRead };

enum class SessionState {
  kStartup,
  kClientTls,
  kWaiting,
  kConnecting,
  kServerTls,
  kServerStartup,
  kAwaitWritable,
  kRelaying,
  kClosing,
  kCount
};
const char* SessionStateName(SessionState s);

class Worker {
 public:
  Worker(int index, std::shared_ptr<const RouterConfig> cfg, RouterShared& shared, const Clock& clock, Logger& log);
  ~Worker();

  // Creates the loop and binds this worker's listening sockets. Errors name the address.
  Status Init();
  void Start();
  void Stop();
  // Hands a new topology snapshot to the worker (any thread).
  void SetTopology(std::shared_ptr<const Topology> t);
  // Hands a reloaded configuration to the worker (any thread): the live settings apply to new routing decisions,
  // waits and connects, and the read sessions are checked again against the (maybe new) lag threshold. The
  // listening addresses are not re-bound.
  void SetConfig(std::shared_ptr<const RouterConfig> cfg);

  int index() const { return index_; }
  const WorkerStats& stats() const { return stats_; }
  int64_t lag_last_us() const { return loop_.lag_last_us(); }
  int64_t lag_max_us() const { return loop_.lag_max_us(); }
  uint64_t transitions(SessionState s) const { return transitions_[static_cast<int>(s)].load(); }
  int write_port() const { return write_port_; }
  int read_port() const { return read_port_; }

 private:
  struct Session;

  // Loop thread only, below.
  void OnAccept(int lfd, Port port);
  void OnClientEvent(uint64_t id, uint32_t ev);
  void OnServerEvent(uint64_t id, uint32_t ev);
  void ApplyTopology(std::shared_ptr<const Topology> t);
  void ApplyConfig(std::shared_ptr<const RouterConfig> cfg);
  // Closes the read-only sessions whose server left the read pool (ReadEvictionReason).
  void EvictReadSessions();
  ReadPolicy Policy() const {
    return ReadPolicy{cfg_->read_max_lag_bytes, cfg_->read_fallback_to_primary, cfg_->read_return_lag_bytes,
                      cfg_->read_max_lag_time};
  }
  // Recomputes lagging_ for the current topology and policy (NextLagging); worker 0 logs who left and returned.
  void UpdateLagging();
  void RetryWaiting();
  void ArmWaitTimer();

  void Move(Session& s, SessionState to, const std::string& reason);
  void OnClientStartupBytes(Session& s);
  void TryRoute(Session& s);
  void StartConnect(Session& s, const ServerInfo& server);
  void OnConnected(Session& s);
  void OnServerStartupBytes(Session& s, std::string_view bytes);
  void Link(Session& s);
  void Retry(Session& s, const std::string& why);
  void Probe(Session& s);
  void ForwardCancel(int32_t pid, const std::string& key);
  // TLS (worker_tls.cc): answers 'S' and starts the handshake; drives it on client events.
  void StartClientTls(Session& s);
  void ContinueClientTls(Session& s);
  // Sends SSLRequest to the connected server; reads its answer and drives the handshake on server events.
  void StartServerTls(Session& s);
  void ContinueServerTls(Session& s);
  void DropServer(Session& s);
  // Sends an ErrorResponse (FATAL) and closes once it is flushed (bounded by a timer). When the server's stream to
  // the client stopped inside a message, the error cannot be framed: the client is closed without it.
  void Refuse(Session& s, const std::string& sqlstate, const std::string& message, CloseReason reason);
  void Close(Session& s, CloseReason reason, const std::string& why);
  // Reads what `from` has (bounded per call) and writes it to `to`, keeping what does not fit in `pending`.
  // False when `from` reached EOF or failed.
  bool Relay(Session& s, bool from_client);
  // Writes pending bytes; false on a write error.
  bool FlushClient(Session& s);
  bool FlushServer(Session& s);
  void UpdateInterest(Session& s);
  // A TLS side holding decrypted bytes gets no readiness event for them: queue one.
  void KickIfPending(Session& s);
  std::set<std::string> Excluded(Session& s);

  int index_;
  std::shared_ptr<const RouterConfig> cfg_;  // loop thread only once started
  RouterShared& shared_;
  const Clock& clock_;
  Logger& log_;
  net::EventLoop loop_;
  std::thread thread_;
  int write_lfd_ = -1, read_lfd_ = -1;
  int write_port_ = 0, read_port_ = 0;
  std::shared_ptr<const Topology> topo_;
  // Replicas held out of the read pool for lag until they catch up (hysteresis). Every worker receives the same
  // topologies in the same order, so each computes the same set.
  std::set<std::string> lagging_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
  std::set<uint64_t> waiting_;
  net::EventLoop::TimerId wait_timer_ = 0;
  WorkerStats stats_;
  std::atomic<uint64_t> transitions_[static_cast<int>(SessionState::kCount)] = {};
};

}  // namespace pgw::router
