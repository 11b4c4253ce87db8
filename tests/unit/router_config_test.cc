// pgwarden-router's configuration: file and flags, flags overriding the file, every error naming its key/flag.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "router/config.h"
#include "test_util.h"
#include "tls_test_util.h"

namespace pgw::router {
namespace {

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

bool HasError(const RouterConfigResult& r, const std::string& needle) {
  for (const auto& e : r.errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(RouterConfigTest, FlagsAloneWithDefaults) {
  auto r = LoadRouterConfigText("", "router.yml", {"--dcs-url", "http://127.0.0.1:2379", "--scope", "demo"}, 4);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  const RouterConfig& c = *r.config;
  ASSERT_EQ(c.etcd.endpoints.size(), 1u);
  EXPECT_EQ(c.etcd.endpoints[0].ToString(), "127.0.0.1:2379");
  EXPECT_EQ(c.etcd.protocol, "http");
  EXPECT_EQ(c.KeyPrefix(), "/service/demo/");
  EXPECT_EQ(c.listen_write.ToString(), "127.0.0.1:6432");
  EXPECT_EQ(c.listen_read.ToString(), "127.0.0.1:6433");
  EXPECT_EQ(c.listen_admin.ToString(), "127.0.0.1:8404");
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.no_leader_wait.count(), 5000);
  EXPECT_EQ(c.read_max_lag_bytes, 1 << 20);
  EXPECT_EQ(c.read_return_lag_bytes, 1 << 19);  // half the threshold
  EXPECT_FALSE(c.read_fallback_to_primary);
}

TEST(RouterConfigTest, ReadMaxLagTimeIsOffByDefaultAndValidated) {
  std::vector<std::string> base = {"--dcs-url", "http://127.0.0.1:2379", "--scope", "demo"};
  auto r = LoadRouterConfigText("", "router.yml", base, 1);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->read_max_lag_time.count(), 0);
  r = LoadRouterConfigText("read_max_lag_time: 30s\n", "router.yml", base, 1);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->read_max_lag_time.count(), 30000);
  auto args = base;
  args.insert(args.end(), {"--read-max-lag-time", "1500ms"});
  r = LoadRouterConfigText("read_max_lag_time: 30s\n", "router.yml", args, 1);  // the flag wins
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->read_max_lag_time.count(), 1500);
  for (const char* bad : {"-1s", "soon", "2h"}) {
    r = LoadRouterConfigText(std::string("read_max_lag_time: ") + bad + "\n", "router.yml", base, 1);
    EXPECT_FALSE(r.config) << bad;
    EXPECT_TRUE(HasError(r, "read_max_lag_time (--read-max-lag-time)")) << Joined(r.errors);
  }
}

TEST(RouterConfigTest, ReadReturnLagDefaultsToHalfTheThresholdAndMayNotExceedIt) {
  std::vector<std::string> base = {"--dcs-url", "http://127.0.0.1:2379", "--scope", "demo"};
  auto r = LoadRouterConfigText("read_max_lag: 16MB\n", "router.yml", base, 1);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->read_return_lag_bytes, 8 << 20);
  r = LoadRouterConfigText("read_max_lag: 16MB\nread_return_lag: 1MB\n", "router.yml", base, 1);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->read_return_lag_bytes, 1 << 20);
  auto args = base;
  args.insert(args.end(), {"--read-return-lag", "2MB"});
  r = LoadRouterConfigText("read_max_lag: 1MB\n", "router.yml", args, 1);
  EXPECT_FALSE(r.config);
  EXPECT_TRUE(HasError(r, "read_return_lag (--read-return-lag): 2097152 is above read_max_lag (1048576)"))
      << Joined(r.errors);
}

