// PgHealth against stand-in servers on loopback sockets: one that answers every startup packet with PostgreSQL's
// "the database system is starting up" (SQLSTATE 57P03), one that accepts and never answers (a SIGSTOPped
// postmaster). Real sockets and libpq, real time (the bound is 1 s at ttl 2).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "agent/pg_health.h"
#include "pg/libpq.h"

namespace pgw {
namespace {

class StandInServer {
 public:
  // ask_password: answers a startup packet with AuthenticationCleartextPassword and records whether a password
  // came back (instead of "starting up").
  explicit StandInServer(bool answer, bool ask_password = false) : answer_(answer), ask_password_(ask_password) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~StandInServer() {
    stop_ = true;
    thread_.join();
    for (int c : held_) close(c);
    close(fd_);
  }
  std::string Conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=postgres dbname=postgres sslmode=disable "
           "gssencmode=disable";
  }

 private:
  static bool ReadFull(int fd, char* buf, size_t n) {
    for (size_t off = 0; off < n;) {
      ssize_t r = read(fd, buf + off, n - off);
      if (r <= 0) return false;
      off += static_cast<size_t>(r);
    }
    return true;
  }
  void Serve(int c) {
    char len_buf[4];
    if (!ReadFull(c, len_buf, 4)) return;
    uint32_t len = ntohl(*reinterpret_cast<uint32_t*>(len_buf));
    if (len < 8 || len > 10000) return;
    std::vector<char> body(len - 4);
    if (!ReadFull(c, body.data(), body.size())) return;
    if (ask_password_) {
      const char auth[] = {'R', 0, 0, 0, 8, 0, 0, 0, 3};
      (void)!write(c, auth, sizeof auth);
      pollfd p{c, POLLIN, 0};
      char type = 0;
      if (poll(&p, 1, 2000) > 0 && read(c, &type, 1) == 1 && type == 'p') passwords_sent_++;
      return;
    }
    std::string fields = std::string("SFATAL") + '\0' + "VFATAL" + '\0' + "C57P03" + '\0' +
                         "Mthe database system is starting up" + '\0' + '\0';
    std::string msg = "E";
    uint32_t n = htonl(static_cast<uint32_t>(fields.size() + 4));
    msg.append(reinterpret_cast<const char*>(&n), 4);
    msg += fields;
    (void)!write(c, msg.data(), msg.size());
  }
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      accepted_++;
      if (!answer_) {
        held_.push_back(c);  // accepted by the kernel, never answered
        continue;
      }
      Serve(c);
      close(c);
    }
  }

  bool answer_, ask_password_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;

 public:
  std::atomic<int> passwords_sent_{0};
  std::atomic<int> accepted_{0};
};

TEST(PgPingTest, StartingServerIsRejectedAndSilentOneDoesNotRespond) {
  StandInServer starting(true), silent(false);
  EXPECT_EQ(PgPing(starting.Conninfo(), Duration(1000)), PgPingResult::kRejected);
  EXPECT_EQ(PgPing(silent.Conninfo(), Duration(1000)), PgPingResult::kNoResponse);
}

// The health check pings every interval; a ping that authenticated would cost a SCRAM key derivation each time
// (measured: most of an idle agent's CPU). The server asking for a password is answer enough.
TEST(PgPingTest, HealthPingIsAnsweredByAnAuthenticationRequestAndOffersNoPassword) {
  StandInServer server(true, /*ask_password=*/true);
  std::string with_password = server.Conninfo() + " password=secret";
  ASSERT_EQ(PgPing(with_password, Duration(1000)), PgPingResult::kOk);
  ASSERT_EQ(server.passwords_sent_.load(), 1) << "the stand-in must see a password when one is offered";
  EXPECT_EQ(PgPing(PasswordlessPing(with_password), Duration(1000)), PgPingResult::kOk);
  EXPECT_EQ(server.passwords_sent_.load(), 1) << "the health ping sent a password";
}

// libpq writes "WARNING: password file ... is not a plain file" to stderr when passfile names a device: the ping
// at passfile=/dev/null did so ~2.7 times a second into the agent's log.
TEST(PgPingTest, HealthPingWritesNothingToStderr) {
  StandInServer server(true, /*ask_password=*/true);
  char path[] = "/tmp/pg_health_stderr_XXXXXX";
  int capture = mkstemp(path);
  ASSERT_GE(capture, 0);
  fflush(stderr);
  int saved = dup(2);
  ASSERT_GE(saved, 0);
  dup2(capture, 2);
  PgPingResult r = PgPing(PasswordlessPing(server.Conninfo() + " password=secret"), Duration(1000));
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  off_t size = lseek(capture, 0, SEEK_END);
  std::string written(static_cast<size_t>(std::max<off_t>(0, size)), '\0');
  ASSERT_EQ(pread(capture, written.data(), written.size(), 0), static_cast<ssize_t>(written.size()));
  close(capture);
  unlink(path);
  EXPECT_EQ(r, PgPingResult::kOk);
  EXPECT_EQ(server.passwords_sent_.load(), 0) << "the health ping sent a password";
  EXPECT_EQ(written, "") << "libpq wrote to stderr during the health ping";
}

// Found by FailoverTest.PostmasterKilledAloneIsRestartedInPlace under load: crash recovery of a primary restarted
// in place took longer than the bound, the health gate closed, and the fence killed a recovering primary.
TEST(PgHealthTest, APostmasterThatAnswersStartingUpStaysHealthyASilentOneDoesNot) {
  RealClock clock;
  Logger log(stderr);
  StandInServer starting(true), silent(false);
  PgHealth a(starting.Conninfo(), clock, log), b(silent.Conninfo(), clock, log);
  a.SetTtl(2);
  b.SetTtl(2);
  ASSERT_EQ(a.Bound(), Duration(1000));
  a.Start();
  b.Start();
  a.SetActive(true);
  b.SetActive(true);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (b.Healthy() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(b.Healthy()) << "a postmaster that never answers must count as hung";
  // Sampled until 1.5 bounds more have passed: the one answering "starting up" never counts as hung.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(a.Healthy()) << "a postmaster answering 'starting up' must not count as hung";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  a.Stop();
  b.Stop();
}

// Only an armed primary's renewals ask Healthy(): replicas (the checker inactive) must not ping PostgreSQL.
TEST(PgHealthTest, AnInactiveCheckerDoesNotConnectAndActivatingChecksAtOnce) {
  RealClock clock;
  Logger log(stderr);
  StandInServer server(true);
  PgHealth h(server.Conninfo(), clock, log);
  h.SetTtl(2);
  h.Start();
  // Four intervals (250 ms each at ttl 2) without a connection: an active checker would have made four.
  std::this_thread::sleep_for(4 * h.Interval());
  EXPECT_EQ(server.accepted_.load(), 0) << "an inactive health check connected to PostgreSQL";
  h.SetActive(true);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (server.accepted_.load() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(server.accepted_.load(), 0) << "activating did not start the checks";
  EXPECT_TRUE(h.Healthy());
  h.SetActive(false);
  h.Stop();
}

}  // namespace
}  // namespace pgw
