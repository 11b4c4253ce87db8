// Replication slots: which slots a node creates, keeps, drops, advances and copies (ha/slots.h), and the parsing
// of `slots` and `ignore_slots` in the dynamic configuration.
#include "decide_fixture.h"

namespace pgw::ha {
namespace {

const SyncSlots* SlotsAction(const Decision& d) {
  for (const auto& a : d.actions) {
    if (const auto* s = a.Get<SyncSlots>()) return s;
  }
  return nullptr;
}

// Issue 10 item 12: the leader dropped the slot of a live member (and created it again a moment later). A member
// whose key exists keeps its slot on the leader, whatever its replicatefrom tag and its source's state say.
TEST_F(DecideTest, LeaderNeverDropsTheSlotOfALiveMember) {
  SteadyLeader();
  AddMember("pg2", 5434, "replica", "running", {{"replicatefrom", "pg1"}});
  SetSlots({"pg1", "pg2"});
  Decision d = Run();
  const SyncSlots* a = SlotsAction(d);
  if (a != nullptr) {
    EXPECT_NE(std::find(a->slots.begin(), a->slots.end(), "pg2"), a->slots.end()) << "pg2's slot dropped";
  }
}

TEST_F(DecideTest, ReplicaKeepsTheSlotsOfLiveMembersButNotTheLeaders) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  AddMember("pg2", 5434);
  SetLeader("pg1");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
  SetSlots({"pg1", "pg2"});  // held while this node led
  Decision d = Run();
  const SyncSlots* a = SlotsAction(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->slot_plan.drop, std::vector<std::string>{"pg1"});
  EXPECT_EQ(a->slots, std::vector<std::string>{"pg2"});
}

DynamicConfig Dyn(const Json& j, std::vector<std::string>* problems) {
  return DynamicConfig::FromJson(j, "config", problems);
}

TEST(SlotsConfigTest, ParsesPhysicalAndLogicalSlotsAndMatchers) {
  std::vector<std::string> problems;
  Json j = Json::parse(R"({"slots": {"phys": {"type": "physical"}, "bare": null, "zero": 0,
      "cdc": {"type": "logical", "database": "app", "plugin": "pgoutput", "extra": 1},
      "guess": {"database": "app", "plugin": "test_decoding"}},
      "ignore_slots": [{"name": "keep_me"}, {"type": "logical", "plugin": "wal2json"}]})");
  DynamicConfig d = Dyn(j, &problems);
  ASSERT_TRUE(problems.empty()) << problems[0];
  EXPECT_EQ(d.slots.size(), 5u);
  EXPECT_EQ(d.slots["phys"], (PermanentSlot{"physical", "", ""}));
  EXPECT_EQ(d.slots["bare"].type, "physical");
  EXPECT_EQ(d.slots["zero"].type, "physical");
  EXPECT_EQ(d.slots["cdc"], (PermanentSlot{"logical", "app", "pgoutput"}));
  EXPECT_EQ(d.slots["guess"], (PermanentSlot{"logical", "app", "test_decoding"}));
  ASSERT_EQ(d.ignore_slots.size(), 2u);
  EXPECT_EQ(*d.ignore_slots[0].name, "keep_me");
  EXPECT_FALSE(d.ignore_slots[1].name.has_value());
  EXPECT_EQ(d.raw, j);  // unknown keys ("extra") stay in what is written back
}

