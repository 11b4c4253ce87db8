// REST API logic and pgwardenctl formatting, on hand-built cluster views.
#include <mutex>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "agent/api.h"
#include "common/wait.h"
#include "ctl/ctl.h"
#include "net/host_cache.h"
#include "test_util.h"

namespace pgw {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = testing::Load(testing::kGoodConfig);
    ASSERT_TRUE(r.errors.empty());
    cfg_ = r.config;
    Add("pg0", 5432, "primary");
    Add("pg1", 5433, "replica");
    Add("pg2", 5434, "replica", Json{{"nofailover", true}});
    c_.leader = LeaderKey{"pg0", 1, 5, 5};
    c_.last_lsn = 3 * 1024 * 1024;
    c_.config = Json{{"ttl", 30}, {"loop_wait", 10}, {"retry_timeout", 10}};
  }
  void Add(const std::string& name, int port, const std::string& role, Json tags = Json::object()) {
    Member m = testing::MakeMember(name, port, role, "running");
    m.timeline = 2;
    m.xlog_location = role == "primary" ? 3 * 1024 * 1024 : 1024 * 1024;
    m.tags = std::move(tags);
    c_.members[name] = m;
  }
  std::shared_ptr<const Config> cfg_;
  ClusterView c_;
};

TEST_F(ApiTest, ClusterJsonHasPatronisFields) {
  Json j = api::ClusterJson(*cfg_, c_, true);
  ASSERT_EQ(j["members"].size(), 3u);
  EXPECT_EQ(j["members"][0]["name"], "pg0");
  EXPECT_EQ(j["members"][0]["role"], "leader");
  EXPECT_FALSE(j["members"][0].contains("lag"));
  EXPECT_EQ(j["members"][1]["role"], "replica");
  EXPECT_EQ(j["members"][1]["lag"], 2 * 1024 * 1024);
  EXPECT_EQ(j["members"][1]["port"], 5433);
  EXPECT_EQ(j["members"][2]["tags"]["nofailover"], true);
  EXPECT_EQ(j["pause"], true);
  EXPECT_EQ(j["scope"], "demo");
  c_.failover =
      DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}, {"scheduled_at", "2099-01-01T00:00:00+00:00"}});
  j = api::ClusterJson(*cfg_, c_, false);
  EXPECT_EQ(j["scheduled_switchover"]["from"], "pg0");
  EXPECT_EQ(j["scheduled_switchover"]["to"], "pg1");
  EXPECT_FALSE(j.contains("pause"));
}

// synchronous_node_count >= 2: the agent writes sync_standby as "a,b"; every one of them is a sync standby.
TEST_F(ApiTest, EverySyncStandbyOfACommaListIsShown) {
  c_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1,pg2"}});
  Json j = api::ClusterJson(*cfg_, c_, false);
  EXPECT_EQ(j["members"][0]["role"], "leader");
  EXPECT_EQ(j["members"][1]["role"], "sync_standby") << j.dump();
  EXPECT_EQ(j["members"][2]["role"], "sync_standby") << j.dump();
  std::string t = ctl::ListTable("demo", c_, false);
  EXPECT_NE(t.find("| pg1    | 127.0.0.1:5433 | Sync Standby |"), std::string::npos) << t;
  EXPECT_NE(t.find("| pg2    | 127.0.0.1:5434 | Sync Standby |"), std::string::npos) << t;
  Json l = ctl::ListJson("demo", c_);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[1]["Role"], "Sync Standby");
  EXPECT_EQ(l[2]["Role"], "Sync Standby");
  // One standby is still one name; an empty value names nobody.
  c_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg2"}});
  j = api::ClusterJson(*cfg_, c_, false);
  EXPECT_EQ(j["members"][1]["role"], "replica");
  EXPECT_EQ(j["members"][2]["role"], "sync_standby");
  c_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", nullptr}});
  EXPECT_EQ(api::ClusterJson(*cfg_, c_, false)["members"][1]["role"], "replica");
  EXPECT_EQ(ctl::ListTable("demo", c_, false).find("Sync Standby"), std::string::npos);
  // The status JSON of each replica and the /sync health check agree.
  c_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1,pg2"}});
  EXPECT_TRUE(api::IsSyncStandby(&c_, "pg1"));
  EXPECT_TRUE(api::IsSyncStandby(&c_, "pg2"));
  EXPECT_FALSE(api::IsSyncStandby(&c_, "pg0"));
  EXPECT_FALSE(api::IsSyncStandby(nullptr, "pg1"));
}

