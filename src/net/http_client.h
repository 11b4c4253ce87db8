// A small HTTP/1.1 client for etcd's JSON gateway and peers' REST APIs, over net/client_conn (TCP, TLS through
// OpenSSL) and net/http_response (the parser). Each call has a deadline that bounds every step: name resolution,
// connect, TLS handshake, sending and receiving. No proxy is ever used.
//
// A client keeps its connection between calls when the server allows it (HTTP/1.1 keep-alive), so a caller that
// sends request after request to one server (the lease keeper's keepalives, the HA loop's reads) pays for one
// write, one wait and one read each. A kept connection the server has closed meanwhile is noticed before the
// request is sent (one poll); should the server close it as the request goes out, with no byte of a response
// received, the request is sent once more on a new connection (as libcurl did).
//
// Thread-compatible: one HttpClient per thread, or external locking.
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
  std::string url;  // http:// or https://, host as an IP literal or a name, optional port
  std::string body;
  // Sent as given; "Content-Type: application/json" unless a Content-Type is given.
  std::map<std::string, std::string> headers;
  Duration timeout = Duration(2000);          // the whole call
  Duration connect_timeout = Duration(1000);  // resolution, connect and TLS handshake (within `timeout`)
  // TLS (etcd3.cacert/cert/key, restapi certificates). The server's certificate must chain to `cacert` (the
  // system's store when empty) and name the URL's host; `cert` and `key` (both or neither) are presented when the
  // server asks for a client certificate; an encrypted `key` is decrypted with `key_password`.
  std::string cacert, cert, key, key_password;
  // false: the server's certificate is not checked at all (patronictl's --insecure / ctl.insecure).
  bool verify = true;
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // kUnavailable when the server cannot be reached or its answer is not HTTP (the message says why), kTimeout when
  // the deadline passed, kInvalidArgument for a URL or TLS file that cannot be used.
  Result<HttpResponse> Do(const HttpRequest& req);

  // Streams the response body (chunk framing removed; whatever the status) to `on_data` until the server ends
  // it, `on_data` returns false, `stop` becomes true, or no byte arrived for `idle_timeout`. `stop` is looked at
  // at least once a second. Used for etcd watches. Returns the reason it ended: Ok when stopped by `stop` or
  // `on_data`, kTimeout when idle, kUnavailable when the server or the network ended it.
  Status Stream(const HttpRequest& req, const std::function<bool(const char*, size_t)>& on_data,
                const std::atomic<bool>& stop, Duration idle_timeout);

  // Connections opened so far (for tests: a run of requests to a keep-alive server uses one).
  uint64_t connects() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

namespace net {

struct HttpUrl {
  bool tls = false;
  std::string host;    // without brackets
  int port = 0;        // 80 or 443 when the URL has none
  std::string target;  // path and query, "/" when empty
};
// "http://host:port/path?query" (a fragment is dropped). kInvalidArgument, naming the URL, for anything else
// (another scheme, credentials in the URL, a bad port).
Result<HttpUrl> ParseHttpUrl(const std::string& url);
// "http://host:port" or "https://host:port" (IPv6 hosts in brackets): where paths of the same server go.
std::string Origin(const HttpUrl& url);

// The bytes of a request: request line, Host, Content-Type (unless given), Content-Length (unless a GET or HEAD
// without a body), the caller's headers, then the body. Header names and values must not hold CR or LF
// (kInvalidArgument).
Result<std::string> FormatHttpRequest(const HttpRequest& req, const HttpUrl& url);

}  // namespace net
}  // namespace pgw
