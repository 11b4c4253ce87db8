#include "net/http_client.h"

#include <algorithm>
#include <charconv>

#include "common/hostport.h"
#include "net/client_conn.h"
#include "net/http_response.h"
#include "net/tls.h"

namespace pgw {

namespace net {

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  auto bad = [&](const std::string& why) { return InvalidArgument("URL '" + url + "': " + why); };
  HttpUrl out;
  size_t sep = url.find("://");
  if (sep == std::string::npos) return bad("no scheme (http:// or https://)");
  std::string scheme = url.substr(0, sep);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (scheme == "https") {
    out.tls = true;
  } else if (scheme != "http") {
    return bad("scheme '" + scheme + "' is not http or https");
  }
  size_t start = sep + 3;
  size_t end = url.find_first_of("/?#", start);
  std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (authority.find('@') != std::string::npos) return bad("credentials in the URL are not supported");
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unclosed '[' in the host");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("unexpected text after the IPv6 address");
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  if (out.host.find_first_of(" \t\r\n") != std::string::npos) return bad("blank in the host");
  out.port = out.tls ? 443 : 80;
  if (!port.empty()) {
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || ptr != port.data() + port.size() || out.port < 1 || out.port > 65535) {
      return bad("port '" + port + "' is not 1..65535");
    }
  }
  if (end != std::string::npos && url[end] != '#') {
    out.target = url.substr(end, url.find('#', end) - end);
    if (out.target[0] == '?') out.target = "/" + out.target;
  }
  if (out.target.empty()) out.target = "/";
  if (out.target.find_first_of(" \t\r\n") != std::string::npos) return bad("blank in the path");
  return out;
}

std::string Origin(const HttpUrl& url) {
  return std::string(url.tls ? "https://" : "http://") + HostPort{url.host, url.port}.ToString();
}

Result<std::string> FormatHttpRequest(const HttpRequest& req, const HttpUrl& url) {
  auto clean = [](const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; };
  if (req.method.empty() || req.method.find_first_of(" \t\r\n") != std::string::npos) {
    return InvalidArgument("HTTP method '" + req.method + "' is not a token");
  }
  std::string out;
  out.reserve(160 + req.body.size());
  out.append(req.method).append(" ").append(url.target).append(" HTTP/1.1\r\nHost: ");
  out.append(HostPort{url.host, url.port}.ToString()).append("\r\n");
  bool has_type = false;
  for (const auto& [k, v] : req.headers) {
    if (k.empty() || !clean(k) || !clean(v) || k.find(':') != std::string::npos) {
      return InvalidArgument("HTTP header '" + k + "' cannot be sent (empty, or holds ':', CR or LF)");
    }
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "content-type") has_type = true;
    if (lower == "content-length" || lower == "host" || lower == "transfer-encoding") continue;  // ours
    out.append(k).append(": ").append(v).append("\r\n");
  }
  if (!has_type) out.append("Content-Type: application/json\r\n");
  if (!req.body.empty() || (req.method != "GET" && req.method != "HEAD")) {
    out.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
  }
  out.append("\r\n").append(req.body);
  return out;
}

}  // namespace net

namespace {

using Steady = std::chrono::steady_clock;

// `s` prefixed with the method and URL; for a call's timeout, the timeout too.
Status Describe(const Status& s, const HttpRequest& req, bool call = true) {
  std::string within =
      call && s.code() == Code::kTimeout ? " (call timeout " + std::to_string(req.timeout.count()) + " ms)" : "";
  return Status(s.code(), req.method + " " + req.url + ": " + s.message() + within);
}

}  // namespace

// The kept connection and what it was opened for. Invariant: `conn` (when set) is connected to (tls, host, port)
// with `tls_ctx`, idle between calls, and the server has not said it would close it.
struct HttpClient::State {
  std::unique_ptr<net::ClientConn> conn;
  bool tls = false;
  std::string host;
  int port = 0;
  std::string cacert, cert, key, key_password;  // what tls_ctx was built from
  bool verify = true;
  std::shared_ptr<const net::TlsContext> tls_ctx;  // kept across connections
  uint64_t connects = 0;

  // A connection for `url` and `req`'s TLS files: the kept one when it still fits and looks usable, else a new
  // one. `*reused` says which.
  Status Connect(const net::HttpUrl& url, const HttpRequest& req, net::Deadline deadline, bool* reused) {
    *reused = false;
    if (url.tls && (!tls_ctx || req.cacert != cacert || req.cert != cert || req.key != key ||
                    req.key_password != key_password || req.verify != verify)) {
      conn.reset();
      auto ctx = net::TlsContext::Client(req.verify, req.cacert, req.cert, req.key, req.key_password);
      if (!ctx.ok()) return ctx.status();
      tls_ctx = *ctx;
      cacert = req.cacert;
      cert = req.cert;
      key = req.key;
      key_password = req.key_password;
      verify = req.verify;
    }
    if (conn && url.tls == tls && url.host == host && url.port == port) {
      if (conn->Reusable()) {
        *reused = true;
        return Status::Ok();
      }
    }
    conn.reset();
    net::Deadline connect_deadline = std::min(deadline, Steady::now() + req.connect_timeout);
    auto c = net::ClientConn::Open(url.host, url.port, url.tls ? tls_ctx : nullptr, connect_deadline);
    if (!c.ok()) return c.status();
    ++connects;
    conn = std::move(*c);
    tls = url.tls;
    host = url.host;
    port = url.port;
    return Status::Ok();
  }

