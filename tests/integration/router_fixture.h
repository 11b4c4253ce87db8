// The router integration tests' fixture: a sandbox cluster plus a pgwarden-router run in-process (its own
// threads), so that its counters can be checked; raw libpq connections through it; the admin endpoints.
#pragma once

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "net/http_client.h"
#include "router/config.h"
#include "router/router.h"

namespace pgw::itest {

using Json = nlohmann::json;

inline MonoTime Now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

// A PostgreSQL connection made through the router (or anywhere), kept open; raw libpq for cancel and errors.
struct Conn {
  PGconn* c = nullptr;
  explicit Conn(const std::string& conninfo) { c = PQconnectdb((conninfo + " connect_timeout=10").c_str()); }
  ~Conn() { PQfinish(c); }
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(c); }
  // First column of the first row, or "ERROR: ..." .
  std::string Query(const std::string& sql) {
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
      out = PQgetvalue(r, 0, 0);
    else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
      out = "ERROR: " + error();
    PQclear(r);
    return out;
  }
};

// Sends `bytes` to 127.0.0.1:port on a fresh TCP connection and returns what comes back before the router closes
// it (bounded: 3 s, 64 kB).
inline std::string RawExchange(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[4096];
    ssize_t n;
    while (out.size() < 65536 && (n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

class RouterFixture : public ClusterFixture {
 protected:
  explicit RouterFixture(std::string scope) : ClusterFixture(std::move(scope)) {}

  void TearDown() override {
    if (router_) router_->Stop();
    ClusterFixture::TearDown();
  }

  // Starts a router on free ports, on the sandbox's etcd, for `scope`; `extra` flags are appended.
  void StartRouter(const std::string& scope, std::vector<std::string> extra = {}) {
    auto ports = FreePorts(3);
    ASSERT_TRUE(ports.ok()) << ports.status().message();
    std::vector<std::string> args = {"--scope",          scope,
                                     "--listen-write",   "127.0.0.1:" + std::to_string((*ports)[0]),
                                     "--listen-read",    "127.0.0.1:" + std::to_string((*ports)[1]),
                                     "--listen-admin",   "127.0.0.1:" + std::to_string((*ports)[2]),
                                     "--workers",        "2",
                                     "--no-leader-wait", "3s"};
    // The sandbox's etcd unless `extra` names endpoints.
    if (std::find(extra.begin(), extra.end(), "--dcs-url") == extra.end()) {
      args.insert(args.end(), {"--dcs-url", "http://" + sb_->EtcdEndpoint()});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    router_args_ = args;
    auto r = router::LoadRouterConfig(args, 2);
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0]);
    router_ = std::make_unique<router::Router>(r.config, clock_, rlog_);
    Status s = router_->Start();
    ASSERT_TRUE(s.ok()) << s.message();
  }
  std::string Via(bool write, const std::string& user = "postgres",
                  const std::string& password = Sandbox::kSuperuserPassword) {
    // sslmode=prefer: libpq asks for TLS first, the router answers 'N', libpq goes on in clear.
    return "host=127.0.0.1 port=" + std::to_string(write ? router_->write_port() : router_->read_port()) +
           " user=" + user + " password=" + password + " dbname=postgres sslmode=prefer gssencmode=disable";
  }
  Json Admin(const std::string& path, long* status = nullptr) {
    HttpClient http;
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(router_->admin_port()) + path;
    auto r = http.Do(req);
    if (!r.ok()) return Json();
    if (status) *status = r->status;
    if (path == "/metrics") return Json(r->body);
    return Json::parse(r->body, nullptr, false);
  }
  int PgPort(const std::string& name) { return sb_->Node(name)->pg_port; }
  std::string ServerPort(Conn& c) { return c.Query("SELECT inet_server_port()"); }
  // Until a backend of `node` runs `sql` (a cancel sent before it started would find nothing to cancel).
  bool Running(const std::string& node, const std::string& sql) {
    return WaitFor(
        [&] {
          return Sql(sb_->Conninfo(node),
                     "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = '" + sql + "'") == "1";
        },
        Duration(10000), Duration(20));
  }

  RealClock clock_;
  Logger rlog_{stderr, LogLevel::kInfo, "router: "};
  std::unique_ptr<router::Router> router_;
  std::vector<std::string> router_args_;  // the flags the running router was started with
};

}  // namespace pgw::itest
