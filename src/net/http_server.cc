#include "net/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "net/tls.h"

namespace pgw {

const char* HttpReason(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Unsupported method";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

namespace {

struct Conn {
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  bool ssl_wants_write = false;  // the TLS layer needs the socket writable to make progress
  std::string peer;
  std::string in;
  std::string out;
  size_t out_off = 0;
  std::chrono::steady_clock::time_point deadline;
  bool responding = false;
  bool waiting = false;  // a deferred job is computing the answer
  bool fresh = false;    // just accepted: read at once, the request has usually arrived with the connection
};

// Until the earliest connection deadline (a request's read timeout, a response's send timeout): with no
// connection open the server sleeps until a client, a finished job or Stop() wakes it, never on a timer.
int PollTimeoutMs(const std::vector<Conn>& conns, Duration read_timeout) {
  if (conns.empty()) return -1;
  auto first = std::chrono::steady_clock::time_point::max();
  for (const auto& c : conns) first = std::min(first, c.responding ? c.deadline + read_timeout : c.deadline);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(first - std::chrono::steady_clock::now());
  // One millisecond past the deadline, so that the turn that wakes finds it passed.
  return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, 60000));
}

void Drop(Conn& c) {
  if (c.ssl) {
    SSL_free(c.ssl);
    c.ssl = nullptr;
  }
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Render(const HttpServerResponse& r) {
  std::string s = "HTTP/1.0 " + std::to_string(r.status) + " " + HttpReason(r.status) + "\r\n";
  if (r.status_line_only) return s + "\r\n";
  s += "Server: pgwarden\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) +
       "\r\nConnection: close\r\n";
  for (const auto& h : r.headers) s += h + "\r\n";
  s += "\r\n";
  return s + r.body;
}

}  // namespace

int ParseHttpRequest(const std::string& buf, size_t max, HttpServerRequest* req) {
  auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return buf.size() > max ? -413 : 0;
  std::string head = buf.substr(0, end);
  size_t line_end = head.find("\r\n");
  std::string request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' ');
  size_t sp2 = request_line.find(' ', sp1 == std::string::npos ? 0 : sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos) return -400;
  req->method = request_line.substr(0, sp1);
  std::string target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto q = target.find('?');
  req->path = target.substr(0, q);
  if (q != std::string::npos) req->query = target.substr(q + 1);
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    std::string line = head.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      req->headers[Lower(line.substr(0, colon))] = v;
    }
    if (e == std::string::npos) break;
    pos = e + 2;
  }
  // Content-Length is 1*DIGIT (RFC 9110 §8.6), optionally followed by blanks; anything else ("-1", "12abc",
  // "+3") is refused rather than read as some number. The value is capped as it is read, so it cannot overflow.
  size_t body_len = 0;
  if (auto it = req->headers.find("content-length"); it != req->headers.end()) {
    std::string v = it->second;
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
    if (v.empty()) return -400;
    for (char c : v) {
      if (c < '0' || c > '9') return -400;
      if (body_len <= max) body_len = body_len * 10 + static_cast<size_t>(c - '0');
    }
  }
  if (body_len > max || end + 4 + body_len > max) return -413;
  if (buf.size() < end + 4 + body_len) return 0;
  req->body = buf.substr(end + 4, body_len);
  return 1;
}

RestServer::RestServer(Handler handler, size_t max_request, Duration read_timeout)
    : handler_(std::move(handler)), max_request_(max_request), read_timeout_(read_timeout) {}

RestServer::~RestServer() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int fd : wake_fd_)
    if (fd >= 0) close(fd);
}

Status RestServer::Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string h = host == "*" ? "0.0.0.0" : host;
  int rc = getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return InvalidArgument("restapi.listen: cannot resolve '" + host + "': " + gai_strerror(rc));
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int err = errno;
    freeaddrinfo(res);
    close(fd);
    return Unavailable("REST API cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(err));
  }
  freeaddrinfo(res);
  if (listen(fd, 64) != 0) {
    close(fd);
    return Unavailable("REST API listen failed: " + std::string(std::strerror(errno)));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                         : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fd_ = fd;
  if (pipe2(wake_fd_, O_CLOEXEC | O_NONBLOCK) != 0) return IoError("pipe failed");
  return Status::Ok();
}