TEST(SlotsConfigTest, AliasesFollowPatronisPrecedence) {
  std::vector<std::string> problems;
  DynamicConfig d = Dyn(Json::parse(R"({"slots": {"a": null}, "permanent_slots": {"b": null}})"), &problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(d.slots.count("b"), 1u);
  EXPECT_EQ(d.slots.count("a"), 0u);
}

TEST(SlotsConfigTest, BadSlotsAreErrorsNamingTheKey) {
  auto first = [](const char* text) {
    std::vector<std::string> problems;
    Dyn(Json::parse(text), &problems);
    return problems.empty() ? std::string("<none>") : problems[0];
  };
  EXPECT_EQ(first(R"({"slots": {"x": {"type": "stream"}}})"),
            "config.slots.x.type: must be physical or logical, got \"stream\"");
  EXPECT_EQ(first(R"({"slots": {"x": {"type": "logical", "database": "app"}}})"),
            "config.slots.x: a logical slot needs both database and plugin");
  EXPECT_EQ(first(R"({"slots": {"Bad-Name": null}})"),
            "config.slots.Bad-Name: not a valid replication slot name (lower case letters, digits and '_', at most 63 "
            "characters)");
  EXPECT_EQ(first(R"({"slots": {"x": {"type": "logical", "database": 5, "plugin": "p"}}})"),
            "config.slots.x.database: must be a string, got 5");
  EXPECT_NE(first(R"({"slots": ["x"]})").find("config.slots: must be a mapping"), std::string::npos);
  EXPECT_NE(first(R"({"slots": {"x": "physical"}})").find("config.slots.x: must be a mapping"), std::string::npos);
  EXPECT_NE(first(R"({"ignore_slots": {"name": "x"}})").find("config.ignore_slots: must be a list"), std::string::npos);
  EXPECT_EQ(first(R"({"ignore_slots": [{"type": "both"}]})"),
            "config.ignore_slots[0].type: must be physical or logical, got \"both\"");
  EXPECT_NE(first(R"({"ignore_slots": ["x"]})").find("config.ignore_slots[0]: must be a mapping"), std::string::npos);
}

TEST(SlotsConfigTest, BootstrapDcsSlotsAreCheckedAtLoad) {
  auto r = testing::Load(testing::Replace(testing::kGoodConfig, "    ttl: 30\n",
                                          "    ttl: 30\n    slots:\n      cdc: {type: logical, plugin: pgoutput}\n"));
  EXPECT_TRUE(testing::HasError(r, "bootstrap.dcs.slots.cdc: a logical slot needs both database and plugin"));
}

class PermanentSlotsTest : public DecideTest {
 protected:
  void SetUp() override {
    DecideTest::SetUp();
    std::vector<std::string> problems;
    dyn_ = Dyn(Json::parse(R"({"ttl": 30, "loop_wait": 10, "retry_timeout": 10,
        "slots": {"phys": {"type": "physical"}, "pg0": null, "cdc": {"type": "logical", "database": "app", "plugin": "test_decoding"}},
        "ignore_slots": [{"name": "keep_me"}, {"type": "logical", "plugin": "wal2json"}]})"),
               &problems);
    ASSERT_TRUE(problems.empty());
    tweak_ = [this](Inputs& in) { in.dynamic = dyn_; };
  }
  void Slot(const std::string& name, const std::string& type, int64_t lsn, const std::string& plugin = "",
            bool active = false) {
    SlotState s{name, type, type == "logical" ? "app" : "", plugin, active, lsn, type == "logical" ? lsn : 0};
    local_.slots.push_back(s);
  }
  DynamicConfig dyn_;
};

TEST_F(PermanentSlotsTest, LeaderCreatesPermanentSlotsDropsUnknownOnesAndKeepsIgnoredOnes) {
  SteadyLeader();
  local_.slots.clear();
  Slot("pg1", "physical", 100);
  Slot("keep_me", "physical", 100);
  Slot("decoder", "logical", 100, "wal2json");
  Slot("stray", "logical", 100, "test_decoding");
  Slot("stray_phys", "physical", 100);
  Slot("busy", "physical", 100, "", /*active=*/true);
  auto d = Run();
  const SyncSlots* a = SlotsAction(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->slot_plan.drop, (std::vector<std::string>{"stray", "stray_phys"}));
  // No slot named after ourselves (pg0), even when configured as permanent.
  EXPECT_EQ(a->slot_plan.create,
            (std::vector<SlotSpec>{{"cdc", "logical", "app", "test_decoding"}, {"phys", "physical", "", ""}}));
  EXPECT_TRUE(a->slot_plan.advance.empty());
  EXPECT_TRUE(a->slot_plan.copy.empty());
}

// A standby cluster's PostgreSQL is in recovery everywhere: PostgreSQL 15 cannot create a logical slot there (the
// plan would fail every cycle), so, as in Patroni, permanent logical slots are left out; physical ones stay.
TEST_F(PermanentSlotsTest, StandbyClusterHoldsNoLogicalPermanentSlots) {
  SteadyLeader();
  local_.slots.clear();
  Slot("pg1", "physical", 100);
  dyn_.standby_cluster = StandbyCluster{};
  dyn_.standby_cluster->host = "10.0.0.9";
  auto want = DesiredSlots(*cfg_, dyn_, cluster_, true);
  EXPECT_EQ(want.count("cdc"), 0u);
  EXPECT_EQ(want.count("phys"), 1u);
  want = DesiredSlots(*cfg_, dyn_, cluster_, false);
  EXPECT_EQ(want.count("cdc"), 0u);
}

