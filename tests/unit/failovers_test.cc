// The `failovers` key: encoding, decoding (bad JSON is an error with a reason, never a crash), bounds, the rejoin
// outcome, and the record built from what the new leader knows (dcs/failovers.h, ha/failover_facts.h).
#include <gtest/gtest.h>

#include "common/clock.h"
#include "dcs/failovers.h"
#include "ha/failover_facts.h"

namespace pgw {
namespace {

FailoverRecord Rec(int tl, const std::string& old_leader, const std::string& new_leader,
                   const std::string& kind = "failover") {
  FailoverRecord r;
  r.kind = kind;
  r.timeline = tl;
  r.old_leader = old_leader;
  r.new_leader = new_leader;
  r.old_lease_renewed_at = "2026-01-01T00:00:00.000000+00:00";
  r.acquired_at = "2026-01-01T00:00:05.000000+00:00";
  r.promoted_at = "2026-01-01T00:00:05.200000+00:00";
  r.old_leader_lsn = 1000;
  r.new_leader_start_lsn = 900;
  r.bytes_possibly_lost = 100;
  r.downtime_s = 5.2;
  return r;
}

TEST(FailoversTest, RoundTripsEveryField) {
  FailoverLog log;
  ASSERT_TRUE(AppendFailover(&log, Rec(2, "pg0", "pg1")));
  FailoverRecord sw = Rec(3, "pg1", "pg2", "switchover");
  sw.old_leader_lsn.reset();
  sw.bytes_possibly_lost.reset();
  sw.rejoin = "rejoined";
  sw.rejoined_at = "2026-01-01T00:01:00.000000+00:00";
  ASSERT_TRUE(AppendFailover(&log, sw));
  auto back = DecodeFailoverLog(EncodeFailoverLog(log));
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->records.size(), 2u);
  EXPECT_EQ(back->totals.at("failover"), 1);
  EXPECT_EQ(back->totals.at("switchover"), 1);
  const FailoverRecord& a = back->records[0];
  EXPECT_EQ(a.kind, "failover");
  EXPECT_EQ(a.timeline, 2);
  EXPECT_EQ(a.old_leader, "pg0");
  EXPECT_EQ(a.new_leader, "pg1");
  EXPECT_EQ(a.old_lease_renewed_at, "2026-01-01T00:00:00.000000+00:00");
  EXPECT_EQ(a.acquired_at, "2026-01-01T00:00:05.000000+00:00");
  EXPECT_EQ(a.promoted_at, "2026-01-01T00:00:05.200000+00:00");
  EXPECT_EQ(*a.old_leader_lsn, 1000);
  EXPECT_EQ(a.new_leader_start_lsn, 900);
  EXPECT_EQ(*a.bytes_possibly_lost, 100);
  EXPECT_DOUBLE_EQ(*a.downtime_s, 5.2);
  EXPECT_EQ(a.rejoin, "");
  const FailoverRecord& b = back->records[1];
  EXPECT_FALSE(b.old_leader_lsn);
  EXPECT_FALSE(b.bytes_possibly_lost);
  EXPECT_EQ(b.rejoin, "rejoined");
  EXPECT_EQ(b.rejoined_at, "2026-01-01T00:01:00.000000+00:00");
  // Unknowns are written as null, so a reader sees every field.
  Json j = Json::parse(EncodeFailoverLog(*back));
  EXPECT_TRUE(j["records"][1]["old_leader_lsn"].is_null());
  EXPECT_TRUE(j["records"][0]["rejoin"].is_null());
}

TEST(FailoversTest, KeepsTheNewestRecordsButCountsEveryOne) {
  FailoverLog log;
  for (int tl = 2; tl < 2 + 30; ++tl) ASSERT_TRUE(AppendFailover(&log, Rec(tl, "a", "b"), 10));
  ASSERT_EQ(log.records.size(), 10u);
  EXPECT_EQ(log.records.front().timeline, 22);
  EXPECT_EQ(log.records.back().timeline, 31);
  EXPECT_EQ(log.totals.at("failover"), 30);
  auto back = DecodeFailoverLog(EncodeFailoverLog(log));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->totals.at("failover"), 30);
}

