#include "net/socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pgw::net {

namespace {
// Fills `ss` from a numeric address; false when `host` is not an IP literal.
bool ToSockaddr(const HostPort& a, sockaddr_storage* ss, socklen_t* len) {
  std::memset(ss, 0, sizeof *ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, a.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(a.port));
    *len = sizeof *v4;
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET6, a.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(a.port));
    *len = sizeof *v6;
    return true;
  }
  return false;
}

Status Errno(const std::string& what) { return IoError(what + ": " + std::strerror(errno)); }
}  // namespace

bool IsIpLiteral(const std::string& host) {
  sockaddr_storage ss;
  socklen_t len;
  return ToSockaddr(HostPort{host, 1}, &ss, &len);
}

Result<int> Listen(const HostPort& addr, bool reuse_port, int backlog) {
  sockaddr_storage ss;
  socklen_t len;
  if (!ToSockaddr(addr, &ss, &len)) return InvalidArgument(addr.ToString() + ": the host is not an IP address");
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno(addr.ToString() + ": socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, backlog) != 0) {
    Status s = Errno(addr.ToString());
    close(fd);
    return s;
  }
  return fd;
}

Result<int> ConnectStart(const HostPort& addr) {
  sockaddr_storage ss;
  socklen_t len;
  if (!ToSockaddr(addr, &ss, &len)) return InvalidArgument(addr.ToString() + ": the host is not an IP address");
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  SetNoDelay(fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    Status s = Errno("connect to " + addr.ToString());
    close(fd);
    return s;
  }
  return fd;
}

int ConnectResult(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

int Accept(int listen_fd) { return accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); }

void SetNoDelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int LocalPort(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace pgw::net
