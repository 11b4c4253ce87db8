// The agent's configuration snapshot and its reload (SIGHUP, POST /reload, as Patroni re-reads patroni.yml).
//
// ConfigCell holds the snapshot in force. Any thread reads it without a lock; only the HA loop thread publishes a
// new one, at the start of a cycle, so everything the loop does within a cycle sees one snapshot. Snapshots are
// kept until the cell is destroyed: a reference a REST handler took into the old one stays valid across a reload
// (a reload is an operator's action, so the few kilobytes each one keeps do not add up).
//
// ConfigReloader reads the configuration again with the loader given at start (same path, same PATRONI_*
// environment as the agent was started with) and parks a valid result for the HA loop to take.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"

namespace pgw {

class ConfigCell {
 public:
  explicit ConfigCell(std::shared_ptr<const Config> first) : cur_(first.get()) { all_.push_back(std::move(first)); }

  // Any thread.
  const Config* get() const { return cur_.load(std::memory_order_acquire); }
  const Config* operator->() const { return get(); }
  const Config& operator*() const { return *get(); }
  // The snapshot in force, shared (for components that keep their own pointer: the PostgreSQL controller).
  std::shared_ptr<const Config> shared() const {
    std::lock_guard<std::mutex> l(mu_);
    return all_.back();
  }
  // The HA loop thread only.
  void Publish(std::shared_ptr<const Config> next) {
    std::lock_guard<std::mutex> l(mu_);
    all_.push_back(std::move(next));
    cur_.store(all_.back().get(), std::memory_order_release);
  }

 private:
  mutable std::mutex mu_;                           // guards all_
  std::vector<std::shared_ptr<const Config>> all_;  // every snapshot published, the one in force last
  std::atomic<const Config*> cur_;
};

class ConfigReloader {
 public:
  using Loader = std::function<LoadResult()>;

  // Thread-safe. Without a loader, Load reads nothing and reports no error.
  void SetLoader(Loader loader) {
    std::lock_guard<std::mutex> l(mu_);
    loader_ = std::move(loader);
  }
  // Reads the configuration (file I/O: never on an event loop thread). Returns its errors; when there are none the
  // new snapshot waits for TakePending (a later Load replaces one not taken yet). `warnings` gets the loader's.
  std::vector<std::string> Load(std::vector<std::string>* warnings) {
    Loader loader;
    {
      std::lock_guard<std::mutex> l(mu_);
      loader = loader_;
    }
    if (!loader) return {};
    LoadResult r = loader();
    if (warnings) *warnings = r.warnings;
    if (!r.errors.empty()) return r.errors;
    std::lock_guard<std::mutex> l(mu_);
    pending_ = r.config;
    return {};
  }
  // The snapshot Load read, once (nullptr: none waiting).
  std::shared_ptr<const Config> TakePending() {
    std::lock_guard<std::mutex> l(mu_);
    return std::exchange(pending_, nullptr);
  }

 private:
  std::mutex mu_;  // guards loader_ and pending_
  Loader loader_;
  std::shared_ptr<const Config> pending_;
};

}  // namespace pgw