TEST(FailoversTest, TheSamePromotionIsRecordedOnce) {
  FailoverLog log;
  ASSERT_TRUE(AppendFailover(&log, Rec(2, "pg0", "pg1")));
  EXPECT_FALSE(AppendFailover(&log, Rec(2, "pg0", "pg1")));  // a retried write after a lost answer
  EXPECT_EQ(log.records.size(), 1u);
  EXPECT_EQ(log.totals.at("failover"), 1);
}

TEST(FailoversTest, BadJsonIsAnErrorThatSaysWhy) {
  struct Case {
    const char* json;
    const char* says;
  } cases[] = {
      {"not json", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"records":{}})", "records"},
      {R"({"records":[1]})", "record 0"},
      {R"({"records":[{"kind":"failover","new_leader":"a","timeline":"x"}]})", "timeline"},
      {R"({"records":[{"kind":"meteor","new_leader":"a","timeline":2}]})", "kind"},
      {R"({"records":[{"kind":"failover","new_leader":7,"timeline":2}]})", "new_leader"},
      {R"({"records":[{"kind":"failover","new_leader":"a","timeline":2,"bytes_possibly_lost":-5}]})",
       "bytes_possibly_lost"},
      {R"({"records":[],"totals":{"failover":"many"}})", "totals"},
      {R"({"records":[],"totals":[]})", "totals"},
  };
  for (const auto& c : cases) {
    auto r = DecodeFailoverLog(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.json;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << c.json << ": " << r.status().message();
  }
}

