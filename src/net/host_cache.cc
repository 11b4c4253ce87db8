#include "net/host_cache.h"

#include <thread>

#include "net/client_conn.h"
#include "net/socket.h"

namespace pgw::net {

struct HostAddressCache::Shared {
  std::mutex mu;
  std::map<std::string, Entry> entries;
  Resolver resolve;
};

HostAddressCache::HostAddressCache(const Clock& clock, Resolver resolve)
    : clock_(clock), shared_(std::make_shared<Shared>()) {
  if (!resolve) {
    resolve = [](const std::string& host) {
      return ResolveHost(host, std::chrono::steady_clock::now() + std::chrono::milliseconds(kWait));
    };
  }
  shared_->resolve = std::move(resolve);
}

HostAddressCache::~HostAddressCache() = default;

std::vector<std::string> HostAddressCache::Lookup(const std::string& host) {
  if (IsIpLiteral(host)) return {host};
  MonoTime now = clock_.Now();
  std::shared_ptr<Shared> shared = shared_;
  {
    std::lock_guard<std::mutex> l(shared->mu);
    auto it = shared->entries.find(host);
    if (it != shared->entries.end()) {
      Entry& e = it->second;
      if (now - e.at > kFresh && !e.refreshing) {
        e.refreshing = true;
        // The stale answer now; a new one behind it. The thread holds the shared state, not this object (nor
        // its clock): the new answer is dated from when its lookup started.
        try {
          std::thread([shared, host, now] {
            auto r = shared->resolve(host);
            std::lock_guard<std::mutex> l2(shared->mu);
            Entry& e2 = shared->entries[host];
            e2.addrs = r.ok() ? *r : std::vector<std::string>{};
            e2.at = now;
            e2.refreshing = false;
          }).detach();
        } catch (const std::system_error&) {
          e.refreshing = false;  // tried again at the next lookup
        }
      }
      return e.addrs;
    }
  }
  // First lookup of this name: wait for it (at most kWait with the default resolver).
  auto r = shared->resolve(host);
  std::lock_guard<std::mutex> l(shared->mu);
  Entry& e = shared->entries[host];
  e.addrs = r.ok() ? *r : std::vector<std::string>{};
  e.at = clock_.Now();
  return e.addrs;
}

}  // namespace pgw::net