TEST_F(ApiTest, MergePatchRemovesNullsAndMergesObjects) {
  Json base = {{"ttl", 30}, {"postgresql", {{"parameters", {{"a", 1}, {"b", 2}}}}}, {"pause", true}};
  Json out = api::MergePatch(base, {{"pause", nullptr}, {"postgresql", {{"parameters", {{"b", 3}, {"c", 4}}}}}});
  EXPECT_FALSE(out.contains("pause"));
  EXPECT_EQ(out["postgresql"]["parameters"], (Json{{"a", 1}, {"b", 3}, {"c", 4}}));
  EXPECT_EQ(out["ttl"], 30);
}

TEST_F(ApiTest, SwitchoverRequestsAreCheckedLikePatroni) {
  auto plan = [&](const std::string& action, const Json& body, bool paused = false) {
    return api::PlanSwitchover(action, body, c_, paused, 1.8e9);
  };
  EXPECT_EQ(plan("switchover", Json{{"candidate", "pg1"}}).message,
            "Switchover could be performed only from a specific leader");
  EXPECT_EQ(plan("failover", Json{{"leader", "pg0"}}).message,
            "Failover could be performed only to a specific candidate");
  auto p = plan("switchover", Json{{"leader", "pg1"}});
  EXPECT_EQ(p.code, 412);
  EXPECT_EQ(p.message, "leader name does not match");
  p = plan("switchover", Json{{"leader", "pg0"}, {"candidate", "pg9"}});
  EXPECT_EQ(p.code, 412);
  EXPECT_EQ(p.message, "candidate does not exists");
  p = plan("switchover", Json{{"leader", "pg0"}, {"scheduled_at", "2030-01-01T00:00:00"}});
  EXPECT_EQ(p.code, 400);
  EXPECT_EQ(p.message, "Timezone information is mandatory for the scheduled switchover");
  p = plan("switchover", Json{{"leader", "pg0"}, {"scheduled_at", "2020-01-01T00:00:00+00:00"}});
  EXPECT_EQ(p.code, 422);
  EXPECT_EQ(p.message, "Cannot schedule switchover in the past");
  p = plan("switchover", Json{{"leader", "pg0"}, {"scheduled_at", "not a time"}});
  EXPECT_EQ(p.code, 422);
  p = plan("switchover", Json{{"leader", "pg0"}}, true);
  EXPECT_EQ(p.message, "Switchover is possible only to a specific candidate in a paused state");
  p = plan("switchover", Json{{"leader", "pg0"}, {"scheduled_at", "2099-01-01T00:00:00Z"}});
  EXPECT_EQ(p.code, 0);
  EXPECT_EQ(p.key["scheduled_at"], "2099-01-01T00:00:00.000000+00:00");
  p = plan("switchover", Json{{"leader", "pg0"}, {"candidate", "pg1"}});
  EXPECT_EQ(p.code, 0);
  EXPECT_EQ(p.key, (Json{{"leader", "pg0"}, {"member", "pg1"}}));
  EXPECT_EQ(p.to_check, std::vector<std::string>{"pg1"});
  p = plan("switchover", Json{{"leader", "pg0"}});
  EXPECT_EQ(p.to_check, (std::vector<std::string>{"pg1", "pg2"}));
  EXPECT_EQ(plan("switchover", Json::array()).code, 400);
  c_.members.erase("pg1");
  c_.members.erase("pg2");
  p = plan("switchover", Json{{"leader", "pg0"}});
  EXPECT_EQ(p.message, "switchover is not possible: cluster does not have members except leader");
}

// Random seed 58536: with no leader in synchronous mode a failover key naming an asynchronous member lost
// acknowledged commits; the API refuses it up front (the agents refuse it too, ha::Decide).
TEST_F(ApiTest, FailoverWithoutALeaderInSynchronousModeOnlyToASynchronousStandby) {
  c_.leader.reset();
  c_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg2"}});
  auto p = api::PlanSwitchover("failover", Json{{"candidate", "pg1"}}, c_, false, 1.8e9);
  EXPECT_EQ(p.code, 412);
  EXPECT_EQ(p.message, "candidate name does not match with sync_standby");
  EXPECT_EQ(api::PlanSwitchover("failover", Json{{"candidate", "pg2"}}, c_, false, 1.8e9).code, 0);
  EXPECT_EQ(api::PlanSwitchover("failover", Json{{"candidate", "pg0"}}, c_, false, 1.8e9).code, 0);
}

