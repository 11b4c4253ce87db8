// The REST API against real agents: TLS with Basic authentication; failsafe mode with restapi.authentication set
// (the primary's POST /failsafe carries the credentials, only members may vote, and GET /failsafe, the status JSON
// and /metrics show the failsafe state while etcd is frozen); handlers that write to a frozen etcd do not delay
// health checks.
#include <signal.h>

#include <future>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "net/http_client.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

// The key is encrypted: restapi.keyfile_password (Patroni's) decrypts it, for the REST server and for the agent's
// own calls to peers.
TEST(RestTlsTest, HttpsWithAuthenticationAndAllowlist) {
  TempDir dir("resttls");
  std::string key = dir.path + "/server.key", crt = dir.path + "/server.crt";
  Status cert = MakeSelfSignedCert(key, crt, "127.0.0.1", "key pass");
  ASSERT_TRUE(cert.ok()) << cert.message();
  SandboxSpec spec;
  spec.dir = dir.path + "/sb";
  spec.nodes = 1;
  spec.scope = "tls";
  spec.pgwarden_bin = PgwardenBin();
  spec.extra_restapi = "  certfile: " + crt + "\n  keyfile: " + key +
                       "\n  keyfile_password: key pass\n  cafile: " + crt +
                       "\n  allowlist: [127.0.0.0/8]\n  authentication:\n    username: admin\n    password: s3cret\n";
  Logger log(stderr);
  auto sb = Sandbox::Up(spec, log);
  ASSERT_TRUE(sb.ok()) << sb.status().message();
  int port = sb->nodes()[0].api_port;
  HttpClient http;
  auto call = [&](const std::string& method, const std::string& path, const std::string& auth = "",
                  const std::string& scheme = "https") {
    HttpRequest req;
    req.method = method;
    req.url = scheme + "://127.0.0.1:" + std::to_string(port) + path;
    req.cacert = crt;
    req.timeout = Duration(3000);
    if (method != "GET") req.body = "{}";
    if (!auth.empty()) req.headers["Authorization"] = auth;
    return http.Do(req);
  };
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = call("GET", "/primary");
        return r.ok() && r->status == 200;
      },
      seconds(90)))
      << "the leader never answered /primary over https";
  auto body = call("GET", "/patroni");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(Json::parse(body->body)["role"], "primary");
  auto plain = call("GET", "/patroni", "", "http");
  EXPECT_TRUE(!plain.ok() || plain->status >= 400) << "plain http must not be served";
  auto noauth = call("POST", "/reload");
  ASSERT_TRUE(noauth.ok());
  EXPECT_EQ(noauth->status, 401);
  EXPECT_EQ(noauth->body, "no auth header received");
  auto ok = call("POST", "/reload", "Basic YWRtaW46czNjcmV0");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 202);
  EXPECT_EQ(ok->body, "reload scheduled");
  auto members = Etcdctl(sb->EtcdEndpoint(), {"get", "--print-value-only", "/service/tls/members/pg0"});
  EXPECT_NE(members.find("\"api_url\":\"https://127.0.0.1:"), std::string::npos) << members;
  EXPECT_TRUE(sb->Down(false).ok());
}

// etcd frozen (SIGSTOP) while restapi.authentication is set and failsafe_mode is on: the replica must accept the
// primary's POST /failsafe, so the primary keeps running, and tools see that it runs on failsafe.
class FailsafeAuthTest : public ClusterFixture {
 protected:
  FailsafeAuthTest() : ClusterFixture("fsauth") {}
  void TearDown() override {
    if (sb_ && frozen_) kill(sb_->EtcdPid(), SIGCONT);
    ClusterFixture::TearDown();
  }
  Result<HttpResponse> Call(const std::string& name, const std::string& method, const std::string& path,
                            const std::string& body = "", const std::string& auth = kAuth,
                            Duration timeout = Duration(3000)) {
    HttpClient http;
    HttpRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(sb_->Node(name)->api_port) + path;
    req.timeout = timeout;
    req.body = body;
    if (!body.empty()) req.headers["Content-Type"] = "application/json";
    if (!auth.empty()) req.headers["Authorization"] = auth;
    return http.Do(req);
  }
  static constexpr const char* kAuth = "Basic YWRtaW46czNjcmV0";  // admin:s3cret
  bool frozen_ = false;
};

