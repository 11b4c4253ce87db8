// A router Worker against a fake PostgreSQL server on loopback (no cluster): the write port holds an authenticated
// session on a leader that still reports in_hot_standby=on, probes it, and hands it to the client only once the
// server reports off; a cancel request for the session's key reaches the server.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include "net/socket.h"
#include "pgwire/startup.h"
#include "router/worker.h"
#include "tls_test_util.h"

namespace pgw::router {
namespace {

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads typed messages from `fd` until one of type `until` (bounded by the socket's receive timeout).
std::vector<pgwire::Message> ReadUntil(int fd, pgwire::Direction from, char until) {
  pgwire::MessageReader r(from);
  std::vector<pgwire::Message> out;
  char buf[4096];
  for (int i = 0; i < 1000; ++i) {
    auto m = r.Next();
    if (!m.ok()) break;
    if (*m) {
      out.push_back(**m);
      if ((*m)->type == until) break;
      continue;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    r.Feed(std::string_view(buf, static_cast<size_t>(n)));
  }
  return out;
}

// A leader that answers its first `recovering_probes` empty queries still in recovery, then as promoted.
class FakeServer {
 public:
  explicit FakeServer(int recovering_probes) : recovering_probes_(recovering_probes) {
    lfd_ = *net::Listen(HostPort{"127.0.0.1", 0}, false);
    port_ = net::LocalPort(lfd_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    shutdown(lfd_, SHUT_RDWR);
    close(lfd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::atomic<int> probes{0};
  std::atomic<bool> cancelled{false};

 private:
  int AcceptOne() {
    for (int i = 0; i < 500 && !stop_; ++i) {
      int fd = net::Accept(lfd_);
      if (fd >= 0) {
        Blocking(fd);
        return fd;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }
  // Blocking reads with a 5 s bound.
  static void Blocking(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  static std::string ReadStartup(int fd, pgwire::StartupPacket* p) {
    std::string buf;
    char b[1024];
    for (int i = 0; i < 100; ++i) {
      size_t used = 0;
      auto r = pgwire::DecodeStartup(buf, &used);
      if (r.ok() && *r) {
        *p = **r;
        return buf.substr(used);
      }
      ssize_t n = recv(fd, b, sizeof b, 0);
      if (n <= 0) break;
      buf.append(b, static_cast<size_t>(n));
    }
    return "";
  }
  void Serve() {
    int fd = AcceptOne();
    if (fd < 0) return;
    pgwire::StartupPacket p;
    ReadStartup(fd, &p);
    std::string hello;
    std::string ok;
    pgwire::AppendInt32(&ok, 0);
    pgwire::AppendMessage(&hello, 'R', ok);
    hello += pgwire::EncodeParameterStatus("in_hot_standby", "on");
    hello += pgwire::EncodeBackendKeyData({77, std::string("\1\2\3\4", 4)});
    hello += pgwire::EncodeReadyForQuery('I');
    send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
    // Answer empty queries (the router's probes) until the client's own query "SELECT 1".
    for (int i = 0; i < 1000; ++i) {
      auto msgs = ReadUntil(fd, pgwire::Direction::kFrontend, 'Q');
      if (msgs.empty() || msgs.back().type != 'Q') break;
      std::string reply;
      if (msgs.back().body == std::string("\0", 1)) {
        int n = ++probes;
        reply = pgwire::EncodeMessage('I', "");
        if (n == recovering_probes_ + 1) reply += pgwire::EncodeParameterStatus("in_hot_standby", "off");
      } else {
        reply = pgwire::EncodeMessage('C', std::string("SELECT 1\0", 9));
      }
      reply += pgwire::EncodeReadyForQuery('I');
      send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      if (msgs.back().body != std::string("\0", 1)) break;
    }
    // The cancel request arrives on a new connection.
    int cfd = AcceptOne();
    if (cfd >= 0) {
      pgwire::StartupPacket c;
      ReadStartup(cfd, &c);
      cancelled = c.kind == pgwire::StartupKind::kCancel && c.cancel_pid == 77;
      close(cfd);
    }
    close(fd);
  }
  int recovering_probes_;
  std::atomic<bool> stop_{false};
  int lfd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(RouterWorkerTest, WritePortLinksTheClientOnlyOnceTheLeaderLeavesRecoveryAndForwardsCancel) {
  FakeServer server(/*recovering_probes=*/3);
  RouterConfig cfg;
  cfg.scope = "t";
  cfg.listen_write = HostPort{"127.0.0.1", 0};
  cfg.listen_read = HostPort{"127.0.0.1", 0};
  cfg.no_leader_wait = Duration(5000);
  RealClock clock;
  Logger log(stderr, LogLevel::kWarning);
  RouterShared shared;
  Worker w(0, std::make_shared<RouterConfig>(cfg), shared, clock, log);
  ASSERT_TRUE(w.Init().ok());
  auto t = std::make_shared<Topology>();
  t->dcs_ready = true;
  t->fresh_at = clock.Now();
  t->leader = "a";
  t->leader_epoch = 1;
  ServerInfo s;
  s.name = "a";
  s.addr = HostPort{"127.0.0.1", server.port()};
  s.role = "replica";
  s.state = "running";
  s.leader = true;
  t->servers.push_back(s);
  w.SetTopology(t);
  w.Start();

  int c = ConnectTo(w.write_port());
  ASSERT_GE(c, 0);
  pgwire::StartupPacket p;
  p.parameters = {{"user", "u"}, {"database", "d"}};
  std::string sp = pgwire::EncodeStartup(p);
  ASSERT_EQ(send(c, sp.data(), sp.size(), 0), static_cast<ssize_t>(sp.size()));
  auto msgs = ReadUntil(c, pgwire::Direction::kBackend, 'Z');
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().type, 'Z');
  EXPECT_EQ(server.probes.load(), 4) << "linked before the server reported in_hot_standby=off";
  // The client saw the start-up ParameterStatus and the change, never a probe's EmptyQueryResponse.
  std::string last_standby;
  for (const auto& m : msgs) {
    EXPECT_NE(m.type, 'I');
    if (m.type == 'S') {
      auto kv = pgwire::DecodeParameterStatus(m.body);
      if (kv.ok() && kv->first == "in_hot_standby") last_standby = kv->second;
    }
  }
  EXPECT_EQ(last_standby, "off");
  EXPECT_EQ(w.transitions(SessionState::kAwaitWritable), 1u);

  // Relay: the client's query reaches the server and the answer comes back.
  std::string q = pgwire::EncodeMessage('Q', std::string("SELECT 1\0", 9));
  send(c, q.data(), q.size(), 0);
  auto answer = ReadUntil(c, pgwire::Direction::kBackend, 'Z');
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[0].type, 'C');

  // Cancel, on a new connection, with the key the server sent.
  pgwire::StartupPacket cancel;
  cancel.kind = pgwire::StartupKind::kCancel;
  cancel.cancel_pid = 77;
  cancel.cancel_key = std::string("\1\2\3\4", 4);
  int cc = ConnectTo(w.write_port());
  std::string cb = pgwire::EncodeStartup(cancel);
  send(cc, cb.data(), cb.size(), 0);
  char byte;
  EXPECT_EQ(recv(cc, &byte, 1, 0), 0) << "a cancel request gets no reply, only a close";
  close(cc);
  for (int i = 0; i < 200 && !server.cancelled; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(server.cancelled.load());
  EXPECT_EQ(w.stats().cancels_forwarded.load(), 1u);
  close(c);
  w.Stop();
}

// A read-only session on a replica that falls behind the lag threshold is closed with FATAL 57P01 saying why,
// and counted.
TEST(RouterWorkerTest, ReadSessionIsClosedWithAnErrorWhenItsReplicaLeavesThePool) {
  FakeServer server(/*recovering_probes=*/0);
  RouterConfig cfg;
  cfg.scope = "t";
  cfg.listen_write = HostPort{"127.0.0.1", 0};
  cfg.listen_read = HostPort{"127.0.0.1", 0};
  RealClock clock;
  Logger log(stderr, LogLevel::kWarning);
  RouterShared shared;
  Worker w(0, std::make_shared<RouterConfig>(cfg), shared, clock, log);
  ASSERT_TRUE(w.Init().ok());
  auto make = [&](int64_t lag, uint64_t generation) {
    auto t = std::make_shared<Topology>();
    t->generation = generation;
    t->dcs_ready = true;
    t->fresh_at = clock.Now();
    t->leader = "a";
    t->leader_epoch = 1;
    t->leader_position = 100 << 20;
    ServerInfo a;
    a.name = "a";
    a.addr = HostPort{"127.0.0.1", 1};
    a.role = "primary";
    a.state = "running";
    a.leader = true;
    a.lag_bytes = 0;
    ServerInfo r;
    r.name = "r";
    r.addr = HostPort{"127.0.0.1", server.port()};
    r.role = "replica";
    r.state = "streaming";
    r.lag_bytes = lag;
    t->servers = {a, r};
    return t;
  };
  w.SetTopology(make(0, 1));
  w.Start();

  int c = ConnectTo(w.read_port());
  ASSERT_GE(c, 0);
  pgwire::StartupPacket p;
  p.parameters = {{"user", "u"}, {"database", "d"}};
  std::string sp = pgwire::EncodeStartup(p);
  ASSERT_EQ(send(c, sp.data(), sp.size(), 0), static_cast<ssize_t>(sp.size()));
  auto msgs = ReadUntil(c, pgwire::Direction::kBackend, 'Z');
  ASSERT_FALSE(msgs.empty());
  ASSERT_EQ(msgs.back().type, 'Z');
  EXPECT_EQ(w.stats().routed_read.load(), 1u);

  w.SetTopology(make(2 << 20, 2));  // 2 MB behind: over the 1 MB default
  auto err = ReadUntil(c, pgwire::Direction::kBackend, 'E');
  ASSERT_FALSE(err.empty());
  ASSERT_EQ(err.back().type, 'E');
  auto fields = pgwire::DecodeErrorFields(err.back().body);
  ASSERT_TRUE(fields.ok());
  std::map<char, std::string> f(fields->begin(), fields->end());
  EXPECT_EQ(f['V'], "FATAL");
  EXPECT_EQ(f['C'], "57P01");
  EXPECT_NE(f['M'].find("r is 2097152 bytes behind the leader"), std::string::npos) << f['M'];
  char byte;
  EXPECT_EQ(recv(c, &byte, 1, 0), 0) << "the session stayed open";
  close(c);
  for (int i = 0; i < 200 && w.stats().closed[static_cast<int>(CloseReason::kReplicaLeftPool)].load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(w.stats().closed[static_cast<int>(CloseReason::kReplicaLeftPool)].load(), 1u);
  w.Stop();
}

// A client asking for TLS gets 'S' when a certificate is configured; start-up, authentication and the relay then
// run inside TLS (the fake server speaks in clear).
TEST(RouterWorkerTest, ClientTlsSessionIsAnsweredSAndRelayed) {
  std::string dir = std::filesystem::temp_directory_path() / ("pgw-worker-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  pgw::testing::WriteSelfSigned(dir, "s");
  FakeServer server(/*recovering_probes=*/0);
  RouterConfig cfg;
  cfg.scope = "t";
  cfg.listen_write = HostPort{"127.0.0.1", 0};
  cfg.listen_read = HostPort{"127.0.0.1", 0};
  auto ctx = net::TlsContext::Server(dir + "/s.crt", dir + "/s.key");
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  cfg.client_tls = *ctx;
  RealClock clock;
  Logger log(stderr, LogLevel::kWarning);
  RouterShared shared;
  Worker w(0, std::make_shared<RouterConfig>(cfg), shared, clock, log);
  ASSERT_TRUE(w.Init().ok());
  auto t = std::make_shared<Topology>();
  t->dcs_ready = true;
  t->fresh_at = clock.Now();
  ServerInfo r;
  r.name = "r";
  r.addr = HostPort{"127.0.0.1", server.port()};
  r.role = "replica";
  r.state = "streaming";
  t->servers.push_back(r);
  w.SetTopology(t);
  w.Start();

  int c = ConnectTo(w.read_port());
  ASSERT_GE(c, 0);
  pgwire::StartupPacket ssl;
  ssl.kind = pgwire::StartupKind::kSslRequest;
  std::string req = pgwire::EncodeStartup(ssl);
  ASSERT_EQ(send(c, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  char answer = 0;
  ASSERT_EQ(recv(c, &answer, 1, 0), 1);
  ASSERT_EQ(answer, 'S');
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL* tls = SSL_new(cctx);
  SSL_set_fd(tls, c);
  ASSERT_EQ(SSL_connect(tls), 1) << "TLS handshake with the router failed";
  auto read_until = [&](char until) {
    pgwire::MessageReader rd(pgwire::Direction::kBackend);
    std::vector<pgwire::Message> out;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      auto m = rd.Next();
      if (!m.ok()) break;
      if (*m) {
        out.push_back(**m);
        if ((*m)->type == until) break;
        continue;
      }
      int n = SSL_read(tls, buf, sizeof buf);
      if (n <= 0) break;
      rd.Feed(std::string_view(buf, static_cast<size_t>(n)));
    }
    return out;
  };
  pgwire::StartupPacket p;
  p.parameters = {{"user", "u"}, {"database", "d"}};
  std::string sp = pgwire::EncodeStartup(p);
  ASSERT_EQ(SSL_write(tls, sp.data(), static_cast<int>(sp.size())), static_cast<int>(sp.size()));
  auto msgs = read_until('Z');
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.back().type, 'Z');
  std::string q = pgwire::EncodeMessage('Q', std::string("SELECT 1\0", 9));
  ASSERT_EQ(SSL_write(tls, q.data(), static_cast<int>(q.size())), static_cast<int>(q.size()));
  auto answer_msgs = read_until('Z');
  ASSERT_EQ(answer_msgs.size(), 2u);
  EXPECT_EQ(answer_msgs[0].type, 'C');
  EXPECT_EQ(w.stats().tls_clients.load(), 1u);
  SSL_free(tls);
  SSL_CTX_free(cctx);
  close(c);
  w.Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgw::router
