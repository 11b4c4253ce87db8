// etcd v3 client over the JSON gateway (/v3/...), with several endpoints and failover between them.
//
// Authentication follows Patroni's client (dcs/etcd3.py): with etcd3.username and password set, a token is taken
// from /v3/auth/authenticate and sent with every call; an etcd without authentication enabled is used without one
// (and asked again when it starts refusing calls for want of a user); a token etcd no longer knows (expired, or
// forgotten by a restart: simple tokens live in its memory) is replaced and the call sent once more.
//
// Every call has a deadline (`request_timeout` per endpoint try; all endpoints are tried once per call before
// giving up). Thread-safe: calls from several threads are serialised per client; the watch uses its own connection.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/hostport.h"
#include "common/log.h"
#include "dcs/etcd_codec.h"
#include "net/http_client.h"

namespace pgw::etcd {

struct ClientOptions {
  std::vector<HostPort> endpoints;
  std::string protocol = "http";
  std::string username, password;
  std::string cacert, cert, key;
  Duration request_timeout = Duration(2000);
};

class Client {
 public:
  // Changes the per-try deadline of later calls (the lease client follows the TTL). Thread-safe.
  void SetRequestTimeout(Duration d) { timeout_ms_ = d.count(); }
  Client(ClientOptions opts, Logger& log);

  Result<int64_t> LeaseGrant(int64_t ttl_seconds);
  // Remaining TTL in seconds; kNotFound when the lease no longer exists.
  Result<int64_t> LeaseKeepAlive(int64_t id);
  Status LeaseRevoke(int64_t id);

  Result<RangeResponse> Get(const std::string& key, bool serializable = false);
  Result<RangeResponse> GetPrefix(const std::string& prefix, bool serializable = false);
  // A linearizable read of the prefix's key count and highest mod_revision (no values).
  Result<PrefixFingerprint> Fingerprint(const std::string& prefix);
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0);  // new revision
  Result<int64_t> Delete(const std::string& key);
  Result<int64_t> DeletePrefix(const std::string& prefix);
  Result<TxnResponse> Txn(const std::vector<Compare>& compares, const std::vector<Op>& success,
                          const std::vector<Op>& failure = {});

  // Blocks, delivering watch messages for keys under `prefix` from `start_revision` until `on_message` returns
  // false, `stop` is set, or the stream fails. Returns why it ended (Ok when stopped on purpose).
  Status WatchPrefix(const std::string& prefix, int64_t start_revision,
                     const std::function<bool(const WatchMessage&)>& on_message, const std::atomic<bool>& stop);

  // Any other v3 gateway call ("/v3/maintenance/status", "/v3/lease/timetolive", "/v3/cluster/member/list"): the
  // decoded JSON answer, with the same endpoint failover, authentication and deadline as the calls above.
  Result<Json> Raw(const std::string& path, const Json& body) { return Call(path, body); }

  // "http://127.0.0.1:2379" of the endpoint in use (for messages).
  std::string CurrentEndpoint() const;
  // Moves later calls and watches to the next endpoint (a watch found behind a quorum read). Thread-safe.
  void SkipEndpoint();

 private:
  Result<Json> Call(const std::string& path, const Json& body) { return Call(path, body.dump()); }
  // `body` is the request's JSON text, serialised once for every endpoint tried.
  Result<Json> Call(const std::string& path, const std::string& body);
  // One try on one endpoint; `renewed` once a fresh token was taken for it (a second refusal is final).
  Result<Json> CallOnce(size_t endpoint, const std::string& path, const std::string& body, bool renewed = false);
  // Takes a token when credentials are configured and authentication is on (as far as is known). Under mu_.
  Status EnsureToken(size_t endpoint);
  Status Authenticate(size_t endpoint);
  std::string Url(size_t endpoint, const std::string& path) const;

  ClientOptions opts_;
  Logger& log_;
  mutable std::mutex mu_;  // guards http_, current_, token_, auth_off_
  HttpClient http_;
  size_t current_ = 0;
  std::string token_;
  // etcd answered that authentication is not enabled: calls go without a token until it asks for one.
  bool auth_off_ = false;
  std::atomic<int64_t> timeout_ms_{0};  // 0: opts_.request_timeout
  // The fingerprint read is sent every HA cycle with the same body: kept serialised (issue 14, idle cost).
  std::mutex fingerprint_mu_;  // guards the two below
  std::string fingerprint_prefix_, fingerprint_body_;
};

}  // namespace pgw::etcd