TEST_F(ApiTest, CandidateMustBeReachableAndAllowedToPromote) {
  ha::PeerStatus down{"pg1", false, false, 0, false, 1};
  ha::PeerStatus nofail{"pg2", true, false, 0, true, 1};
  EXPECT_EQ(api::CandidateProblem("switchover", {down, nofail}),
            "switchover is not possible: no good candidates have been found");
  ha::PeerStatus good{"pg1", true, false, 0, false, 1};
  EXPECT_EQ(api::CandidateProblem("switchover", {nofail, good}), "");
}

TEST_F(ApiTest, HealthChecksForTagsLagSyncAndLiveness) {
  NodeState s;
  s.pg_state = ha::PgState::kRunning;
  s.local.data = LocalView::Data::kValid;
  s.local.running = s.local.query_ok = s.local.in_recovery = true;
  s.local.replayed_location = 1024 * 1024;
  s.last_lsn = 3 * 1024 * 1024;
  s.dcs_ok = true;
  auto r = testing::Load(std::string(testing::kGoodConfig) + "  zone: a\n");
  ASSERT_TRUE(r.errors.empty());
  api::HealthInputs in{r.config.get(), &s, &c_, true};
  EXPECT_EQ(api::HealthCode(in, "/replica", ""), 200);
  EXPECT_EQ(api::HealthCode(in, "/replica", "lag=1MB"), 503);
  EXPECT_EQ(api::HealthCode(in, "/replica", "lag=4MB"), 200);
  EXPECT_EQ(api::HealthCode(in, "/replica", "tag_zone=a"), 200);
  EXPECT_EQ(api::HealthCode(in, "/replica", "tag_zone=b"), 503);
  EXPECT_EQ(api::HealthCode(in, "/replica", "tag_rack=1"), 503);
  EXPECT_EQ(api::HealthCode(in, "/async", ""), 200);
  EXPECT_EQ(api::HealthCode(in, "/sync", ""), 503);
  c_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg0"}});
  EXPECT_EQ(api::HealthCode(in, "/sync", ""), 200);
  EXPECT_EQ(api::HealthCode(in, "/async", ""), 503);
  EXPECT_EQ(api::HealthCode(in, "/readiness", ""), 200);
  EXPECT_EQ(api::HealthCode(in, "/liveness", ""), 200);
  in.loop_alive = false;
  EXPECT_EQ(api::HealthCode(in, "/liveness", ""), 503);
  EXPECT_EQ(api::HealthCode(in, "/standby-leader", ""), 503);
  EXPECT_EQ(api::HealthCode(in, "/nosuch", ""), 0);
}

TEST_F(ApiTest, MetricsAreOneSampleLineAfterHelpAndTypeEach) {
  NodeState s;
  s.pg_state = ha::PgState::kRunning;
  s.is_leader = true;
  s.local.data = LocalView::Data::kValid;
  s.local.running = s.local.query_ok = true;
  s.local.wal_position = 12345;
  s.local.timeline = 3;
  api::Counters k;
  k.promotions = 2;
  ha::PgStateMachine pg;
  pg.Move(ha::PgState::kStarting, ha::PgCause::kStart);
  pg.Observe(true, true);
  k.pg_transitions = pg.Counted();
  std::string text = api::MetricsText(*cfg_, s, &c_, k, false, false);
  EXPECT_NE(
      text.find("pgwarden_pg_state_transitions_total{scope=\"demo\",name=\"pg0\",from=\"stopped\",to=\"starting\","
                "cause=\"start\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("from=\"starting\",to=\"running\",cause=\"observed\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("patroni_primary{scope=\"demo\",name=\"pg0\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("patroni_xlog_location{scope=\"demo\",name=\"pg0\"} 12345\n"), std::string::npos);
  EXPECT_NE(
      text.find("# TYPE pgwarden_promotions_total counter\npgwarden_promotions_total{scope=\"demo\",name=\"pg0\"} 2\n"),
      std::string::npos);
  // Every metric: HELP, TYPE, one sample.
  std::istringstream in(text);
  std::string line;
  int help = 0, type = 0;
  std::set<std::string> sampled;  // metric names with a sample (a labelled counter may have several)
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0)
      ++help;
    else if (line.rfind("# TYPE ", 0) == 0)
      ++type;
    else if (!line.empty())
      sampled.insert(line.substr(0, line.find_first_of("{ ")));
  }
  EXPECT_EQ(help, type);
  EXPECT_EQ(static_cast<size_t>(type), sampled.size());
}

