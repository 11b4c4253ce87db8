// The topology thread: watches /<namespace>/<scope>/ in etcd (the agents' watch cache) and proves the view fresh
// with a quorum read every `probe_period`; publishes an immutable Topology on every change, and when the freshness
// of the view crosses the ttl (so that workers stop routing writes at once, not at their next connection).
//
// Threading: Start()/Stop() from the owner; Current() from any thread; `publish` runs on the watcher's thread and
// must not block (workers Post() the snapshot to their loops).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "dcs/etcd_client.h"
#include "dcs/watch_cache.h"
#include "router/topology.h"

namespace pgw::router {

class TopologyWatcher {
 public:
  using Publish = std::function<void(std::shared_ptr<const Topology>)>;

  TopologyWatcher(const etcd::ClientOptions& opts, std::string prefix, const Clock& clock, Logger& log, Publish publish,
                  Duration probe_period = Duration(1000));
  ~TopologyWatcher();

  void Start();
  void Stop();
  std::shared_ptr<const Topology> Current() const;
  // Moves the quorum reads and the watch to other etcd endpoints or credentials (a SIGHUP reload). The new ones are
  // tried first with a quorum read of the prefix, on the watcher's thread; only once one succeeds does the watcher
  // switch (new watch cache, old one stopped), so that a mistyped endpoint does not cost the view the old ones
  // still give. Until then the attempt is repeated every probe period, with a warning. Any thread; a later call
  // replaces a pending one.
  void SetEtcd(etcd::ClientOptions opts);

  // Counters for /stats (any thread).
  uint64_t topology_changes() const { return changes_.load(); }
  uint64_t leader_changes() const { return leader_changes_.load(); }
  uint64_t etcd_read_failures() const { return read_failures_.load(); }
  uint64_t etcd_switches() const { return switches_.load(); }
  uint64_t etcd_switch_failures() const { return switch_failures_.load(); }  // tries whose quorum read failed

 private:
  void Run();
  // Builds a snapshot from `view` and publishes it when it differs from the current one (or `force`).
  void Consider(const ClusterView& view, bool force);
  // Tries the pending etcd options (SetEtcd) and switches to them when they answer. Watcher thread.
  void TrySwitch(const etcd::ClientOptions& opts);
  std::unique_ptr<WatchCache> NewCache(const etcd::ClientOptions& opts);

  std::string prefix_;
  const Clock& clock_;
  Logger& log_;
  Publish publish_;
  Duration probe_period_;
  std::unique_ptr<etcd::Client> client_;  // quorum reads
  std::unique_ptr<WatchCache> cache_;
  LeaderPositionHistory history_;  // watcher thread: when the leader's position advanced (replicas' lag_time)

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool changed_ = false;
  std::optional<etcd::ClientOptions> pending_etcd_;  // under mu_
  std::thread thread_;

  mutable std::mutex cur_mu_;
  std::shared_ptr<const Topology> current_;
  MonoTime fresh_at_{};
  bool was_fresh_ = false;
  std::atomic<uint64_t> changes_{0}, leader_changes_{0}, read_failures_{0}, switches_{0}, switch_failures_{0};
};

}  // namespace pgw::router
