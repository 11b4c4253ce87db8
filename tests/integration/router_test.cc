// pgwarden-router against real etcd and PostgreSQL (sandbox clusters on loopback): the write port reaches the
// leader and the read port a replica, md5 and SCRAM authentication pass through, cancel requests reach the backend,
// a leader change closes the old sessions and new connections reach the new primary, and writes stop while etcd
// cannot be read. The router runs in-process (its own threads), so that its counters can be checked.
#include "router_fixture.h"

namespace pgw::itest {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class RouterTest : public RouterFixture {
 protected:
  RouterTest() : RouterFixture("rt") {}
};

TEST_F(RouterTest, WritePortReachesTheLeaderReadPortReplicasWithScramMd5AndCancel) {
  StartCluster(3, [](SandboxSpec& spec) {
    spec.postgresql_pg_hba = false;
    spec.extra_postgresql =
        "  pg_hba:\n  - local all all trust\n"
        "  - host replication replicator 127.0.0.1/32 scram-sha-256\n"
        "  - host all md5user 127.0.0.1/32 md5\n"
        "  - host all all 127.0.0.1/32 scram-sha-256\n";
  });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  {
    Conn direct(sb_->Conninfo(leader));
    ASSERT_TRUE(direct.ok()) << direct.error();
    ASSERT_EQ(direct.Query("SET password_encryption = 'md5'; CREATE ROLE md5user LOGIN PASSWORD 'md5pass'"), "");
  }
  StartRouter(scope_);

  // SCRAM (the superuser) through the write port: the leader, writable.
  Conn w(Via(true));
  ASSERT_TRUE(w.ok()) << w.error();
  EXPECT_EQ(w.Query("SELECT pg_is_in_recovery()"), "f");
  EXPECT_EQ(ServerPort(w), std::to_string(PgPort(leader)));
  EXPECT_EQ(w.Query("CREATE TABLE t(x int)"), "");
  // md5 through both ports (the role replicates to the replicas).
  Conn m(Via(true, "md5user", "md5pass"));
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m.Query("SELECT current_user"), "md5user");
  EXPECT_EQ(Sql(sb_->Conninfo(leader), "SELECT substr(rolpassword, 1, 3) FROM pg_authid WHERE rolname = 'md5user'"),
            "md5");
  Conn bad(Via(true, "md5user", "wrong"));
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("password authentication failed"), std::string::npos) << bad.error();

  // Read port: replicas, spread by outstanding connections.
  std::unique_ptr<Conn> r1, r2;
  ASSERT_TRUE(WaitFor(
      [&] {
        r1 = std::make_unique<Conn>(Via(false, "md5user", "md5pass"));
        return r1->ok();
      },
      seconds(20)))
      << r1->error();
  r2 = std::make_unique<Conn>(Via(false));
  ASSERT_TRUE(r2->ok()) << r2->error();
  EXPECT_EQ(r1->Query("SELECT pg_is_in_recovery()"), "t");
  EXPECT_EQ(r2->Query("SELECT pg_is_in_recovery()"), "t");
  EXPECT_NE(ServerPort(*r1), ServerPort(*r2)) << "two concurrent read sessions should use both replicas";
  EXPECT_NE(ServerPort(*r1), std::to_string(PgPort(leader)));

  // Cancel: the request arrives on a new connection (possibly another worker) and reaches the backend.
  ASSERT_EQ(PQsendQuery(w.c, "SELECT pg_sleep(30)"), 1);
  ASSERT_TRUE(Running(leader, "SELECT pg_sleep(30)"));
  PGcancel* cancel = PQgetCancel(w.c);
  char errbuf[256];
  MonoTime sent = Now();
  EXPECT_EQ(PQcancel(cancel, errbuf, sizeof errbuf), 1) << errbuf;
  PQfreeCancel(cancel);
  PGresult* res = PQgetResult(w.c);
  std::string state = PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "";
  PQclear(res);
  while ((res = PQgetResult(w.c)) != nullptr) PQclear(res);
  EXPECT_EQ(state, "57014") << "the query was not cancelled";
  EXPECT_LT(Now() - sent, Duration(5000));

  // Admin endpoints.
  long status = 0;
  Json health = Admin("/health", &status);
  EXPECT_EQ(status, 200) << health.dump();
  EXPECT_EQ(health.value("write_target", ""), leader);
  Json stats = Admin("/stats");
  ASSERT_TRUE(stats.is_object()) << stats.dump();
  EXPECT_GE(stats["routing"]["write"].get<int>(), 2);
  EXPECT_GE(stats["routing"]["read"].get<int>(), 2);
  EXPECT_EQ(stats["routing"]["cancels_forwarded"].get<int>(), 1);
  EXPECT_EQ(stats["servers"].size(), 3u);
  EXPECT_EQ(stats["workers"].size(), 2u);
  std::string metrics = Admin("/metrics").get<std::string>();
  EXPECT_NE(metrics.find("pgwarden_router_loop_lag_seconds{worker=\"1\"}"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("pgwarden_router_routed_total{port=\"write\"}"), std::string::npos);
  std::fprintf(stderr, "%s\n", stats.dump(2).c_str());
}

