// PgSocketPing (pg/socket_ping.h) against stand-in servers on a Unix-domain socket: what each first answer means,
// and silence (a SIGSTOPped postmaster) bounded by the timeout. Real sockets, real time.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "agent/pg_health.h"
#include "common/config.h"
#include "common/wait.h"
#include "pg/socket_ping.h"

namespace pgw {
namespace {

// Answers every start-up packet with `reply` (nothing: holds the connection open, never answers).
class UnixStandIn {
 public:
  explicit UnixStandIn(std::string reply) : reply_(std::move(reply)) {
    char tmpl[] = "/tmp/pgw-sockping-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = PgSocketPath(dir_, 5432);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    thread_ = std::thread([this] { Loop(); });
  }
  ~UnixStandIn() {
    stop_ = true;
    thread_.join();
    for (int c : held_) close(c);
    close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  std::string startup() const { return startup_; }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      held_.push_back(c);
      char buf[1024];
      pollfd q{c, POLLIN, 0};
      if (poll(&q, 1, 2000) > 0) {
        ssize_t n = read(c, buf, sizeof buf);
        if (n > 0) startup_.assign(buf, static_cast<size_t>(n));
      }
      if (!reply_.empty()) (void)!write(c, reply_.data(), reply_.size());
    }
  }

  std::string reply_, dir_, path_, startup_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

std::string Error(const std::string& sqlstate) {
  std::string fields = std::string("SFATAL") + '\0' + "C" + sqlstate + '\0' + "Msome message" + '\0' + '\0';
  uint32_t len = htonl(static_cast<uint32_t>(fields.size() + 4));
  return "E" + std::string(reinterpret_cast<const char*>(&len), 4) + fields;
}

TEST(PgSocketPingTest, AnAuthenticationRequestIsAnAnswer) {
  const char md5[] = {'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4};
  UnixStandIn s(std::string(md5, sizeof md5));
  EXPECT_EQ(PgSocketPing(s.path(), "postgres", Duration(2000)), PgPingResult::kOk);
  std::string p = s.startup();
  ASSERT_GE(p.size(), 8u);
  EXPECT_EQ(p.substr(4, 4), std::string("\0\3\0\0", 4)) << "protocol 3.0";
  EXPECT_NE(p.find(std::string("user\0postgres\0", 14)), std::string::npos);
  EXPECT_NE(p.find(std::string("database\0postgres\0", 18)), std::string::npos);
  EXPECT_EQ(p.find("password"), std::string::npos) << "no password is offered";
}

TEST(PgSocketPingTest, StartingUpIsRejectedAndOtherErrorsMeanTheServerIsUp) {
  UnixStandIn starting(Error("57P03"));
  EXPECT_EQ(PgSocketPing(starting.path(), "postgres", Duration(2000)), PgPingResult::kRejected);
  UnixStandIn no_hba(Error("28000"));
  EXPECT_EQ(PgSocketPing(no_hba.path(), "postgres", Duration(2000)), PgPingResult::kOk);
}

TEST(PgSocketPingTest, SilenceIsNoResponseWithinTheTimeout) {
  UnixStandIn frozen("");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(PgSocketPing(frozen.path(), "postgres", Duration(300)), PgPingResult::kNoResponse);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(ms, 290);
  EXPECT_LT(ms, 2000);
}

TEST(PgSocketPingTest, NoSocketIsNoAttemptSoThatTheCallerFallsBackToTcp) {
  EXPECT_EQ(PgSocketPing("/nonexistent/.s.PGSQL.5432", "postgres", Duration(300)), PgPingResult::kNoAttempt);
}

// The health check pings over the socket when it has one (a TCP port where nothing listens would count as hung), and
// falls back to TCP when nothing listens on the socket path.
TEST(PgHealthSocketTest, PingsOverTheSocketAndFallsBackToTcpWithoutOne) {
  RealClock clock;
  Logger log(stderr, LogLevel::kCritical);
  UnixStandIn starting(Error("57P03"));  // alive, refusing connections: healthy, and no session is attempted
  const std::string dead_tcp = "host=127.0.0.1 port=1 user=postgres dbname=postgres";
  PgHealth via_socket(dead_tcp, clock, log, starting.path(), "postgres");
  PgHealth no_socket(dead_tcp, clock, log, "/nonexistent/.s.PGSQL.5432", "postgres");
  for (PgHealth* h : {&via_socket, &no_socket}) {
    h->SetTtl(2);  // bound 1 s
    h->Start();
    h->SetActive(true);
  }
  EXPECT_TRUE(WaitFor([&] { return !no_socket.Healthy(); }, Duration(10000)))
      << "no socket: the TCP ping, to a port where nothing listens, fails";
  EXPECT_TRUE(via_socket.Healthy()) << "the socket's answer counts: " << starting.startup().size();
  via_socket.Stop();
  no_socket.Stop();
}

TEST(PgHealthSocketTest, LocalHealthSocketIsTheFirstConfiguredSocketDirectory) {
  Config cfg;
  cfg.postgresql.port = 5433;
  EXPECT_EQ(LocalHealthSocket(cfg), "") << "none configured: TCP";
  cfg.postgresql.parameters["unix_socket_directories"] = " /run/pg , /tmp";
  EXPECT_EQ(LocalHealthSocket(cfg), "/run/pg/.s.PGSQL.5433");
  cfg.postgresql.parameters["unix_socket_directories"] = "@abstract";
  EXPECT_EQ(LocalHealthSocket(cfg), "");
  cfg.postgresql.parameters.erase("unix_socket_directories");
  cfg.postgresql.use_unix_socket = true;
  EXPECT_EQ(LocalHealthSocket(cfg), "/var/run/postgresql/.s.PGSQL.5433");
}

}  // namespace
}  // namespace pgw
