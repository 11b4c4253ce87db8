// The etcd lease under live changes, with real etcd, agents and PostgreSQL (issue 10 item 1).
#include <future>
#include <nlohmann/json.hpp>

#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class LeaseTest : public ClusterFixture {
 protected:
  LeaseTest() : ClusterFixture("lease") {}

  // The lease a key is attached to (0: key absent or on no lease).
  int64_t LeaseOf(const std::string& key) {
    Json j = Json::parse(Etcdctl(sb_->EtcdEndpoint(), {"get", "/service/" + scope_ + "/" + key, "-w", "json"}), nullptr,
                         false);
    if (!j.is_object() || !j.contains("kvs") || j["kvs"].empty()) return 0;
    return j["kvs"][0].value("lease", int64_t{0});
  }
  // `etcdctl lease timetolive` of a lease.
  std::string TimeToLive(int64_t lease) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<long long>(lease));
    return Etcdctl(sb_->EtcdEndpoint(), {"lease", "timetolive", hex});
  }
  // Writes the `config` key with ttl changed (what `pgwardenctl edit-config --set ttl=N --force` stores).
  void SetConfigTtl(int ttl) {
    Json config = Json::parse(Key("config"), nullptr, false);
    ASSERT_TRUE(config.is_object()) << Key("config");
    config["ttl"] = ttl;
    Etcdctl(sb_->EtcdEndpoint(), {"put", "/service/" + scope_ + "/config", config.dump()});
    ASSERT_EQ(Json::parse(Key("config"), nullptr, false).value("ttl", 0), ttl);
  }
};

// A live ttl change re-creates each agent's lease with the new ttl and moves the keys onto it, new lease first:
// the leader key never disappears, no leader change happens, every member key stays.
TEST_F(LeaseTest, LiveTtlChangeKeepsLeaderAndMemberKeysAndMovesThemToANewLease) {
  StartCluster(2, [](SandboxSpec& s) { FastTiming(s); });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  int64_t old_lease = LeaseOf("leader");
  ASSERT_NE(old_lease, 0);
  ASSERT_NE(TimeToLive(old_lease).find("granted with TTL(5s)"), std::string::npos) << TimeToLive(old_lease);

  SetConfigTtl(8);
  // Watch every 100 ms for three new ttls (24 s; a lease dropped without a new one is gone after 5 s): nothing may
  // break in that time.
  int samples = 0;
  std::string broken;
  bool broke = WaitFor(
      [&] {
        if (std::string now = LeaderKey(); now != leader) broken = "the leader key is '" + now + "'";
        for (const auto& n : sb_->nodes()) {
          if (Key("members/" + n.name).empty()) broken = "the member key of " + n.name + " vanished";
        }
        ++samples;
        return !broken.empty();
      },
      seconds(24));
  ASSERT_FALSE(broke) << broken << " after " << samples << " samples";
  int64_t new_lease = LeaseOf("leader");
  EXPECT_NE(new_lease, old_lease) << "the leader key is still on the ttl-5 lease";
  EXPECT_NE(TimeToLive(new_lease).find("granted with TTL(8s)"), std::string::npos) << TimeToLive(new_lease);
  EXPECT_EQ(LeaseOf("members/" + leader), new_lease) << "the leader's member key is not on its new lease";
  for (const auto& n : sb_->nodes()) {
    int64_t l = LeaseOf("members/" + n.name);
    EXPECT_NE(TimeToLive(l).find("granted with TTL(8s)"), std::string::npos) << n.name << ": " << TimeToLive(l);
  }
  // The old lease was revoked once the keys moved (not left to expire).
  EXPECT_NE(TimeToLive(old_lease).find("already expired"), std::string::npos) << TimeToLive(old_lease);
  // Still a healthy cluster (replication intact) with the same leader.
  Status h = sb_->WaitHealthy(Duration(30000));
  EXPECT_TRUE(h.ok()) << h.message();
  EXPECT_EQ(LeaderKey(), leader);
}

