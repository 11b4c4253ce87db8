// Addresses of host names, remembered for a while: for checks that run on a server thread and must not wait on a
// resolver each time (the REST API's allowlist, whose entries and members' API hosts may be names, as in Patroni).
//
// Lookup answers from the cache while the answer is younger than kFresh. An older answer is returned as it is and a
// new lookup starts behind it (one at a time per name), so that only the first lookup of a name waits, and at most
// kWait. A name that did not resolve is remembered as "no address" for kFresh too. IP literals are answered as
// they are, without a lookup.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw::net {

class HostAddressCache {
 public:
  static constexpr Duration kFresh{30000};
  static constexpr Duration kWait{1000};
  using Resolver = std::function<Result<std::vector<std::string>>(const std::string& host)>;

  // `resolve` defaults to ResolveHost (net/client_conn.h) with kWait as its deadline.
  explicit HostAddressCache(const Clock& clock, Resolver resolve = nullptr);
  ~HostAddressCache();
  HostAddressCache(const HostAddressCache&) = delete;
  HostAddressCache& operator=(const HostAddressCache&) = delete;

  // Thread-safe. Empty when the name does not resolve (or not yet, within kWait).
  std::vector<std::string> Lookup(const std::string& host);

 private:
  struct Entry {
    std::vector<std::string> addrs;
    MonoTime at{};
    bool refreshing = false;
  };
  struct Shared;  // outlives this object while a background refresh runs

  const Clock& clock_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace pgw::net
