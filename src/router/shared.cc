#include "router/shared.h"

namespace pgw::router {

std::shared_ptr<ServerLoad> ServerLoads::Get(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto& p = loads_[name];
  if (!p) p = std::make_shared<ServerLoad>();
  return p;
}

int64_t ServerLoads::Active(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = loads_.find(name);
  return it == loads_.end() ? 0 : it->second->active.load(std::memory_order_relaxed);
}

std::map<std::string, std::shared_ptr<ServerLoad>> ServerLoads::All() const {
  std::lock_guard<std::mutex> l(mu_);
  return loads_;
}

std::string CancelRegistry::MapKey(int32_t pid, const std::string& key) { return std::to_string(pid) + ":" + key; }

void CancelRegistry::Add(int32_t pid, const std::string& key, const HostPort& server) {
  std::lock_guard<std::mutex> l(mu_);
  map_[MapKey(pid, key)] = server;
}

void CancelRegistry::Remove(int32_t pid, const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  map_.erase(MapKey(pid, key));
}

std::optional<HostPort> CancelRegistry::Find(int32_t pid, const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(MapKey(pid, key));
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

size_t CancelRegistry::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return map_.size();
}

const char* CloseReasonName(CloseReason r) {
  switch (r) {
    case CloseReason::kClientClosed: return "client_closed";
    case CloseReason::kServerClosed: return "server_closed";
    case CloseReason::kProtocolViolation: return "protocol_violation";
    case CloseReason::kNoServer: return "no_server";
    case CloseReason::kServerNotWritable: return "server_not_writable";
    case CloseReason::kLeaderChanged: return "leader_changed";
    case CloseReason::kEtcdStale: return "etcd_stale";
    case CloseReason::kReplicaLeftPool: return "replica_left_pool";
    case CloseReason::kServerRefused: return "server_refused";
    case CloseReason::kCancelRequest: return "cancel_request";
    case CloseReason::kTlsFailed: return "tls_failed";
    case CloseReason::kTlsRequired: return "tls_required";
    case CloseReason::kShutdown: return "shutdown";
    case CloseReason::kCount: break;
  }
  return "unknown";
}

}  // namespace pgw::router
