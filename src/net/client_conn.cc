#include "net/client_conn.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "net/socket.h"

namespace pgw::net {

namespace {

int MillisLeft(Deadline deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

std::string Addr(const std::string& host, int port) { return HostPort{host, port}.ToString(); }

// OpenSSL writes to the socket with write(2), which raises SIGPIPE when the server has gone: fatal in a process that
// does not ignore it (pgwardenctl). While alive, this blocks SIGPIPE in the calling thread and then discards one it
// caused (the technique of libpq's pq_block_sigpipe). Only TLS connections need it: plain sends use MSG_NOSIGNAL.
class SigpipeGuard {
 public:
  explicit SigpipeGuard(bool active) : active_(active) {
    if (!active_) return;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (!active_) return;
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      timespec zero{0, 0};
      int saved = errno;
      sigtimedwait(&pipe, nullptr, &zero);
      errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  bool active_;
  bool was_pending_ = false;
  sigset_t old_;
};

}  // namespace

Result<std::vector<std::string>> ResolveHost(const std::string& host, Deadline deadline) {
  if (IsIpLiteral(host)) return std::vector<std::string>{host};
  // getaddrinfo has no deadline of its own: it runs on a detached thread that owns its state with us, and a caller
  // whose deadline passes leaves it to finish alone.
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int rc = 0;
    std::vector<std::string> addrs;
  };
  auto shared = std::make_shared<Shared>();
  try {
    std::thread([shared, host] {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
      std::vector<std::string> addrs;
      for (addrinfo* a = res; rc == 0 && a != nullptr; a = a->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {};
        const void* src = a->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
        if ((a->ai_family == AF_INET || a->ai_family == AF_INET6) && inet_ntop(a->ai_family, src, buf, sizeof buf)) {
          if (std::find(addrs.begin(), addrs.end(), buf) == addrs.end()) addrs.emplace_back(buf);
        }
      }
      if (res != nullptr) freeaddrinfo(res);
      std::lock_guard<std::mutex> l(shared->mu);
      shared->done = true;
      shared->rc = rc;
      shared->addrs = std::move(addrs);
      shared->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return Unavailable("resolving " + host + ": cannot start a thread: " + e.what());
  }
  std::unique_lock<std::mutex> l(shared->mu);
  if (!shared->cv.wait_until(l, deadline, [&] { return shared->done; })) {
    return Timeout("resolving " + host + ": no answer in time");
  }
  if (shared->rc != 0) return Unavailable("resolving " + host + ": " + gai_strerror(shared->rc));
  if (shared->addrs.empty()) return Unavailable("resolving " + host + ": no IPv4 or IPv6 address");
  return shared->addrs;
}

Result<std::unique_ptr<ClientConn>> ClientConn::Open(const std::string& host, int port,
                                                     std::shared_ptr<const TlsContext> tls, Deadline connect_deadline) {
  auto addrs = ResolveHost(host, connect_deadline);
  if (!addrs.ok()) return addrs.status();
  Status last;
  for (size_t i = 0; i < addrs->size(); ++i) {
    const std::string& a = (*addrs)[i];
    // Each address gets an equal share of the time left, so one that swallows packets leaves time for the next.
    auto now = std::chrono::steady_clock::now();
    Deadline until =
        connect_deadline <= now ? now : now + (connect_deadline - now) / static_cast<int64_t>(addrs->size() - i);
    auto fd = ConnectStart(HostPort{a, port});
    if (!fd.ok()) {
      last = Unavailable(fd.status().message());
      continue;
    }
    std::unique_ptr<ClientConn> c(new ClientConn(*fd, Addr(a, port)));
    if (!c->Wait(POLLOUT, until)) {
      last = Timeout("connect to " + Addr(a, port) + ": no answer in time");
      continue;
    }
    if (int err = ConnectResult(*fd); err != 0) {
      last = Unavailable("connect to " + Addr(a, port) + ": " + std::strerror(err));
      continue;
    }
    int one = 1;
    setsockopt(*fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (tls) PGW_RETURN_IF_ERROR(c->Handshake(std::move(tls), host, connect_deadline));
    return c;
  }
  return last;
}

ClientConn::~ClientConn() {
  tls_.reset();  // no close_notify: the server owes us nothing, and sending it could block
  close(fd_);
}

bool ClientConn::Wait(short events, Deadline deadline) const {
  for (;;) {
    pollfd p{fd_, events, 0};
    int r = poll(&p, 1, MillisLeft(deadline));
    if (r > 0) return true;  // ready, or an error the next call reports
    if (r == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      continue;  // woke a little early (millisecond rounding)
    }
    if (errno != EINTR) return true;
  }
}

Status ClientConn::Handshake(std::shared_ptr<const TlsContext> tls, const std::string& host, Deadline deadline) {
  tls_ = std::make_unique<TlsConn>(std::move(tls), fd_, /*server_side=*/false, host);
  SigpipeGuard guard(true);
  for (;;) {
    TlsConn::Step s = tls_->Handshake();
    if (s == TlsConn::Step::kDone) return Status::Ok();
    if (s == TlsConn::Step::kFailed) return Unavailable("TLS with " + peer_ + ": " + tls_->error());
    if (!Wait(s == TlsConn::Step::kWantRead ? POLLIN : POLLOUT, deadline)) {
      return Timeout("TLS with " + peer_ + ": the handshake did not finish in time");
    }
  }
}

Status ClientConn::WriteAll(const char* data, size_t n, Deadline deadline) {
  SigpipeGuard guard(tls_ != nullptr);
  size_t done = 0;
  while (done < n) {
    ssize_t w = StreamWrite(fd_, tls_.get(), data + done, n - done);
    if (w > 0) {
      done += static_cast<size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      bool want_read = tls_ && !tls_->wants_write();
      if (!Wait(want_read ? POLLIN : POLLOUT, deadline)) return Timeout("send to " + peer_ + ": no progress in time");
      continue;
    }
    std::string why = tls_ && !tls_->error().empty() ? "TLS: " + tls_->error() : std::strerror(errno);
    return Unavailable("send to " + peer_ + ": " + why);
  }
  return Status::Ok();
}

Result<size_t> ClientConn::ReadSome(char* buf, size_t n, Deadline deadline) {
  SigpipeGuard guard(tls_ != nullptr);  // a read may write (a TLS key update)
  for (;;) {
    ssize_t r = StreamRead(fd_, tls_.get(), buf, n);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      std::string why = tls_ && !tls_->error().empty() ? "TLS: " + tls_->error() : std::strerror(errno);
      return Unavailable("receive from " + peer_ + ": " + why);
    }
    bool want_write = tls_ && tls_->wants_write();
    if (!Wait(want_write ? POLLOUT : POLLIN, deadline)) return Timeout("receive from " + peer_ + ": nothing in time");
  }
}

bool ClientConn::Reusable() {
  pollfd p{fd_, POLLIN, 0};
  int r = poll(&p, 1, 0);
  if (r == 0) return true;  // quiet: the usual case, one system call
  if (r < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) return false;
  if (!tls_) return false;  // plain HTTP: an unasked-for byte or the close
  // TLS: records that carry no data (TLS 1.3 session tickets, a key update) make the socket readable; reading
  // consumes them. Application data or the close make the connection unusable.
  SigpipeGuard guard(true);
  char byte;
  ssize_t n = tls_->Read(&byte, 1);
  return n < 0 && errno == EAGAIN;
}

}  // namespace pgw::net