  // One exchange on a connection from Connect. Body bytes go to `sink`. On return, the connection is kept only
  // when the response ended and allows it. `*retry` is set when the failure allows sending again on a new
  // connection (a reused one closed before any byte of a response).
  // A stream (`stop` set) has no overall deadline: `deadline` moves to `idle` after each byte received.
  Status Exchange(const std::string& wire, net::HttpResponseParser& parser,
                  const net::HttpResponseParser::BodySink& sink, net::Deadline deadline, bool reused,
                  const std::atomic<bool>* stop, Duration idle, bool* retry) {
    *retry = false;
    std::string peer = conn->peer();
    Status s = conn->WriteAll(wire.data(), wire.size(), deadline);
    if (!s.ok()) {
      *retry = reused && s.code() == Code::kUnavailable;
      conn.reset();
      return s;
    }
    char buf[16384];
    bool any = false;
    while (parser.state() == net::HttpResponseParser::State::kHead ||
           parser.state() == net::HttpResponseParser::State::kBody) {
      if (stop != nullptr && stop->load()) break;
      // A stream wakes at least once a second to look at `stop`.
      net::Deadline until = stop != nullptr ? std::min(deadline, Steady::now() + std::chrono::seconds(1)) : deadline;
      auto n = conn->ReadSome(buf, sizeof buf, until);
      if (!n.ok()) {
        if (n.status().code() == Code::kTimeout && Steady::now() < deadline) continue;  // a stream's slice
        *retry = reused && !any && n.status().code() == Code::kUnavailable;
        conn.reset();
        return n.status();
      }
      if (*n == 0) {
        parser.Finish();
        if (!parser.done()) *retry = reused && !any;
        break;
      }
      any = true;
      size_t used = parser.Feed(buf, *n, sink);
      if (parser.done() && used < *n) {
        conn.reset();  // bytes past the response: the connection is out of step
        return Status::Ok();
      }
      if (stop != nullptr) deadline = Steady::now() + idle;
    }
    if (!parser.done() || !parser.keep_alive()) conn.reset();
    if (parser.state() == net::HttpResponseParser::State::kError) {
      return Unavailable("the answer of " + peer + " is not a valid HTTP response: " + parser.error());
    }
    return Status::Ok();
  }
};

HttpClient::HttpClient() : state_(std::make_unique<State>()) {}

HttpClient::~HttpClient() = default;

uint64_t HttpClient::connects() const { return state_->connects; }

Result<HttpResponse> HttpClient::Do(const HttpRequest& req) {
  net::Deadline deadline = Steady::now() + req.timeout;
  auto url = net::ParseHttpUrl(req.url);
  if (!url.ok()) return url.status();
  auto wire = net::FormatHttpRequest(req, *url);
  if (!wire.ok()) return wire.status();
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    Status s = state_->Connect(*url, req, deadline, &reused);
    if (!s.ok()) return Describe(s, req);
    HttpResponse resp;
    net::HttpResponseParser parser(req.method == "HEAD");
    bool retry = false;
    s = state_->Exchange(
        *wire, parser,
        [&](std::string_view b) {
          resp.body.append(b);
          return true;
        },
        deadline, reused, nullptr, Duration(0), &retry);
    if (retry && attempt == 0) continue;
    if (!s.ok()) return Describe(s, req);
    if (!parser.done()) return Describe(Unavailable(parser.error()), req);
    resp.status = parser.status();
    return resp;
  }
}

Status HttpClient::Stream(const HttpRequest& req, const std::function<bool(const char*, size_t)>& on_data,
                          const std::atomic<bool>& stop, Duration idle_timeout) {
  auto url = net::ParseHttpUrl(req.url);
  if (!url.ok()) return url.status();
  auto wire = net::FormatHttpRequest(req, *url);
  if (!wire.ok()) return wire.status();
  for (int attempt = 0;; ++attempt) {
    net::Deadline deadline = Steady::now() + idle_timeout;
    bool reused = false;
    Status s = state_->Connect(*url, req, deadline, &reused);
    if (!s.ok()) return stop.load() ? Status::Ok() : Describe(s, req, false);
    net::HttpResponseParser parser(false, 64 * 1024, /*max_body=*/0);
    bool retry = false;
    s = state_->Exchange(
        *wire, parser, [&](std::string_view b) { return on_data(b.data(), b.size()); }, deadline, reused, &stop,
        idle_timeout, &retry);
    state_->conn.reset();  // a stream's connection is never reused: its response may not have ended
    if (retry && attempt == 0 && !stop.load()) continue;
    if (stop.load() || parser.state() == net::HttpResponseParser::State::kStopped) return Status::Ok();
    if (!s.ok()) {
      if (s.code() == Code::kTimeout) {
        return Timeout("watch " + req.url + ": no data for " + std::to_string(idle_timeout.count()) + " ms");
      }
      return Describe(s, req, false);
    }
    return Unavailable("watch " + req.url + ": server closed the stream");
  }
}

}  // namespace pgw