TEST(RouterConfigTest, FileThenFlagsOverrideKeyByKey) {
  const char* yml = R"(
dcs_urls: [http://10.0.0.1:2379, http://10.0.0.2:2379]
scope: prod
namespace: /db
listen_write: 0.0.0.0:5000
listen_read: :5001
workers: 3
read_max_lag: 16MB
read_fallback_to_primary: true
no_leader_wait: 2s
)";
  auto r = LoadRouterConfigText(yml, "router.yml", {"--workers=2", "--listen-read", "127.0.0.1:7001"}, 8);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  const RouterConfig& c = *r.config;
  EXPECT_EQ(c.etcd.endpoints.size(), 2u);
  EXPECT_EQ(c.KeyPrefix(), "/db/prod/");
  EXPECT_EQ(c.listen_write.ToString(), "0.0.0.0:5000");
  EXPECT_EQ(c.listen_read.ToString(), "127.0.0.1:7001");
  EXPECT_EQ(c.workers, 2);
  EXPECT_EQ(c.read_max_lag_bytes, 16 << 20);
  EXPECT_TRUE(c.read_fallback_to_primary);
  EXPECT_EQ(c.no_leader_wait.count(), 2000);
}

TEST(RouterConfigTest, RepeatedDcsUrlFlagReplacesTheFilesList) {
  auto r = LoadRouterConfigText("dcs_urls: [http://10.0.0.1:2379]\nscope: s\n", "router.yml",
                                {"--dcs-url", "https://127.0.0.1:1", "--dcs-url", "https://127.0.0.1:2"}, 1);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  ASSERT_EQ(r.config->etcd.endpoints.size(), 2u);
  EXPECT_EQ(r.config->etcd.endpoints[1].port, 2);
  EXPECT_EQ(r.config->etcd.protocol, "https");
}

TEST(RouterConfigTest, ErrorsNameTheKeyAndFlagAndAreAllReported) {
  auto r = LoadRouterConfigText("workers: zero\nlisten_write: localhost:1\nbogus: 1\n", "router.yml",
                                {"--read-max-lag", "lots", "--no-leader-wait", "forever"}, 1);
  EXPECT_FALSE(r.config);
  EXPECT_TRUE(HasError(r, "workers (--workers)")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "listen_write (--listen-write)")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "bogus: unknown setting")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "read_max_lag (--read-max-lag)")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "no_leader_wait (--no-leader-wait)")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "scope (--scope): required")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "dcs_urls (--dcs-url)")) << Joined(r.errors);
}

TEST(RouterConfigTest, UnknownFlagMissingValueAndPortClash) {
  auto r = LoadRouterConfigText(
      "", "x",
      {"--scope", "s", "--dcs-url", "127.0.0.1:2379", "--listen-read", ":6432", "--frobnicate", "1", "--workers"}, 1);
  EXPECT_FALSE(r.config);
  EXPECT_TRUE(HasError(r, "--frobnicate: unknown option")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "--workers: needs a value")) << Joined(r.errors);
  EXPECT_TRUE(HasError(r, "listen_read: port 6432 is also listen_write's")) << Joined(r.errors);
}

TEST(RouterConfigTest, BadDcsUrls) {
  auto r = LoadRouterConfigText("", "x", {"--scope", "s", "--dcs-url", "ftp://h:1"}, 1);
  EXPECT_TRUE(HasError(r, "dcs_urls (--dcs-url): 'ftp://h:1': the scheme")) << Joined(r.errors);
  r = LoadRouterConfigText("", "x", {"--scope", "s", "--dcs-url", "http://a:1", "--dcs-url", "https://b:2"}, 1);
  EXPECT_TRUE(HasError(r, "same scheme")) << Joined(r.errors);
  r = LoadRouterConfigText("", "x", {"--scope", "s", "--dcs-url", "http://nohost"}, 1);
  EXPECT_TRUE(HasError(r, "dcs_urls (--dcs-url)")) << Joined(r.errors);
}