// A leader change seen in etcd closes the sessions on the old leader at once, even while that server still runs:
// a scope of hand-written keys whose two members are the same PostgreSQL, and the leader key moved between them.
TEST_F(RouterTest, LeaderKeyMovedClosesOldSessionsAndRoutesToTheNewLeader) {
  StartCluster(1);
  std::string real = LeaderKey();
  ASSERT_FALSE(real.empty());
  std::string url = "postgres://127.0.0.1:" + std::to_string(PgPort(real)) + "/postgres";
  std::string prefix = "/service/fake/";
  for (const char* n : {"a", "b"}) {
    Etcdctl(sb_->EtcdEndpoint(),
            {"put", prefix + "members/" + n, R"({"conn_url":")" + url + R"(","role":"primary","state":"running"})"});
  }
  Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "leader", "a"});
  StartRouter("fake");
  Conn old(Via(true));
  ASSERT_TRUE(old.ok()) << old.error();
  EXPECT_EQ(old.Query("SELECT 1"), "1");

  MonoTime moved = Now();
  Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "leader", "b"});
  ASSERT_TRUE(WaitFor([&] { return old.Query("SELECT 1") != "1"; }, seconds(5))) << "the old session stayed open";
  std::fprintf(stderr, "old session closed %lld ms after the leader key moved\n",
               static_cast<long long>((Now() - moved).count()));
  Conn fresh(Via(true));
  ASSERT_TRUE(fresh.ok()) << fresh.error();
  EXPECT_EQ(fresh.Query("SELECT 1"), "1");
  Json stats = Admin("/stats");
  EXPECT_EQ(stats["routing"]["closed"]["leader_changed"].get<int>(), 1) << stats.dump();
  EXPECT_EQ(stats.value("write_target", ""), "b");
  EXPECT_FALSE(stats["topology"]["reroute_ms"].is_null()) << stats.dump();

  // No leader: new connections wait (no_leader_wait, 3 s here), then get a clear error.
  Etcdctl(sb_->EtcdEndpoint(), {"del", prefix + "leader"});
  ASSERT_TRUE(WaitFor([&] { return Admin("/stats")["write_target"].is_null(); }, seconds(5)));
  MonoTime asked = Now();
  Conn none(Via(true));
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.error().find("the cluster has no leader"), std::string::npos) << none.error();
  EXPECT_GE(Now() - asked, Duration(2500));
  // A leader appearing during the wait is used at once.
  std::thread put([&] {
    std::this_thread::sleep_for(milliseconds(500));
    Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "leader", "a"});
  });
  Conn waited(Via(true));
  put.join();
  EXPECT_TRUE(waited.ok()) << waited.error();

  // Protocol violations get FATAL 08P01; encryption requests get 'N' (then the start-up goes on in clear).
  std::string garbage("\0\0\0\3", 4);
  std::string reply = RawExchange(router_->write_port(), garbage);
  ASSERT_FALSE(reply.empty());
  EXPECT_EQ(reply[0], 'E');
  EXPECT_NE(reply.find("08P01"), std::string::npos) << reply;
  std::string ssl("\0\0\0\x08\x04\xd2\x16\x2f", 8), gss("\0\0\0\x08\x04\xd2\x16\x30", 8);
  EXPECT_EQ(RawExchange(router_->read_port(), gss), "N");  // the router then waits for the start-up (3 s here)
  // Bytes sent before the answer to an encryption request would be read as if they came after it: refused.
  reply = RawExchange(router_->read_port(), ssl + gss);
  ASSERT_FALSE(reply.empty());
  EXPECT_EQ(reply[0], 'E');
  EXPECT_NE(reply.find("08P01"), std::string::npos) << reply;
  stats = Admin("/stats");
  EXPECT_GE(stats["routing"]["closed"]["protocol_violation"].get<int>(), 2) << stats.dump();
}

