// A real 3-node cluster (etcd + pgwarden + PostgreSQL 15 on loopback), shared by the tests of this suite, which
// run in order: the last ones change the topology.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("cluster");
    SandboxSpec spec;
    spec.dir = dir_->path + "/sb";
    spec.nodes = 3;
    spec.scope = "itest";
    spec.pgwarden_bin = PgwardenBin();
    static Logger log(stderr);
    auto sb = Sandbox::Up(spec, log);
    ASSERT_TRUE(sb.ok()) << sb.status().message();
    sb_ = new Sandbox(std::move(*sb));
    Status h = sb_->WaitHealthy(Duration(180000));
    ASSERT_TRUE(h.ok()) << h.message();
  }
  static void TearDownTestSuite() {
    if (sb_) {
      Status s = sb_->Down(false);
      if (!s.ok()) ADD_FAILURE() << s.message();
    }
    delete sb_;
    sb_ = nullptr;
    delete dir_;
  }
  void SetUp() override {
    if (sb_ == nullptr) GTEST_SKIP() << "cluster did not start";
  }

  static std::string Leader() {
    for (const auto& n : sb_->nodes()) {
      auto body = sb_->NodeStatus(n.name);
      if (!body.ok()) continue;
      Json j = Json::parse(*body, nullptr, false);
      if (!j.is_discarded() && j.value("role", "") == "primary") return n.name;
    }
    return "";
  }
  static std::string LeaderKey() {
    std::string out = Etcdctl(sb_->EtcdEndpoint(), {"get", "--print-value-only", "/service/itest/leader"});
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  static TempDir* dir_;
  static Sandbox* sb_;
};

TempDir* ClusterTest::dir_ = nullptr;
Sandbox* ClusterTest::sb_ = nullptr;

TEST_F(ClusterTest, OneLeaderTwoReplicasStreamingThroughMemberSlots) {
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  EXPECT_EQ(LeaderKey(), leader);
  std::string ci = sb_->Conninfo(leader);
  std::vector<std::string> replicas = ReplicasOf(*sb_, leader);
  std::sort(replicas.begin(), replicas.end());
  EXPECT_EQ(Sql(ci,
                "SELECT string_agg(application_name || ':' || state, ',' ORDER BY application_name) "
                "FROM pg_stat_replication"),
            replicas[0] + ":streaming," + replicas[1] + ":streaming");
  // Each replica streams through an active physical slot named after it.
  EXPECT_EQ(Sql(ci, "SELECT string_agg(slot_name || ':' || active, ',' ORDER BY slot_name) FROM pg_replication_slots"),
            replicas[0] + ":true," + replicas[1] + ":true");
  for (const auto& r : replicas) {
    EXPECT_EQ(Sql(sb_->Conninfo(r), "SELECT pg_is_in_recovery()"), "t");
    EXPECT_EQ(Sql(sb_->Conninfo(r), "SELECT current_setting('primary_slot_name')"), r);
  }
}

// An idle cluster costs little: no agent opens PostgreSQL sessions over and over (each costs a backend fork and,
// with password authentication, a SCRAM key derivation on both sides: the health check once did, every 250 ms
// to 1 s, and was most of an idle agent's CPU).
TEST_F(ClusterTest, IdleAgentsOpenNoNewPostgresSessions) {
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  for (const auto& n : sb_->nodes()) {
    std::string ci = sb_->Conninfo(n.name);
    const std::string q = "SELECT sum(sessions) FROM pg_stat_database";
    int64_t before = std::atoll(Sql(ci, q).c_str());
    std::this_thread::sleep_for(std::chrono::seconds(5));  // the quantity measured is a rate over time
    int64_t after = std::atoll(Sql(ci, q).c_str());
    // Our own two sessions, and one of slack for a reconnect.
    EXPECT_LE(after - before, 3) << n.name << ": " << (after - before) << " sessions in 5 s";
  }
}