TEST(RouterConfigTest, PatroniConfigGivesEtcdScopeAndNamespaceAndExplicitValuesWin) {
  std::string dir = ::testing::TempDir() + "/router_cfg_test";
  std::filesystem::create_directories(dir);
  std::string path = dir + "/patroni.yml";
  std::string yml = std::string("namespace: /ns\n") + pgw::testing::kGoodConfig;
  yml.replace(yml.find("scope: demo"), 11, "scope: fromfile");
  std::ofstream(path) << yml;
  auto r = LoadRouterConfigText("", "x", {"--patroni-config", path}, 1);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->KeyPrefix(), "/ns/fromfile/");
  EXPECT_EQ(r.config->etcd.endpoints.size(), 2u);
  r = LoadRouterConfigText("", "x", {"--patroni-config", path, "--scope", "other"}, 1);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->KeyPrefix(), "/ns/other/");
  r = LoadRouterConfigText("", "x", {"--patroni-config", dir + "/missing.yml"}, 1);
  EXPECT_TRUE(HasError(r, "patroni_config (--patroni-config)")) << Joined(r.errors);
}

TEST(RouterConfigTest, HelpAndUsageListEveryFlag) {
  auto r = LoadRouterConfigText("", "x", {"--help"}, 1);
  EXPECT_TRUE(r.help);
  std::string u = RouterUsage();
  for (const char* f : {"--dcs-url", "--patroni-config", "--scope", "--namespace", "--listen-write", "--listen-read",
                        "--listen-admin", "--workers", "--read-max-lag", "--no-leader-wait"}) {
    EXPECT_NE(u.find(f), std::string::npos) << f;
  }
}

TEST(RouterConfigTest, TlsSettingsAreValidatedAndTheirFilesLoaded) {
  std::string dir = std::filesystem::temp_directory_path() / ("pgw-router-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  pgw::testing::WriteSelfSigned(dir, "a");
  pgw::testing::WriteSelfSigned(dir, "b");
  std::vector<std::string> base = {"--dcs-url", "http://127.0.0.1:2379", "--scope", "demo"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return LoadRouterConfigText("", "router.yml", args, 2);
  };
  // Defaults: no TLS either side.
  auto r = with({});
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->client_tls, nullptr);
  EXPECT_EQ(r.config->server_tls_sslmode, ServerTlsMode::kDisable);
  EXPECT_EQ(r.config->server_tls, nullptr);
  // Client TLS: both files, matching.
  r = LoadRouterConfigText("client_tls_cert_file: " + dir + "/a.crt\nclient_tls_key_file: " + dir + "/a.key\n",
                           "router.yml", base, 2);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_NE(r.config->client_tls, nullptr);
  EXPECT_TRUE(HasError(with({"--client-tls-cert-file", dir + "/a.crt"}),
                       "client_tls_key_file (--client-tls-key-file): required with client_tls_cert_file"));
  EXPECT_TRUE(HasError(with({"--client-tls-key-file", dir + "/a.key"}),
                       "client_tls_cert_file (--client-tls-cert-file): required with client_tls_key_file"));
  EXPECT_TRUE(HasError(with({"--client-tls-cert-file", dir + "/a.crt", "--client-tls-key-file", dir + "/b.key"}),
                       "does not match the certificate"));
  EXPECT_TRUE(HasError(with({"--client-tls-cert-file", dir + "/none.crt", "--client-tls-key-file", dir + "/a.key"}),
                       "client_tls_cert_file (--client-tls-cert-file): " + dir + "/none.crt"));
  // Server TLS: modes, and a CA file exactly when verifying.
  r = with({"--server-tls-sslmode", "require"});
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->server_tls_sslmode, ServerTlsMode::kRequire);
  EXPECT_NE(r.config->server_tls, nullptr);
  r = with({"--server-tls-sslmode", "verify-full", "--server-tls-ca-file", dir + "/a.crt"});
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->server_tls_sslmode, ServerTlsMode::kVerifyFull);
  EXPECT_TRUE(HasError(with({"--server-tls-sslmode", "allow"}),
                       "server_tls_sslmode (--server-tls-sslmode): 'allow' is not disable, prefer"));
  EXPECT_TRUE(HasError(with({"--server-tls-sslmode", "verify-ca"}),
                       "server_tls_ca_file (--server-tls-ca-file): required with server_tls_sslmode verify-ca"));
  EXPECT_TRUE(HasError(with({"--server-tls-sslmode", "require", "--server-tls-ca-file", dir + "/a.crt"}),
                       "only used with server_tls_sslmode verify-ca or verify-full"));
  EXPECT_TRUE(HasError(with({"--server-tls-sslmode", "verify-ca", "--server-tls-ca-file", dir + "/none.crt"}),
                       "server_tls_ca_file (--server-tls-ca-file): " + dir + "/none.crt"));
  std::filesystem::remove_all(dir);
}

