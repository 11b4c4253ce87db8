#include "dcs/watch_cache.h"

namespace pgw {

WatchCache::WatchCache(etcd::ClientOptions opts, std::string prefix, Logger& log, std::function<void()> on_change)
    : opts_(std::move(opts)),
      prefix_(std::move(prefix)),
      log_(log),
      on_change_(std::move(on_change)),
      client_(std::make_unique<etcd::Client>(opts_, log)),
      kvs_(std::make_shared<std::map<std::string, etcd::KeyValue>>()) {}

WatchCache::~WatchCache() { Stop(); }

void WatchCache::Start() {
  thread_ = std::thread([this] { Run(); });
}

void WatchCache::Reconnect() {
  reconnect_ = true;
  interrupt_ = true;
  cv_.notify_all();
}

void WatchCache::Stop() {
  stop_ = true;
  interrupt_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

WatchCache::Snapshot WatchCache::Get() const {
  std::lock_guard<std::mutex> l(mu_);
  return Snapshot{ready_, revision_, kvs_};
}

bool WatchCache::WaitForRevision(int64_t revision, Duration timeout) const {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, timeout, [&] { return stop_.load() || (ready_ && revision_ >= revision); }) &&
         revision_ >= revision;
}

Status WatchCache::Resync() {
  auto r = client_->GetPrefix(prefix_);
  if (!r.ok()) return r.status();
  auto m = std::make_shared<std::map<std::string, etcd::KeyValue>>();
  for (auto& kv : r->kvs) (*m)[kv.key] = std::move(kv);
  {
    std::lock_guard<std::mutex> l(mu_);
    kvs_ = std::move(m);
    revision_ = r->revision;
    ready_ = true;
    ++resyncs_;  // counted before the read is visible, so a WaitForRevision that returns sees it
  }
  cv_.notify_all();
  if (on_change_) on_change_();
  return Status::Ok();
}

void WatchCache::Run() {
  bool need_resync = true;
  int failures = 0;
  while (!stop_) {
    Status s;
    if (reconnect_.exchange(false)) {
      interrupt_ = stop_.load();
      client_->SkipEndpoint();
      ++reconnects_;
      need_resync = true;  // the old endpoint's revision may be behind: read everything again
      log_.Warn("etcd watch of " + prefix_ + ": reconnecting to " + client_->CurrentEndpoint());
    }
    if (need_resync) {
      s = Resync();
      if (s.ok()) need_resync = false;
    }
    if (s.ok()) {
      int64_t from;
      {
        std::lock_guard<std::mutex> l(mu_);
        from = revision_ + 1;
      }
      s = client_->WatchPrefix(
          prefix_, from,
          [&](const etcd::WatchMessage& m) {
            if (m.compact_revision > 0 || m.canceled) {
              need_resync = true;
              return false;
            }
            failures = 0;
            if (m.events.empty()) {
              // progress notification / creation: only the revision moves (only forward).
              std::lock_guard<std::mutex> l(mu_);
              if (m.revision > revision_ && m.created == false) revision_ = m.revision;
              return true;
            }
            auto next = std::make_shared<std::map<std::string, etcd::KeyValue>>(*Get().kvs);
            int64_t rev = 0;
            for (const auto& ev : m.events) {
              if (ev.type == etcd::Event::Type::kDelete)
                next->erase(ev.kv.key);
              else
                (*next)[ev.kv.key] = ev.kv;
              rev = std::max(rev, ev.kv.mod_revision);
            }
            {
              std::lock_guard<std::mutex> l(mu_);
              kvs_ = std::move(next);
              revision_ = std::max({revision_, rev, m.revision});
            }
            cv_.notify_all();
            if (on_change_) on_change_();
            return true;
          },
          interrupt_);
    }
    if (stop_) break;
    if (reconnect_) continue;
    if (!s.ok()) {
      ++failures;
      if (failures == 1 || failures % 30 == 0) log_.Warn("etcd watch of " + prefix_ + ": " + s.message());
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, Duration(std::min(1000, 100 * failures)), [&] { return stop_.load(); });
    }
  }
}

}  // namespace pgw
