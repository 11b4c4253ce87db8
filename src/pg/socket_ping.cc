#include "pg/socket_ping.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pgw {

namespace {

constexpr int32_t kProtocol30 = 0x00030000;
constexpr char kCannotConnectNow[] = "57P03";

void PutInt32(std::string* out, uint32_t v) {
  v = htonl(v);
  out->append(reinterpret_cast<const char*>(&v), 4);
}

// Waits until `fd` is ready for `events` or `deadline` passes.
bool WaitFd(int fd, short events, MonoTime deadline, const RealClock& clock) {
  for (;;) {
    int64_t left = (deadline - clock.Now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

PgPingResult PgSocketPing(const std::string& path, const std::string& user, Duration timeout) {
  RealClock clock;
  MonoTime deadline = clock.Now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return PgPingResult::kNoAttempt;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) return PgPingResult::kNoAttempt;
  // A postmaster that stopped accepting lets connections queue until its listen backlog is full; then connect()
  // waits, at most the send timeout, and fails with EAGAIN.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
  setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int c;
  do {
    c = connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (c != 0 && errno == EINTR && clock.Now() < deadline);
  if (c != 0) return errno == EAGAIN || errno == EINTR ? PgPingResult::kNoResponse : PgPingResult::kNoAttempt;
  if (fcntl(s.get(), F_SETFL, O_NONBLOCK) != 0) return PgPingResult::kNoResponse;
  std::string body;
  PutInt32(&body, kProtocol30);
  for (const char* kv : {"user", user.c_str(), "database", "postgres"}) body.append(kv, std::strlen(kv) + 1);
  body.push_back('\0');
  std::string packet;
  PutInt32(&packet, static_cast<uint32_t>(body.size() + 4));
  packet += body;
  for (size_t off = 0; off < packet.size();) {
    ssize_t n = send(s.get(), packet.data() + off, packet.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (!WaitFd(s.get(), POLLOUT, deadline, clock)) return PgPingResult::kNoResponse;
    } else {
      return PgPingResult::kNoResponse;
    }
  }
  // The first message: its type, length, and (for an error) enough of its fields to find the SQLSTATE.
  std::string in;
  for (;;) {
    if (in.size() >= 5) {
      char type = in[0];
      if (type != 'E') return PgPingResult::kOk;  // 'R' authentication, 'v' protocol negotiation, a notice
      uint32_t len = 0;
      std::memcpy(&len, in.data() + 1, 4);
      len = ntohl(len);
      if (len < 4 || len > 30000) return PgPingResult::kOk;
      if (in.size() >= 1 + len) {
        // Fields: a code byte and a NUL-terminated string each; 'C' is the SQLSTATE.
        for (size_t at = 5; at < 1 + len && in[at] != '\0';) {
          size_t end = in.find('\0', at + 1);
          if (end == std::string::npos) break;
          if (in[at] == 'C')
            return in.compare(at + 1, end - at - 1, kCannotConnectNow) == 0 ? PgPingResult::kRejected
                                                                            : PgPingResult::kOk;
          at = end + 1;
        }
        return PgPingResult::kOk;
      }
    }
    char buf[512];
    ssize_t n = recv(s.get(), buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (!WaitFd(s.get(), POLLIN, deadline, clock)) return PgPingResult::kNoResponse;
    } else {
      // Closed without a word: libpq's ping says "no response" too.
      return PgPingResult::kNoResponse;
    }
  }
}

}  // namespace pgw