TEST_F(ApiTest, BasicAuthGuardsUnsafeRequestsWhenConfigured) {
  HttpServerRequest req;
  req.method = "POST";
  EXPECT_FALSE(api::CheckAccess(*cfg_, req).has_value()) << "no authentication configured";
  auto r = testing::Load(testing::Replace(testing::kGoodConfig, "restapi:\n",
                                          "restapi:\n  authentication:\n    username: admin\n    password: s3cret\n"));
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  auto refused = api::CheckAccess(*r.config, req);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->body, "no auth header received");
  req.headers["authorization"] = "Basic YWRtaW46d3Jvbmc=";  // admin:wrong
  EXPECT_EQ(api::CheckAccess(*r.config, req)->body, "not authenticated");
  req.headers["authorization"] = "Basic YWRtaW46czNjcmV0";  // admin:s3cret
  EXPECT_FALSE(api::CheckAccess(*r.config, req).has_value());
}

TEST_F(ApiTest, ListTableMatchesPatronictl) {
  std::string t = ctl::ListTable("demo", c_, true);
  EXPECT_EQ(t,
            "+ Cluster: demo ----------+---------+---------+----+-----------+\n"
            "| Member | Host           | Role    | State   | TL | Lag in MB |\n"
            "+--------+----------------+---------+---------+----+-----------+\n"
            "| pg0    | 127.0.0.1      | Leader  | running |  2 |           |\n"
            "| pg1    | 127.0.0.1:5433 | Replica | running |  2 |         2 |\n"
            "| pg2    | 127.0.0.1:5434 | Replica | running |  2 |         2 |\n"
            "+--------+----------------+---------+---------+----+-----------+\n"
            " Maintenance mode: on\n");
}

TEST_F(ApiTest, TopologyNestsMembersUnderTheirReplicatefromLikePatronictl) {
  auto add = [&](const std::string& name, const std::string& from) {
    Member m = c_.members.at("pg1");
    m.name = name;
    m.tags = from.empty() ? Json::object() : Json{{"replicatefrom", from}};
    c_.members[name] = m;
  };
  add("pg1", "pg3");
  add("pg3", "");
  add("pg4", "pg0");     // names the leader: directly under it
  add("pg5", "nobody");  // unknown member: under the leader
  add("pga", "pgb");     // a cycle nobody reaches from the leader: still listed
  add("pgb", "pga");
  std::vector<std::pair<std::string, int>> want = {{"pg0", 0}, {"pg2", 1}, {"pg3", 1}, {"pg1", 2},
                                                   {"pg4", 1}, {"pg5", 1}, {"pga", 1}, {"pgb", 2}};
  EXPECT_EQ(ctl::TopologyOrder(c_), want);
  std::string t = ctl::ListTable("demo", c_, false, true);
  EXPECT_NE(t.find("| pg0     |"), std::string::npos) << t;
  EXPECT_NE(t.find("| + pg3   |"), std::string::npos) << t;
  EXPECT_NE(t.find("|   + pg1 |"), std::string::npos) << t;
  EXPECT_LT(t.find("+ pg3"), t.find("  + pg1")) << t;
  c_.leader.reset();
  auto no_leader = ctl::TopologyOrder(c_);
  EXPECT_EQ(no_leader.size(), c_.members.size()) << "nobody is dropped without a leader either";
}

TEST_F(ApiTest, EditConfigSetPaths) {
  Json cfg = {{"ttl", 30}};
  ASSERT_TRUE(ctl::ApplySet(&cfg, "postgresql.parameters.work_mem='8MB'").ok());
  ASSERT_TRUE(ctl::ApplySet(&cfg, "loop_wait=5").ok());
  ASSERT_TRUE(ctl::ApplySet(&cfg, "pause=true").ok());
  ASSERT_TRUE(ctl::ApplySet(&cfg, "ttl=null").ok());
  EXPECT_EQ(cfg, (Json{{"loop_wait", 5}, {"pause", true}, {"postgresql", {{"parameters", {{"work_mem", "8MB"}}}}}}));
  EXPECT_FALSE(ctl::ApplySet(&cfg, "novalue").ok());
  EXPECT_FALSE(ctl::ApplySet(&cfg, "a..b=1").ok());
}

