// The REST API over TLS with Basic authentication, against a real agent.
#include <nlohmann/json.hpp>

#include "dcs/http.h"
#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

TEST(RestTlsTest, HttpsWithAuthenticationAndAllowlist) {
  TempDir dir("resttls");
  std::string key = dir.path + "/server.key", crt = dir.path + "/server.crt";
  auto gen = pgw::Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                       "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt});
  ASSERT_TRUE(gen.ok() && gen->Success()) << (gen.ok() ? gen->output : gen.status().message());
  if (auto u = Unprivileged()) {
    ASSERT_EQ(chown(key.c_str(), u->uid, u->gid), 0);
    ASSERT_EQ(chown(crt.c_str(), u->uid, u->gid), 0);
  }
  SandboxSpec spec;
  spec.dir = dir.path + "/sb";
  spec.nodes = 1;
  spec.scope = "tls";
  spec.pgwarden_bin = PgwardenBin();
  spec.extra_restapi = "  certfile: " + crt + "\n  keyfile: " + key + "\n  cafile: " + crt +
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
  EXPECT_TRUE(WaitFor(seconds(90), [&] {
    auto r = call("GET", "/primary");
    return r.ok() && r->status == 200;
  })) << "the leader never answered /primary over https";
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

}  // namespace
}  // namespace pgw::itest