TEST_F(FailsafeAuthTest, PrimaryKeepsRunningOnFailsafeAndToolsSeeIt) {
  StartCluster(2, [](SandboxSpec& spec) {
    FastTiming(spec);
    spec.extra_dcs = "    failsafe_mode: true\n";
    // As in FailoverTest.EtcdStoppedWithFailsafe...: the fast profile's default fence margin (ttl/2) leaves the first
    // POST /failsafe round 625 ms before the fence; 1 s leaves every round more than its timeout.
    spec.extra_top = "watchdog:\n  safety_margin: 1\n";
    spec.extra_restapi = "  authentication:\n    username: admin\n    password: s3cret\n";
  });
  if (HasFatalFailure()) return;
  std::string leader = Key("leader");
  ASSERT_FALSE(leader.empty());
  std::string replica = sb_->nodes()[0].name == leader ? sb_->nodes()[1].name : sb_->nodes()[0].name;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json f = Json::parse(Key("failsafe"), nullptr, false);
        return f.is_object() && f.size() == 2;
      },
      seconds(20)))
      << "the leader did not publish the failsafe member list";

  // Only members vote (issue 10, 5c): a stranger gets a clear 403, a listed member 200, no credentials 401.
  std::string stranger =
      R"({"name":"intruder","conn_url":"postgres://127.0.0.1:1/postgres","api_url":"http://127.0.0.1:1/patroni"})";
  auto r = Call(replica, "POST", "/failsafe", stranger);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_NE(r->body.find("intruder"), std::string::npos) << r->body;
  r = Call(replica, "POST", "/failsafe", stranger, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401) << r->body;

  // GET /failsafe: {name: api_url} of every member, as the key holds it.
  r = Call(leader, "GET", "/failsafe");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  Json listed = Json::parse(r->body, nullptr, false);
  ASSERT_TRUE(listed.is_object()) << r->body;
  EXPECT_EQ(listed.size(), 2u) << r->body;
  EXPECT_EQ(listed.value(replica, ""), "http://127.0.0.1:" + std::to_string(sb_->Node(replica)->api_port) + "/patroni")
      << r->body;

  ASSERT_EQ(kill(sb_->EtcdPid(), SIGSTOP), 0);
  frozen_ = true;
  // Three ttls: the primary must never stop answering /primary (it would demote if the replica refused its
  // POST /failsafe, e.g. with 401 for missing credentials).
  std::string lost;
  bool demoted = WaitFor(
      [&] {
        auto p = Call(leader, "GET", "/primary");
        if (!p.ok() || p->status != 200)
          lost = p.ok() ? std::to_string(p->status) + " " + p->body : p.status().message();
        return !lost.empty();
      },
      seconds(15));
  EXPECT_FALSE(demoted) << "the primary stopped being primary during the etcd outage: " << lost;
  auto st = Call(leader, "GET", "/patroni");
  ASSERT_TRUE(st.ok());
  Json sj = Json::parse(st->body, nullptr, false);
  EXPECT_EQ(sj.value("failsafe_mode_is_active", false), true) << st->body;
  auto m = Call(leader, "GET", "/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->body.find("patroni_failsafe_mode_is_active{scope=\"fsauth\",name=\"" + leader + "\"} 1\n"),
            std::string::npos)
      << m->body;
  r = Call(leader, "GET", "/failsafe");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body, nullptr, false), listed) << "GET /failsafe during the outage";
  // The replica was vouched to by the primary within ttl: it reports failsafe as active too (as Patroni's does).
  auto rs = Call(replica, "GET", "/patroni");
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ(Json::parse(rs->body, nullptr, false).value("failsafe_mode_is_active", false), true) << rs->body;

  ASSERT_EQ(kill(sb_->EtcdPid(), SIGCONT), 0);
  frozen_ = false;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto p = Call(leader, "GET", "/primary");
        return Key("leader") == leader && p.ok() && p->status == 200;
      },
      seconds(30)))
      << "after etcd returned, the same node leads";
}

