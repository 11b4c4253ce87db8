#include "router/topology_watcher.h"

namespace pgw::router {

namespace {

bool SameServers(const Topology& a, const Topology& b) {
  if (a.servers.size() != b.servers.size()) return false;
  for (size_t i = 0; i < a.servers.size(); ++i) {
    const ServerInfo& x = a.servers[i];
    const ServerInfo& y = b.servers[i];
    if (x.name != y.name || x.addr != y.addr || x.role != y.role || x.state != y.state || x.lag_bytes != y.lag_bytes ||
        x.noloadbalance != y.noloadbalance || x.leader != y.leader) {
      return false;
    }
  }
  return true;
}

// Whether the watch cache holds at least what a quorum read returned (as EtcdDcs::FreshCluster checks): it applied
// the read's revision, or its keys carry the same modification revisions (a quiet prefix).
bool CacheCovers(const WatchCache::Snapshot& snap, const etcd::RangeResponse& read) {
  if (!snap.ready) return false;
  if (snap.revision >= read.revision) return true;
  if (snap.kvs->size() != read.kvs.size()) return false;
  for (const auto& kv : read.kvs) {
    auto it = snap.kvs->find(kv.key);
    if (it == snap.kvs->end() || it->second.mod_revision != kv.mod_revision) return false;
  }
  return true;
}

}  // namespace

TopologyWatcher::TopologyWatcher(const etcd::ClientOptions& opts, std::string prefix, const Clock& clock, Logger& log,
                                 Publish publish, Duration probe_period)
    : prefix_(std::move(prefix)), clock_(clock), log_(log), publish_(std::move(publish)), probe_period_(probe_period) {
  // A quorum read must not hold the thread past the probe period for long: one endpoint try is bounded by it.
  etcd::ClientOptions reads = opts;
  reads.request_timeout = std::max(Duration(500), probe_period_);
  client_ = std::make_unique<etcd::Client>(reads, log_);
  cache_ = NewCache(opts);
  current_ = std::make_shared<Topology>();
}

std::unique_ptr<WatchCache> TopologyWatcher::NewCache(const etcd::ClientOptions& opts) {
  return std::make_unique<WatchCache>(opts, prefix_, log_, [this] {
    std::lock_guard<std::mutex> l(mu_);
    changed_ = true;
    cv_.notify_all();
  });
}

void TopologyWatcher::SetEtcd(etcd::ClientOptions opts) {
  std::lock_guard<std::mutex> l(mu_);
  pending_etcd_ = std::move(opts);
  changed_ = true;  // wake the thread
  cv_.notify_all();
}

void TopologyWatcher::TrySwitch(const etcd::ClientOptions& opts) {
  etcd::ClientOptions reads = opts;
  reads.request_timeout = std::max(Duration(500), probe_period_);
  auto client = std::make_unique<etcd::Client>(reads, log_);
  MonoTime sent = clock_.Now();
  auto read = client->GetPrefix(prefix_);
  std::string where;
  for (const auto& e : opts.endpoints) where += (where.empty() ? "" : ",") + opts.protocol + "://" + e.ToString();
  if (!read.ok()) {
    ++switch_failures_;
    log_.Warn("etcd " + where + " (reloaded): " + read.status().message() + "; still on the previous endpoints");
    std::lock_guard<std::mutex> l(mu_);
    if (!pending_etcd_) pending_etcd_ = opts;  // tried again at the next probe, unless replaced meanwhile
    return;
  }
  // The new endpoints answered a quorum read: from now on they are the only source. The old watch is stopped (its
  // thread ends within its own interrupt); the new one starts from a full read.
  client_ = std::move(client);
  auto old = std::move(cache_);
  cache_ = NewCache(opts);
  cache_->Start();
  old->Stop();
  ++switches_;
  fresh_at_ = sent;
  std::map<std::string, etcd::KeyValue> kvs;
  for (auto& kv : read->kvs) kvs[kv.key] = std::move(kv);
  Consider(BuildClusterView(prefix_, kvs, read->revision), /*force=*/true);
  log_.Info("etcd: now reading " + prefix_ + " from " + where);
}

TopologyWatcher::~TopologyWatcher() { Stop(); }

void TopologyWatcher::Start() {
  cache_->Start();
  thread_ = std::thread([this] { Run(); });
}

void TopologyWatcher::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  cache_->Stop();
}