TEST(RouterConfigTest, ClientTlsSslmodeAndTheRoutersClientCertificate) {
  std::string dir = std::filesystem::temp_directory_path() / ("pgw-router-tls2-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  pgw::testing::WriteSelfSigned(dir, "a");
  pgw::testing::WriteSelfSigned(dir, "b");
  std::vector<std::string> base = {"--dcs-url", "http://127.0.0.1:2379", "--scope", "demo"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return LoadRouterConfigText("", "router.yml", args, 2);
  };
  std::vector<std::string> files = {"--client-tls-cert-file", dir + "/a.crt", "--client-tls-key-file", dir + "/a.key"};
  // The default follows the files: prefer with them, disable without.
  auto r = with({});
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->client_tls_sslmode, ClientTlsMode::kDisable);
  r = with(files);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->client_tls_sslmode, ClientTlsMode::kPrefer);
  auto req = files;
  req.insert(req.end(), {"--client-tls-sslmode", "require"});
  r = with(req);
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_EQ(r.config->client_tls_sslmode, ClientTlsMode::kRequire);
  EXPECT_NE(r.config->client_tls, nullptr);
  EXPECT_TRUE(HasError(with({"--client-tls-sslmode", "require"}),
                       "client_tls_cert_file (--client-tls-cert-file): required with client_tls_sslmode require"));
  auto off = files;
  off.insert(off.end(), {"--client-tls-sslmode", "disable"});
  EXPECT_TRUE(HasError(with(off), "not used with client_tls_sslmode disable"));
  EXPECT_TRUE(HasError(with({"--client-tls-sslmode", "verify-full"}),
                       "client_tls_sslmode (--client-tls-sslmode): 'verify-full' is not disable, allow"));

  // The router's certificate to servers: both files, matching, and only with TLS to servers.
  r = with({"--server-tls-sslmode", "require", "--server-tls-cert-file", dir + "/b.crt", "--server-tls-key-file",
            dir + "/b.key"});
  ASSERT_TRUE(r.config) << Joined(r.errors);
  EXPECT_NE(r.config->server_tls, nullptr);
  EXPECT_TRUE(HasError(with({"--server-tls-sslmode", "require", "--server-tls-cert-file", dir + "/b.crt"}),
                       "server_tls_key_file (--server-tls-key-file): required with server_tls_cert_file"));
  auto mismatch = with({"--server-tls-sslmode", "require", "--server-tls-cert-file", dir + "/b.crt",
                        "--server-tls-key-file", dir + "/a.key"});
  EXPECT_TRUE(HasError(mismatch, "server_tls_key_file (--server-tls-key-file): " + dir + "/a.key"))
      << Joined(mismatch.errors);
  EXPECT_TRUE(HasError(mismatch, "does not match the certificate")) << Joined(mismatch.errors);
  EXPECT_TRUE(HasError(with({"--server-tls-sslmode", "require", "--server-tls-cert-file", dir + "/none.crt",
                             "--server-tls-key-file", dir + "/a.key"}),
                       "server_tls_cert_file (--server-tls-cert-file): " + dir + "/none.crt"));
  EXPECT_TRUE(HasError(with({"--server-tls-cert-file", dir + "/b.crt", "--server-tls-key-file", dir + "/b.key"}),
                       "not used with server_tls_sslmode disable"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace pgw::router
