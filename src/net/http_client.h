// A minimal HTTP/1.1 client over libcurl, for etcd's JSON gateway and for peers' REST APIs.
// Each call has a deadline. Thread-compatible: one HttpClient per thread, or external locking.
//
// A client keeps one connection and its request set-up between calls: the options that follow from the TLS
// files, the connect timeout and the method are applied once and kept while they stay the same, the URL and the
// header list only when they change. So a caller that sends the same kind of request again and again (the lease
// keeper's keepalives, the HA loop's reads) pays for the body and the exchange alone.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

struct HttpResponse {
  long status = 0;
  std::string body;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::string body;
  std::map<std::string, std::string> headers;
  Duration timeout = Duration(2000);
  Duration connect_timeout = Duration(1000);
  // TLS (etcd3.cacert/cert/key); empty = library defaults.
  std::string cacert, cert, key;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // kUnavailable when the peer cannot be reached, kTimeout when the deadline passed.
  Result<HttpResponse> Do(const HttpRequest& req);

  // Streams the response body to `on_data` until the server closes, `on_data` returns false, `stop` becomes true,
  // or no byte arrived for `idle_timeout`. Used for etcd watches. Returns the reason it ended.
  Status Stream(const HttpRequest& req, const std::function<bool(const char*, size_t)>& on_data,
                const std::atomic<bool>& stop, Duration idle_timeout);

  // How many times the request set-up was rebuilt from scratch (for tests: a repeated request reuses it).
  uint64_t setups() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pgw