TEST_F(ApiTest, OnlyMembersMayVouchThroughPostFailsafe) {
  FailsafeTopology key = {{"pg0", "http://127.0.0.1:6432/patroni"}, {"pg1", "http://127.0.0.1:6433/patroni"}};
  auto from = [](const std::string& name) { return Json{{"name", name}, {"api_url", "http://x/patroni"}}; };
  // Listed in the failsafe key: accepted.
  EXPECT_FALSE(api::CheckFailsafeSender(from("pg0"), key, &c_, "pg1").has_value());
  // pg2 has a member key but is not listed in the failsafe key: the key decides.
  auto r = api::CheckFailsafeSender(from("pg2"), key, &c_, "pg1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("\"pg2\", which is not listed in the failsafe key"), std::string::npos) << r->body;
  r = api::CheckFailsafeSender(from("stranger"), key, nullptr, "pg1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 403);
  // Our own name, from somebody else: refused.
  r = api::CheckFailsafeSender(from("pg1"), key, &c_, "pg1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 403);
  // No failsafe key yet: the member keys decide.
  EXPECT_FALSE(api::CheckFailsafeSender(from("pg2"), std::nullopt, &c_, "pg1").has_value());
  r = api::CheckFailsafeSender(from("stranger"), std::nullopt, &c_, "pg1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, "POST /failsafe from \"stranger\", which is not a member of this cluster");
  // Neither: nothing to check against.
  r = api::CheckFailsafeSender(from("pg0"), std::nullopt, nullptr, "pg1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  // Malformed bodies.
  for (const Json& bad : {Json::object(), Json{{"name", 7}}, Json{{"name", ""}}, Json::array()}) {
    r = api::CheckFailsafeSender(bad, key, &c_, "pg1");
    ASSERT_TRUE(r.has_value()) << bad.dump();
    EXPECT_EQ(r->status, 400) << bad.dump();
  }
}

TEST_F(ApiTest, GetFailsafeListsTheKeyOrAnswers502) {
  FailsafeTopology key = {{"pg0", "http://127.0.0.1:6432/patroni"}, {"pg1", "http://127.0.0.1:6433/patroni"}};
  auto r = api::FailsafeListing(true, key);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), Json(key));
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(api::FailsafeListing(false, key).status, 502);
  EXPECT_EQ(api::FailsafeListing(true, std::nullopt).status, 502);
  EXPECT_EQ(api::FailsafeListing(true, DecodeFailsafe(Json("garbage"))).status, 502);
}

TEST_F(ApiTest, LivenessAllowsLoopWaitPlusTtlOnAPrimaryAndTwiceTtlOnAReplica) {
  api::LoopClock l;
  l.ttl_s = 30;
  l.loop_wait_s = 10;
  l.now = MonoTime(Duration(1000000));
  EXPECT_TRUE(api::LoopAlive(l));  // no cycle ended yet
  l.last_cycle_end = l.now - Duration(40000);
  l.primary = true;
  EXPECT_TRUE(api::LoopAlive(l));
  l.last_cycle_end = l.now - Duration(40001);
  EXPECT_FALSE(api::LoopAlive(l));
  l.primary = false;
  EXPECT_TRUE(api::LoopAlive(l));
  l.last_cycle_end = l.now - Duration(70001);
  EXPECT_FALSE(api::LoopAlive(l));
  l.paused = true;  // as in Patroni: a paused cluster is always alive
  EXPECT_TRUE(api::LoopAlive(l));
}

