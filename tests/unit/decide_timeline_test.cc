// check_timeline (Patroni's ha.py _is_healthiest_node and is_failover_possible): a member on an older timeline than
// the cluster's (`history` key) neither takes the leader key nor is handed it. Also the pieces it rests on: the
// cluster timeline of a ClusterView and how the dynamic key is read.
#include <gtest/gtest.h>

#include "decide_fixture.h"

namespace pgw::ha {
namespace {

class TimelineTest : public DecideTest {
 protected:
  // A replica on `mine` with no leader, the peers checked and none ahead; the cluster on timeline `cluster`.
  void ReplicaInRace(int mine, int64_t cluster) {
    cluster_.initialize = "42";
    cluster_.last_lsn = 1000;
    cluster_.timeline = cluster;
    RunningReplica(1000);
    local_.timeline = mine;
    peers_checked_ = true;
    peers_ = {PeerStatus{"pg1", true, false, 900, false, 1}};
  }
  void CheckTimeline(bool on) {
    tweak_ = [on](Inputs& in) { in.dynamic.check_timeline = on; };
  }
  // The leader pg0 on timeline 3 with replicas pg1 (timeline `pg1_tl`) and pg2 (timeline 3, further behind in WAL).
  void LeaderWithReplicas(std::optional<int> pg1_tl) {
    SteadyLeader();
    AddMember("pg2", 5434);
    cluster_.timeline = 3;
    local_.timeline = 3;
    cluster_.members["pg1"].timeline = pg1_tl;
    cluster_.members["pg1"].xlog_location = 900;
    cluster_.members["pg2"].timeline = 3;
    cluster_.members["pg2"].xlog_location = 100;
    SetSlots({"pg1", "pg2"});
  }
};

const std::vector<AT> kPromotes = {AT::kAttemptLeader, AT::kArmFencing, AT::kPromote};

TEST_F(TimelineTest, ReplicaBehindTheClusterTimelineDoesNotTakeTheKey) {
  ReplicaInRace(1, 2);
  CheckTimeline(true);
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kWait});
  EXPECT_EQ(d.reason, Reason::kTimelineBehind);
  EXPECT_EQ(d.message,
            "following a different leader because i am not the healthiest node (My timeline 1 is behind last known "
            "cluster timeline 2)");
  CheckTimeline(false);
  EXPECT_EQ(Types(Run()), kPromotes) << "check_timeline off: the timeline does not matter";
}

TEST_F(TimelineTest, ReplicaOnTheClusterTimelineOrAheadTakesTheKey) {
  ReplicaInRace(2, 2);
  CheckTimeline(true);
  EXPECT_EQ(Types(Run()), kPromotes);
  local_.timeline = 3;  // already followed a promotion the history key does not show yet
  EXPECT_EQ(Types(Run()), kPromotes);
}

// No `history` key: Patroni's Cluster.timeline is 0 and nobody is behind it.
TEST_F(TimelineTest, MissingHistoryKeyDisablesTheCheck) {
  ReplicaInRace(1, 0);
  CheckTimeline(true);
  EXPECT_EQ(Types(Run()), kPromotes);
}

// A standby cluster's timelines follow the remote primary's, not the `history` key (Patroni skips the check there).
TEST_F(TimelineTest, StandbyClusterIgnoresTheClusterTimeline) {
  ReplicaInRace(1, 2);
  tweak_ = [](Inputs& in) {
    in.dynamic.check_timeline = true;
    in.dynamic.standby_cluster = StandbyCluster{};
    in.dynamic.standby_cluster->host = "10.0.0.1";
  };
  auto d = Run();
  EXPECT_EQ(d.reason, Reason::kStandbyLeaderRace) << d.message;
}

TEST_F(TimelineTest, SwitchoverToACandidateBehindTheClusterTimelineIsRefused) {
  LeaderWithReplicas(2);
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}});
  CheckTimeline(true);
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kDeleteFailover});
  EXPECT_EQ(d.reason, Reason::kSwitchoverCandidateUnhealthy);
  EXPECT_EQ(d.message,
            "manual failover: Timeline 2 of member pg1 is behind the cluster timeline 3; cleaning up failover key");
  CheckTimeline(false);
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg1");
}

// Patroni counts a member that reports no timeline as behind (`not st.timeline`), whatever the cluster timeline.
TEST_F(TimelineTest, CandidateWithoutATimelineIsNotACandidate) {
  LeaderWithReplicas(std::nullopt);
  cluster_.timeline = 0;
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}, {"member", "pg1"}});
  CheckTimeline(true);
  auto d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kDeleteFailover});
  EXPECT_NE(d.message.find("Timeline None of member pg1 is behind the cluster timeline 0"), std::string::npos)
      << d.message;
}

// Without a named candidate, the most advanced replica on the cluster timeline is chosen; none: the key goes.
TEST_F(TimelineTest, UnnamedSwitchoverSkipsReplicasBehindTheClusterTimeline) {
  LeaderWithReplicas(2);
  cluster_.failover = DecodeFailover(Json{{"leader", "pg0"}});
  CheckTimeline(true);
  auto d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote}) << d.message;
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg2") << "pg1 has more WAL but is on timeline 2";
  cluster_.members["pg2"].timeline = 1;
  d = Run();
  EXPECT_EQ(Types(d), std::vector<AT>{AT::kDeleteFailover});
  EXPECT_EQ(d.reason, Reason::kSwitchoverNoCandidate);
  CheckTimeline(false);
  d = Run();
  ASSERT_EQ(Types(d), std::vector<AT>{AT::kDemote});
  EXPECT_EQ(As<Demote>(d.actions[0]).target, "pg1");
}