std::shared_ptr<const Topology> TopologyWatcher::Current() const {
  std::lock_guard<std::mutex> l(cur_mu_);
  return current_;
}

void TopologyWatcher::Consider(const ClusterView& view, bool force) {
  auto prev = Current();
  auto t = std::make_shared<Topology>(BuildTopology(view));
  // lag_time is not compared below: it grows with the clock; the forced publish every probe period carries it.
  AddLagTimes(t.get(), &history_, clock_.Now());
  t->fresh_at = fresh_at_;
  t->leader_epoch = prev->leader_epoch;
  t->leader_changed_at = prev->leader_changed_at;
  bool content_changed =
      !prev->dcs_ready || prev->leader != t->leader || prev->ttl_seconds != t->ttl_seconds || !SameServers(*prev, *t);
  if (WriteTargetChanged(*prev, *t)) {
    ++t->leader_epoch;
    t->leader_changed_at = clock_.Now();
    ++leader_changes_;
    const ServerInfo* l = t->Leader();
    log_.Info("write target: " + (l && l->addr ? l->name + " at " + l->addr->ToString() : std::string("none")) +
              (t->leader ? "" : " (no leader key)"));
  }
  if (!content_changed && !force) return;
  if (content_changed) ++changes_;
  t->generation = prev->generation + 1;
  {
    std::lock_guard<std::mutex> l(cur_mu_);
    current_ = t;
  }
  publish_(t);
}

void TopologyWatcher::Run() {
  MonoTime next_probe = clock_.Now();
  MonoTime next_switch = clock_.Now();  // a pending switch is tried at once, then at most once per probe period
  // Every turn either reads etcd once (bounded by the client's timeout) or waits at most 100 ms.
  while (true) {
    bool watch_changed = false;
    std::optional<etcd::ClientOptions> switch_to;
    MonoTime now = clock_.Now();
    {
      std::unique_lock<std::mutex> l(mu_);
      if (stop_) break;
      watch_changed = changed_;
      changed_ = false;
      if (pending_etcd_ && now >= next_switch) {
        switch_to = std::move(pending_etcd_);
        pending_etcd_.reset();
      }
    }
    if (switch_to) {
      next_switch = now + probe_period_;
      TrySwitch(*switch_to);
      next_probe = clock_.Now() + probe_period_;
    } else if (now >= next_probe) {
      next_probe = now + probe_period_;
      MonoTime sent = clock_.Now();
      auto read = client_->GetPrefix(prefix_);
      if (read.ok()) {
        fresh_at_ = sent;
        auto snap = cache_->Get();
        if (CacheCovers(snap, *read)) {
          Consider(BuildClusterView(prefix_, *snap.kvs, snap.revision), /*force=*/true);
        } else {
          std::map<std::string, etcd::KeyValue> kvs;
          for (auto& kv : read->kvs) kvs[kv.key] = std::move(kv);
          Consider(BuildClusterView(prefix_, kvs, read->revision), /*force=*/true);
          // A watch that lags a quorum read for longer than one probe is moved to another endpoint.
          if (snap.ready && !cache_->WaitForRevision(read->revision, Duration(200))) cache_->Reconnect();
        }
      } else {
        if (read_failures_++ % 10 == 0) log_.Warn("etcd read of " + prefix_ + ": " + read.status().message());
      }
    } else if (watch_changed) {
      auto snap = cache_->Get();
      if (snap.ready) {
        fresh_at_ = clock_.Now();  // an event just arrived from etcd
        Consider(BuildClusterView(prefix_, *snap.kvs, snap.revision), /*force=*/false);
      }
    }
    // Tell the workers at once when the view turns stale (or fresh again), not only at the next connection.
    auto cur = Current();
    bool fresh = cur->dcs_ready && clock_.Now() - fresh_at_ <= std::chrono::seconds(cur->ttl_seconds);
    if (fresh != was_fresh_) {
      was_fresh_ = fresh;
      if (!fresh) {
        log_.Warn("etcd unreadable for more than the ttl (" + std::to_string(cur->ttl_seconds) +
                  " s): writes are not routed");
      } else {
        log_.Info("etcd read within the ttl: routing writes");
      }
      auto copy = std::make_shared<Topology>(*cur);
      copy->generation = cur->generation + 1;
      {
        std::lock_guard<std::mutex> l(cur_mu_);
        current_ = copy;
      }
      publish_(copy);
    }
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, Duration(100), [&] { return stop_ || changed_; });
  }
}

}  // namespace pgw::router