TEST_F(PermanentSlotsTest, LeaderPublishesPermanentAndMemberSlotPositions) {
  SteadyLeader();
  local_.slots.clear();
  Slot("pg1", "physical", 700);
  Slot("phys", "physical", 500);
  Slot("cdc", "logical", 600, "test_decoding");
  auto d = Run();
  const WriteStatus* st = nullptr;
  for (const auto& a : d.actions) {
    if (const auto* s = a.Get<WriteStatus>()) st = s;
  }
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->slot_lsns, (std::map<std::string, int64_t>{{"cdc", 600}, {"phys", 500}, {"pg1", 700}}));
  EXPECT_EQ(EncodeStatus(1000, st->slot_lsns), R"({"optime":1000,"slots":{"cdc":600,"pg1":700,"phys":500}})");
  // Once published, nothing more to do.
  cluster_.status = DecodeStatus(EncodeStatus(1000, st->slot_lsns));
  EXPECT_TRUE(Run().actions.empty());
}

TEST_F(PermanentSlotsTest, ReplicaCopiesLogicalSlotsAndAdvancesTheOthersToThePublishedPositions) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  AddMember("pg2", 5434);
  SetLeader("pg1");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
  cluster_.status = DecodeStatus(R"({"optime": 1000, "slots": {"cdc": 900, "phys": 800, "pg2": 700}})");
  Slot("phys", "physical", 500);
  Slot("pg2", "physical", 700);
  auto d = Run();
  const SyncSlots* a = SlotsAction(d);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->slot_plan.drop.empty());
  EXPECT_TRUE(a->slot_plan.create.empty());
  EXPECT_EQ(a->slot_plan.advance, (std::map<std::string, int64_t>{{"phys", 800}}));
  EXPECT_EQ(a->slot_plan.copy, (std::vector<SlotSpec>{{"cdc", "logical", "app", "test_decoding"}}));
  EXPECT_EQ(a->target, "pg1");
  ASSERT_TRUE(a->address.has_value());
  EXPECT_EQ(a->address->port, 5433);
  // With the copy in place and behind: advanced, never copied again.
  Slot("cdc", "logical", 850, "test_decoding");
  Decision d2 = Run();
  a = SlotsAction(d2);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->slot_plan.advance, (std::map<std::string, int64_t>{{"cdc", 900}, {"phys", 800}}));
  EXPECT_TRUE(a->slot_plan.copy.empty());
}

TEST_F(PermanentSlotsTest, LogicalSlotIsNotCopiedBeforeTheLeaderPublishesIt) {
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  SetLeader("pg1");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
  Decision d = Run();
  const SyncSlots* a = SlotsAction(d);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->slot_plan.copy.empty());
  EXPECT_EQ(a->slot_plan.create, (std::vector<SlotSpec>{{"phys", "physical", "", ""}}));
}

TEST_F(PermanentSlotsTest, NofailoverReplicaGetsNoLogicalCopiesAndNoMemberSlots) {
  SetConfig("  nofailover: true\n");
  cluster_.initialize = "42";
  AddMember("pg1", 5433, "primary");
  AddMember("pg2", 5434);
  SetLeader("pg1");
  RunningReplica();
  local_.upstream = Upstream{HostPort{"127.0.0.1", 5433}, "pg0"};
  cluster_.status = DecodeStatus(R"({"optime": 1000, "slots": {"cdc": 900}})");
  Slot("cdc", "logical", 850, "test_decoding");
  Decision d = Run();
  const SyncSlots* a = SlotsAction(d);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->slot_plan.drop, std::vector<std::string>{"cdc"});
  EXPECT_EQ(a->slots, std::vector<std::string>{"phys"});
}

TEST_F(PermanentSlotsTest, PauseDropsNothing) {
  SteadyLeader();
  Slot("stray", "logical", 100, "test_decoding");
  tweak_ = [this](Inputs& in) {
    in.dynamic = dyn_;
    in.dynamic.pause = true;
  };
  Decision d = Run();
  const SyncSlots* a = SlotsAction(d);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->slot_plan.drop.empty());
}

}  // namespace
}  // namespace pgw::ha