void RestServer::Start() {
  for (int i = 0; i < kMaxDeferred; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  thread_ = std::thread([this] { Loop(); });
}

void RestServer::Stop() {
  if (stop_.exchange(true)) return;
  if (wake_fd_[1] >= 0) {
    ssize_t ignored = write(wake_fd_[1], "x", 1);
    (void)ignored;
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> l(jobs_mu_);
    workers_stop_ = true;
    jobs_.clear();  // not started: their connections are closed with the server
  }
  jobs_cv_.notify_all();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  if (ssl_ctx_) {
    SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
    ssl_ctx_ = nullptr;
  }
}

Status RestServer::EnableTls(const std::string& certfile, const std::string& keyfile, const std::string& cafile,
                             const std::string& verify_client, const std::string& keyfile_password) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Internal("cannot create a TLS context");
  auto fail = [&](const std::string& what) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    SSL_CTX_free(ctx);
    return InvalidArgument(what + ": " + buf);
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  const std::string& key = keyfile.empty() ? certfile : keyfile;
  if (Status s = net::LoadCertificateAndKey(ctx, certfile, key, keyfile_password); !s.ok()) {
    SSL_CTX_free(ctx);
    return s.Context("restapi.certfile/keyfile");
  }
  if (!cafile.empty() && SSL_CTX_load_verify_locations(ctx, cafile.c_str(), nullptr) != 1) {
    return fail("restapi.cafile " + cafile);
  }
  if (verify_client == "required") {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else if (verify_client == "optional") {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  ssl_ctx_ = ctx;
  return Status::Ok();
}

bool RestServer::RunDeferred(uint64_t conn_id, std::function<HttpServerResponse()> job) {
  {
    std::lock_guard<std::mutex> l(jobs_mu_);
    if (busy_ >= kMaxDeferred) return false;
    ++busy_;
    jobs_.emplace_back(conn_id, std::move(job));
  }
  jobs_cv_.notify_one();
  return true;
}

int RestServer::jobs_in_progress() const {
  std::lock_guard<std::mutex> l(jobs_mu_);
  return busy_;
}

void RestServer::WorkerLoop() {
  std::unique_lock<std::mutex> l(jobs_mu_);
  while (true) {
    jobs_cv_.wait(l, [&] { return workers_stop_ || !jobs_.empty(); });
    if (workers_stop_) return;
    auto [conn_id, job] = std::move(jobs_.front());
    jobs_.pop_front();
    l.unlock();
    HttpServerResponse r = job();
    r.deferred = nullptr;
    // The slot is freed before the answer is handed over: a client that got it may start its next operation at
    // once, and must not be refused 503 because this worker had not come back yet (it can be preempted right after
    // waking the server).
    l.lock();
    --busy_;
    l.unlock();
    {
      std::lock_guard<std::mutex> d(done_mu_);
      done_.emplace_back(conn_id, std::move(r));
    }
    ssize_t ignored = write(wake_fd_[1], "x", 1);
    (void)ignored;
    l.lock();
  }
}

void RestServer::Loop() {
  std::vector<Conn> conns;
  uint64_t next_id = 1;
  constexpr size_t kMaxConns = 256;
  while (!stop_) {
    std::vector<pollfd> pfds;
    pfds.push_back({wake_fd_[0], POLLIN, 0});
    pfds.push_back({listen_fd_, static_cast<short>(conns.size() < kMaxConns ? POLLIN : 0), 0});
    for (const auto& c : conns) {
      short ev = c.responding ? POLLOUT : c.waiting ? 0 : POLLIN;
      if (c.ssl_wants_write && !c.waiting) ev = POLLOUT;
      pfds.push_back({c.fd, ev, 0});
    }
    int n = poll(pfds.data(), pfds.size(), PollTimeoutMs(conns, read_timeout_));
    if (n < 0 && errno != EINTR) break;
    auto now = std::chrono::steady_clock::now();
    if (pfds[0].revents & POLLIN) {
      char drain[64];
      while (read(wake_fd_[0], drain, sizeof drain) > 0) {
      }
    }
    {
      std::lock_guard<std::mutex> l(done_mu_);
      for (auto& [id, resp] : done_) {
        for (auto& c : conns) {
          if (c.id == id && c.waiting) {
            c.out = Render(resp);
            c.waiting = false;
            c.responding = true;
            c.deadline = now + read_timeout_;
          }
        }
      }
      done_.clear();
    }
    // One connection per turn: a health checker opens one at a time, and a second accept4 would almost always
    // find nothing (a burst is served one per turn, poll answering at once while the backlog holds more).
    if (pfds[1].revents & POLLIN) {
      if (conns.size() < kMaxConns) {
        sockaddr_storage addr{};
        socklen_t alen = sizeof addr;
        int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
          Conn c;
          c.id = next_id++;
          c.fd = fd;
          c.fresh = true;
          c.deadline = now + read_timeout_;
          char host[INET6_ADDRSTRLEN] = "";
          if (addr.ss_family == AF_INET) {
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, host, sizeof host);
          } else if (addr.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, host, sizeof host);
          }
          c.peer = host;
          if (ssl_ctx_) {
            c.ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
            SSL_set_fd(c.ssl, fd);
            SSL_set_accept_state(c.ssl);
          }
          conns.push_back(std::move(c));
        }
      }
    }
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      short re = i + 2 < pfds.size() && pfds[i + 2].fd == c.fd ? pfds[i + 2].revents : 0;
      bool fresh = c.fresh;
      c.fresh = false;
      if (!c.responding && !c.waiting && (fresh || (re & (POLLIN | POLLOUT | POLLHUP | POLLERR)))) {
        char buf[8192];
        ssize_t r;
        if (c.ssl) {
          c.ssl_wants_write = false;
          int got = SSL_read(c.ssl, buf, sizeof buf);
          if (got <= 0) {
            int e = SSL_get_error(c.ssl, got);
            if (e == SSL_ERROR_WANT_READ) continue;
            if (e == SSL_ERROR_WANT_WRITE) {
              c.ssl_wants_write = true;
              continue;
            }
            Drop(c);
            continue;
          }
          r = got;
        } else {
          r = read(c.fd, buf, sizeof buf);
        }
        if (r <= 0) {
          if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          Drop(c);
          continue;
        }
        c.in.append(buf, static_cast<size_t>(r));
        HttpServerRequest req;
        int p = ParseHttpRequest(c.in, max_request_, &req);
        req.peer = c.peer;
        req.client_cert = c.ssl && SSL_get_verify_result(c.ssl) == X509_V_OK && SSL_get0_peer_certificate(c.ssl);
        if (p < 0) {
          HttpServerResponse resp{-p, "text/plain", std::string(HttpReason(-p)) + "\n", false, {}, {}};
          c.out = Render(resp);
          c.responding = true;
        } else if (p > 0) {
          HttpServerResponse resp = handler_(req);
          if (resp.deferred) {
            if (RunDeferred(c.id, std::move(resp.deferred))) {
              c.waiting = true;
              c.deadline = now + std::chrono::seconds(600);  // the job bounds itself; this is a backstop
            } else {
              c.out = Render(HttpServerResponse{503, "text/plain", "too many operations in progress\n", false, {}, {}});
              c.responding = true;
            }
          } else {
            c.out = Render(resp);
            c.responding = true;
          }
        }
      }
      if (c.fd >= 0 && !c.responding && !c.waiting && now > c.deadline) {
        c.out = Render(HttpServerResponse{408, "text/plain", "request timeout\n", false, {}, {}});
        c.responding = true;
      }
      if (c.fd >= 0 && c.responding) {
        ssize_t w;
        bool broken = false;
        if (c.ssl) {
          int put = SSL_write(c.ssl, c.out.data() + c.out_off, static_cast<int>(c.out.size() - c.out_off));
          w = put;
          if (put <= 0) {
            int e = SSL_get_error(c.ssl, put);
            broken = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
          }
        } else {
          w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
          broken = w < 0 && errno != EAGAIN && errno != EINTR;
        }
        if (w > 0) c.out_off += static_cast<size_t>(w);
        if (broken || c.out_off >= c.out.size() || now > c.deadline + read_timeout_) {
          if (c.ssl && !broken) SSL_shutdown(c.ssl);
          Drop(c);
        }
      }
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(), [](const Conn& c) { return c.fd < 0; }), conns.end());
  }
  for (auto& c : conns) Drop(c);
}

}  // namespace pgw