// A primary whose postmaster hangs (SIGSTOP) stops renewing its lease once PostgreSQL has not answered a fresh
// session for max(1 s, ttl/2): the lease lapses, the fence kills the frozen postmaster, a replica takes over.
TEST_F(LeaseTest, FrozenPostmasterLosesTheLeaderKeyAndIsFenced) {
  StartCluster(2, [](SandboxSpec& s) { FastTiming(s); });
  std::string old = LeaderKey();
  ASSERT_FALSE(old.empty());
  auto pm = sb_->PostmasterPid(old);
  ASSERT_TRUE(pm.has_value());
  pid_t frozen_pid = *pm;
  struct Thaw {  // SIGCONT in every case (a stopped postmaster outlives the sandbox otherwise)
    pid_t pid;
    ~Thaw() { kill(pid, SIGCONT); }
  } thaw{frozen_pid};
  auto frozen = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(frozen_pid, SIGSTOP), 0);
  std::string fresh;
  ASSERT_TRUE(WaitFor(
      [&] {
        fresh = LeaderKey();
        return !fresh.empty() && fresh != old;
      },
      seconds(30)))
      << "no replica took the leader key from the frozen primary";
  auto took = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return Sql(sb_->Conninfo(fresh), "SELECT pg_is_in_recovery()") == "f"; }, seconds(30)))
      << fresh << " did not promote";
  auto promoted = std::chrono::steady_clock::now();
  std::fprintf(stderr, "postmaster frozen -> key taken by %s after %lld ms, writable after %lld ms\n", fresh.c_str(),
               static_cast<long long>(std::chrono::duration_cast<milliseconds>(took - frozen).count()),
               static_cast<long long>(std::chrono::duration_cast<milliseconds>(promoted - frozen).count()));
  // Bound: health bound (2.5 s) + ttl (5 s) + a loop (1 s) + the race, with slack for a loaded machine.
  EXPECT_LT(took - frozen, seconds(15));
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(frozen_pid); }, seconds(10)))
      << "the frozen postmaster of " << old << " was not fenced";
}

// The agent's libpq queries have a client-side timeout: a backend that stops answering (here SIGSTOPped) makes
// Query fail with kUnavailable after the Connect timeout + 1 s instead of blocking its caller (the HA loop) forever.
TEST_F(LeaseTest, QueryToAFrozenBackendTimesOutClientSide) {
  StartCluster(
      1, [](SandboxSpec& s) { FastTiming(s); }, /*wait_healthy=*/false);
  std::string node = sb_->nodes().front().name;
  ASSERT_TRUE(
      WaitFor([&] { return !LeaderKey().empty() && !Sql(sb_->Conninfo(node), "SELECT 1").empty(); }, seconds(60)));
  PgConnection c;
  ASSERT_TRUE(c.Connect(sb_->Conninfo(node), Duration(1000)).ok());
  auto pid = c.Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok() && !pid->empty() && (*pid)[0][0]);
  pid_t backend = static_cast<pid_t>(std::stol(*(*pid)[0][0]));
  struct Thaw {
    pid_t pid;
    ~Thaw() { kill(pid, SIGCONT); }
  } thaw{backend};
  ASSERT_EQ(kill(backend, SIGSTOP), 0);
  auto started = std::chrono::steady_clock::now();
  auto f = std::async(std::launch::async, [&] { return c.Query("SELECT 1"); });
  bool returned = f.wait_for(seconds(10)) == std::future_status::ready;
  if (!returned) kill(backend, SIGCONT);  // let the blocked call finish so that the test can end
  auto r = f.get();
  ASSERT_TRUE(returned) << "Query blocked for 10 s on a frozen backend";
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().message();
  EXPECT_GE(took, milliseconds(1900));
  EXPECT_LT(took, seconds(4));
  EXPECT_FALSE(c.connected());
}

}  // namespace
}  // namespace pgw::itest
