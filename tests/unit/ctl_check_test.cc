// pgwardenctl check: the pure evaluation over fabricated facts (each check passing, and failing for its reason), the
// table and JSON output, and the command line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "ctl/check.h"
#include "ctl/ctl.h"
#include "ctl/options.h"
#include "ctl/target.h"

namespace pgw::ctl::check {
namespace {

Member MakeMember(const std::string& name, int port, const std::string& role) {
  Member m;
  m.name = name;
  m.conn_url = "postgres://127.0.0.1:" + std::to_string(port) + "/postgres";
  m.conn = HostPort{"127.0.0.1", port};
  m.api_url = "http://127.0.0.1:" + std::to_string(port + 3000) + "/patroni";
  m.state = "running";
  m.role = role;
  m.timeline = 2;
  return m;
}

ReplicationRow Row(int pid, const std::string& name, const std::string& sync_state = "async") {
  ReplicationRow r;
  r.pid = pid;
  r.application_name = name;
  r.state = "streaming";
  r.sync_state = sync_state;
  r.replay_lsn = 999000;
  return r;
}

// A healthy three-member cluster as Gather would record it: pg1 leads, pg2 and pg3 stream from it through their
// slots, the canary was read on both.
Facts Healthy() {
  Facts f;
  f.scope = "demo";
  ClusterView& c = f.cluster;
  c.config = Json{{"ttl", 30}, {"loop_wait", 10}, {"postgresql", {{"use_slots", true}}}};
  c.leader = LeaderKey{"pg1", 42, 7, 7};
  c.members["pg1"] = MakeMember("pg1", 5432, "primary");
  c.members["pg2"] = MakeMember("pg2", 5433, "replica");
  c.members["pg3"] = MakeMember("pg3", 5434, "replica");
  for (int i = 0; i < 3; ++i) {
    EtcdEndpointFacts e;
    e.endpoint = "127.0.0.1:" + std::to_string(2379 + i * 10);
    e.member_id = 100 + static_cast<uint64_t>(i);
    e.leader_id = 100;
    e.raft_term = 3;
    f.etcd.endpoints.push_back(e);
  }
  f.etcd.cluster_members = 3;
  f.lease.asked = true;
  f.lease.ttl = 25;
  int port = 5432;
  for (const std::string name : {"pg1", "pg2", "pg3"}) {
    MemberFacts m;
    m.name = name;
    m.patroni = Json{{"state", "running"}};
    m.config = *c.config;
    m.pg.in_recovery = name != "pg1";
    m.pg.timeline = 2;
    m.pg.lsn = name == "pg1" ? 1000000 : 999000;
    m.pg.identity = std::to_string(port++) + "/2026-12-05 21:00:00+00";
    if (name == "pg1") {
      m.pg.replication = {Row(101, "pg2"), Row(102, "pg3")};
      m.pg.slots = {{"pg2", "physical", true, 101}, {"pg3", "physical", true, 102}};
    } else {
      m.canary_seen = true;
      m.canary_seconds = 0.1;
    }
    f.members[name] = m;
  }
  f.canary_tried = true;
  return f;
}

const CheckResult* Find(const std::vector<CheckResult>& rs, const std::string& check, const std::string& subject) {
  for (const auto& r : rs) {
    if (r.check == check && r.subject == subject) return &r;
  }
  return nullptr;
}

// The verdict of (check, subject), with the reason for messages; fails the test when the check is missing.
testing::AssertionResult Is(const Facts& f, const std::string& check, const std::string& subject, Verdict want,
                            const std::string& reason_has = "", const CheckOptions& o = CheckOptions()) {
  auto rs = Evaluate(f, o);
  const CheckResult* r = Find(rs, check, subject);
  if (!r) return testing::AssertionFailure() << "no check " << check << " about " << subject;
  if (r->verdict != want) {
    return testing::AssertionFailure() << check << "/" << subject << " is " << VerdictName(r->verdict) << ": "
                                       << r->reason;
  }
  if (r->reason.find(reason_has) == std::string::npos) {
    return testing::AssertionFailure() << check << "/" << subject << " reason '" << r->reason << "' lacks '"
                                       << reason_has << "'";
  }
  return testing::AssertionSuccess();
}

TEST(CtlCheck, AHealthyClusterPassesEveryCheckAboutEveryMember) {
  Facts f = Healthy();
  auto rs = Evaluate(f, CheckOptions());
  for (const auto& r : rs) EXPECT_EQ(r.verdict, Verdict::kPass) << r.check << " " << r.subject << ": " << r.reason;
  EXPECT_EQ(ExitCode(rs), 0);
  for (const std::string c : {"member.running", "member.api", "member.config"}) {
    for (const std::string m : {"pg1", "pg2", "pg3"}) EXPECT_NE(Find(rs, c, m), nullptr) << c << " " << m;
  }
  for (const std::string c : {"replica.streaming", "replica.timeline", "replica.lag", "replica.canary"}) {
    EXPECT_EQ(Find(rs, c, "pg1"), nullptr) << "the leader is no replica";
    for (const std::string m : {"pg2", "pg3"}) EXPECT_NE(Find(rs, c, m), nullptr) << c << " " << m;
  }
  EXPECT_TRUE(Is(f, "leader.unique", "pg1", Verdict::kPass));
  EXPECT_TRUE(Is(f, "leader.lease", "pg1", Verdict::kPass, "25 s left"));
  EXPECT_TRUE(Is(f, "etcd.quorum", "etcd", Verdict::kPass, "3 of 3"));
  EXPECT_TRUE(Is(f, "replica.streaming", "pg2", Verdict::kPass, "through slot pg2"));
  EXPECT_EQ(Find(rs, "sync.standby", "pg2"), nullptr) << "synchronous mode is off";
  EXPECT_EQ(Find(rs, "router.write", "127.0.0.1:6432"), nullptr) << "no router given";
}

TEST(CtlCheck, EtcdEndpointsFailWhenDownAlarmedOrCutOffAndQuorumWhenTooFewAnswer) {
  Facts f = Healthy();
  f.etcd.endpoints[1].error = "connection refused";
  EXPECT_TRUE(Is(f, "etcd.endpoint", "127.0.0.1:2389", Verdict::kFail, "unreachable: connection refused"));
  EXPECT_TRUE(Is(f, "etcd.quorum", "etcd", Verdict::kPass, "2 of 3"));
  f.etcd.endpoints[2].read_error = "context deadline exceeded";
  EXPECT_TRUE(Is(f, "etcd.endpoint", "127.0.0.1:2399", Verdict::kFail, "quorum read failed"));
  EXPECT_TRUE(Is(f, "etcd.quorum", "etcd", Verdict::kFail, "fewer healthy members than a quorum"));
  f.etcd.endpoints[0].alarms = {"NOSPACE"};
  EXPECT_TRUE(Is(f, "etcd.endpoint", "127.0.0.1:2379", Verdict::kFail, "NOSPACE"));
  EXPECT_TRUE(Is(f, "etcd.quorum", "etcd", Verdict::kFail, "no endpoint reads"));

  Facts g = Healthy();
  g.etcd.endpoints[0].leader_id = 0;
  EXPECT_TRUE(Is(g, "etcd.endpoint", "127.0.0.1:2379", Verdict::kFail, "knows no raft leader"));
  g.etcd.endpoints[2].leader_id = 101;
  EXPECT_TRUE(Is(g, "etcd.quorum", "etcd", Verdict::kFail, "disagree on the raft leader"));
}

TEST(CtlCheck, LeaderMustBeUniqueAPrimaryAndHoldALiveLease) {
  Facts f = Healthy();
  f.members["pg2"].pg.in_recovery = false;  // promoted by hand
  EXPECT_TRUE(Is(f, "leader.unique", "pg1", Verdict::kFail, "more than one primary: pg2"));
  EXPECT_TRUE(Is(f, "replica.streaming", "pg2", Verdict::kFail, "second primary"));

  Facts g = Healthy();
  g.cluster.leader.reset();
  EXPECT_TRUE(
      Is(g, "leader.unique", "cluster", Verdict::kFail, "no member holds the leader key; running as primary: pg1"));

  Facts h = Healthy();
  h.members["pg1"].pg.in_recovery = true;
  EXPECT_TRUE(Is(h, "leader.unique", "pg1", Verdict::kFail, "in recovery"));
  h.members["pg1"].pg.error = "connection refused";
  EXPECT_TRUE(Is(h, "leader.unique", "pg1", Verdict::kFail, "does not answer"));

  Facts l = Healthy();
  l.lease.ttl = -1;
  EXPECT_TRUE(Is(l, "leader.lease", "pg1", Verdict::kFail, "expired"));
  l.lease.error = "etcd down";
  EXPECT_TRUE(Is(l, "leader.lease", "pg1", Verdict::kFail, "could not be read: etcd down"));
  l.cluster.leader->lease = 0;
  EXPECT_TRUE(Is(l, "leader.lease", "pg1", Verdict::kFail, "not attached to a lease"));
}

TEST(CtlCheck, AStoppedReplicaFailsRunningStreamingLagAndCanary) {
  Facts f = Healthy();
  f.cluster.members["pg2"].state = "stopped";
  MemberFacts& m = f.members["pg2"];
  m.pg = PgUnanswered("connection refused");
  m.canary_seen = false;
  m.canary_error = "connection refused";
  f.members["pg1"].pg.replication = {Row(102, "pg3")};
  f.members["pg1"].pg.slots[0].active = false;
  auto rs = Evaluate(f, CheckOptions());
  EXPECT_EQ(ExitCode(rs), 1);
  EXPECT_TRUE(Is(f, "member.running", "pg2", Verdict::kFail, "state 'stopped'"));
  EXPECT_TRUE(Is(f, "replica.streaming", "pg2", Verdict::kFail, "does not answer"));
  EXPECT_TRUE(Is(f, "replica.lag", "pg2", Verdict::kFail, "unknown"));
  EXPECT_TRUE(Is(f, "replica.canary", "pg2", Verdict::kFail, "did not read the canary row within 10.0 s"));
  EXPECT_TRUE(Is(f, "member.running", "pg3", Verdict::kPass));
  // The member key says running but PostgreSQL does not answer (stopped behind the agent's back).
  f.cluster.members["pg2"].state = "running";
  EXPECT_TRUE(Is(f, "member.running", "pg2", Verdict::kFail, "PostgreSQL does not answer: connection refused"));
  f.cluster.members.erase("pg2");
  EXPECT_TRUE(Is(f, "member.running", "pg2", Verdict::kFail, "no member key"));
}

TEST(CtlCheck, RestApiAndConfigurationMustAgreeWithEtcd) {
  Facts f = Healthy();
  f.members["pg3"].api_error = "connection refused";
  EXPECT_TRUE(Is(f, "member.api", "pg3", Verdict::kFail, "connection refused"));
  (*f.members["pg2"].config)["postgresql"]["use_slots"] = false;
  EXPECT_TRUE(Is(f, "member.config", "pg2", Verdict::kFail, "at postgresql.use_slots"));
  (*f.members["pg2"].config).erase("postgresql");
  EXPECT_TRUE(Is(f, "member.config", "pg2", Verdict::kFail, "at postgresql"));
  f.members["pg2"].config.reset();
  f.members["pg2"].config_error = "answered 502";
  EXPECT_TRUE(Is(f, "member.config", "pg2", Verdict::kFail, "GET /config: answered 502"));
  f.members["pg1"].patroni["pending_restart"] = true;
  EXPECT_TRUE(Is(f, "member.config", "pg1", Verdict::kWarn, "pending_restart"));

  Facts w = Healthy();
  w.members["pg1"].patroni["pending_restart"] = true;
  EXPECT_EQ(ExitCode(Evaluate(w, CheckOptions())), 0) << "a warning is no failure";
  // 30 and 30.0 are the same value.
  (*w.members["pg3"].config)["ttl"] = 30.0;
  EXPECT_TRUE(Is(w, "member.config", "pg3", Verdict::kPass));
}

TEST(CtlCheck, ReplicasMustStreamThroughTheirSlotFromTheirUpstream) {
  Facts f = Healthy();
  f.members["pg1"].pg.slots = {{"pg3", "physical", true, 102}};  // pg2's slot dropped
  EXPECT_TRUE(Is(f, "replica.streaming", "pg2", Verdict::kFail, "has no slot pg2"));
  f.members["pg1"].pg.slots.push_back({"pg2", "physical", false, 0});
  EXPECT_TRUE(Is(f, "replica.streaming", "pg2", Verdict::kFail, "not through its slot pg2"));
  f.cluster.config = Json{{"postgresql", {{"use_slots", false}}}};
  for (auto& [n, m] : f.members) m.config = *f.cluster.config;
  EXPECT_TRUE(Is(f, "replica.streaming", "pg2", Verdict::kPass, "use_slots is off"));

  Facts g = Healthy();
  g.members["pg1"].pg.replication[1].state = "catchup";
  EXPECT_TRUE(Is(g, "replica.streaming", "pg3", Verdict::kFail, "in state 'catchup'"));
  g.members["pg1"].pg.replication.pop_back();
  EXPECT_TRUE(Is(g, "replica.streaming", "pg3", Verdict::kFail, "no WAL sender for it on pg1"));

  // A cascading replica streams from the member its replicatefrom tag names.
  Facts h = Healthy();
  h.cluster.members["pg3"].tags = Json{{"replicatefrom", "pg2"}};
  EXPECT_EQ(UpstreamOf(h.cluster, "pg3"), "pg2");
  EXPECT_EQ(UpstreamOf(h.cluster, "pg2"), "pg1");
  EXPECT_TRUE(Is(h, "replica.streaming", "pg3", Verdict::kFail, "no WAL sender for it on pg2"));
  h.members["pg2"].pg.replication = {Row(201, "pg3")};
  h.members["pg2"].pg.slots = {{"pg3", "physical", true, 201}};
  EXPECT_TRUE(Is(h, "replica.streaming", "pg3", Verdict::kPass, "streaming from pg2 through slot pg3"));
}

TEST(CtlCheck, ReplicasMustBeOnTheLeadersTimelineAndWithinTheLagThresholds) {
  Facts f = Healthy();
  f.members["pg3"].pg.timeline = 1;
  EXPECT_TRUE(Is(f, "replica.timeline", "pg3", Verdict::kFail, "on timeline 1, the leader pg1 on 2"));

  Facts g = Healthy();
  g.members["pg1"].pg.lsn = 20 * 1024 * 1024;  // replay paused on pg2: 11 MB behind
  g.members["pg2"].pg.lsn = 9 * 1024 * 1024;
  g.members["pg3"].pg.lsn = 20 * 1024 * 1024;
  EXPECT_TRUE(Is(g, "replica.lag", "pg2", Verdict::kFail, "11.0 MB and 0.0 s behind"));
  CheckOptions loose;
  loose.max_lag_bytes = 64LL * 1024 * 1024;
  EXPECT_TRUE(Is(g, "replica.lag", "pg2", Verdict::kPass, "thresholds 64.0 MB", loose));

  Facts h = Healthy();
  h.members["pg1"].pg.replication[0].replay_lag_s = 7.5;
  EXPECT_TRUE(Is(h, "replica.lag", "pg2", Verdict::kFail, "7.5 s behind"));
  loose.max_lag_seconds = 10;
  EXPECT_TRUE(Is(h, "replica.lag", "pg2", Verdict::kPass, "", loose));
  EXPECT_TRUE(Is(h, "replica.lag", "pg3", Verdict::kPass, "1000 bytes and 0.0 s behind"));
}

TEST(CtlCheck, TheCanaryMustBeWrittenOnTheLeaderAndReadOnEveryReplica) {
  Facts f = Healthy();
  f.members["pg3"].canary_seen = false;
  f.members["pg3"].canary_error = "an older canary row is there";
  CheckOptions o;
  o.canary_timeout = Duration(2500);
  EXPECT_TRUE(Is(f, "replica.canary", "pg3", Verdict::kFail, "within 2.5 s: an older canary row is there", o));
  EXPECT_TRUE(Is(f, "replica.canary", "pg2", Verdict::kPass, "after 0.1 s"));

  Facts g = Healthy();
  g.canary_write_error = "cannot execute INSERT in a read-only transaction";
  for (auto& [n, m] : g.members) m.canary_seen.reset();
  EXPECT_TRUE(Is(g, "leader.canary", "pg1", Verdict::kFail, "read-only"));
  EXPECT_EQ(Find(Evaluate(g, CheckOptions()), "replica.canary", "pg2"), nullptr);
}

TEST(CtlCheck, InSynchronousModeThePublishedStandbyMustReallyBeSynchronous) {
  Facts f = Healthy();
  f.cluster.config = Json{{"synchronous_mode", true}};
  for (auto& [n, m] : f.members) m.config = *f.cluster.config;
  EXPECT_TRUE(Is(f, "sync.standby", "pg1", Verdict::kWarn, "no synchronous standby is published"));
  (*f.cluster.config)["synchronous_mode_strict"] = true;
  for (auto& [n, m] : f.members) m.config = *f.cluster.config;
  EXPECT_TRUE(Is(f, "sync.standby", "pg1", Verdict::kFail, "no synchronous standby is published"));

  f.cluster.sync = DecodeSync(Json{{"leader", "pg1"}, {"sync_standby", "pg2"}});
  EXPECT_TRUE(Is(f, "sync.standby", "pg2", Verdict::kFail, "sync_state 'async'"));
  f.members["pg1"].pg.replication[0].sync_state = "sync";
  EXPECT_TRUE(Is(f, "sync.standby", "pg2", Verdict::kPass, "synchronous on pg1"));
  f.members["pg1"].pg.replication.erase(f.members["pg1"].pg.replication.begin());
  EXPECT_TRUE(Is(f, "sync.standby", "pg2", Verdict::kFail, "does not stream from pg1"));
}

TEST(CtlCheck, TheRoutersWritePortMustReachTheLeaderAndItsReadPortOnlyReplicas) {
  Facts f = Healthy();
  RouterFacts& r = f.router;
  r.write_addr = "127.0.0.1:6432";
  r.write = f.members["pg1"].pg;
  r.read_addr = "127.0.0.1:6433";
  r.reads = {f.members["pg2"].pg, f.members["pg3"].pg, f.members["pg2"].pg};
  r.admin_addr = "127.0.0.1:8404";
  r.admin_status = 200;
  EXPECT_TRUE(Is(f, "router.write", "127.0.0.1:6432", Verdict::kPass, "reaches the leader pg1"));
  EXPECT_TRUE(Is(f, "router.read", "127.0.0.1:6433", Verdict::kPass, "3 connections, all on replicas: pg2, pg3"));
  EXPECT_TRUE(Is(f, "router.admin", "127.0.0.1:8404", Verdict::kPass));

  r.write = f.members["pg2"].pg;  // pointed at a replica
  EXPECT_TRUE(Is(f, "router.write", "127.0.0.1:6432", Verdict::kFail, "reaches a server in recovery (pg2)"));
  r.write.in_recovery = false;  // ... that was promoted by hand
  EXPECT_TRUE(Is(f, "router.write", "127.0.0.1:6432", Verdict::kFail, "reaches pg2, not the leader pg1"));
  r.write.error = "connection refused";
  EXPECT_TRUE(Is(f, "router.write", "127.0.0.1:6432", Verdict::kFail, "connection refused"));

  r.reads.push_back(f.members["pg1"].pg);
  EXPECT_TRUE(Is(f, "router.read", "127.0.0.1:6433", Verdict::kFail, "reached the primary pg1"));
  r.reads = {PgUnanswered("FATAL: no replica")};
  EXPECT_TRUE(Is(f, "router.read", "127.0.0.1:6433", Verdict::kFail, "no replica"));
  r.admin_status = 503;
  EXPECT_TRUE(Is(f, "router.admin", "127.0.0.1:8404", Verdict::kFail, "503"));
}

TEST(CtlCheck, FirstDifferenceNamesTheKeyPath) {
  EXPECT_EQ(FirstDifference(Json{{"a", 1}}, Json{{"a", 1}}), "");
  EXPECT_EQ(FirstDifference(Json{{"a", {{"b", 1}}}}, Json{{"a", {{"b", 2}}}}), "a.b");
  EXPECT_EQ(FirstDifference(Json{{"a", 1}}, Json{{"a", 1}, {"z", 0}}), "z");
  EXPECT_EQ(FirstDifference(Json{{"a", 1}}, Json{{"a", 1.0}}), "");
  EXPECT_EQ(FirstDifference(Json{{"a", "1"}}, Json{{"a", 1}}), "a");
  EXPECT_EQ(FirstDifference(Json::array({1}), Json::array({2})), "(top)");
}

TEST(CtlCheck, ReasonsAreOneLine) {
  EXPECT_EQ(FirstLine("connection refused\n\tIs the server running?"), "connection refused");
  Facts f = Healthy();
  f.members["pg2"].api_error = "connection refused \n\tIs the server running?\n";
  EXPECT_TRUE(Is(f, "member.api", "pg2", Verdict::kFail));
  for (const auto& r : Evaluate(f, CheckOptions())) {
    EXPECT_EQ(r.reason.find('\n'), std::string::npos) << r.reason;
    EXPECT_EQ(r.reason.find('\t'), std::string::npos) << r.reason;
  }
  EXPECT_EQ(Find(Evaluate(f, CheckOptions()), "member.api", "pg2")->reason, "REST API: connection refused");
}

TEST(CtlCheck, JsonHasTheClusterAVerdictASummaryAndEveryCheck) {
  Facts f = Healthy();
  f.members["pg3"].api_error = "connection refused";
  f.members["pg1"].patroni["pending_restart"] = true;
  auto rs = Evaluate(f, CheckOptions());
  Json j = RenderJson("demo", rs);
  EXPECT_EQ(j.at("cluster"), "demo");
  EXPECT_EQ(j.at("ok"), false);
  EXPECT_EQ(j.at("summary").at("fail"), 1);
  EXPECT_EQ(j.at("summary").at("warn"), 1);
  EXPECT_EQ(j.at("summary").at("pass").get<size_t>() + 2, rs.size());
  ASSERT_EQ(j.at("checks").size(), rs.size());
  for (const auto& c : j.at("checks")) {
    EXPECT_EQ(c.size(), 4u) << c.dump();
    for (const char* k : {"check", "subject", "result", "reason"}) EXPECT_TRUE(c.at(k).is_string()) << k;
  }
  bool found = false;
  for (const auto& c : j.at("checks")) {
    if (c.at("check") == "member.api" && c.at("subject") == "pg3") {
      found = true;
      EXPECT_EQ(c.at("result"), "fail");
      EXPECT_NE(c.at("reason").get<std::string>().find("connection refused"), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(RenderJson("demo", Evaluate(Healthy(), CheckOptions())).at("ok"), true);
}

TEST(CtlCheck, TableHasOneRowPerCheckAndASummaryLine) {
  Facts f = Healthy();
  f.members["pg2"].pg.timeline = 1;
  auto rs = Evaluate(f, CheckOptions());
  std::string t = RenderTable("demo", rs);
  EXPECT_EQ(t.rfind("+ Cluster: demo ", 0), 0u) << t;
  EXPECT_NE(t.find("| Check "), std::string::npos) << t;
  EXPECT_NE(t.find("| replica.timeline  | pg2 "), std::string::npos) << t;
  EXPECT_NE(t.find("| fail   | on timeline 1, the leader pg1 on 2 "), std::string::npos) << t;
  EXPECT_NE(t.find(std::to_string(rs.size() - 1) + " passed, 0 warned, 1 failed\n"), std::string::npos) << t;
}

TEST(CtlCheck, OptionsHaveDefaultsAndRejectBadValues) {
  auto d = ParseCheckOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->max_lag_bytes, 10 * 1024 * 1024);
  EXPECT_EQ(d->max_lag_seconds, 5);
  EXPECT_TRUE(d->canary);
  EXPECT_FALSE(d->router_write.has_value());

  auto o = ParseCheckOptions({"--max-lag-bytes", "512kB", "--max-lag-seconds", "0.5", "--no-canary", "--router",
                              "127.0.0.1:6432", "--canary-timeout", "3", "--dbname", "app", "--username", "ops"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->max_lag_bytes, 512 * 1024);
  EXPECT_EQ(o->max_lag_seconds, 0.5);
  EXPECT_FALSE(o->canary);
  EXPECT_EQ(o->canary_timeout, Duration(3000));
  EXPECT_EQ(o->router_write->ToString(), "127.0.0.1:6432");
  EXPECT_EQ(o->router_read->ToString(), "127.0.0.1:6433") << "the read port is next to the write port";
  EXPECT_EQ(o->dbname, "app");
  EXPECT_EQ(o->username, "ops");
  EXPECT_EQ(ParseCheckOptions({"--router", "h:1", "--router-read", "h:7"})->router_read->ToString(), "h:7");

  struct Bad {
    std::vector<std::string> args;
    std::string message;
  };
  for (const Bad& b : std::vector<Bad>{{{"--max-lag-bytes", "lots"}, "'lots' is not a size"},
                                       {{"--max-lag-bytes", "-1"}, "is not a size"},
                                       {{"--max-lag-seconds", "soon"}, "is not a number of seconds"},
                                       {{"--canary-timeout", "0"}, "above 0"},
                                       {{"--router", "nowhere"}, "is not HOST:PORT"},
                                       {{"--router-samples", "0"}, "from 1 to 1000"},
                                       {{"--timeout"}, "needs a value"},
                                       {{"--frobnicate", "1"}, "unknown option"}}) {
    auto r = ParseCheckOptions(b.args);
    ASSERT_FALSE(r.ok()) << b.args[0];
    EXPECT_NE(r.status().message().find(b.message), std::string::npos) << r.status().message();
  }
}

TEST(CtlCheck, TheCommandLineCarriesChecksOptionsAndRefusesThemElsewhere) {
  auto p = ParseOptions({"check", "demo", "--max-lag-bytes", "1MB", "--no-canary", "-f", "json"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->check, (std::vector<std::string>{"--max-lag-bytes", "1MB", "--no-canary"}));
  EXPECT_EQ(p->positional, (std::vector<std::string>{"check", "demo"}));
  EXPECT_EQ(p->format, "json");

  std::map<std::string, std::string> env;
  EXPECT_TRUE(CheckCommandLine({"--dcs-url", "http://127.0.0.1:2379", "check", "demo"}, env).ok());
  Status bad = CheckCommandLine({"--dcs-url", "http://127.0.0.1:2379", "check", "--max-lag-seconds", "x"}, env);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--max-lag-seconds: 'x' is not a number of seconds"), std::string::npos)
      << bad.message();
  Status elsewhere = CheckCommandLine({"--dcs-url", "http://127.0.0.1:2379", "list", "--no-canary"}, env);
  EXPECT_FALSE(elsewhere.ok());
  EXPECT_NE(elsewhere.message().find("'--no-canary' is an option of check, not of list"), std::string::npos)
      << elsewhere.message();
  // Main refuses them before contacting etcd (port 1: nothing listens), with exit status 2.
  FILE* out = std::tmpfile();
  FILE* err = std::tmpfile();
  EXPECT_EQ(Main({"--dcs-url", "http://127.0.0.1:1", "check", "demo", "--router", "x"}, out, err), 2);
  std::rewind(err);
  char buf[256] = {0};
  size_t n = std::fread(buf, 1, sizeof buf - 1, err);
  EXPECT_NE(std::string(buf, n).find("--router: 'x' is not HOST:PORT"), std::string::npos) << buf;
  std::fclose(out);
  std::fclose(err);
}

TEST(CtlCheck, TheClientReadsTheSuperuserItConnectsAsAndEnvironmentOverridesIt) {
  char path[] = "/tmp/pgw_check_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string yaml =
      "scope: demo\netcd3: {hosts: 127.0.0.1:2379}\npostgresql:\n  data_dir: relative/ignored\n  authentication:\n"
      "    superuser: {username: admin, password: s3cret, sslmode: disable}\n";
  ASSERT_EQ(write(fd, yaml.data(), yaml.size()), static_cast<ssize_t>(yaml.size()));
  close(fd);
  Options o;
  o.config_file = path;
  auto c = LoadTarget(o, {});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->postgresql.superuser.username, "admin");
  EXPECT_EQ(c->postgresql.superuser.password, "s3cret");
  EXPECT_EQ(c->postgresql.superuser.options.at("sslmode"), "disable");
  EXPECT_TRUE(c->postgresql.data_dir.empty()) << "only the credentials are read";
  auto e = LoadTarget(o, {{"PATRONI_SUPERUSER_USERNAME", "other"}, {"PATRONI_SUPERUSER_PASSWORD", "pw"}});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->postgresql.superuser.username, "other");
  EXPECT_EQ(e->postgresql.superuser.password, "pw");
  unlink(path);
}

}  // namespace
}  // namespace pgw::ctl::check
