// pgwardenctl top's pure parts: options, the rows derived from samples (lag, rates, colour levels) and the frame.
#include <gtest/gtest.h>

#include "ctl/check.h"
#include "ctl/top.h"

namespace pgw::ctl::top {
namespace {

MemberSample Primary(const std::string& name, int64_t lsn, int64_t xacts, int tl = 2) {
  MemberSample m;
  m.name = name;
  m.role = "primary";
  m.state = "running";
  m.lsn = lsn;
  m.xacts = xacts;
  m.timeline = tl;
  return m;
}

MemberSample Replica(const std::string& name, int64_t lsn, int64_t xacts, int tl = 2) {
  MemberSample m;
  m.name = name;
  m.role = "replica";
  m.state = "running";  // as Patroni's member key has it
  m.in_recovery = true;
  m.receiver = "streaming";
  m.lsn = lsn;
  m.xacts = xacts;
  m.timeline = tl;
  m.replay_lag_s = 0.25;
  return m;
}

Sample At(int64_t ms, std::vector<MemberSample> members, const std::string& leader = "n1") {
  Sample s;
  s.at = MonoTime(Duration(ms));
  s.wall = "12:00:00";
  s.leader = leader;
  s.members = std::move(members);
  return s;
}

const Row& RowOf(const std::vector<Row>& rows, const std::string& name) {
  for (const auto& r : rows) {
    if (r.name == name) return r;
  }
  static Row none;
  ADD_FAILURE() << "no row for " << name;
  return none;
}

// Columns of a line (UTF-8 code points), escapes excluded.
size_t Columns(const std::string& line) {
  size_t n = 0;
  bool esc = false;
  for (unsigned char c : line) {
    if (c == 0x1b)
      esc = true;
    else if (esc && c == 'm')
      esc = false;
    else if (!esc)
      n += (c & 0xC0) != 0x80;
  }
  return n;
}

TEST(TopOptionsTest, DefaultsAndEachOptionWithClearErrors) {
  auto d = ParseTopOptions({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->interval, Duration(1000));
  EXPECT_EQ(d->iterations, 0);
  EXPECT_EQ(d->max_lag_bytes, 10 * 1024 * 1024);
  auto o = ParseTopOptions(
      {"--interval", "0.5", "--iterations", "3", "--max-lag-bytes", "2MB", "--max-lag-seconds", "1.5", "--no-canary"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->interval, Duration(500));
  EXPECT_EQ(o->iterations, 3);
  EXPECT_EQ(o->max_lag_bytes, 2 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(o->max_lag_seconds, 1.5);
  for (const auto& bad : std::vector<std::vector<std::string>>{{"--interval", "0"},
                                                               {"--interval", "fast"},
                                                               {"--iterations", "1.5"},
                                                               {"--max-lag-bytes", "10XB"},
                                                               {"--max-lag-seconds", "-1"},
                                                               {"--interval"},
                                                               {"--router", "127.0.0.1:6432"}}) {
    auto r = ParseTopOptions(bad);
    ASSERT_FALSE(r.ok()) << bad[0];
    EXPECT_NE(r.status().message().find(bad[0]), std::string::npos) << r.status().message();
  }
}

TEST(TopOptionsTest, ThresholdsAreReadAsCheckReadsThem) {
  // check --watch hands check's thresholds to top: one parser, so a value is accepted by both or by neither.
  for (const std::string v : {"10MB", "512kB", "1048576", "2GB", "1.5MB", "-1", "10XB", "", "0"}) {
    auto b = check::ParseBytes(v);
    EXPECT_EQ(ParseTopOptions({"--max-lag-bytes", v}).ok(), b.has_value() && *b > 0) << v;
  }
  for (const std::string v : {"5", "0.5", "86401", "x", "0"}) {
    EXPECT_EQ(ParseTopOptions({"--max-lag-seconds", v}).ok(), check::ParseSeconds(v, false).has_value()) << v;
  }
}

TEST(TopModelTest, LagRatesAndTrendComeFromTheLastSamples) {
  Model m;
  m.Add(At(0, {Primary("n1", 1000, 100), Replica("n2", 1000, 50), Replica("n3", 900, 10)}));
  m.Add(At(2000, {Primary("n1", 5000, 300), Replica("n2", 4000, 70), Replica("n3", 900, 10)}));
  TopOptions o;
  auto rows = m.Rows(o);
  ASSERT_EQ(rows.size(), 3u);
  const Row& l = RowOf(rows, "n1");
  EXPECT_TRUE(l.leader);
  EXPECT_EQ(l.role, "leader");
  EXPECT_FALSE(l.lag_bytes);
  ASSERT_TRUE(l.tps && l.wal_rate);
  EXPECT_DOUBLE_EQ(*l.tps, 100);        // 200 transactions in 2 s
  EXPECT_DOUBLE_EQ(*l.wal_rate, 2000);  // 4000 bytes in 2 s
  const Row& r2 = RowOf(rows, "n2");
  ASSERT_TRUE(r2.lag_bytes);
  EXPECT_EQ(*r2.lag_bytes, 1000);
  EXPECT_DOUBLE_EQ(*r2.lag_s, 0.25);
  EXPECT_EQ(r2.lag_history, (std::vector<int64_t>{0, 1000}));
  EXPECT_DOUBLE_EQ(*r2.tps, 10);
  EXPECT_FALSE(r2.wal_rate);
  EXPECT_EQ(r2.level, Level::kOk);
  EXPECT_EQ(*RowOf(rows, "n3").lag_bytes, 4100);
  Summary t = m.Totals(rows);
  EXPECT_DOUBLE_EQ(*t.write_tps, 100);
  EXPECT_DOUBLE_EQ(*t.read_tps, 10);
  EXPECT_EQ(t.replicas, 2);
}

TEST(TopModelTest, ThresholdsAndFaultsColourTheRowAndSayWhy) {
  TopOptions o;
  o.max_lag_bytes = 1000;
  o.max_lag_seconds = 5;
  Model m;
  MemberSample slow = Replica("n2", 9400, 0);    // 600 behind: past half
  MemberSample behind = Replica("n3", 8000, 0);  // 2000 behind: past the threshold
  MemberSample late = Replica("n4", 10000, 0);   // caught up in bytes, 6 s behind in time
  late.replay_lag_s = 6;
  MemberSample down = Replica("n5", 0, -1);
  down.pg_error = "connection refused";
  MemberSample second = Primary("n6", 10000, 0);     // a second server out of recovery
  MemberSample old_tl = Replica("n7", 10000, 0, 1);  // caught up, but on an older timeline
  MemberSample idle = Replica("n8", 10000, 0);
  idle.receiver = "";
  m.Add(At(0, {Primary("n1", 10000, 0), slow, behind, late, down, second, old_tl, idle}));
  auto rows = m.Rows(o);
  EXPECT_EQ(RowOf(rows, "n1").level, Level::kOk);
  EXPECT_EQ(RowOf(rows, "n2").level, Level::kWarn);
  EXPECT_EQ(RowOf(rows, "n3").level, Level::kBad);
  EXPECT_EQ(RowOf(rows, "n4").level, Level::kBad);
  EXPECT_EQ(RowOf(rows, "n5").level, Level::kBad);
  EXPECT_NE(RowOf(rows, "n5").note.find("connection refused"), std::string::npos);
  EXPECT_EQ(RowOf(rows, "n6").level, Level::kBad);
  EXPECT_NE(RowOf(rows, "n6").note.find("not the leader"), std::string::npos);
  EXPECT_EQ(RowOf(rows, "n7").level, Level::kBad);
  EXPECT_NE(RowOf(rows, "n7").note.find("timeline 1"), std::string::npos);
  EXPECT_EQ(RowOf(rows, "n8").level, Level::kWarn);
  EXPECT_NE(RowOf(rows, "n8").note.find("no WAL receiver"), std::string::npos);
}

TEST(TopModelTest, NoRateAcrossAStatsResetOrAMissingSampleAndNoLagWithoutALeader) {
  Model m;
  m.Add(At(0, {Primary("n1", 1000, 500), Replica("n2", 1000, 50)}));
  m.Add(At(1000, {Primary("n1", 2000, 10), Replica("n2", 1500, 60)}, ""));
  auto rows = m.Rows(TopOptions{});
  EXPECT_FALSE(RowOf(rows, "n1").tps);  // the counter went down: pg_stat_reset
  EXPECT_FALSE(RowOf(rows, "n1").leader);
  EXPECT_FALSE(RowOf(rows, "n2").lag_bytes);  // no leader to measure against
  EXPECT_DOUBLE_EQ(*RowOf(rows, "n2").tps, 10);
}

TEST(TopModelTest, RatesSpanTwoSecondsWhereSamplesReachThatFar) {
  Model m;
  m.Add(At(0, {Primary("n1", 1000, 0)}));
  m.Add(At(500, {Primary("n1", 1000, 0)}));
  m.Add(At(1000, {Primary("n1", 1000, 60)}));                    // counters flushed once a second
  EXPECT_DOUBLE_EQ(*RowOf(m.Rows(TopOptions{}), "n1").tps, 60);  // over the whole second, not the last half
  m.Add(At(2500, {Primary("n1", 1000, 120)}));
  m.Add(At(3000, {Primary("n1", 1000, 120)}));
  EXPECT_DOUBLE_EQ(*RowOf(m.Rows(TopOptions{}), "n1").tps, 30);  // from t=1000, the latest 2 s back: 60 in 2 s
}

TEST(TopModelTest, AStreamingReplicaShowsAsStreaming) {
  Model m;
  MemberSample idle = Replica("n3", 1000, 0);
  idle.receiver = "";
  m.Add(At(0, {Primary("n1", 1000, 0), Replica("n2", 1000, 0), idle}));
  auto rows = m.Rows(TopOptions{});
  EXPECT_EQ(RowOf(rows, "n2").state, "streaming");
  EXPECT_EQ(RowOf(rows, "n3").state, "running");  // no WAL receiver: the member key's state
}

TEST(TopModelTest, KeepsABoundedHistory) {
  Model m(5);
  for (int i = 0; i < 50; ++i) m.Add(At(i * 1000, {Primary("n1", 1000 + i, 0), Replica("n2", 1000, 0)}));
  EXPECT_EQ(RowOf(m.Rows(TopOptions{}), "n2").lag_history.size(), 5u);
}

TEST(TopRenderTest, SparklineScalesToTheThreshold) {
  EXPECT_EQ(Sparkline({}, 100), "");
  EXPECT_EQ(Sparkline({0, 100, 1000}, 100), "\u2581\u2588\u2588");
  EXPECT_EQ(Sparkline({50}, 100), "\u2584");
  EXPECT_EQ(Sparkline({-5}, 0), "\u2581");
}

TEST(TopRenderTest, FrameShowsMembersRatesAndTheLastFailoversNewestFirst) {
  Model m;
  Sample a = At(0, {Primary("n1", 1000, 100), Replica("n2", 1000, 50)});
  Sample b = At(1000, {Primary("n1", 1900, 200), Replica("n2", 1000, 60)});
  for (int tl = 1; tl <= 4; ++tl) {
    b.history.push_back({tl, std::nullopt, "reason " + std::to_string(tl),
                         "2026-12-06T10:0" + std::to_string(tl) + ":00", "node" + std::to_string(tl)});
  }
  m.Add(a);
  m.Add(b);
  TopOptions o;
  std::string plain = Render(m, o, "demo", 0, false);
  EXPECT_NE(plain.find("cluster demo"), std::string::npos) << plain;
  EXPECT_NE(plain.find("leader n1"), std::string::npos);
  EXPECT_NE(plain.find("n2"), std::string::npos);
  EXPECT_NE(plain.find("900 B"), std::string::npos) << plain;  // the replica's lag
  EXPECT_NE(plain.find("writes 100 tps (WAL 900 B/s)"), std::string::npos) << plain;
  EXPECT_NE(plain.find("reads 10 tps on 1 replica"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("\033["), std::string::npos);
  auto t4 = plain.find("timeline 4 -> 5"), t2 = plain.find("timeline 2 -> 3");
  EXPECT_NE(t4, std::string::npos);
  EXPECT_LT(t4, t2);
  EXPECT_EQ(plain.find("timeline 1 -> 2"), std::string::npos);  // three shown
  std::string colour = Render(m, o, "demo", 0, true);
  EXPECT_NE(colour.find("\033[32m"), std::string::npos);  // the leader's row in green
  std::string narrow = Render(m, o, "demo", 40, true);
  size_t start = 0;
  while (start < narrow.size()) {
    size_t nl = narrow.find('\n', start);
    EXPECT_LE(Columns(narrow.substr(start, nl - start)), 40u) << narrow.substr(start, nl - start);
    start = nl + 1;
  }
}

TEST(TopRenderTest, SaysSoWhenEtcdCannotBeReadOrThereIsNoLeader) {
  Model m;
  EXPECT_NE(Render(m, TopOptions{}, "demo", 0, false).find("waiting for the first sample"), std::string::npos);
  Sample s;
  s.wall = "12:00:00";
  s.etcd_error = "reading the cluster from etcd: connection refused";
  m.Add(s);
  std::string f = Render(m, TopOptions{}, "demo", 0, false);
  EXPECT_NE(f.find("NO LEADER"), std::string::npos);
  EXPECT_NE(f.find("etcd: reading the cluster from etcd: connection refused"), std::string::npos);
}

}  // namespace
}  // namespace pgw::ctl::top
