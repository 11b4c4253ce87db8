// One cluster per configuration family a Patroni user brings (issue 11): Debian's example configurations, md5 + SSL
// with client certificates for every user, scram-sha-256. Each converges, replicates and fails over.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "helpers.h"

namespace pgw {
namespace {

using namespace itest;
using std::chrono::seconds;

class FamilyTest : public ClusterFixture {
 protected:
  FamilyTest() : ClusterFixture("fam") {}

  // The superuser's conninfo on a node (each family logs in its own way).
  std::function<std::string(const SandboxNode&)> conn_;
  std::string Conn(const std::string& name) { return conn_(*sb_->Node(name)); }
  std::string Query(const std::string& name, const std::string& sql) {
    std::string err;
    std::string v = Sql(Conn(name), sql, &err);
    return err.empty() ? v : "error: " + err;
  }
  std::vector<std::string> Others(const std::string& name) {
    std::vector<std::string> out;
    for (const auto& n : sb_->nodes()) {
      if (n.name != name) out.push_back(n.name);
    }
    return out;
  }
  // A row written on `leader` shows up on every other node.
  void ExpectReplicates(const std::string& leader, const std::string& value) {
    ASSERT_EQ(Query(leader, "CREATE TABLE IF NOT EXISTS fam (v text)"), "");
    ASSERT_EQ(Query(leader, "INSERT INTO fam VALUES ('" + value + "')"), "");
    for (const auto& r : Others(leader)) {
      EXPECT_TRUE(
          WaitFor([&] { return Query(r, "SELECT count(*) FROM fam WHERE v = '" + value + "'") == "1"; }, seconds(20)))
          << value << " written on " << leader << " is not on " << r << ": " << Query(r, "SELECT count(*) FROM fam");
    }
  }
  // The whole leader machine dies: another node takes the leader key and is writable; the old one, started again,
  // rejoins as a replica of the new leader (pg_rewind when its timeline diverged). Returns the new leader.
  std::string KillLeaderAndRejoin() {
    std::string old = LeaderKey();
    KillMachine(old);
    std::string now;
    EXPECT_TRUE(WaitFor(
        [&] {
          now = LeaderKey();
          return !now.empty() && now != old && Query(now, "SELECT pg_is_in_recovery()") == "f";
        },
        seconds(30)))
        << "no failover from " << old;
    EXPECT_TRUE(sb_->StartNode(old).ok());
    EXPECT_TRUE(WaitFor(
        [&] {
          return Query(now,
                       "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND "
                       "application_name = '" +
                           old + "'") == "1";
        },
        seconds(60)))
        << old << " did not rejoin as a replica of " << now;
    return now;
  }
  // A config file written for these tests (the families differ in authentication, pg_hba and parameters only).
  static std::string Yaml(const SandboxNode& n, const std::string& etcd, const std::string& scope,
                          const std::string& authentication, const std::string& pg_hba, const std::string& params,
                          const std::string& local_params = "") {
    std::string home = n.data_dir.substr(0, n.data_dir.rfind('/'));
    std::string bin_dir = FindPostgresBinDir(ProcessEnvironment());
    return "scope: " + scope + "\nname: " + n.name + "\nrestapi:\n  listen: 127.0.0.1:" + std::to_string(n.api_port) +
           "\n  connect_address: 127.0.0.1:" + std::to_string(n.api_port) + "\netcd3:\n  hosts: " + etcd +
           "\nbootstrap:\n  dcs:\n    ttl: 5\n    loop_wait: 1\n    retry_timeout: 2\n"
           "    maximum_lag_on_failover: 1048576\n"
           "    postgresql:\n      use_pg_rewind: true\n      use_slots: true\n"
           "      parameters:\n        wal_log_hints: 'on'\n        max_connections: 50\n" +
           params +
           "  initdb:\n  - encoding: UTF8\n"
           "postgresql:\n  listen: 127.0.0.1:" +
           std::to_string(n.pg_port) + "\n  connect_address: 127.0.0.1:" + std::to_string(n.pg_port) +
           "\n  data_dir: " + n.data_dir + "\n  bin_dir: " + bin_dir + "\n  pgpass: " + home + "/pgpass\n" +
           "  authentication:\n" + authentication + "  parameters:\n    unix_socket_directories: " + home +
           "\n    shared_buffers: 32MB\n" + local_params + "  pg_hba:\n" + pg_hba;
  }
  // Runs a command as the test's user; the output on failure.
  static void Cmd(const std::vector<std::string>& argv) {
    auto r = pgw::Run(argv);
    ASSERT_TRUE(r.ok() && r->Success()) << argv[0] << " " << argv[1] << ": "
                                        << (r.ok() ? r->output : r.status().message());
  }
  // A CA, a server certificate for 127.0.0.1 and a client certificate per user (CN = user name) in DIR/certs,
  // readable by the user the agents run as.
  std::string MakeCerts(const std::vector<std::string>& users) {
    std::string d = Dir() + "/certs";
    EXPECT_TRUE(MakeDirs(d, 0755).ok());
    const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
    auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
      head.insert(head.begin() + 3, ec.begin(), ec.end());
      head.insert(head.end(), tail.begin(), tail.end());
      return head;
    };
    Cmd(with({"openssl", "req", "-x509"},
             {"-days", "2", "-subj", "/CN=pgwarden test CA", "-keyout", d + "/ca.key", "-out", d + "/ca.crt"}));
    std::vector<std::pair<std::string, std::string>> certs = {{"server", "127.0.0.1"}};
    for (const auto& u : users) certs.push_back({u, u});
    for (const auto& [file, cn] : certs) {
      std::string f = d + "/" + file;
      Cmd(with({"openssl", "req", "-new"}, {"-subj", "/CN=" + cn, "-keyout", f + ".key", "-out", f + ".csr"}));
      Cmd({"openssl", "x509", "-req", "-in", f + ".csr", "-CA", d + "/ca.crt", "-CAkey", d + "/ca.key",
           "-CAcreateserial", "-days", "2", "-out", f + ".crt"});
      chmod((f + ".key").c_str(), 0600);
    }
    auto who = Unprivileged();
    for (const auto& e : std::filesystem::directory_iterator(d)) {
      if (who && chown(e.path().c_str(), who->uid, who->gid) != 0) ADD_FAILURE() << "chown " << e.path();
    }
    return d;
  }
};

// Debian's /usr/share/doc/patroni/examples/postgres{0,1,2}.yml with only the ports, paths and the etcd section
// adapted. The examples use `etcd:` (etcd's v2 protocol), which pgwarden does not support by design (etcd 3.6
// removed it): the section becomes `etcd3:` with the test's etcd, as the startup error tells a user to do.
TEST_F(FamilyTest, DebianExampleConfigurations) {
  const std::string examples = "/usr/share/doc/patroni/examples/";
  if (!PathExists(examples + "postgres2.yml")) GTEST_SKIP() << "Debian's patroni package is not installed";
  std::vector<std::string> texts;
  for (const char* f : {"postgres0.yml", "postgres1.yml", "postgres2.yml"}) {
    std::string path = examples + f;
    Result<std::string> text = NotFound(path);
    if (PathExists(path)) {
      text = ReadFile(path);
    } else {
      auto r = pgw::Run({"gzip", "-dc", path + ".gz"});
      if (r.ok() && r->Success()) text = r->output;
    }
    ASSERT_TRUE(text.ok()) << text.status().message();
    texts.push_back(*text);
  }
  std::string pgpass_dir = Dir();
  StartCluster(3, [&](SandboxSpec& spec) {
    spec.scope = scope_ = "batman";
    spec.name_prefix = "postgresql";
    spec.node_config = [&](int i, const SandboxNode& n, const std::string& etcd) {
      std::string y = texts[i];
      auto replace = [&](const std::string& from, const std::string& to) {
        size_t at = y.find(from);
        EXPECT_NE(at, std::string::npos) << "postgres" << i << ".yml has no '" << from << "'";
        for (; at != std::string::npos; at = y.find(from, at + to.size())) y.replace(at, from.size(), to);
      };
      replace("\netcd:\n", "\netcd3:\n");
      replace("host: 127.0.0.1:2379", "host: " + etcd);
      replace("127.0.0.1:" + std::to_string(8008 + i), "127.0.0.1:" + std::to_string(n.api_port));
      replace("127.0.0.1:" + std::to_string(5432 + i) + "\n", "127.0.0.1:" + std::to_string(n.pg_port) + "\n");
      replace("data_dir: data/postgresql" + std::to_string(i), "data_dir: " + n.data_dir);
      replace("/tmp/pgpass" + std::to_string(i), pgpass_dir + "/pgpass" + std::to_string(i));
      return y;
    };
  });
  if (HasFatalFailure()) return;
  conn_ = [](const SandboxNode& n) {
    return "host=127.0.0.1 port=" + std::to_string(n.pg_port) + " user=postgres password=zalando dbname=postgres";
  };
  std::string leader = LeaderKey();
  ExpectReplicates(leader, "debian-1");
  // bootstrap.users and bootstrap.pg_hba of the examples (md5 for everyone over TCP).
  std::string err;
  EXPECT_EQ(Sql("host=127.0.0.1 port=" + std::to_string(sb_->Node(leader)->pg_port) +
                    " user=admin password=admin% dbname=postgres",
                "SELECT rolcreatedb AND rolcreaterole FROM pg_roles WHERE rolname = current_user", &err),
            "t")
      << err;
  // ttl 30 and loop_wait 10 as shipped: a switchover, not a killed leader, keeps this test short. It goes through
  // postgresql2's configuration, whose REST API wants a password.
  std::string cand = leader == "postgresql1" ? "postgresql2" : "postgresql1";
  auto sw = pgw::Run({PgwardenctlBin(), "-c", sb_->Node("postgresql2")->config_path, "switchover", "--leader", leader,
                      "--candidate", cand, "--force"});
  ASSERT_TRUE(sw.ok() && sw->Success()) << (sw.ok() ? sw->output : sw.status().message());
  EXPECT_EQ(LeaderKey(), cand);
  ASSERT_TRUE(
      WaitFor([&] { return Query(cand, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "2"; },
              seconds(40)))
      << "the replicas do not follow " << cand;
  ExpectReplicates(cand, "debian-2");
}

// SSL on PostgreSQL, and every user (superuser, replication, rewind) logs in over SSL with a client certificate:
// the superuser by certificate alone, the others by md5 password and certificate.
TEST_F(FamilyTest, Md5AndSslWithClientCertificatesForAllUsers) {
  std::string c = MakeCerts({"postgres", "replicator", "rewind_user"});
  auto ssl = [&](const std::string& user, const std::string& indent) {
    return indent + "sslmode: verify-ca\n" + indent + "sslrootcert: " + c + "/ca.crt\n" + indent + "sslcert: " + c +
           "/" + user + ".crt\n" + indent + "sslkey: " + c + "/" + user + ".key\n";
  };
  StartCluster(2, [&](SandboxSpec& spec) {
    spec.node_config = [&](int, const SandboxNode& n, const std::string& etcd) {
      return Yaml(
          n, etcd, scope_,
          "    superuser:\n      username: postgres\n" + ssl("postgres", "      ") +
              "    replication:\n      username: replicator\n      password: rep-pass\n" + ssl("replicator", "      ") +
              "    rewind:\n      username: rewind_user\n      password: rewind-pass\n" + ssl("rewind_user", "      "),
          "  - hostssl replication replicator 127.0.0.1/32 md5 clientcert=verify-ca\n"
          "  - hostssl all postgres 127.0.0.1/32 cert\n"
          "  - hostssl all all 127.0.0.1/32 md5 clientcert=verify-ca\n",
          "        password_encryption: md5\n",
          "    ssl: 'on'\n    ssl_cert_file: " + c + "/server.crt\n    ssl_key_file: " + c +
              "/server.key\n    ssl_ca_file: " + c + "/ca.crt\n");
    };
  });
  if (HasFatalFailure()) return;
  auto sslconn = [&](const std::string& user) {
    return " sslmode=verify-ca sslrootcert=" + c + "/ca.crt sslcert=" + c + "/" + user + ".crt sslkey=" + c + "/" +
           user + ".key";
  };
  conn_ = [&](const SandboxNode& n) {
    return "host=127.0.0.1 port=" + std::to_string(n.pg_port) + " user=postgres dbname=postgres" + sslconn("postgres");
  };
  std::string leader = LeaderKey();
  ExpectReplicates(leader, "ssl-1");
  for (const auto& n : sb_->nodes()) {
    EXPECT_EQ(Query(n.name,
                    "SELECT count(*) FROM pg_stat_ssl WHERE ssl AND client_dn IS NOT NULL AND pid = "
                    "pg_backend_pid()"),
              "1")
        << n.name;
  }
  EXPECT_EQ(Query(leader,
                  "SELECT count(*) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE s.ssl "
                  "AND s.client_dn = '/CN=replicator'"),
            "1")
      << "the replica does not stream over SSL with its certificate";
  EXPECT_EQ(Query(leader, "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'replicator'"), "md5");
  std::string err;
  Sql("host=127.0.0.1 port=" + std::to_string(sb_->Node(leader)->pg_port) +
          " user=postgres dbname=postgres sslmode=disable",
      "SELECT 1", &err);
  EXPECT_NE(err.find("no pg_hba.conf entry"), std::string::npos) << "a connection without SSL got in: " << err;
  // The rewind user logs in with its certificate and password (pg_rewind uses the same settings).
  err.clear();
  std::string rewind = "host=127.0.0.1 port=" + std::to_string(sb_->Node(leader)->pg_port) +
                       " user=rewind_user password=rewind-pass dbname=postgres" + sslconn("rewind_user");
  EXPECT_EQ(Sql(rewind,
                "SELECT has_function_privilege('pg_read_binary_file(text, bigint, bigint, boolean)', "
                "'execute')",
                &err),
            "t")
      << err;
  std::string now = KillLeaderAndRejoin();
  ExpectReplicates(now, "ssl-2");
  // The crashed leader was reconciled with pg_rewind, logging in as rewind_user with its certificate.
  auto log = ReadFile(sb_->Node(leader)->log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("pg_rewind from " + now + " finished"), std::string::npos) << CollapseRepeats(*log);
}

// scram-sha-256 for every TCP login, replication included; only the agents' own OS user may use the socket.
TEST_F(FamilyTest, ScramSha256) {
  StartCluster(2, [&](SandboxSpec& spec) {
    spec.node_config = [&](int, const SandboxNode& n, const std::string& etcd) {
      return Yaml(n, etcd, scope_,
                  "    superuser:\n      username: postgres\n      password: su-pass\n"
                  "    replication:\n      username: replicator\n      password: rep-pass\n"
                  "    rewind:\n      username: rewind_user\n      password: rewind-pass\n",
                  "  - local all postgres peer\n"
                  "  - host replication replicator 127.0.0.1/32 scram-sha-256\n"
                  "  - host all all 127.0.0.1/32 scram-sha-256\n",
                  "        password_encryption: scram-sha-256\n");
    };
  });
  if (HasFatalFailure()) return;
  conn_ = [](const SandboxNode& n) {
    return "host=127.0.0.1 port=" + std::to_string(n.pg_port) + " user=postgres password=su-pass dbname=postgres";
  };
  std::string leader = LeaderKey();
  ExpectReplicates(leader, "scram-1");
  EXPECT_EQ(Query(leader,
                  "SELECT string_agg(rolname || ':' || split_part(rolpassword, '$', 1), ',' ORDER BY rolname) "
                  "FROM pg_authid WHERE rolname IN ('postgres', 'replicator', 'rewind_user')"),
            "postgres:SCRAM-SHA-256,replicator:SCRAM-SHA-256,rewind_user:SCRAM-SHA-256");
  std::string now = KillLeaderAndRejoin();
  ExpectReplicates(now, "scram-2");
}

// The way Debian's template (/etc/patroni/config.yml.in) connects: use_unix_socket, a superuser without a password
// and `local all all peer`, so the agent can only reach its PostgreSQL through the socket. Here
// unix_socket_directories is given in bootstrap.dcs only, which Patroni honours (it reads the parameters in
// effect): before, pgwarden looked for the socket in /var/run/postgresql and never reached its own PostgreSQL. The
// agent now connects to the directory the running postmaster names in postmaster.pid.
TEST_F(FamilyTest, UnixSocketWithPeerAndTheSocketDirectoryInTheDynamicConfiguration) {
  std::string sockets = Dir() + "/sockets";
  ASSERT_TRUE(MakeDirs(sockets, 0777).ok());
  chmod(sockets.c_str(), 0777);
  StartCluster(2, [&](SandboxSpec& spec) {
    spec.node_config = [&](int, const SandboxNode& n, const std::string& etcd) {
      std::string home = n.data_dir.substr(0, n.data_dir.rfind('/'));
      std::string y = Yaml(n, etcd, scope_,
                           "    superuser:\n      username: postgres\n"
                           "    replication:\n      username: replicator\n      password: rep-pass\n"
                           "    rewind:\n      username: rewind_user\n      password: rewind-pass\n",
                           "  - local all all peer\n"
                           "  - host replication replicator 127.0.0.1/32 md5\n"
                           "  - host all all 127.0.0.1/32 md5\n",
                           "        unix_socket_directories: " + sockets + "\n");
      auto cut = [&](const std::string& from, const std::string& to) {
        size_t at = y.find(from);
        EXPECT_NE(at, std::string::npos) << from;
        if (at != std::string::npos) y.replace(at, from.size(), to);
      };
      cut("    unix_socket_directories: " + home + "\n", "");  // the local one: only the dynamic one is left
      cut("  pg_hba:\n", "  use_unix_socket: true\n  pg_hba:\n");
      cut("  initdb:\n", "  users:\n    tester:\n      password: tester-pass\n      options: [superuser]\n  initdb:\n");
      return y;
    };
  });
  if (HasFatalFailure()) return;
  conn_ = [](const SandboxNode& n) {
    return "host=127.0.0.1 port=" + std::to_string(n.pg_port) + " user=tester password=tester-pass dbname=postgres";
  };
  std::string leader = LeaderKey();
  for (const auto& n : sb_->nodes()) {
    EXPECT_EQ(Query(n.name, "SHOW unix_socket_directories"), sockets) << n.name;
    EXPECT_TRUE(PathExists(sockets + "/.s.PGSQL." + std::to_string(n.pg_port))) << n.name;
  }
  ExpectReplicates(leader, "socket-1");
  std::string now = KillLeaderAndRejoin();
  ExpectReplicates(now, "socket-2");
}

}  // namespace
}  // namespace pgw