// The HA loop's three observation queries go in one round trip (PgController::Observe): the statements of a batch
// share one message, hence one implicit transaction (now() is the transaction's start), and each gets its rows.
// A failing statement fails the batch without closing the session.
TEST_F(ClusterTest, QueryBatchRunsItsStatementsInOneRoundTrip) {
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  PgConnection c;
  ASSERT_TRUE(c.Connect(sb_->Conninfo(leader), Duration(5000)).ok());
  auto r = c.QueryBatch({"SELECT now()::text, 1", "SELECT pg_sleep(0.02), 2 FROM generate_series(1, 2)",
                         "SELECT now()::text, statement_timestamp() = now() AND clock_timestamp() > now()"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  ASSERT_EQ((*r)[0].size(), 1u);
  ASSERT_EQ((*r)[1].size(), 2u);
  ASSERT_EQ((*r)[2].size(), 1u);
  EXPECT_EQ((*r)[0][0][1], "1");
  EXPECT_EQ((*r)[1][1][1], "2");
  EXPECT_EQ((*r)[0][0][0], (*r)[2][0][0]) << "the statements ran in separate transactions";
  EXPECT_EQ((*r)[2][0][1], "t") << "the last statement came in a later message than the first";
  auto bad = c.QueryBatch({"SELECT 1", "SELECT no_such_column", "SELECT 3"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument) << bad.status().message();
  EXPECT_TRUE(c.connected());
  auto after = c.Query("SELECT 4");
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->at(0)[0], "4");
}

TEST_F(ClusterTest, RowWrittenOnLeaderIsReadOnBothReplicas) {
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  std::string err;
  Sql(sb_->Conninfo(leader), "CREATE TABLE IF NOT EXISTS itest_rows(id int primary key, v text)", &err);
  ASSERT_TRUE(err.empty()) << err;
  Sql(sb_->Conninfo(leader), "INSERT INTO itest_rows VALUES (1, 'written on the leader')", &err);
  ASSERT_TRUE(err.empty()) << err;
  for (const auto& n : sb_->nodes()) {
    if (n.name == leader) continue;
    EXPECT_TRUE(WaitFor(
        [&] { return Sql(sb_->Conninfo(n.name), "SELECT v FROM itest_rows WHERE id = 1") == "written on the leader"; },
        std::chrono::seconds(20)))
        << n.name;
  }
}

TEST_F(ClusterTest, EtcdHoldsPatroniLayoutAndFields) {
  std::string dump = Etcdctl(sb_->EtcdEndpoint(), {"get", "--prefix", "/service/itest/"});
  std::map<std::string, std::string> kv;
  std::istringstream in(dump);
  std::string k, v;
  while (std::getline(in, k) && std::getline(in, v)) kv[k] = v;
  for (const char* key :
       {"/service/itest/initialize", "/service/itest/config", "/service/itest/leader", "/service/itest/status",
        "/service/itest/members/pg0", "/service/itest/members/pg1", "/service/itest/members/pg2"}) {
    EXPECT_TRUE(kv.count(key)) << key << " missing in:\n" << dump;
  }
  std::string leader = kv["/service/itest/leader"];
  EXPECT_EQ(kv["/service/itest/initialize"],
            Sql(sb_->Conninfo(leader), "SELECT system_identifier::text FROM pg_control_system()"));
  Json config = Json::parse(kv["/service/itest/config"], nullptr, false);
  EXPECT_EQ(config.value("ttl", 0), 10);
  EXPECT_TRUE(Json::parse(kv["/service/itest/status"], nullptr, false).at("optime").is_number_integer());
  for (const auto& n : sb_->nodes()) {
    Json m = Json::parse(kv["/service/itest/members/" + n.name], nullptr, false);
    ASSERT_FALSE(m.is_discarded());
    EXPECT_EQ(m["conn_url"], "postgres://127.0.0.1:" + std::to_string(n.pg_port) + "/postgres");
    EXPECT_EQ(m["api_url"], "http://127.0.0.1:" + std::to_string(n.api_port) + "/patroni");
    EXPECT_EQ(m["state"], "running");
    EXPECT_EQ(m["role"], n.name == leader ? "primary" : "replica");
    EXPECT_TRUE(m["xlog_location"].is_number_integer());
    EXPECT_EQ(m["timeline"], 1);
    EXPECT_TRUE(m.contains("version"));
  }
  // leader and the leader's member key share one lease; TTL as configured.
  std::string lease_info = Etcdctl(sb_->EtcdEndpoint(), {"get", "/service/itest/leader", "-w", "json"});
  Json lj = Json::parse(lease_info, nullptr, false);
  ASSERT_FALSE(lj.is_discarded());
  int64_t lease = lj["kvs"][0]["lease"].get<int64_t>();
  char hex[32];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<long long>(lease));
  std::string ttl = Etcdctl(sb_->EtcdEndpoint(), {"lease", "timetolive", hex, "--keys"});
  EXPECT_NE(ttl.find("granted with TTL(10s)"), std::string::npos) << ttl;
  EXPECT_NE(ttl.find("/service/itest/leader"), std::string::npos) << ttl;
  EXPECT_NE(ttl.find("/service/itest/members/" + leader), std::string::npos) << ttl;
}

TEST_F(ClusterTest, RestartedReplicaAgentRejoinsWithoutANewClone) {
  std::string leader = Leader();
  std::string replica = leader == "pg1" ? "pg2" : "pg1";
  const SandboxNode* n = sb_->Node(replica);
  // A marker in the data directory survives only if the directory is not re-cloned (a clone starts empty).
  std::string marker = n->data_dir + "/pgwarden-itest-marker";
  ASSERT_TRUE(WriteFileAtomic(marker, "x").ok());
  ASSERT_TRUE(sb_->SignalNode(replica, SIGTERM, true).ok());
  EXPECT_EQ(Sql(sb_->Conninfo(replica), "SELECT 1"), "");  // the agent stopped its PostgreSQL
  ASSERT_TRUE(sb_->StartNode(replica).ok());
  Status h = sb_->WaitHealthy(Duration(90000));
  ASSERT_TRUE(h.ok()) << h.message();
  EXPECT_TRUE(PathExists(marker)) << "data directory was re-cloned";
  auto log = ReadFile(n->log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("starting as a secondary"), std::string::npos);
  EXPECT_EQ(Leader(), leader);
}

TEST_F(ClusterTest, SecondScopeOnTheSameEtcdIsIndependent) {
  std::string before = Etcdctl(sb_->EtcdEndpoint(), {"get", "--prefix", "/service/itest/", "--keys-only"});
  std::string leader = Leader();
  SandboxSpec spec;
  spec.dir = dir_->path + "/other";
  spec.nodes = 1;
  spec.scope = "itest2";
  spec.name_prefix = "pg";  // same member names as the first cluster, on purpose
  spec.etcd_endpoint = sb_->EtcdEndpoint();
  spec.pgwarden_bin = PgwardenBin();
  Logger log(stderr);
  auto other = Sandbox::Up(spec, log);
  ASSERT_TRUE(other.ok()) << other.status().message();
  Status h = other->WaitHealthy(Duration(120000));
  EXPECT_TRUE(h.ok()) << h.message();
  std::string other_leader = Etcdctl(sb_->EtcdEndpoint(), {"get", "--print-value-only", "/service/itest2/leader"});
  EXPECT_EQ(other_leader, "pg0\n");
  EXPECT_EQ(Leader(), leader);
  EXPECT_EQ(LeaderKey(), leader);
  EXPECT_EQ(Etcdctl(sb_->EtcdEndpoint(), {"get", "--prefix", "/service/itest/", "--keys-only"}), before);
  EXPECT_NE(Sql(other->Conninfo("pg0"), "SELECT system_identifier::text FROM pg_control_system()"),
            Sql(sb_->Conninfo(leader), "SELECT system_identifier::text FROM pg_control_system()"));
  EXPECT_TRUE(other->Down(false).ok());
  EXPECT_TRUE(sb_->WaitHealthy(Duration(30000)).ok());
}

// POST /restart on the leader, then on a replica: the core states the role the restart starts PostgreSQL in (issue
// 14). Each comes back in its role with a new postmaster; the leader keeps the key and accepts writes again.
TEST_F(ClusterTest, RequestedRestartBringsEachNodeBackInItsRole) {
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  std::string replica = leader == "pg1" ? "pg2" : "pg1";
  for (const std::string& name : {leader, replica}) {
    auto pm = sb_->PostmasterPid(name);
    ASSERT_TRUE(pm) << name;
    HttpClient http;
    HttpRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(sb_->Node(name)->api_port) + "/restart";
    req.timeout = Duration(60000);  // the handler answers once the restart has finished
    auto r = http.Do(req);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().message();
    EXPECT_EQ(r->status, 200) << name << ": " << r->body;
    EXPECT_EQ(r->body, "restarted successfully") << name;
    EXPECT_NE(sb_->PostmasterPid(name), pm) << name << ": PostgreSQL was not restarted";
    const std::string in_recovery = name == leader ? "f" : "t";
    EXPECT_TRUE(
        WaitFor([&] { return Sql(sb_->Conninfo(name), "SELECT pg_is_in_recovery()") == in_recovery; }, Duration(30000)))
        << name << " did not come back in its role";
  }
  EXPECT_EQ(LeaderKey(), leader);
  std::string err;
  EXPECT_TRUE(WaitFor(
      [&] {
        err.clear();
        Sql(sb_->Conninfo(leader), "CREATE TABLE IF NOT EXISTS after_restart (x int)", &err);
        return err.empty();
      },
      Duration(30000)))
      << "the restarted leader does not accept writes: " << err;
  Status h = sb_->WaitHealthy(Duration(60000));
  EXPECT_TRUE(h.ok()) << h.message();
}

TEST_F(ClusterTest, SigtermOnLeaderStopsPostgresCleanlyAndReleasesTheKey) {
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  const SandboxNode* n = sb_->Node(leader);
  ASSERT_TRUE(sb_->SignalNode(leader, SIGTERM, true).ok());
  auto log = ReadFile(n->log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("Leader key released"), std::string::npos);
  ProcessOptions o;
  o.env_set["LC_ALL"] = "C";
  auto cd = pgw::Run({"/usr/lib/postgresql/15/bin/pg_controldata", n->data_dir}, o);
  ASSERT_TRUE(cd.ok());
  EXPECT_NE(cd->output.find("Database cluster state:               shut down\n"), std::string::npos) << cd->output;
  // The key was deleted, not left to expire: within well under the 10 s TTL it is gone or held by another member.
  EXPECT_TRUE(WaitFor([&] { return LeaderKey() != leader; }, std::chrono::seconds(5)));
}

// POST /reinitialize on a replica: the request goes through the decision core, which stops PostgreSQL, removes the
// data directory and clones it again from the leader; on the leader it is refused (Patroni's 503 and text).
TEST_F(ClusterTest, ReinitializeReclonesAReplicaAndIsRefusedOnTheLeader) {
  std::string leader = Leader();
  ASSERT_FALSE(leader.empty());
  auto refused = RestCall(*sb_->Node(leader), "POST", "/reinitialize", "{}");
  EXPECT_EQ(refused.first, 503);
  EXPECT_EQ(refused.second, "I am the leader, can not reinitialize");

  std::string replica = leader == "pg1" ? "pg2" : "pg1";
  const SandboxNode* n = sb_->Node(replica);
  // A marker in the data directory disappears only if the directory is removed and cloned again.
  std::string marker = n->data_dir + "/pgwarden-itest-reinit-marker";
  ASSERT_TRUE(WriteFileAtomic(marker, "x").ok());
  auto accepted = RestCall(*n, "POST", "/reinitialize", "{}");
  EXPECT_EQ(accepted.first, 200) << accepted.second;
  EXPECT_TRUE(WaitFor([&] { return !PathExists(marker); }, Duration(30000))) << "the data directory was not removed";
  // The REST status and the leader's pg_stat_replication may still show the old instance for a moment: wait for
  // the clone to answer, then to stream.
  EXPECT_TRUE(
      WaitFor([&] { return Sql(sb_->Conninfo(replica), "SELECT pg_is_in_recovery()") == "t"; }, Duration(120000)))
      << replica << " does not run again as a replica";
  EXPECT_TRUE(WaitFor(
      [&] {
        return Sql(sb_->Conninfo(leader), "SELECT count(*) FROM pg_stat_replication WHERE application_name = '" +
                                              replica + "' AND state = 'streaming'") == "1";
      },
      Duration(60000)))
      << replica << " does not stream again";
  Status h = sb_->WaitHealthy(Duration(120000));
  ASSERT_TRUE(h.ok()) << h.message();
  auto log = ReadFile(n->log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("reinitializing: stopping PostgreSQL and removing the data directory"), std::string::npos);
  EXPECT_EQ(Leader(), leader);
  auto leader_log = ReadFile(sb_->Node(leader)->log_path);
  ASSERT_TRUE(leader_log.ok());
  EXPECT_EQ(leader_log->find("reinitializing:"), std::string::npos);
}

}  // namespace
}  // namespace pgw::itest
