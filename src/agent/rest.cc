#include "agent/rest.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

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
  uint64_t id;
  int fd;
  std::string in;
  std::string out;
  size_t out_off = 0;
  std::chrono::steady_clock::time_point deadline;
  bool responding = false;
  bool waiting = false;  // a deferred job is computing the answer
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Render(const HttpServerResponse& r) {
  std::string s = "HTTP/1.0 " + std::to_string(r.status) + " " + HttpReason(r.status) + "\r\n";
  if (r.status_line_only) return s + "\r\n";
  s += "Server: pgwarden\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " +
       std::to_string(r.body.size()) + "\r\nConnection: close\r\n";
  for (const auto& h : r.headers) s += h + "\r\n";
  s += "\r\n";
  return s + r.body;
}

// Parses a complete request from `buf`. Returns 0 when more bytes are needed, -status on a malformed request,
// 1 when `req` is complete.
int Parse(const std::string& buf, size_t max, HttpServerRequest* req) {
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
  size_t body_len = 0;
  if (req->headers.count("content-length")) {
    try {
      body_len = std::stoul(req->headers["content-length"]);
    } catch (const std::exception&) {
      return -400;
    }
  }
  if (end + 4 + body_len > max) return -413;
  if (buf.size() < end + 4 + body_len) return 0;
  req->body = buf.substr(end + 4, body_len);
  return 1;
}

}  // namespace

RestServer::RestServer(Handler handler, size_t max_request, Duration read_timeout)
    : handler_(std::move(handler)), max_request_(max_request), read_timeout_(read_timeout) {}

RestServer::~RestServer() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  for (int fd : wake_fd_) if (fd >= 0) close(fd);
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

void RestServer::Start() { thread_ = std::thread([this] { Loop(); }); }

void RestServer::Stop() {
  if (stop_.exchange(true)) return;
  if (wake_fd_[1] >= 0) {
    ssize_t ignored = write(wake_fd_[1], "x", 1);
    (void)ignored;
  }
  if (thread_.joinable()) thread_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

void RestServer::RunDeferred(uint64_t conn_id, std::function<HttpServerResponse()> job) {
  ++running_jobs_;
  workers_.erase(std::remove_if(workers_.begin(), workers_.end(),
                                [](std::thread& t) { return !t.joinable(); }),
                 workers_.end());
  workers_.emplace_back([this, conn_id, job = std::move(job)] {
    HttpServerResponse r = job();
    r.deferred = nullptr;
    {
      std::lock_guard<std::mutex> l(done_mu_);
      done_.emplace_back(conn_id, std::move(r));
    }
    --running_jobs_;
    ssize_t ignored = write(wake_fd_[1], "x", 1);
    (void)ignored;
  });
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
      pfds.push_back({c.fd, static_cast<short>(c.responding ? POLLOUT : c.waiting ? 0 : POLLIN), 0});
    }
    int n = poll(pfds.data(), pfds.size(), 200);
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
    if (pfds[1].revents & POLLIN) {
      while (conns.size() < kMaxConns) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        conns.push_back(Conn{next_id++, fd, "", "", 0, now + read_timeout_, false, false});
      }
    }
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      short re = i + 2 < pfds.size() && pfds[i + 2].fd == c.fd ? pfds[i + 2].revents : 0;
      if (!c.responding && !c.waiting && (re & (POLLIN | POLLHUP | POLLERR))) {
        char buf[8192];
        ssize_t r = read(c.fd, buf, sizeof buf);
        if (r <= 0) {
          if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          close(c.fd);
          c.fd = -1;
          continue;
        }
        c.in.append(buf, static_cast<size_t>(r));
        HttpServerRequest req;
        int p = Parse(c.in, max_request_, &req);
        if (p < 0) {
          HttpServerResponse resp{-p, "text/plain", std::string(HttpReason(-p)) + "\n", false, {}, {}};
          c.out = Render(resp);
          c.responding = true;
        } else if (p > 0) {
          HttpServerResponse resp = handler_(req);
          if (resp.deferred) {
            if (running_jobs_.load() >= kMaxDeferred) {
              c.out = Render(HttpServerResponse{503, "text/plain", "too many operations in progress\n", false, {}, {}});
              c.responding = true;
            } else {
              c.waiting = true;
              c.deadline = now + std::chrono::seconds(600);  // the job bounds itself; this is a backstop
              RunDeferred(c.id, std::move(resp.deferred));
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
        ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (w > 0) c.out_off += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || c.out_off >= c.out.size() ||
            now > c.deadline + read_timeout_) {
          close(c.fd);
          c.fd = -1;
        }
      }
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(), [](const Conn& c) { return c.fd < 0; }), conns.end());
  }
  for (auto& c : conns) close(c.fd);
}

}  // namespace pgw
