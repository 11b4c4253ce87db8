// State the router's threads share: per-server connection counts (the read port's "least outstanding"), the
// cancel-key map, and the counters behind /stats and /metrics. All thread-safe; counters are relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/hostport.h"

namespace pgw::router {

// One server's connection counts, summed over every worker.
struct ServerLoad {
  std::atomic<int64_t> active{0};  // client sessions linked to this server now
  std::atomic<uint64_t> total{0};  // sessions ever linked
  std::atomic<uint64_t> bytes_to_server{0};
  std::atomic<uint64_t> bytes_to_client{0};
};

class ServerLoads {
 public:
  // The counters of `name`, created on first use; the pointer stays valid for the router's life.
  std::shared_ptr<ServerLoad> Get(const std::string& name);
  int64_t Active(const std::string& name) const;
  std::map<std::string, std::shared_ptr<ServerLoad>> All() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<ServerLoad>> loads_;
};

// BackendKeyData (pid + secret key, as the server sent them and the client holds them) -> the server that runs the
// backend, so that a CancelRequest arriving on any worker reaches it. In session mode the client holds the server's
// own key; a pooler will hand out its own keys and map them here too.
class CancelRegistry {
 public:
  void Add(int32_t pid, const std::string& key, const HostPort& server);
  void Remove(int32_t pid, const std::string& key);
  std::optional<HostPort> Find(int32_t pid, const std::string& key) const;
  size_t size() const;

 private:
  static std::string MapKey(int32_t pid, const std::string& key);
  mutable std::mutex mu_;
  std::map<std::string, HostPort> map_;
};

// Why a session ended or was refused: each has a counter and a label in /metrics.
enum class CloseReason {
  kClientClosed,
  kServerClosed,
  kProtocolViolation,
  kNoServer,           // nothing routable before the wait ran out
  kServerNotWritable,  // the leader stayed in recovery (in_hot_standby on) for the whole wait
  kLeaderChanged,      // the session's server no longer holds the leader key
  kEtcdStale,          // etcd unreadable for more than the ttl: writes stopped
  kReplicaLeftPool,    // read port: the session's server left the read pool (lag, state, tag, removed, promoted)
  kServerRefused,      // the server answered the start-up with an error
  kCancelRequest,      // a CancelRequest connection (forwarded or not), which always closes
  kTlsFailed,          // a TLS handshake (with the client or the server) failed, or the server refused TLS
  kTlsRequired,        // a client started in clear while client_tls_sslmode is require
  kShutdown,
  kCount
};
const char* CloseReasonName(CloseReason r);

// Counters of one worker (written by that worker only, read by the admin thread).
struct WorkerStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<int64_t> clients{0};  // client connections open now
  std::atomic<int64_t> waiting{0};  // of which waiting for a routable server
  std::atomic<uint64_t> bytes_to_server{0};
  std::atomic<uint64_t> bytes_to_client{0};
  std::atomic<uint64_t> routed_write{0};  // sessions linked to the leader (ReadyForQuery reached the client)
  std::atomic<uint64_t> routed_read{0};
  std::atomic<uint64_t> connect_failures{0};  // TCP connects to servers that failed or timed out
  std::atomic<uint64_t> startup_retries{0};   // server refused before the client saw anything: tried again
  std::atomic<uint64_t> recovery_queries{0};  // SELECT pg_is_in_recovery() sent (no in_hot_standby, or forced)
  std::atomic<uint64_t> cancels_forwarded{0};
  std::atomic<uint64_t> cancels_unknown{0};
  std::atomic<uint64_t> tls_clients{0};  // TLS handshakes completed with clients
  std::atomic<uint64_t> tls_servers{0};  // and with servers
  std::atomic<uint64_t> closed[static_cast<int>(CloseReason::kCount)] = {};
};

// Shared by all threads of one router.
struct RouterShared {
  ServerLoads loads;
  CancelRegistry cancels;
  // Time from a leader change (as the topology thread saw it) to the first session linked to the new leader, for the
  // latest leader epoch that got one; -1 before any.
  std::atomic<int64_t> reroute_ms{-1};
  std::atomic<uint64_t> reroute_epoch{0};
  // SIGHUP reloads applied, and refused because the new configuration had errors.
  std::atomic<uint64_t> reloads{0};
  std::atomic<uint64_t> reload_failures{0};
};

}  // namespace pgw::router
