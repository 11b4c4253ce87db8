// Bad environments give one clear line and a non-zero exit, or a logged wait: never a crash or a hang.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "helpers.h"

namespace pgw::itest {
namespace {

class BadEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("badenv");
    auto ports = FreePorts(3);
    ASSERT_TRUE(ports.ok());
    pg_port_ = (*ports)[0];
    api_port_ = (*ports)[1];
    etcd_port_ = (*ports)[2];  // nothing listens there
  }

  std::string Config(const std::string& data_dir, const std::string& extra_pg = "") {
    std::string path = dir_->path + "/patroni.yml";
    std::string yml = "scope: bad\nname: n0\nrestapi:\n  listen: 127.0.0.1:" + std::to_string(api_port_) +
                      "\n  connect_address: 127.0.0.1:" + std::to_string(api_port_) +
                      "\netcd3:\n  hosts: 127.0.0.1:" + std::to_string(etcd_port_) +
                      "\nbootstrap:\n  dcs: {ttl: 10, loop_wait: 1, retry_timeout: 3}\npostgresql:\n"
                      "  listen: 127.0.0.1:" +
                      std::to_string(pg_port_) + "\n  connect_address: 127.0.0.1:" + std::to_string(pg_port_) +
                      "\n  data_dir: " + data_dir + "\n  pgpass: " + dir_->path + "/pgpass\n" + extra_pg +
                      "  authentication:\n    superuser: {username: postgres, password: x}\n"
                      "    replication: {username: replicator, password: y}\n";
    EXPECT_TRUE(WriteFileAtomic(path, yml, 0644).ok());
    return path;
  }

  RunResult RunAgent(const std::vector<std::string>& args, Duration timeout = Duration(20000)) {
    std::vector<std::string> argv = {PgwardenBin()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessOptions o;
    o.run_as = Unprivileged();
    o.timeout = timeout;
    auto r = pgw::Run(argv, o);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : RunResult{};
  }

  std::unique_ptr<TempDir> dir_;
  int pg_port_ = 0, api_port_ = 0, etcd_port_ = 0;
};

TEST_F(BadEnvTest, ValidateConfigGoodAndBad) {
  std::string good = Config(dir_->path + "/data");
  auto r = RunAgent({"--validate-config", good});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "");
  ASSERT_TRUE(
      WriteFileAtomic(dir_->path + "/bad.yml", "scope: x\nname: y\nrestapi: {listen: 'a:0'}\nfoo: 1\n", 0644).ok());
  auto b = RunAgent({"--validate-config", dir_->path + "/bad.yml"});
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.output.find("restapi.listen: 'a:0': port 0 is outside 1..65535"), std::string::npos) << b.output;
  EXPECT_NE(b.output.find("foo: unknown key"), std::string::npos) << b.output;
  EXPECT_NE(b.output.find("postgresql: required key is missing"), std::string::npos) << b.output;
  auto missing = RunAgent({"--validate-config", dir_->path + "/nope.yml"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("cannot read"), std::string::npos) << missing.output;
  EXPECT_EQ(RunAgent({"--no-such-flag"}).exit_code, 2);
}

