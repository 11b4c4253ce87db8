// The etcd client over TLS with client certificates (etcd3 cacert/cert/key), against a real etcd that requires
// them. The certificates are made at test time with the openssl command: a CA, a server certificate for the name
// "localhost" only (so connecting by IP address must fail the host name check), and a client certificate.
#include <signal.h>

#include "dcs/etcd_client.h"
#include "dcs/watch_cache.h"
#include "helpers.h"

namespace pgw::itest {
namespace {

class EtcdTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("etcdtls");
    d_ = dir_->path + "/";
    ASSERT_TRUE(MakeCa("ca").ok());
    ASSERT_TRUE(MakeCa("other-ca").ok());
    // etcd's JSON gateway dials etcd's gRPC port presenting the server certificate: it needs clientAuth too.
    ASSERT_TRUE(MakeCert("server", "localhost", "subjectAltName=DNS:localhost", "serverAuth,clientAuth").ok());
    ASSERT_TRUE(MakeCert("client", "pgw-client", "subjectAltName=DNS:pgw-client", "clientAuth").ok());
    auto ports = FreePorts(2);
    ASSERT_TRUE(ports.ok());
    port_ = (*ports)[0];
    std::string cu = "https://127.0.0.1:" + std::to_string(port_);
    std::string pu = "http://127.0.0.1:" + std::to_string((*ports)[1]);
    ProcessOptions o;
    o.run_as = Unprivileged();
    auto pid = StartDetached({"etcd",
                              "--name",
                              "t",
                              "--data-dir",
                              d_ + "etcd",
                              "--listen-client-urls",
                              cu,
                              "--advertise-client-urls",
                              "https://localhost:" + std::to_string(port_),
                              "--listen-peer-urls",
                              pu,
                              "--initial-advertise-peer-urls",
                              pu,
                              "--initial-cluster",
                              "t=" + pu,
                              "--cert-file",
                              d_ + "server.crt",
                              "--key-file",
                              d_ + "server.key",
                              "--trusted-ca-file",
                              d_ + "ca.crt",
                              "--client-cert-auth"},
                             d_ + "etcd.log", o);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
    etcd::Client c(Options(), log_);
    ASSERT_TRUE(WaitFor([&] { return c.Get("x").ok(); }, std::chrono::seconds(20)))
        << c.Get("x").status().message() << "\n"
        << (ReadFile(d_ + "etcd.log").ok() ? *ReadFile(d_ + "etcd.log") : "");
  }
  void TearDown() override {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    EXPECT_TRUE(WaitFor([&] { return Reap(pid_); }, std::chrono::seconds(10)));
  }

  Status Openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = pgw::Run(argv);
    if (!r.ok()) return r.status();
    if (!r->Success()) return Internal("openssl " + args[0] + ": " + r->output);
    return Status::Ok();
  }
  // The files are readable by the unprivileged user etcd runs as.
  Status Own(const std::string& name) {
    auto u = LookupUser("postgres");
    for (const std::string& f : {d_ + name + ".crt", d_ + name + ".key"}) {
      if (geteuid() == 0 && u.ok() && chown(f.c_str(), u->uid, u->gid) != 0) return IoError("chown " + f);
    }
    return Status::Ok();
  }
  Status MakeCa(const std::string& name) {
    PGW_RETURN_IF_ERROR(
        Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                 "-subj", "/CN=pgw-test-" + name, "-keyout", d_ + name + ".key", "-out", d_ + name + ".crt"}));
    return Own(name);
  }
  Status MakeCert(const std::string& name, const std::string& cn, const std::string& san, const std::string& usage) {
    PGW_RETURN_IF_ERROR(Openssl({"req",
                                 "-x509",
                                 "-newkey",
                                 "ec",
                                 "-pkeyopt",
                                 "ec_paramgen_curve:prime256v1",
                                 "-nodes",
                                 "-days",
                                 "2",
                                 "-subj",
                                 "/CN=" + cn,
                                 "-addext",
                                 san,
                                 "-addext",
                                 "basicConstraints=critical,CA:FALSE",
                                 "-addext",
                                 "extendedKeyUsage=" + usage,
                                 "-CA",
                                 d_ + "ca.crt",
                                 "-CAkey",
                                 d_ + "ca.key",
                                 "-keyout",
                                 d_ + name + ".key",
                                 "-out",
                                 d_ + name + ".crt"}));
    return Own(name);
  }
  etcd::ClientOptions Options(const std::string& host = "localhost") {
    etcd::ClientOptions o;
    o.endpoints = {HostPort{host, port_}};
    o.protocol = "https";
    o.cacert = d_ + "ca.crt";
    o.cert = d_ + "client.crt";
    o.key = d_ + "client.key";
    o.request_timeout = Duration(2000);
    return o;
  }
  // A call that must fail, quickly and with a message containing `want`.
  void ExpectRefused(const etcd::ClientOptions& o, const std::string& want) {
    etcd::Client c(o, log_);
    auto start = std::chrono::steady_clock::now();
    auto r = c.Put("/t/x", "v");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  }

  Logger log_{stderr};
  std::unique_ptr<TempDir> dir_;
  std::string d_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// The host name is resolved ("localhost" may be ::1 first, where etcd does not listen: the next address is
// tried), checked against the certificate, and the client certificate is accepted: reads, writes, leases and the
// watch (a chunked stream over TLS) all work.
TEST_F(EtcdTlsTest, MutualTlsWithHostNameCheckServesCallsLeasesAndTheWatch) {
  etcd::Client c(Options(), log_);
  auto lease = c.LeaseGrant(10);
  ASSERT_TRUE(lease.ok()) << lease.status().message();
  ASSERT_TRUE(c.Put("/t/members/a", "{}", *lease).ok());
  for (int i = 0; i < 20; ++i) {
    auto ttl = c.LeaseKeepAlive(*lease);
    ASSERT_TRUE(ttl.ok()) << ttl.status().message();
    EXPECT_EQ(*ttl, 10);
  }
  auto got = c.GetPrefix("/t/");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].key, "/t/members/a");

  std::atomic<int> changes{0};
  WatchCache watch(Options(), "/t/", log_, [&] { ++changes; });
  watch.Start();
  ASSERT_TRUE(WaitFor([&] { return watch.Get().ready; }, std::chrono::seconds(5)));
  auto rev = c.Put("/t/leader", "a");
  ASSERT_TRUE(rev.ok());
  EXPECT_TRUE(watch.WaitForRevision(*rev, Duration(5000))) << "the watch over TLS did not see the write";
  EXPECT_EQ(watch.Get().kvs->count("/t/leader"), 1u);
  EXPECT_EQ(watch.resyncs(), 1) << "the watch stream was re-created";
  watch.Stop();
}

TEST_F(EtcdTlsTest, RefusesACertificateForAnotherName) {
  ExpectRefused(Options("127.0.0.1"), "certificate verification failed");
}

TEST_F(EtcdTlsTest, RefusesAServerSignedByAnotherCa) {
  auto o = Options();
  o.cacert = d_ + "other-ca.crt";
  ExpectRefused(o, "certificate verification failed");
}

TEST_F(EtcdTlsTest, WithoutAClientCertificateEtcdRefuses) {
  auto o = Options();
  o.cert.clear();
  o.key.clear();
  ExpectRefused(o, "TLS: ");  // TLS 1.3: etcd's alert arrives with the answer to the first request
  ExpectRefused(o, "bad certificate");
}

}  // namespace
}  // namespace pgw::itest