// Issue 10, item 9: PATCH /config and DELETE /switchover write to etcd. With etcd frozen (SIGSTOP) each waits for
// the etcd client's deadline; health checks must keep answering at once meanwhile. The PATCH changes a value: an
// unchanged configuration is not written, as in Patroni.
class SlowHandlerTest : public FailsafeAuthTest {};

TEST_F(SlowHandlerTest, WritesToAFrozenEtcdDoNotDelayHealthChecks) {
  StartCluster(
      1, [](SandboxSpec& spec) { FastTiming(spec); }, /*wait_healthy=*/false);
  if (HasFatalFailure()) return;
  const std::string node = sb_->nodes()[0].name;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto p = Call(node, "GET", "/primary", "", "");
        return p.ok() && p->status == 200;
      },
      seconds(90)))
      << "the single node never became primary";
  auto sched = Call(node, "POST", "/switchover",
                    R"({"leader":")" + node + R"(","scheduled_at":"2099-01-01T00:00:00+00:00"})", "");
  ASSERT_TRUE(sched.ok());
  ASSERT_EQ(sched->status, 202) << sched->body;
  ASSERT_TRUE(WaitFor([&] { return !Key("failover").empty(); }, seconds(10)));

  ASSERT_EQ(kill(sb_->EtcdPid(), SIGSTOP), 0);
  frozen_ = true;
  using Clock = std::chrono::steady_clock;
  auto timed = [&](const std::string& method, const std::string& path, const std::string& body) {
    auto start = Clock::now();
    // The writes wait on each other for the etcd client (2 s each): give them time to answer.
    auto r = Call(node, method, path, body, "", method == "GET" ? Duration(3000) : Duration(15000));
    return std::make_pair(r.ok() ? r->status : -1, Clock::now() - start);
  };
  auto patch =
      std::async(std::launch::async, [&] { return timed("PATCH", "/config", R"({"maximum_lag_on_failover":1})"); });
  auto del = std::async(std::launch::async, [&] { return timed("DELETE", "/switchover", ""); });
  // Health checks, one after another, for as long as either write is in flight (bounded by the loop count).
  Clock::duration slowest{};
  int checks = 0;
  for (int i = 0; i < 200; ++i) {
    bool busy = patch.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready ||
                del.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready;
    if (!busy) break;
    auto [code, took] = timed("GET", "/health", "");
    EXPECT_NE(code, -1) << "GET /health got no answer";
    slowest = std::max(slowest, took);
    ++checks;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto [patch_code, patch_took] = patch.get();
  auto [del_code, del_took] = del.get();
  kill(sb_->EtcdPid(), SIGCONT);
  frozen_ = false;
  // The writes really were slow (the scenario happened): each waited on the frozen etcd.
  EXPECT_GE(patch_took, std::chrono::milliseconds(1000)) << "PATCH /config answered " << patch_code << " at once";
  EXPECT_GE(del_took, std::chrono::milliseconds(1000)) << "DELETE /switchover answered " << del_code << " at once";
  EXPECT_EQ(patch_code, 503);
  EXPECT_EQ(del_code, 503);
  EXPECT_GE(checks, 5);
  std::printf("slowest of %d health checks during the writes: %lld ms (PATCH %lld ms, DELETE %lld ms)\n", checks,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(patch_took).count()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(del_took).count()));
  EXPECT_LT(slowest, std::chrono::milliseconds(500))
      << "a health check waited " << std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count()
      << " ms behind a write to the frozen etcd";
}

}  // namespace
}  // namespace pgw::itest
