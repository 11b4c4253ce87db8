// The HTTP client (net/http_client.h): URL parsing and request formatting as pure functions, then the exchange
// against a scripted server on loopback (a thread that accepts and answers as each test says): keep-alive, a kept
// connection the server closed, split and coalesced answers, and deadlines on every step.
#include "net/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/wait.h"
#include "net/http_server.h"
#include "net/socket.h"
#include "tls_test_util.h"

namespace pgw {
namespace {

using net::FormatHttpRequest;
using net::ParseHttpUrl;

TEST(HttpUrlTest, ParsesHostPortAndTarget) {
  auto u = ParseHttpUrl("http://127.0.0.1:2379/v3/kv/range");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 2379);
  EXPECT_EQ(u->target, "/v3/kv/range");
  u = ParseHttpUrl("HTTPS://[::1]/patroni?x=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/patroni?x=1");
  EXPECT_EQ(ParseHttpUrl("http://etcd1:2379")->target, "/");
  EXPECT_EQ(ParseHttpUrl("http://h?a=b")->target, "/?a=b");
}

TEST(HttpUrlTest, RefusesWhatItCannotUse) {
  for (const char* bad : {"127.0.0.1:2379/x", "ftp://h/", "http://", "http://:80/", "http://u:p@h/", "http://h:0/",
                          "http://h:99999/", "http://h:12ab/", "http://[::1/", "http://h/a b"}) {
    auto u = ParseHttpUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_NE(u.status().message().find(bad), std::string::npos) << u.status().message();
  }
}

TEST(HttpRequestFormatTest, HeadersLengthAndBody) {
  HttpRequest req;
  req.method = "POST";
  req.body = "{\"key\":\"a\"}";
  req.headers["Authorization"] = "tok";
  auto w = FormatHttpRequest(req, *ParseHttpUrl("http://[::1]:2379/v3/kv/range"));
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w,
            "POST /v3/kv/range HTTP/1.1\r\nHost: [::1]:2379\r\nAuthorization: tok\r\n"
            "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"key\":\"a\"}");
  req.method = "GET";
  req.body.clear();
  req.headers = {{"content-type", "text/plain"}};
  EXPECT_EQ(*FormatHttpRequest(req, *ParseHttpUrl("http://h/p")),
            "GET /p HTTP/1.1\r\nHost: h:80\r\ncontent-type: text/plain\r\n\r\n");
  req.headers = {{"X-Evil", "a\r\nInjected: 1"}};
  EXPECT_FALSE(FormatHttpRequest(req, *ParseHttpUrl("http://h/p")).ok());
}

// A server on 127.0.0.1 that hands each accepted connection to `serve` on its own thread, one after the other.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int fd, int index)> serve) : serve_(std::move(serve)) {
    auto fd = net::Listen(HostPort{"127.0.0.1", 0}, false);
    EXPECT_TRUE(fd.ok());
    listen_fd_ = *fd;
    port_ = net::LocalPort(listen_fd_);
    thread_ = std::thread([this] {
      for (int i = 0; !stop_; ++i) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) {
          --i;
          continue;
        }
        int c = accept(listen_fd_, nullptr, nullptr);
        if (c < 0) {
          --i;
          continue;
        }
        ++accepted_;
        serve_(c, i);
        close(c);
      }
    });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  std::string Url(const std::string& path = "/x") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  int accepted() const { return accepted_; }

 private:
  std::function<void(int, int)> serve_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Reads one request head (and a Content-Length body) from a blocking socket; empty at the close.
std::string ReadRequest(int fd) {
  std::string in;
  char buf[4096];
  for (;;) {
    size_t end = in.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t cl = in.find("Content-Length: ");
      size_t len = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
      if (in.size() >= end + 4 + len) return in;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return "";
    in.append(buf, static_cast<size_t>(n));
  }
}

