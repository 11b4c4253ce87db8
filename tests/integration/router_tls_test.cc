// pgwarden-router's TLS settings against a real PostgreSQL: the router presents its own client certificate to a
// server whose pg_hba.conf demands one (`cert` authentication: the certificate's CN is the user), and
// client_tls_sslmode require refuses clients that start in clear.
#include "router_fixture.h"

namespace pgw::itest {
namespace {

using std::chrono::seconds;

class RouterTlsTest : public RouterFixture {
 protected:
  RouterTlsTest() : RouterFixture("rtl") {}

  // Runs openssl with `args`; fails the test on an error.
  void OpenSsl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = pgw::Run(argv);
    ASSERT_TRUE(r.ok() && r->Success()) << (r.ok() ? r->output : r.status().message());
  }
  void GiveToPostgres(const std::vector<std::string>& files) {
    for (const auto& f : files) {
      ASSERT_EQ(chmod(f.c_str(), 0600), 0) << f;
      if (auto u = Unprivileged()) {
        ASSERT_EQ(chown(f.c_str(), u->uid, u->gid), 0) << f;
      }
    }
  }
};

TEST_F(RouterTlsTest, RouterClientCertificateSatisfiesCertAuthAndRequireRefusesClearClients) {
  const std::string d = Dir();
  const std::string ca = d + "/ca.crt", cakey = d + "/ca.key";
  const std::string srv = d + "/server.crt", srvkey = d + "/server.key";
  const std::string cli = d + "/client.crt", clikey = d + "/client.key", csr = d + "/client.csr";
  // A CA that signs the router's client certificate (CN=certuser, the user that cert authentication maps it to), and a
  // self-signed server certificate for 127.0.0.1.
  OpenSsl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pgwarden test CA", "-keyout",
           cakey, "-out", ca});
  OpenSsl({"req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=certuser", "-keyout", clikey, "-out", csr});
  OpenSsl({"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial", "-days", "2", "-out", cli});
  OpenSsl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
           "subjectAltName=IP:127.0.0.1", "-keyout", srvkey, "-out", srv});
  GiveToPostgres({srv, srvkey, ca});
  StartCluster(1, [&](SandboxSpec& spec) {
    spec.postgresql_pg_hba = false;
    spec.extra_postgresql = "    ssl: 'on'\n    ssl_cert_file: " + srv + "\n    ssl_key_file: " + srvkey +
                            "\n    ssl_ca_file: " + ca + "\n" +
                            "  pg_hba:\n  - local all all trust\n"
                            "  - host replication replicator 127.0.0.1/32 scram-sha-256\n"
                            "  - hostssl all certuser 127.0.0.1/32 cert\n"
                            "  - host all all 127.0.0.1/32 scram-sha-256\n";
  });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  ASSERT_EQ(Sql(sb_->Conninfo(leader), "CREATE ROLE certuser LOGIN"), "");

  // Without a client certificate the server refuses the router's connection (and so the client).
  StartRouter(scope_, {"--server-tls-sslmode", "verify-ca", "--server-tls-ca-file", srv});
  Conn none(Via(true, "certuser", "''"));
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.error().find("certificate"), std::string::npos) << none.error();
  router_->Stop();

  // With it: cert authentication passes (the client sends no password; the server asks for none), and the server
  // sees the router's certificate. The router's own client side uses TLS with require.
  StartRouter(scope_, {"--server-tls-sslmode", "verify-ca", "--server-tls-ca-file", srv, "--server-tls-cert-file", cli,
                       "--server-tls-key-file", clikey, "--client-tls-cert-file", srv, "--client-tls-key-file", srvkey,
                       "--client-tls-sslmode", "require"});
  std::string base = "host=127.0.0.1 port=" + std::to_string(router_->write_port()) +
                     " user=certuser dbname=postgres gssencmode=disable";
  Conn c(base + " sslmode=require");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(PQsslInUse(c.c), 1);
  EXPECT_EQ(c.Query("SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), "/CN=certuser");
  EXPECT_EQ(c.Query("SELECT pg_is_in_recovery()"), "f");

  // client_tls_sslmode require: a client in clear gets a clear refusal (28000), counted.
  Conn clear(base + " sslmode=disable");
  EXPECT_FALSE(clear.ok());
  EXPECT_NE(clear.error().find("TLS is required"), std::string::npos) << clear.error();
  // sslmode=prefer asks for TLS first and gets it.
  Conn prefer(base + " sslmode=prefer");
  ASSERT_TRUE(prefer.ok()) << prefer.error();
  EXPECT_EQ(PQsslInUse(prefer.c), 1);
  Json stats = Admin("/stats");
  EXPECT_EQ(stats["routing"]["closed"]["tls_required"].get<int>(), 1) << stats.dump();
  EXPECT_EQ(stats["config"]["client_tls_sslmode"], "require");
  EXPECT_EQ(stats["config"]["server_tls_client_cert"], true);
}

}  // namespace
}  // namespace pgw::itest