// A read session whose replica leaves the read pool (here: tagged noloadbalance) is closed at once with FATAL 57P01
// saying why, and counted; new read sessions go elsewhere (here: nowhere, and they wait then fail).
TEST_F(RouterTest, ReplicaLeavingTheReadPoolClosesItsReadSessions) {
  StartCluster(1);
  std::string real = LeaderKey();
  ASSERT_FALSE(real.empty());
  std::string url = "postgres://127.0.0.1:" + std::to_string(PgPort(real)) + "/postgres";
  std::string prefix = "/service/fakeread/";
  Etcdctl(sb_->EtcdEndpoint(),
          {"put", prefix + "members/a", R"({"conn_url":")" + url + R"(","role":"primary","state":"running"})"});
  Etcdctl(sb_->EtcdEndpoint(),
          {"put", prefix + "members/b", R"({"conn_url":")" + url + R"(","role":"replica","state":"streaming"})"});
  Etcdctl(sb_->EtcdEndpoint(), {"put", prefix + "leader", "a"});
  StartRouter("fakeread", {"--no-leader-wait", "1s"});
  Conn r(Via(false));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.Query("SELECT 1"), "1");

  MonoTime tagged = Now();
  Etcdctl(sb_->EtcdEndpoint(),
          {"put", prefix + "members/b",
           R"({"conn_url":")" + url + R"(","role":"replica","state":"streaming","tags":{"noloadbalance":true}})"});
  std::string answer;
  ASSERT_TRUE(WaitFor(
      [&] {
        answer = r.Query("SELECT 1");
        return answer != "1";
      },
      seconds(5)))
      << "the read session stayed open";
  std::fprintf(stderr, "read session closed %lld ms after the tag: %s\n",
               static_cast<long long>((Now() - tagged).count()), answer.c_str());
  EXPECT_NE(answer.find("b has the noloadbalance tag"), std::string::npos) << answer;
  // The FATAL goes out before the worker closes and counts the session: the count is awaited, not read at once
  // (read at once, CI saw 0 once).
  Json stats;
  EXPECT_TRUE(WaitFor(
      [&] {
        stats = Admin("/stats");
        return stats["routing"]["closed"]["replica_left_pool"].get<int>() == 1;
      },
      seconds(5)))
      << stats.dump();
  std::string metrics = Admin("/metrics").get<std::string>();
  EXPECT_NE(metrics.find("pgwarden_router_sessions_closed_total{reason=\"replica_left_pool\"} 1"), std::string::npos);
  Conn none(Via(false));
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no replica"), std::string::npos) << none.error();
}

// TLS on both legs: PostgreSQL with ssl=on, the router with a certificate for clients and server_tls_sslmode
// verify-full; libpq verifies the router's certificate, and pg_stat_ssl on the server shows the router's
// connection encrypted. Large values cross both TLS legs each way.
TEST_F(RouterTest, TlsFromClientsAndToPostgresql) {
  TempDir certs("rtls");
  std::string key = certs.path + "/server.key", crt = certs.path + "/server.crt";
  Status cert = MakeSelfSignedCert(key, crt);
  ASSERT_TRUE(cert.ok()) << cert.message();
  StartCluster(1, [&](SandboxSpec& spec) {
    spec.extra_postgresql = "    ssl: 'on'\n    ssl_cert_file: " + crt + "\n    ssl_key_file: " + key + "\n";
  });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  // The router presents PostgreSQL's own certificate: SCRAM channel binding (bound to the certificate's hash) then
  // holds end to end, so the client may require it.
  StartRouter(scope_, {"--client-tls-cert-file", crt, "--client-tls-key-file", key, "--server-tls-sslmode",
                       "verify-full", "--server-tls-ca-file", crt});
  std::string tls_client = "host=127.0.0.1 port=" + std::to_string(router_->write_port()) +
                           " user=postgres password=" + Sandbox::kSuperuserPassword +
                           " dbname=postgres gssencmode=disable channel_binding=require sslmode=verify-full" +
                           " sslrootcert=" + crt;
  Conn c(tls_client);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(PQsslInUse(c.c), 1);
  EXPECT_EQ(c.Query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), "t");
  EXPECT_EQ(c.Query("SELECT pg_is_in_recovery()"), "f");
  // Megabytes each way through both TLS legs (many records, partial writes).
  EXPECT_EQ(c.Query("SELECT repeat('x', 5000000)").size(), 5000000u);
  std::string big(3000000, 'y');
  EXPECT_EQ(c.Query("SELECT length('" + big + "')"), "3000000");
  // A client in clear still reaches the server over TLS.
  std::string clear = Via(true);
  clear.replace(clear.find("sslmode=prefer"), 14, "sslmode=disable");
  Conn plain(clear);
  ASSERT_TRUE(plain.ok()) << plain.error();
  EXPECT_EQ(PQsslInUse(plain.c), 0);
  EXPECT_EQ(plain.Query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), "t");
  // Cancel from a TLS client.
  ASSERT_EQ(PQsendQuery(c.c, "SELECT pg_sleep(30)"), 1);
  ASSERT_TRUE(Running(leader, "SELECT pg_sleep(30)"));
  PGcancel* cancel = PQgetCancel(c.c);
  char errbuf[256];
  EXPECT_EQ(PQcancel(cancel, errbuf, sizeof errbuf), 1) << errbuf;
  PQfreeCancel(cancel);
  PGresult* res = PQgetResult(c.c);
  std::string state = PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "";
  PQclear(res);
  while ((res = PQgetResult(c.c)) != nullptr) PQclear(res);
  EXPECT_EQ(state, "57014");
  Json stats = Admin("/stats");
  EXPECT_GE(stats["routing"]["tls_clients"].get<int>(), 1) << stats.dump();
  EXPECT_GE(stats["routing"]["tls_servers"].get<int>(), 2) << stats.dump();
  EXPECT_EQ(stats["routing"]["closed"]["tls_failed"].get<int>(), 0) << stats.dump();

  // verify-full against a CA that did not sign the server's certificate: refused with a clear error.
  router_->Stop();
  TempDir other("rtls2");
  std::string okey = other.path + "/o.key", ocrt = other.path + "/o.crt";
  cert = MakeSelfSignedCert(okey, ocrt, "other");
  ASSERT_TRUE(cert.ok()) << cert.message();
  StartRouter(scope_, {"--server-tls-sslmode", "verify-ca", "--server-tls-ca-file", ocrt});
  Conn refused(Via(true));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("certificate verification failed"), std::string::npos) << refused.error();
}