void Send(int fd, const std::string& s) {
  ASSERT_EQ(send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

HttpRequest Post(const std::string& url, const std::string& body, Duration timeout = Duration(2000)) {
  HttpRequest r;
  r.method = "POST";
  r.url = url;
  r.body = body;
  r.timeout = timeout;
  return r;
}

TEST(HttpClientTest, KeepsTheConnectionAcrossRequests) {
  ScriptedServer server([](int fd, int) {
    for (std::string req; !(req = ReadRequest(fd)).empty();) {
      std::string body = req.substr(req.find("\r\n\r\n") + 4);
      Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    }
  });
  HttpClient http;
  for (std::string b : {"one", "two", "", "four"}) {
    auto r = http.Do(Post(server.Url(), b));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, b);
  }
  EXPECT_EQ(http.connects(), 1u);
  EXPECT_EQ(server.accepted(), 1);
}

// A server that closes an idle kept connection (or is restarted): the next request goes out on a new one, and the
// caller sees no error.
TEST(HttpClientTest, ReconnectsWhenTheServerClosedTheKeptConnection) {
  ScriptedServer server([](int fd, int) {
    ReadRequest(fd);
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");  // keep-alive announced, then closed
  });
  HttpClient http;
  for (int i = 0; i < 3; ++i) {
    auto r = http.Do(Post(server.Url(), "x"));
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().message();
    EXPECT_EQ(r->body, "ok");
  }
  EXPECT_EQ(http.connects(), 3u);
}

// An answer split into many small writes with pauses, and two answers' worth coalesced in one chunked body.
TEST(HttpClientTest, SplitAnswerAndChunkedBody) {
  ScriptedServer server([](int fd, int) {
    ReadRequest(fd);
    std::string a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    for (size_t i = 0; i < a.size(); i += 7) {
      Send(fd, a.substr(i, 7));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the pause is the point: separate reads
    }
    ReadRequest(fd);
    Send(fd, "HTTP/1.0 404 Not Found\r\n\r\nnot here");  // framed by the close
  });
  HttpClient http;
  auto r = http.Do(Post(server.Url(), "x"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "abcdefg");
  r = http.Do(Post(server.Url(), "y"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "not here");
}

TEST(HttpClientTest, GarbageAnswerIsAClearError) {
  ScriptedServer server([](int fd, int) {
    ReadRequest(fd);
    Send(fd, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
  });
  HttpClient http;
  auto r = http.Do(Post(server.Url(), "x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("not a valid HTTP response: malformed status line"), std::string::npos)
      << r.status().message();
}

// No step may hang: a server that accepts and never answers, or stops in the middle of a body, costs the timeout.
TEST(HttpClientTest, EveryWaitIsBoundedByTheTimeout) {
  std::atomic<bool> release{false};
  ScriptedServer server([&](int fd, int index) {
    ReadRequest(fd);
    if (index == 1) Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  for (int i = 0; i < 2; ++i) {
    HttpClient http;
    auto start = std::chrono::steady_clock::now();
    auto r = http.Do(Post(server.Url(), "x", Duration(300)));
    auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kTimeout) << r.status().message();
    EXPECT_GE(took, std::chrono::milliseconds(290));
    EXPECT_LT(took, std::chrono::milliseconds(1500));
  }
  release = true;
}

TEST(HttpClientTest, RefusedConnectIsUnavailable) {
  int port;
  {
    auto fd = net::Listen(HostPort{"127.0.0.1", 0}, false);
    ASSERT_TRUE(fd.ok());
    port = net::LocalPort(*fd);
    close(*fd);
  }
  HttpClient http;
  auto r = http.Do(Post("http://127.0.0.1:" + std::to_string(port) + "/x", ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("Connection refused"), std::string::npos) << r.status().message();
}

// etcd's watch: a chunked body that never ends. Data reaches the callback as it comes; `stop` ends the stream within
// about a second; a silent stream ends at the idle timeout.
TEST(HttpClientTest, StreamDeliversStopsAndTimesOut) {
  std::atomic<bool> release{false};
  ScriptedServer server([&](int fd, int index) {
    ReadRequest(fd);
    Send(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    if (index == 0) Send(fd, "6\r\n{\"a\":1\r\n2\r\n}\n\r\n");
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  });
  HttpClient http;
  std::atomic<bool> stop{false};
  std::string got;
  std::chrono::steady_clock::time_point stop_set;
  std::thread stopper;
  Status s = http.Stream(
      Post(server.Url(), "w"),
      [&](const char* d, size_t n) {
        got.append(d, n);
        if (got.find('\n') != std::string::npos && !stopper.joinable()) {
          stop_set = std::chrono::steady_clock::now();
          stopper = std::thread([&] { stop = true; });
        }
        return true;
      },
      stop, Duration(10000));
  auto returned = std::chrono::steady_clock::now();
  stopper.join();
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(got, "{\"a\":1}\n");
  EXPECT_LT(returned - stop_set, std::chrono::milliseconds(1500)) << "stop is looked at once a second";

  std::atomic<bool> never{false};
  auto start = std::chrono::steady_clock::now();
  s = http.Stream(
      Post(server.Url(), "w"), [](const char*, size_t) { return true; }, never, Duration(400));
  EXPECT_EQ(s.code(), Code::kTimeout) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  release = true;
}

// A server whose certificate chains to nothing we trust is refused, unless the request asks for no check
// (pgwardenctl -k / ctl.insecure, as patronictl); and a checking request after it does not reuse that connection.
TEST(HttpClientTest, UncheckedTlsOnlyWhenAsked) {
  std::string dir = std::filesystem::temp_directory_path() / ("pgw-httpc-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  pgw::testing::WriteSelfSigned(dir, "s");
  RestServer server([](const HttpServerRequest&) {
    HttpServerResponse r;
    r.body = "hello";
    return r;
  });
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  ASSERT_TRUE(server.EnableTls(dir + "/s.crt", dir + "/s.key", "", "none").ok());
  server.Start();
  HttpClient http;
  HttpRequest req;
  req.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/patroni";
  auto checked = http.Do(req);
  EXPECT_FALSE(checked.ok()) << "a self-signed certificate is not trusted";
  req.verify = false;
  auto unchecked = http.Do(req);
  ASSERT_TRUE(unchecked.ok()) << unchecked.status().message();
  EXPECT_EQ(unchecked->body, "hello");
  req.verify = true;
  EXPECT_FALSE(http.Do(req).ok()) << "the unchecked connection is not kept for a checked request";
  server.Stop();
  std::filesystem::remove_all(dir);
}

// restapi.keyfile_password / ctl.keyfile_password (Patroni's): an encrypted key is decrypted with the configured
// password, on the server side (the REST API) and on the client side (a client certificate for verify_client).
TEST(HttpClientTest, EncryptedKeysAreDecryptedWithTheirKeyfilePassword) {
  std::string dir = std::filesystem::temp_directory_path() / ("pgw-httpc-enc-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  pgw::testing::WriteSelfSigned(dir, "s", "server secret");
  pgw::testing::WriteSelfSigned(dir, "c", "client secret");
  RestServer server([](const HttpServerRequest&) {
    HttpServerResponse r;
    r.body = "hello";
    return r;
  });
  ASSERT_TRUE(server.Listen("127.0.0.1", 0).ok());
  Status wrong = server.EnableTls(dir + "/s.crt", dir + "/s.key", dir + "/c.crt", "required", "not it");
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("keyfile_password does not decrypt it"), std::string::npos) << wrong.message();
  Status ok = server.EnableTls(dir + "/s.crt", dir + "/s.key", dir + "/c.crt", "required", "server secret");
  ASSERT_TRUE(ok.ok()) << ok.message();
  server.Start();
  HttpClient http;
  HttpRequest req;
  req.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/patroni";
  req.verify = false;  // the test certificate names its host in CN only; the client side's key is what is tested
  req.cert = dir + "/c.crt";
  req.key = dir + "/c.key";
  auto no_password = http.Do(req);
  ASSERT_FALSE(no_password.ok());
  EXPECT_NE(no_password.status().message().find("the key is encrypted and no keyfile_password is set"),
            std::string::npos)
      << no_password.status().message();
  req.key_password = "client secret";
  auto r = http.Do(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "hello");
  server.Stop();
  std::filesystem::remove_all(dir);
}

// With no password configured, OpenSSL's default is to ask for one on the terminal (or stdin without one): an
// agent started from a shell would wait at "Enter PEM pass phrase" for ever. Run in a child with no controlling
// terminal and a stdin that never delivers: loading must fail at once, never read.
TEST(HttpClientTest, AnEncryptedKeyWithoutPasswordFailsWithoutAskingAnyone) {
  std::string dir = std::filesystem::temp_directory_path() / ("pgw-httpc-ask-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  pgw::testing::WriteSelfSigned(dir, "s", "secret");
  int in[2];
  ASSERT_EQ(pipe(in), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setsid();  // no controlling terminal: /dev/tty cannot be opened
    dup2(in[0], 0);
    RestServer server([](const HttpServerRequest&) { return HttpServerResponse{}; });
    Status s = server.EnableTls(dir + "/s.crt", dir + "/s.key", "", "none");
    bool named = s.message().find("no keyfile_password is set") != std::string::npos;
    _exit(!s.ok() && named ? 0 : 1);
  }
  close(in[0]);
  int status = 0;
  bool exited = WaitFor([&] { return waitpid(child, &status, WNOHANG) == child; }, Duration(10000));
  if (!exited) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  close(in[1]);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(exited) << "loading an encrypted key without a password waited for input";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the error did not name keyfile_password";
}

}  // namespace
}  // namespace pgw
