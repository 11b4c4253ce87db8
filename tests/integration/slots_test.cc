// Replication slots with real processes (issue 11 permanent slots, issue 10 item 12): a permanent logical slot
// survives a switchover at no earlier position than its consumer confirmed, a permanent physical slot exists on
// every node, ignore_slots protects a hand-made slot, an unknown one is dropped, and no live member's slot is.
#include <nlohmann/json.hpp>

#include "helpers.h"

namespace pgw::itest {
namespace {

using std::chrono::seconds;

class SlotsTest : public ClusterFixture {
 protected:
  SlotsTest() : ClusterFixture("slots") {}
  std::string Q(const std::string& node, const std::string& sql) {
    std::string err;
    std::string v = Sql(sb_->Conninfo(node), sql, &err);
    if (!err.empty()) last_error_ = node + ": " + err;
    return v;
  }
  bool HasSlot(const std::string& node, const std::string& slot) {
    return Q(node, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '" + slot + "'") == "1";
  }
  int64_t ConfirmedFlush(const std::string& node, const std::string& slot) {
    std::string v =
        Q(node, "SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
    return v.empty() ? -1 : std::atoll(v.c_str());
  }
  // Decodes and confirms everything the slot has on `node`; returns the slot's confirmed position afterwards.
  int64_t Consume(const std::string& node) {
    Q(node, "SELECT count(*) FROM pg_logical_slot_get_changes('cdc', NULL, NULL)");
    return ConfirmedFlush(node, "cdc");
  }
  std::string Log(const std::string& name) {
    auto t = ReadFile(sb_->Node(name)->log_path);
    return t.ok() ? *t : "";
  }
  std::string last_error_;
};

TEST_F(SlotsTest, PermanentSlotsSurviveASwitchoverAndUnknownSlotsAreDropped) {
  StartCluster(2, [](SandboxSpec& spec) {
    FastTiming(spec);
    spec.wal_level = "logical";
    spec.extra_dcs =
        "    slots:\n"
        "      cdc: {type: logical, database: postgres, plugin: test_decoding}\n"
        "      keep_phys: {type: physical}\n"
        "    ignore_slots:\n"
        "    - name: hand_ignored\n";
  });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  std::string replica = leader == "pg0" ? "pg1" : "pg0";

  // The leader creates both permanent slots; the replica the physical one and a copy of the logical one.
  ASSERT_TRUE(WaitFor([&] { return HasSlot(leader, "cdc") && HasSlot(leader, "keep_phys"); }, seconds(30)))
      << last_error_;
  Q(leader, "CREATE TABLE t (id int PRIMARY KEY, v text)");
  Q(leader, "INSERT INTO t SELECT g, 'a' FROM generate_series(1, 100) g");
  int64_t consumed = Consume(leader);
  ASSERT_GT(consumed, 0) << last_error_;
  ASSERT_TRUE(WaitFor([&] { return HasSlot(replica, "keep_phys") && HasSlot(replica, "cdc"); }, seconds(60)))
      << "the replica holds no copy of the permanent slots; " << last_error_;
  ASSERT_TRUE(WaitFor([&] { return ConfirmedFlush(replica, "cdc") >= consumed; }, seconds(30)))
      << "the copy on the replica was not advanced to " << consumed << " (at " << ConfirmedFlush(replica, "cdc") << ")";
  EXPECT_EQ(Q(replica, "SHOW hot_standby_feedback"), "on");

  // Hand-made slots on the leader: the ignored one stays, the unknown one goes.
  Q(leader, "SELECT pg_create_physical_replication_slot('hand_ignored')");
  // The creation's own answer proves the slot existed: the agent may drop it before a second query could see it.
  last_error_.clear();
  std::string created =
      Q(leader, "SELECT slot_name FROM pg_create_logical_replication_slot('hand_unknown', 'test_decoding')");
  ASSERT_EQ(created, "hand_unknown") << last_error_;
  EXPECT_TRUE(WaitFor([&] { return !HasSlot(leader, "hand_unknown"); }, seconds(20)))
      << "an unknown slot was not dropped";
  EXPECT_TRUE(HasSlot(leader, "hand_ignored")) << "an ignored slot was dropped";

  // More changes, consumed right before the switchover: the new primary's slot must not be behind them.
  Q(leader, "INSERT INTO t SELECT g, 'b' FROM generate_series(101, 200) g");
  int64_t before = Consume(leader);
  ASSERT_GT(before, consumed);
  auto sw =
      pgw::Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-XPOST", "-H", "Content-Type: application/json",
                "-d", "{\"leader\":\"" + leader + "\",\"candidate\":\"" + replica + "\"}",
                "http://127.0.0.1:" + std::to_string(sb_->Node(leader)->api_port) + "/switchover"});
  ASSERT_TRUE(sw.ok() && sw->output == "200") << (sw.ok() ? sw->output : sw.status().message());
  ASSERT_TRUE(
      WaitFor([&] { return LeaderKey() == replica && Q(replica, "SELECT pg_is_in_recovery()") == "f"; }, seconds(60)));
  ASSERT_TRUE(HasSlot(replica, "cdc")) << "the permanent logical slot is missing on the new primary";
  // The new primary advances its copy after the promotion (decoding from the copy's restart_lsn, which takes a
  // while when the copy is fresh from the leader): it gets there soon, never stays behind.
  EXPECT_TRUE(WaitFor([&] { return ConfirmedFlush(replica, "cdc") >= before; }, seconds(30)))
      << "the slot on the new primary stays behind what the consumer confirmed: at " << ConfirmedFlush(replica, "cdc")
      << ", consumer at " << before;
  // It decodes on the new primary: the next change arrives, the old ones do not come again.
  Q(replica, "INSERT INTO t VALUES (1000, 'after')");
  std::string seen = Q(replica, "SELECT string_agg(data, ' ') FROM pg_logical_slot_get_changes('cdc', NULL, NULL)");
  EXPECT_NE(seen.find("1000"), std::string::npos) << seen << " " << last_error_;
  EXPECT_EQ(seen.find("'b'"), std::string::npos) << "changes consumed before the switchover came again: " << seen;

  // The old leader rejoins; both nodes keep the permanent physical slot, the ignored slot stays where it was.
  ASSERT_TRUE(sb_->WaitHealthy(Duration(120000)).ok());
  EXPECT_TRUE(HasSlot(replica, "keep_phys"));
  EXPECT_TRUE(WaitFor([&] { return HasSlot(leader, "keep_phys") && HasSlot(leader, "cdc"); }, seconds(30)));
  EXPECT_TRUE(HasSlot(leader, "hand_ignored"));
  // status.slots carries the permanent slots' positions.
  auto status = nlohmann::json::parse(Key("status"), nullptr, false);
  ASSERT_TRUE(status.is_object() && status.contains("slots")) << Key("status");
  EXPECT_TRUE(status["slots"].contains("cdc")) << status.dump();
  EXPECT_TRUE(status["slots"].contains("keep_phys")) << status.dump();
  // The new leader never dropped the old leader's slot (issue 10 item 12). (The old leader, now a replica, drops
  // the slot it held for the new leader: nobody streams from a replica through the leader's slot.)
  EXPECT_EQ(Log(replica).find("dropped unknown replication slot " + leader), std::string::npos);
}

}  // namespace
}  // namespace pgw::itest