TEST_F(RouterTest, LeaderMachineKilledNewConnectionsReachTheNewPrimary) {
  StartCluster(2, [](SandboxSpec& spec) { FastTiming(spec); });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  StartRouter(scope_, {"--no-leader-wait", "15s"});
  Conn old(Via(true));
  ASSERT_TRUE(old.ok()) << old.error();
  EXPECT_EQ(ServerPort(old), std::to_string(PgPort(leader)));

  MonoTime killed = Now();
  KillMachine(leader);  // agent, fence supervisor and postmaster, SIGKILL by PID
  EXPECT_TRUE(WaitFor([&] { return old.Query("SELECT 1") != "1"; }, seconds(5))) << "the old session stayed open";
  // One connection attempt made right away waits in the router (up to no_leader_wait) and lands on the new
  // primary as soon as it is promoted and writable.
  Conn next(Via(true));
  MonoTime linked = Now();
  ASSERT_TRUE(next.ok()) << next.error();
  EXPECT_EQ(next.Query("SELECT pg_is_in_recovery()"), "f");
  std::string now_leader = LeaderKey();
  EXPECT_NE(now_leader, leader);
  EXPECT_EQ(ServerPort(next), std::to_string(PgPort(now_leader)));
  Json stats = Admin("/stats");
  std::fprintf(stderr, "new primary reached %lld ms after the kill; router reroute_ms %s\n",
               static_cast<long long>((linked - killed).count()), stats["topology"]["reroute_ms"].dump().c_str());
  EXPECT_FALSE(stats["topology"]["reroute_ms"].is_null());
}

TEST_F(RouterTest, EtcdStoppedStopsWritesAfterTheTtlAndTheyResumeWhenItReturns) {
  StartCluster(1, [](SandboxSpec& spec) { FastTiming(spec); });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  StartRouter(scope_, {"--no-leader-wait", "1s"});
  Conn before(Via(true));
  ASSERT_TRUE(before.ok()) << before.error();

  MonoTime frozen = Now();
  ASSERT_EQ(kill(sb_->EtcdPid(), SIGSTOP), 0);
  std::string refusal;
  bool refused = WaitFor(
      [&] {
        Conn c(Via(true));
        refusal = c.error();
        return !c.ok() && refusal.find("etcd has not been read") != std::string::npos;
      },
      seconds(15));
  MonoTime refused_at = Now();
  long status = 0;
  Json health = Admin("/health", &status);
  kill(sb_->EtcdPid(), SIGCONT);
  ASSERT_TRUE(refused) << refusal;
  std::fprintf(stderr, "writes refused %lld ms after etcd froze (ttl 5 s): %s\n",
               static_cast<long long>((refused_at - frozen).count()), refusal.c_str());
  EXPECT_GE(refused_at - frozen, Duration(5000));
  EXPECT_EQ(status, 503) << health.dump();
  EXPECT_NE(before.Query("SELECT 1"), "1") << "the write session survived etcd loss";

  // etcd back: writes are routed again (to whichever member leads by then).
  std::string err;
  EXPECT_TRUE(WaitFor(
      [&] {
        Conn c(Via(true));
        err = c.error();
        return c.ok() && c.Query("SELECT pg_is_in_recovery()") == "f";
      },
      seconds(40)))
      << err;
}

}  // namespace
}  // namespace pgw::itest