TEST_F(BadEnvTest, DataDirThatIsNotAClusterExitsWithOneLine) {
  std::string data = dir_->path + "/data";
  ASSERT_TRUE(MakeDirs(data, 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(data + "/somefile", "not postgres", 0644).ok());
  if (auto u = Unprivileged()) {
    ASSERT_EQ(chown(data.c_str(), u->uid, u->gid), 0);
    ASSERT_EQ(chown((data + "/somefile").c_str(), u->uid, u->gid), 0);
  }
  auto r = RunAgent({Config(data)});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is not empty but is not a PostgreSQL data directory (no PG_VERSION)"), std::string::npos)
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST_F(BadEnvTest, BinDirWithoutPostgresIsRejected) {
  std::string bin = dir_->path + "/bin";
  ASSERT_TRUE(MakeDirs(bin, 0755).ok());
  auto r = RunAgent({Config(dir_->path + "/data", "  bin_dir: " + bin + "\n")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("postgresql.bin_dir: '" + bin + "' has no PostgreSQL programs"), std::string::npos)
      << r.output;
}

TEST_F(BadEnvTest, PortsInUseAreNamed) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(pg_port_));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  auto r = RunAgent({Config(dir_->path + "/data")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("postgresql.listen: port " + std::to_string(pg_port_) + " on 127.0.0.1 is already in use"),
            std::string::npos)
      << r.output;
  close(fd);
  // Now the REST port.
  fd = socket(AF_INET, SOCK_STREAM, 0);
  a.sin_port = htons(static_cast<uint16_t>(api_port_));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  auto r2 = RunAgent({Config(dir_->path + "/data")});
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_NE(r2.output.find("REST API cannot listen on 127.0.0.1:" + std::to_string(api_port_)), std::string::npos)
      << r2.output;
  close(fd);
}

TEST_F(BadEnvTest, EtcdUnreachableIsALoggedWaitAndSigtermEndsIt) {
  std::string cfg = Config(dir_->path + "/data");
  std::string log = dir_->path + "/agent.log";
  ProcessOptions o;
  o.run_as = Unprivileged();
  auto pid = StartDetached({PgwardenBin(), cfg}, log, o);
  ASSERT_TRUE(pid.ok());
  bool waited = WaitFor(
      [&] {
        auto t = ReadFile(log);
        return t.ok() && t->find("waiting on etcd at 127.0.0.1:" + std::to_string(etcd_port_)) != std::string::npos;
      },
      std::chrono::seconds(15));
  EXPECT_TRUE(waited) << ReadFile(log).value();
  EXPECT_FALSE(Reap(*pid)) << "agent exited while etcd was unreachable";
  kill(*pid, SIGTERM);
  EXPECT_TRUE(WaitFor([&] { return Reap(*pid); }, std::chrono::seconds(10)));
  EXPECT_TRUE(IsMissingOrEmptyDir(dir_->path + "/data"));  // nothing was initialised without etcd
}

TEST_F(BadEnvTest, RefusesToRunAsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "not root";
  ProcessOptions o;
  o.timeout = Duration(10000);
  auto r = pgw::Run({PgwardenBin(), Config(dir_->path + "/data")}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_NE(r->output.find("refusing to run as root"), std::string::npos) << r->output;
}

TEST_F(BadEnvTest, SandboxRefusesBadTimingFlagsWithOneLineAndStartsNothing) {
  std::string ctl = PgwardenctlBin();
  std::string sdir = dir_->path + "/sb";
  struct Case {
    std::vector<std::string> flags;
    int code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--ttl", "abc"}, 2, "--ttl must be a number from 1 to 3600, got 'abc'"},
      {{"--loop-wait", ""}, 2, "--loop-wait must be a number from 1 to 3600, got ''"},
      {{"--ttl", "4", "--retry-timeout", "2"},
       1,
       "--loop-wait (1) + 2 * --retry-timeout (2) must not exceed --ttl (4)"},
      {{"--ttl", "1"}, 1, "--ttl must be at least 2, --loop-wait at least 1 and --retry-timeout at least 0.5"},
      {{"--ttl", "2", "--retry-timeout", "1"},
       1,
       "--loop-wait (1) + 2 * --retry-timeout (1) must not exceed --ttl (2)"},
      {{"--retry-timeout", "0.2"}, 1, "--retry-timeout at least 0.5"},
      {{"--retry-timeout", "soon"}, 2, "--retry-timeout must be a number of seconds from 0.1 to 3600, got 'soon'"},
      {{"--retry-timeout"}, 2, "--retry-timeout needs a value"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv = {ctl, "sandbox", "up", "--dir", sdir};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    auto r = pgw::Run(argv);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->exit_code, c.code) << r->output;
    EXPECT_NE(r->output.find(c.message), std::string::npos) << r->output;
    EXPECT_FALSE(PathExists(sdir + "/sandbox.json")) << "a refused sandbox must not start";
  }
}

}  // namespace
}  // namespace pgw::itest
