#include "dcs/etcd_client.h"

namespace pgw::etcd {

Client::Client(ClientOptions opts, Logger& log) : opts_(std::move(opts)), log_(log) {}

std::string Client::Url(size_t endpoint, const std::string& path) const {
  return opts_.protocol + "://" + opts_.endpoints[endpoint].ToString() + path;
}

std::string Client::CurrentEndpoint() const {
  std::lock_guard<std::mutex> l(mu_);
  return opts_.endpoints.empty() ? "" : opts_.protocol + "://" + opts_.endpoints[current_].ToString();
}

void Client::SkipEndpoint() {
  std::lock_guard<std::mutex> l(mu_);
  if (opts_.endpoints.size() > 1) {
    current_ = (current_ + 1) % opts_.endpoints.size();
    token_.clear();  // a token is per endpoint (Authenticate runs again)
  }
}

Status Client::Authenticate(size_t endpoint) {
  HttpRequest req;
  req.method = "POST";
  req.url = Url(endpoint, "/v3/auth/authenticate");
  req.body = Json{{"name", opts_.username}, {"password", opts_.password}}.dump();
  req.timeout = opts_.request_timeout;
  req.cacert = opts_.cacert;
  req.cert = opts_.cert;
  req.key = opts_.key;
  auto resp = http_.Do(req);
  if (!resp.ok()) return resp.status();
  Json j = Json::parse(resp->body, nullptr, false);
  if (resp->status != 200 && resp->body.find("authentication is not enabled") != std::string::npos) {
    if (!auth_off_) log_.Info("etcd: authentication is not enabled, calls go without a token");
    auth_off_ = true;
    token_.clear();
    return Status::Ok();
  }
  if (resp->status != 200 || j.is_discarded() || !j.contains("token") || !j.at("token").is_string()) {
    return InvalidArgument("etcd authentication as '" + opts_.username + "' failed: " + resp->body);
  }
  token_ = j.at("token").get<std::string>();
  auth_off_ = false;
  return Status::Ok();
}

Status Client::EnsureToken(size_t endpoint) {
  if (opts_.username.empty() || !token_.empty() || auth_off_) return Status::Ok();
  return Authenticate(endpoint);
}

Result<Json> Client::CallOnce(size_t endpoint, const std::string& path, const std::string& body, bool renewed) {
  PGW_RETURN_IF_ERROR(EnsureToken(endpoint));
  HttpRequest req;
  req.method = "POST";
  req.url = Url(endpoint, path);
  req.body = body;
  req.timeout = timeout_ms_.load() > 0 ? Duration(timeout_ms_.load()) : opts_.request_timeout;
  req.cacert = opts_.cacert;
  req.cert = opts_.cert;
  req.key = opts_.key;
  if (!token_.empty()) req.headers["Authorization"] = token_;
  auto resp = http_.Do(req);
  if (!resp.ok()) return resp.status();
  Json j = Json::parse(resp->body, nullptr, false);
  if (j.is_discarded()) {
    return Unavailable("etcd " + path + ": HTTP " + std::to_string(resp->status) + ", body is not JSON");
  }
  if (resp->status != 200) {
    std::string msg = j.is_object() && j.contains("message") && j.at("message").is_string()
                          ? j.at("message").get<std::string>()
                          : resp->body;
    // Refused for want of a valid token: the token expired or etcd forgot it (restart), or authentication was
    // enabled since etcd said it was off. One fresh token, one more try.
    bool stale = msg.find("invalid auth token") != std::string::npos;
    bool no_user = msg.find("user name is empty") != std::string::npos;
    if (stale || no_user) {
      token_.clear();
      auth_off_ = false;
      if (opts_.username.empty()) {
        return InvalidArgument("etcd " + path + ": " + msg +
                               ": etcd requires authentication (set etcd3.username and etcd3.password)");
      }
      if (!renewed) return CallOnce(endpoint, path, body, true);
    }
    if (msg.find("permission denied") != std::string::npos) {
      return InvalidArgument("etcd " + path + ": " + msg + " (etcd user '" + opts_.username + "')");
    }
    if (resp->status == 404 || resp->status == 400) {
      return Status(Code::kNotFound, "etcd " + path + ": " + msg);  // e.g. lease not found
    }
    return Unavailable("etcd " + path + ": HTTP " + std::to_string(resp->status) + ": " + msg);
  }
  return j;
}

Result<Json> Client::Call(const std::string& path, const std::string& body) {
  std::lock_guard<std::mutex> l(mu_);
  if (opts_.endpoints.empty()) return InvalidArgument("no etcd endpoints configured");
  Status last;
  for (size_t attempt = 0; attempt < opts_.endpoints.size(); ++attempt) {
    size_t ep = (current_ + attempt) % opts_.endpoints.size();
    auto r = CallOnce(ep, path, body);
    if (r.ok() || (r.status().code() != Code::kUnavailable && r.status().code() != Code::kTimeout)) {
      if (ep != current_) {
        log_.Info("etcd: switched to " + opts_.endpoints[ep].ToString());
        current_ = ep;
      }
      return r;
    }
    last = r.status();
    token_.clear();
  }
  return last;
}

Result<int64_t> Client::LeaseGrant(int64_t ttl_seconds) {
  auto j = Call("/v3/lease/grant", EncodeLeaseGrant(ttl_seconds));
  if (!j.ok()) return j.status();
  return DecodeLeaseGrant(*j);
}

Result<int64_t> Client::LeaseKeepAlive(int64_t id) {
  auto j = Call("/v3/lease/keepalive", EncodeLeaseIdText(id));
  if (!j.ok()) return j.status();
  return DecodeLeaseKeepAlive(*j);
}

Status Client::LeaseRevoke(int64_t id) {
  auto j = Call("/v3/lease/revoke", EncodeLeaseId(id));
  if (!j.ok()) return j.status();
  auto r = DecodeHeaderRevision(*j);
  return r.ok() ? Status::Ok() : r.status();
}

Result<RangeResponse> Client::Get(const std::string& key, bool serializable) {
  auto j = Call("/v3/kv/range", EncodeRange(key, "", serializable));
  if (!j.ok()) return j.status();
  return DecodeRange(*j);
}

Result<RangeResponse> Client::GetPrefix(const std::string& prefix, bool serializable) {
  auto j = Call("/v3/kv/range", EncodeRange(prefix, PrefixRangeEnd(prefix), serializable));
  if (!j.ok()) return j.status();
  return DecodeRange(*j);
}

Result<PrefixFingerprint> Client::Fingerprint(const std::string& prefix) {
  std::string body;
  {
    std::lock_guard<std::mutex> l(fingerprint_mu_);
    if (fingerprint_body_.empty() || fingerprint_prefix_ != prefix) {
      fingerprint_body_ = EncodeRangeFingerprint(prefix, PrefixRangeEnd(prefix)).dump();
      fingerprint_prefix_ = prefix;
    }
    body = fingerprint_body_;
  }
  auto j = Call("/v3/kv/range", body);
  if (!j.ok()) return j.status();
  return DecodeRangeFingerprint(*j);
}

Result<int64_t> Client::Put(const std::string& key, const std::string& value, int64_t lease) {
  auto j = Call("/v3/kv/put", EncodePut(key, value, lease));
  if (!j.ok()) return j.status();
  return DecodeHeaderRevision(*j);
}

Result<int64_t> Client::Delete(const std::string& key) {
  auto j = Call("/v3/kv/deleterange", EncodeDelete(key, ""));
  if (!j.ok()) return j.status();
  return DecodeHeaderRevision(*j);
}

Result<int64_t> Client::DeletePrefix(const std::string& prefix) {
  auto j = Call("/v3/kv/deleterange", EncodeDelete(prefix, PrefixRangeEnd(prefix)));
  if (!j.ok()) return j.status();
  return DecodeHeaderRevision(*j);
}

Result<TxnResponse> Client::Txn(const std::vector<Compare>& compares, const std::vector<Op>& success,
                                const std::vector<Op>& failure) {
  auto j = Call("/v3/kv/txn", EncodeTxn(compares, success, failure));
  if (!j.ok()) return j.status();
  return DecodeTxn(*j);
}

Status Client::WatchPrefix(const std::string& prefix, int64_t start_revision,
                           const std::function<bool(const WatchMessage&)>& on_message, const std::atomic<bool>& stop) {
  size_t ep;
  std::string token;
  {
    std::lock_guard<std::mutex> l(mu_);
    ep = current_;
    PGW_RETURN_IF_ERROR(EnsureToken(ep));
    token = token_;
  }
  HttpClient http;  // own connection: a watch holds it open
  HttpRequest req;
  req.method = "POST";
  req.url = Url(ep, "/v3/watch");
  req.body = EncodeWatchCreate(prefix, PrefixRangeEnd(prefix), start_revision).dump();
  req.cacert = opts_.cacert;
  req.cert = opts_.cert;
  req.key = opts_.key;
  if (!token.empty()) req.headers["Authorization"] = token;
  JsonStreamSplitter splitter;
  Status inner;
  auto on_data = [&](const char* data, size_t n) {
    std::vector<std::string> objects;
    inner = splitter.Feed(data, n, &objects);
    if (!inner.ok()) return false;
    for (const auto& o : objects) {
      Json j = Json::parse(o, nullptr, false);
      if (j.is_discarded()) {
        inner = InvalidArgument("etcd watch: message is not JSON");
        return false;
      }
      auto m = DecodeWatch(j);
      if (!m.ok()) {
        inner = m.status();
        return false;
      }
      if (!on_message(*m)) return false;
    }
    return true;
  };
  // Idle bound: etcd sends nothing on a quiet prefix, so the stream is re-created periodically (resuming from
  // the last revision) to notice silently dead connections.
  Status s = http.Stream(req, on_data, stop, Duration(30000));
  if (!inner.ok()) {
    if (inner.message().find("invalid auth token") != std::string::npos) {
      std::lock_guard<std::mutex> l(mu_);
      if (token_ == token) token_.clear();  // the next call or watch takes a fresh one
    }
    return inner;
  }
  return s;
}

}  // namespace pgw::etcd