// A crashed primary in synchronous mode hands the key to its synchronous standby only when that one may take it.
TEST_F(TimelineTest, CrashedPrimaryKeepsTheKeyWhenItsSyncStandbyIsBehindTheTimeline) {
  cluster_.initialize = "42";
  AddMember("pg0", 5432, "primary", "stopped");
  AddMember("pg1", 5433);
  cluster_.members["pg1"].timeline = 2;
  cluster_.timeline = 3;
  SetLeader("pg0");
  cluster_.sync = DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", "pg1"}});
  local_.data = LocalView::Data::kValid;
  local_.sysid = "42";
  local_.cluster_state = "in production";
  local_.timeline = 3;
  tweak_ = [](Inputs& in) {
    in.dynamic.synchronous_mode = true;
    in.dynamic.check_timeline = true;
  };
  auto d = Run();
  EXPECT_EQ(d.reason, Reason::kStartPrimary) << d.message;
  tweak_ = [](Inputs& in) { in.dynamic.synchronous_mode = true; };
  d = Run();
  EXPECT_EQ(d.reason, Reason::kCrashHandover) << d.message;
}

// ---- The cluster timeline: Patroni's Cluster.timeline of the `history` key ----

int64_t TimelineOf(const std::optional<std::string>& history) {
  std::map<std::string, etcd::KeyValue> kvs;
  if (history) kvs["/service/demo/history"] = etcd::KeyValue{"/service/demo/history", *history, 1, 1, 1, 0};
  return BuildClusterView("/service/demo/", kvs, 1).timeline;
}

TEST(ClusterTimelineTest, ReadAsPatroniReadsIt) {
  EXPECT_EQ(TimelineOf(std::nullopt), 0) << "no key";
  EXPECT_EQ(TimelineOf("[]"), 1);
  EXPECT_EQ(TimelineOf(R"([[1,83886232,"no recovery target specified","2026-12-07T10:00:00+00:00","pg1"]])"), 2);
  EXPECT_EQ(TimelineOf(R"([[1,100,"r"],[2,200,"r"],[4,300,"r"]])"), 5) << "the last line counts";
  EXPECT_EQ(TimelineOf(R"([["3",100,"r"]])"), 4) << "Python's int() reads a decimal string";
  EXPECT_EQ(TimelineOf(R"([[1,100,"r"],["a"]])"), 0) << "a last line that does not parse";
  EXPECT_EQ(TimelineOf("[ ]"), 0) << "Patroni compares the text with '[]'";
  EXPECT_EQ(TimelineOf("{}"), 0);
  EXPECT_EQ(TimelineOf("not json"), 0);
}

// ---- The dynamic key ----

bool ParsedCheckTimeline(const Json& value, std::vector<std::string>* warnings) {
  std::vector<std::string> problems;
  auto d = DynamicConfig::FromJson(Json{{"check_timeline", value}}, "config", &problems, warnings);
  EXPECT_TRUE(problems.empty()) << value.dump() << ": " << (problems.empty() ? "" : problems[0]);
  return d.check_timeline;
}

TEST(CheckTimelineConfigTest, ReadAsPatroniParsesBooleans) {
  std::vector<std::string> warnings;
  for (const Json& v : {Json(true), Json("true"), Json("On"), Json("yes"), Json(1), Json("1"), Json("TRUE")}) {
    EXPECT_TRUE(ParsedCheckTimeline(v, &warnings)) << v.dump();
  }
  for (const Json& v : {Json(false), Json("off"), Json("no"), Json(0), Json("0"), Json(nullptr)}) {
    EXPECT_FALSE(ParsedCheckTimeline(v, &warnings)) << v.dump();
  }
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  std::vector<std::string> problems;
  EXPECT_FALSE(DynamicConfig::FromJson(Json::object(), "config", &problems).check_timeline) << "off by default";
  // parse_bool knows neither 2, 1.0 nor "y": Patroni's check_mode takes them as false. Not a problem (the rest of
  // the configuration stays in force), but an adjustment: pgwardenctl edit-config refuses to write it.
  for (const Json& v : {Json(2), Json(1.0), Json("y"), Json("maybe"), Json::array({true})}) {
    warnings.clear();
    EXPECT_FALSE(ParsedCheckTimeline(v, &warnings)) << v.dump();
    ASSERT_EQ(warnings.size(), 1u) << v.dump();
    EXPECT_NE(warnings[0].find("config: check_timeline="), std::string::npos) << warnings[0];
  }
}

// Before the `config` key exists the agent runs with bootstrap.dcs (Patroni's check_mode falls back to its own
// dynamic configuration the same way). A top-level key is not read, by Patroni either: it says so.
TEST(CheckTimelineConfigTest, BootstrapDcsCountsTheTopLevelKeyDoesNot) {
  auto r =
      testing::Load(testing::Replace(testing::kGoodConfig, "    ttl: 30\n", "    ttl: 30\n    check_timeline: on\n"));
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_TRUE(r.config->bootstrap.dynamic.check_timeline);
  r = testing::Load(std::string("check_timeline: true\n") + testing::kGoodConfig);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  EXPECT_FALSE(r.config->bootstrap.dynamic.check_timeline);
  bool noted = false;
  for (const auto& w : r.warnings) noted = noted || w.rfind("check_timeline: without effect here", 0) == 0;
  EXPECT_TRUE(noted) << (r.warnings.empty() ? "no warning" : r.warnings[0]);
}

}  // namespace
}  // namespace pgw::ha