TEST_F(ApiTest, FailsafeActiveFollowsTheLeaseAndTheConfirmations) {
  api::FailsafeClock f;
  f.enabled = true;
  f.primary = true;
  f.now = MonoTime(Duration(100000));
  f.suspect_after = Duration(1500);
  f.last_renewal = f.now - Duration(1000);  // renewed recently: etcd answers, not on failsafe
  f.confirmed_until = f.now + Duration(4000);
  EXPECT_FALSE(api::FailsafeActive(f));
  f.last_renewal = f.now - Duration(3000);  // keepalives unanswered, members' confirmations cover us
  EXPECT_TRUE(api::FailsafeActive(f));
  f.confirmed_until = f.now - Duration(1);  // confirmations ran out
  EXPECT_FALSE(api::FailsafeActive(f));
  f.confirmed_until = f.now + Duration(4000);
  f.enabled = false;
  EXPECT_FALSE(api::FailsafeActive(f));
  // A replica: while a primary's POST /failsafe vouched for it.
  f.enabled = true;
  f.primary = false;
  EXPECT_FALSE(api::FailsafeActive(f));
  f.vouched_until = f.now + Duration(1);
  EXPECT_TRUE(api::FailsafeActive(f));
  NodeState s;
  s.failsafe_active = true;
  std::string text = api::MetricsText(*cfg_, s, &c_, api::Counters{}, false, true);
  EXPECT_NE(text.find("patroni_failsafe_mode_is_active{scope=\"demo\",name=\"pg0\"} 1\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace pgw

namespace pgw {
namespace {

TEST(AccessTest, AllowlistAddressesAndCidrs) {
  EXPECT_TRUE(api::IpAllowed("10.1.2.3", "10.0.0.0/8"));
  EXPECT_FALSE(api::IpAllowed("11.1.2.3", "10.0.0.0/8"));
  EXPECT_TRUE(api::IpAllowed("192.168.1.7", "192.168.1.7"));
  EXPECT_TRUE(api::IpAllowed("127.0.0.1", "localhost"));
  EXPECT_TRUE(api::IpAllowed("8.8.8.8", "0.0.0.0/0"));
  EXPECT_FALSE(api::IpAllowed("10.1.2.3", "10.0.0.0/99"));
  EXPECT_FALSE(api::IpAllowed("not-an-ip", "10.0.0.0/8"));
}

TEST(AccessTest, AllowlistMatchesIpv6NetworksAndIpv4MappedPeers) {
  EXPECT_TRUE(api::IpAllowed("fd12::1", "fd00::/8"));
  EXPECT_FALSE(api::IpAllowed("fe80::1", "fd00::/8"));
  EXPECT_TRUE(api::IpAllowed("::1", "0:0::1")) << "addresses compare as addresses, not as text";
  EXPECT_TRUE(api::IpAllowed("2001:db8::7", "2001:db8::/64"));
  EXPECT_FALSE(api::IpAllowed("2001:db8:0:1::7", "2001:db8::/64"));
  EXPECT_FALSE(api::IpAllowed("fd12::1", "fd00::/129"));
  // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; Patroni's allowlist of IPv4 networks still applies.
  EXPECT_TRUE(api::IpAllowed("::ffff:10.1.2.3", "10.0.0.0/8"));
  EXPECT_TRUE(api::IpAllowed("::ffff:10.1.2.3", "10.1.2.3"));
  EXPECT_FALSE(api::IpAllowed("10.1.2.3", "fd00::/8"));
}

TEST(AccessTest, AllowlistResolvesHostNamesOfEntriesAndMembers) {
  auto r = testing::Load(testing::Replace(testing::kGoodConfig, "restapi:\n",
                                          "restapi:\n  allowlist: [host1]\n  allowlist_include_members: true\n"));
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  std::vector<std::string> asked;
  api::AddressLookup lookup = [&](const std::string& host) {
    asked.push_back(host);
    if (host == "host1") return std::vector<std::string>{"192.168.0.5"};
    if (host == "node2") return std::vector<std::string>{"10.0.0.7", "fd00::7"};
    return std::vector<std::string>{};
  };
  HttpServerRequest req;
  req.method = "POST";
  req.peer = "192.168.0.5";
  EXPECT_FALSE(api::CheckAccess(*r.config, req, nullptr, lookup).has_value()) << "host1 resolves to the peer";
  ClusterView c;
  Member m;
  m.name = "pg2";
  m.api_url = "http://node2:8008/patroni";
  c.members["pg2"] = m;
  Member v6;
  v6.name = "pg3";
  v6.api_url = "https://[fd00::9]:8008/patroni";
  c.members["pg3"] = v6;
  req.peer = "fd00::7";
  EXPECT_FALSE(api::CheckAccess(*r.config, req, &c, lookup).has_value()) << "a member's API host name resolves to it";
  req.peer = "fd00::9";
  EXPECT_FALSE(api::CheckAccess(*r.config, req, &c, lookup).has_value()) << "a member's bracketed IPv6 API host";
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "fd00::9"), 0) << "literal addresses are not looked up";
  req.peer = "10.0.0.8";
  auto refused = api::CheckAccess(*r.config, req, &c, lookup);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 403);
}

TEST(AccessTest, HostAddressCacheResolvesOnceAndRefreshesInTheBackground) {
  ManualClock clock;
  std::mutex mu;
  int calls = 0;
  std::string answer = "10.0.0.1";
  net::HostAddressCache cache(clock, [&](const std::string&) -> Result<std::vector<std::string>> {
    std::lock_guard<std::mutex> l(mu);
    ++calls;
    if (answer.empty()) return Unavailable("no such host");
    return std::vector<std::string>{answer};
  });
  EXPECT_EQ(cache.Lookup("db1"), std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(cache.Lookup("db1"), std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(calls, 1) << "a fresh answer is reused";
  {
    std::lock_guard<std::mutex> l(mu);
    answer = "10.0.0.2";
  }
  clock.Advance(net::HostAddressCache::kFresh + Duration(1));
  // Stale: the old answer now, a new lookup behind it.
  EXPECT_EQ(cache.Lookup("db1"), std::vector<std::string>{"10.0.0.1"});
  ASSERT_TRUE(WaitFor([&] { return cache.Lookup("db1") == std::vector<std::string>{"10.0.0.2"}; }, Duration(5000)));
  {
    std::lock_guard<std::mutex> l(mu);
    answer.clear();
  }
  EXPECT_TRUE(cache.Lookup("nowhere").empty()) << "a name that does not resolve matches nothing";
  int before = calls;
  EXPECT_TRUE(cache.Lookup("nowhere").empty());
  EXPECT_EQ(calls, before) << "a failed lookup is remembered for a while too";
}

TEST(AccessTest, HostAddressCacheUsesTheSystemResolverByDefault) {
  ManualClock clock;
  net::HostAddressCache cache(clock);
  auto addrs = cache.Lookup("localhost");
  EXPECT_TRUE(std::find(addrs.begin(), addrs.end(), "127.0.0.1") != addrs.end() ||
              std::find(addrs.begin(), addrs.end(), "::1") != addrs.end());
  EXPECT_EQ(cache.Lookup("10.2.3.4"), std::vector<std::string>{"10.2.3.4"});
  EXPECT_TRUE(cache.Lookup("no-such-host.invalid").empty());
}

TEST(AccessTest, AllowlistThenClientCertificateThenPassword) {
  auto r = testing::Load(testing::Replace(testing::kGoodConfig, "restapi:\n",
                                          "restapi:\n  allowlist: [10.0.0.0/8]\n  allowlist_include_members: true\n"
                                          "  authentication:\n    username: admin\n    password: s3cret\n"));
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  HttpServerRequest req;
  req.method = "POST";
  req.peer = "192.168.0.5";
  auto refused = api::CheckAccess(*r.config, req);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(refused->body, "Access is denied");
  ClusterView c;
  Member m;
  m.name = "pg1";
  m.api_url = "http://192.168.0.5:8008/patroni";
  c.members["pg1"] = m;
  refused = api::CheckAccess(*r.config, req, &c);  // a member's host is allowed
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 401) << "past the allowlist, the password is still required";
  req.peer = "10.9.9.9";
  req.headers["authorization"] = "Basic YWRtaW46czNjcmV0";
  EXPECT_FALSE(api::CheckAccess(*r.config, req).has_value());
}

TEST(AccessTest, TlsSettingsAreValidated) {
  auto r = testing::Load(testing::Replace(testing::kGoodConfig, "restapi:\n",
                                          "restapi:\n  certfile: /nonexistent/cert.pem\n  verify_client: maybe\n"));
  EXPECT_TRUE(testing::HasError(r, "restapi.certfile: cannot read '/nonexistent/cert.pem'"));
  EXPECT_TRUE(testing::HasError(r, "restapi.verify_client: 'maybe' must be none, optional or required"));
  r = testing::Load(testing::Replace(testing::kGoodConfig, "restapi:\n", "restapi:\n  verify_client: required\n"));
  EXPECT_TRUE(testing::HasError(r, "restapi.verify_client: needs restapi.certfile and restapi.cafile"));
}

}  // namespace
}  // namespace pgw
