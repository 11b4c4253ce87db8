// Keeps an in-memory copy of every key under one prefix: one range read, then a watch from that revision,
// resumed from the last seen revision after a disconnect (or re-read in full after a compaction).
//
// Runs its own thread. Snapshot() may be called from any thread and returns a consistent view at one revision.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "dcs/etcd_client.h"

namespace pgw {

class WatchCache {
 public:
  struct Snapshot {
    bool ready = false;  // false until the first full read succeeded
    int64_t revision = 0;
    std::shared_ptr<const std::map<std::string, etcd::KeyValue>> kvs;
  };

  // `on_change` is called (from the cache thread) after every applied change; keep it cheap (wake a loop).
  WatchCache(etcd::ClientOptions opts, std::string prefix, Logger& log, std::function<void()> on_change);
  ~WatchCache();

  void Start();
  void Stop();
  Snapshot Get() const;
  // Waits until the cache has applied `revision` (read-your-writes after our own put/txn). False on timeout.
  bool WaitForRevision(int64_t revision, Duration timeout) const;
  // Full re-reads so far: 1 after start, +1 after each compaction or cancelled watch. A reconnect that resumes
  // from the last revision does not count.
  int resyncs() const { return resyncs_.load(); }
  // Drops the watch and starts again, fully re-read, on the next endpoint: the view was found behind a quorum read
  // (an etcd member cut off from its peers still serves its old state to the watch; issue 10 item 8).
  void Reconnect();
  int reconnects() const { return reconnects_.load(); }

 private:
  void Run();
  Status Resync();

  etcd::ClientOptions opts_;
  std::string prefix_;
  Logger& log_;
  std::function<void()> on_change_;
  std::unique_ptr<etcd::Client> client_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupt_{false};  // ends the running watch: set by Stop and Reconnect
  std::atomic<bool> reconnect_{false};
  std::atomic<int> reconnects_{0};
  std::atomic<int> resyncs_{0};
  std::thread thread_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool ready_ = false;
  int64_t revision_ = 0;
  std::shared_ptr<const std::map<std::string, etcd::KeyValue>> kvs_;
};

}  // namespace pgw
