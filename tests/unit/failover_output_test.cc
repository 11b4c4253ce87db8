// Where the failovers key is shown: `pgwardenctl history -v`, GET /failovers and GET /metrics.
#include <gtest/gtest.h>

#include "agent/failover_api.h"
#include "ctl/ctl.h"
#include "dcs/failovers.h"

namespace pgw {
namespace {

FailoverLog TwoChanges() {
  FailoverLog log;
  FailoverRecord a;
  a.kind = kKindFailover;
  a.timeline = 2;
  a.old_leader = "pg0";
  a.new_leader = "pg1";
  a.old_lease_renewed_at = "2026-01-01T10:00:00.000000+00:00";
  a.acquired_at = "2026-01-01T10:00:05.000000+00:00";
  a.promoted_at = "2026-01-01T10:00:05.250000+00:00";
  a.old_leader_lsn = 0x3000060;
  a.new_leader_start_lsn = 0x3000000;
  a.bytes_possibly_lost = 0x60;
  a.downtime_s = 5.25;
  a.rejoin = kRejoinRewound;
  a.rejoined_at = "2026-01-01T10:00:15.250000+00:00";
  AppendFailover(&log, a);
  FailoverRecord b = a;
  b.kind = kKindSwitchover;
  b.timeline = 3;
  b.old_leader = "pg1";
  b.new_leader = "pg2";
  b.old_lease_renewed_at = "2026-01-01T11:00:00.000000+00:00";
  b.acquired_at = "2026-01-01T11:00:00.010000+00:00";
  b.promoted_at = "2026-01-01T11:00:00.110000+00:00";
  b.old_leader_lsn = 0x5000028;
  b.new_leader_start_lsn = 0x50000A0;
  b.bytes_possibly_lost = 0;
  b.downtime_s = 0.11;
  b.rejoin.clear();
  b.rejoined_at.clear();
  AppendFailover(&log, b);
  return log;
}

ClusterView ViewWith(const std::string& failovers) {
  ClusterView v;
  v.history = DecodeHistory(
      Json::parse(R"([[1,50331744,"no recovery target specified","2026-01-01T10:00:05.300000+00:00","pg1"]])"));
  v.failovers = failovers;
  return v;
}

TEST(FailoverOutputTest, HistoryVerboseKeepsPatronisTableAndAddsTheLeaderChanges) {
  ClusterView v = ViewWith(EncodeFailoverLog(TwoChanges()));
  std::string out = ctl::HistoryVerbose(v);
  // patronictl's table first, unchanged.
  EXPECT_EQ(out.rfind(ctl::HistoryTable(v.history), 0), 0u) << out;
  std::string expected =
      "+ Leader changes -+------------+------------+-------------------------+---------------+----------+----------+"
      "-----------+--------------+------------+---------------------+\n"
      "| TL | Kind       | Old Leader | New Leader | Key Taken (UTC)         | Lease Renewed | Promoted | Downtime |"
      "   Old LSN | New TL Start | Lost Bytes | Old Leader Rejoined |\n"
      "+----+------------+------------+------------+-------------------------+---------------+----------+----------+"
      "-----------+--------------+------------+---------------------+\n"
      "|  2 | failover   | pg0        | pg1        | 2026-01-01 10:00:05.000 |      -5.000 s | +0.250 s |  5.250 s |"
      " 0/3000060 |    0/3000000 |         96 | rewound +10.000 s   |\n"
      "|  3 | switchover | pg1        | pg2        | 2026-01-01 11:00:00.010 |      -0.010 s | +0.100 s |  0.110 s |"
      " 0/5000028 |    0/50000A0 |          0 | not yet             |\n"
      "+----+------------+------------+------------+-------------------------+---------------+----------+----------+"
      "-----------+--------------+------------+---------------------+\n";
  EXPECT_NE(out.find(expected), std::string::npos) << out;
  EXPECT_NE(out.find("Totals: failover 1, switchover 1."), std::string::npos) << out;
}

TEST(FailoverOutputTest, HistoryVerboseSaysWhyABadKeyCannotBeShown) {
  ClusterView v = ViewWith("{\"records\": 5}");
  std::string out = ctl::HistoryVerbose(v);
  EXPECT_NE(out.find("Leader changes: cannot be shown: the failovers key: \"records\" must be a list"),
            std::string::npos)
      << out;
  v.failovers.reset();
  EXPECT_NE(ctl::HistoryVerbose(v).find("Totals: none."), std::string::npos);
}

TEST(FailoverOutputTest, FailoversEndpoint) {
  ClusterView v = ViewWith(EncodeFailoverLog(TwoChanges()));
  auto r = api::FailoversResponse(&v);
  EXPECT_EQ(r.status, 200);
  Json j = Json::parse(r.body);
  ASSERT_EQ(j["records"].size(), 2u);
  EXPECT_EQ(j["records"][1]["kind"], "switchover");
  EXPECT_EQ(j["totals"]["failover"], 1);
  v.failovers.reset();
  r = api::FailoversResponse(&v);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"totals":{},"records":[]})"));
  v.failovers = "garbage";
  r = api::FailoversResponse(&v);
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("not JSON"), std::string::npos) << r.body;
  EXPECT_EQ(api::FailoversResponse(nullptr).status, 503);
}

TEST(FailoverOutputTest, MetricsCountPerKindAndDescribeTheLastChange) {
  Config cfg;
  cfg.scope = "demo";
  cfg.name = "pg0";
  ClusterView v = ViewWith(EncodeFailoverLog(TwoChanges()));
  std::string m = api::FailoverMetricsText(cfg, &v);
  EXPECT_NE(m.find("# TYPE pgwarden_failovers_total counter\n"), std::string::npos) << m;
  EXPECT_NE(m.find("pgwarden_failovers_total{scope=\"demo\",name=\"pg0\",kind=\"failover\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("pgwarden_failovers_total{scope=\"demo\",name=\"pg0\",kind=\"switchover\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("pgwarden_failovers_total{scope=\"demo\",name=\"pg0\",kind=\"manual_failover\"} 0\n"),
            std::string::npos);
  EXPECT_NE(m.find("pgwarden_last_failover_downtime_seconds{scope=\"demo\",name=\"pg0\",kind=\"switchover\"} 0.11\n"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("pgwarden_last_failover_bytes_possibly_lost{scope=\"demo\",name=\"pg0\",kind=\"switchover\"} 0\n"),
            std::string::npos);
  // No key yet: every kind at zero, nothing about a last change.
  v.failovers.reset();
  m = api::FailoverMetricsText(cfg, &v);
  EXPECT_NE(m.find("kind=\"failover\"} 0\n"), std::string::npos);
  EXPECT_EQ(m.find("pgwarden_last_failover"), std::string::npos);
  v.failovers = "[";
  m = api::FailoverMetricsText(cfg, &v);
  EXPECT_NE(m.find("pgwarden_failovers_key_invalid{scope=\"demo\",name=\"pg0\"} 1\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("pgwarden_failovers_total"), std::string::npos);
}

}  // namespace
}  // namespace pgw