TEST(FailoversTest, MissingOptionalFieldsDecodeAsUnknown) {
  auto r = DecodeFailoverLog(R"({"records":[{"kind":"switchover","new_leader":"b","timeline":4,"extra":1}]})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->records.size(), 1u);
  EXPECT_EQ(r->records[0].old_leader, "");
  EXPECT_FALSE(r->records[0].old_leader_lsn);
  // Totals are at least what the records show, even when the key lost its counters.
  EXPECT_EQ(r->totals.at("switchover"), 1);
}

TEST(FailoversTest, RejoinFillsTheLatestOpenRecordOfThatLeader) {
  FailoverLog log;
  AppendFailover(&log, Rec(2, "pg0", "pg1"));
  AppendFailover(&log, Rec(3, "pg1", "pg0", "switchover"));
  AppendFailover(&log, Rec(4, "pg0", "pg2", "switchover"));
  EXPECT_TRUE(NeedsRejoin(log, "pg0", "pg2"));
  EXPECT_FALSE(NeedsRejoin(log, "pg0", "pg1"));  // pg1 leads: the newest record of pg0 is not about that
  EXPECT_FALSE(NeedsRejoin(log, "pg3", "pg2"));
  EXPECT_FALSE(SetRejoin(&log, "pg0", "pg1", "rejoined", "later"));
  ASSERT_TRUE(SetRejoin(&log, "pg0", "pg2", "rewound", "2026-01-01T00:02:00.000000+00:00"));
  EXPECT_EQ(log.records[2].rejoin, "rewound");
  EXPECT_EQ(log.records[2].rejoined_at, "2026-01-01T00:02:00.000000+00:00");
  EXPECT_EQ(log.records[0].rejoin, "");  // an older episode is not rewritten
  EXPECT_FALSE(NeedsRejoin(log, "pg0", "pg2"));
  EXPECT_FALSE(SetRejoin(&log, "pg0", "pg2", "rejoined", "later"));
}

// The old leader is back before the new leader wrote the record of this change: the record of its previous
// episode (another new leader) is left alone, and the new one is filled once it appears.
TEST(FailoversTest, RejoinWaitsForTheRecordOfTheCurrentChange) {
  FailoverLog log;
  AppendFailover(&log, Rec(2, "pg0", "pg1"));
  EXPECT_FALSE(NeedsRejoin(log, "pg0", "pg2"));
  AppendFailover(&log, Rec(3, "pg0", "pg2"));
  EXPECT_TRUE(NeedsRejoin(log, "pg0", "pg2"));
}

TEST(FailoverFactsTest, CrashFailoverRecordFromTheTrail) {
  ClusterView with;
  with.leader = LeaderKey{"pg0", 7, 10, 10};
  Member m;
  m.name = "pg0";
  m.xlog_location = 5000;
  with.members["pg0"] = m;
  with.last_lsn = 4000;
  ha::LeaderTrail trail;
  trail.Observe(with, 100.0);
  trail.Observe(with, 101.0);
  ClusterView without = with;
  without.leader.reset();
  without.members.clear();
  trail.Observe(without, 106.5);
  trail.Observe(without, 107.0);  // still gone: the first sighting stands
  ha::PromotionFacts f;
  f.new_leader = "pg1";
  f.timeline = 2;
  f.start_lsn = 4500;
  f.acquired_at = 106.6;
  f.promoted_at = 106.9;
  f.ttl = 5;
  FailoverRecord r = ha::BuildFailoverRecord(trail, without, f);
  EXPECT_EQ(r.kind, "failover");
  EXPECT_EQ(r.old_leader, "pg0");
  EXPECT_EQ(r.new_leader, "pg1");
  EXPECT_EQ(r.old_lease_renewed_at, IsoTimestamp(101.5));  // gone at 106.5, minus the ttl
  EXPECT_EQ(r.acquired_at, IsoTimestamp(106.6));
  EXPECT_EQ(r.promoted_at, IsoTimestamp(106.9));
  EXPECT_EQ(*r.old_leader_lsn, 5000);
  EXPECT_EQ(*r.bytes_possibly_lost, 500);
  EXPECT_NEAR(*r.downtime_s, 5.4, 1e-9);
}

TEST(FailoverFactsTest, SwitchoverAndManualFailoverKinds) {
  ClusterView with;
  with.leader = LeaderKey{"pg0", 7, 10, 10};
  with.last_lsn = 4000;
  ha::LeaderTrail trail;
  trail.Observe(with, 100.0);
  ClusterView without = with;
  without.leader.reset();
  without.failover = DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}});
  trail.Observe(without, 102.0);
  ha::PromotionFacts f;
  f.new_leader = "pg1";
  f.timeline = 3;
  f.start_lsn = 4096;
  f.acquired_at = 102.1;
  f.promoted_at = 102.2;
  f.ttl = 5;
  FailoverRecord r = ha::BuildFailoverRecord(trail, without, f);
  EXPECT_EQ(r.kind, "switchover");
  EXPECT_EQ(r.old_lease_renewed_at, IsoTimestamp(102.0));  // released: the lease was live until then
  EXPECT_EQ(*r.bytes_possibly_lost, 0);                    // never negative
  EXPECT_NEAR(*r.downtime_s, 0.2, 1e-9);
  without.failover = DecodeFailover(Json{{"member", "pg1"}});
  EXPECT_EQ(ha::BuildFailoverRecord(trail, without, f).kind, "manual_failover");
}

TEST(FailoverFactsTest, UnknownOldLeaderFallsBackToTheLastRecord) {
  ClusterView v;  // this agent never saw a leader (it started during the outage)
  FailoverLog log;
  AppendFailover(&log, Rec(2, "pg0", "pg2"));
  v.failovers = EncodeFailoverLog(log);
  ha::LeaderTrail trail;
  trail.Observe(v, 50.0);
  ha::PromotionFacts f;
  f.new_leader = "pg1";
  f.timeline = 3;
  f.acquired_at = 51;
  f.promoted_at = 52;
  f.ttl = 5;
  FailoverRecord r = ha::BuildFailoverRecord(trail, v, f);
  EXPECT_EQ(r.old_leader, "pg2");
  EXPECT_EQ(r.old_lease_renewed_at, "");
  EXPECT_FALSE(r.downtime_s);
  EXPECT_FALSE(r.old_leader_lsn);
  EXPECT_FALSE(r.bytes_possibly_lost);
}

}  // namespace
}  // namespace pgw
