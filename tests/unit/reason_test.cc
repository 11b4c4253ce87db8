// Reason codes: every decision names one (ha/reason.h), /metrics counts them by name.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "agent/api.h"
#include "decide_fixture.h"

namespace pgw::ha {
namespace {

TEST(ReasonTest, EveryCodeHasItsOwnSnakeCaseName) {
  std::set<std::string> seen;
  for (size_t i = 0; i < kReasonCount; ++i) {
    std::string n = ReasonName(static_cast<Reason>(i));
    EXPECT_NE(n, "?") << "code " << i;
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos) << n;
    EXPECT_TRUE(seen.insert(n).second) << "duplicate name " << n;
  }
  EXPECT_STREQ(ReasonName(Reason::kNone), "none");
  EXPECT_STREQ(ReasonName(Reason::kStandbyLeader), "standby_leader");  // the last code: the count covers it
  EXPECT_EQ(static_cast<size_t>(Reason::kStandbyLeader) + 1, kReasonCount);
}

TEST_F(DecideTest, ReasonsTellElectionOutcomesApart) {
  cluster_.initialize = "42";
  RunningReplica(900);
  AddMember("pg1", 5433);
  AddMember("pg2", 5434);
  peers_checked_ = true;
  peers_ = {PeerStatus{"pg1", true, false, 1000, false, 1}};
  EXPECT_EQ(Run().reason, Reason::kPeerAhead);
  peers_ = {PeerStatus{"pg1", true, true, 800, false, 1}};
  EXPECT_EQ(Run().reason, Reason::kPrimaryStillAlive);
  peers_ = {PeerStatus{"pg1", true, false, 900, false, 2}};
  EXPECT_EQ(Run().reason, Reason::kPeerPriority);
  peers_ = {PeerStatus{"pg1", true, false, 800, false, 1}};
  auto d = Run();
  EXPECT_EQ(d.reason, Reason::kPromoteRace);
  EXPECT_EQ(Types(d), (std::vector<AT>{AT::kAttemptLeader, AT::kArmFencing, AT::kPromote}));
}

TEST(ReasonMetricsTest, DecisionsAreCountedByReasonName) {
  auto r = testing::Load(testing::kGoodConfig);
  ASSERT_TRUE(r.errors.empty());
  NodeState s;
  api::Counters k;
  std::string none = api::MetricsText(*r.config, s, nullptr, k, false, false);
  EXPECT_EQ(none.find("pgwarden_ha_decisions_total"), std::string::npos) << "no sample, no header";
  k.decisions[static_cast<size_t>(Reason::kFollowing)] = 7;
  k.decisions[static_cast<size_t>(Reason::kCrashHandover)] = 1;
  std::string text = api::MetricsText(*r.config, s, nullptr, k, false, false);
  const std::string labels = "scope=\"" + r.config->scope + "\",name=\"" + r.config->name + "\"";
  EXPECT_NE(text.find("# TYPE pgwarden_ha_decisions_total counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pgwarden_ha_decisions_total{" + labels + ",reason=\"following\"} 7\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("pgwarden_ha_decisions_total{" + labels + ",reason=\"crash_handover\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("reason=\"leader\""), std::string::npos) << "uncounted reasons have no sample";
}

}  // namespace
}  // namespace pgw::ha
