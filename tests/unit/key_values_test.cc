// The typed decoders of Patroni's permanent keys (dcs/key_values.h), on the shapes Patroni writes and on values
// nobody should write but anyone with etcd access can.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "dcs/key_values.h"
#include "dcs/keys.h"

namespace pgw {
namespace {

using Json = nlohmann::json;
using Names = std::vector<std::string>;

// Values of every JSON type and a few that are not JSON at all.
const std::vector<std::string> kGarbage = {
    "",       "{",  "null",    "[]",
    "[1,2]",  "7",  "-1.5",    "\"text\"",
    "true",   "{}", "\xff",    " ",
    "{\"a\"", "][", "leader:", "{\"leader\":{\"x\":1},\"sync_standby\":7,\"member\":[1],\"slots\":5}"};

TEST(SyncStateTest, PatroniShapes) {
  SyncState s = DecodeSync(std::string(R"({"leader":"pg0","sync_standby":"pg1"})"));
  EXPECT_EQ(s.leader, "pg0");
  EXPECT_EQ(s.members, Names{"pg1"});
  EXPECT_FALSE(s.quorum);
  // synchronous_node_count >= 2: a comma-separated list, in the key's order.
  EXPECT_EQ(DecodeSync(std::string(R"({"leader":"pg0","sync_standby":"pg2,pg1"})")).members, (Names{"pg2", "pg1"}));
  // No standby yet.
  s = DecodeSync(std::string(R"({"leader":"pg0","sync_standby":null})"));
  EXPECT_EQ(s.leader, "pg0");
  EXPECT_TRUE(s.members.empty());
  // Patroni 4's quorum commit mode.
  s = DecodeSync(std::string(R"({"leader":"pg0","sync_standby":"pg1,pg2","quorum":1})"));
  EXPECT_EQ(s.quorum, std::optional<int64_t>(1));
  EXPECT_TRUE(s.Matches("pg0"));
  EXPECT_TRUE(s.Matches("pg2"));
  EXPECT_FALSE(s.Matches("pg3"));
  EXPECT_FALSE(s.Matches(""));
}

TEST(SyncStateTest, ListsAreTrimmedAsPatroniSplitsThem) {
  // SyncState.members: [s.strip() for s in sync_standby.split(',')], empty names dropped.
  EXPECT_EQ(DecodeSync(std::string(R"({"leader":"pg0","sync_standby":" pg1 , pg2 "})")).members, (Names{"pg1", "pg2"}));
  EXPECT_EQ(DecodeSync(std::string(R"({"leader":"pg0","sync_standby":",pg1,,\tpg2,"})")).members,
            (Names{"pg1", "pg2"}));
  EXPECT_TRUE(DecodeSync(std::string(R"({"leader":"pg0","sync_standby":" , "})")).members.empty());
  EXPECT_TRUE(DecodeSync(std::string(R"({"leader":"pg0","sync_standby":""})")).members.empty());
}

TEST(SyncStateTest, WrongTypesAndGarbageAreEmpty) {
  for (const auto& g : kGarbage) {
    SyncState s;
    ASSERT_NO_THROW(s = DecodeSync(g)) << g;
    EXPECT_EQ(s.leader, "") << g;
    EXPECT_TRUE(s.members.empty()) << g;
  }
  SyncState s = DecodeSync(Json{{"leader", 5}, {"sync_standby", 7}, {"quorum", "x"}});
  EXPECT_EQ(s, SyncState{});
  // A list of names is not what Patroni writes; pgwarden always read one, and still does.
  EXPECT_EQ(DecodeSync(Json{{"leader", "pg0"}, {"sync_standby", {"pg1", 3, " pg2"}}}).members, (Names{"pg1", "pg2"}));
}

TEST(SyncStateTest, EncodeDecodeRoundTrip) {
  EXPECT_EQ(EncodeSync("pg0", {}), R"({"leader":"pg0","sync_standby":null})");
  EXPECT_EQ(EncodeSync("pg0", {"pg1", "pg2"}), R"({"leader":"pg0","sync_standby":"pg1,pg2"})");
  EXPECT_EQ(DecodeSync(EncodeSync("pg0", {"pg1", "pg2"})).members, (Names{"pg1", "pg2"}));
}

TEST(FailoverKeyTest, PatroniShapes) {
  FailoverKey k = DecodeFailover(std::string(R"({"leader":"pg0","member":"pg1"})"));
  ASSERT_TRUE(k.request);
  EXPECT_EQ(k.request->leader, "pg0");
  EXPECT_EQ(k.request->member, "pg1");
  EXPECT_FALSE(k.request->scheduled_at);
  EXPECT_EQ(k.raw, Json::parse(R"({"leader":"pg0","member":"pg1"})"));
  // A failover (no leader), and pgwarden's "candidate" spelling.
  k = DecodeFailover(std::string(R"({"candidate":"pg2"})"));
  ASSERT_TRUE(k.request);
  EXPECT_EQ(k.request->leader, "");
  EXPECT_EQ(k.request->member, "pg2");
  // A switchover to any candidate.
  k = DecodeFailover(std::string(R"({"leader":"pg0"})"));
  ASSERT_TRUE(k.request);
  EXPECT_EQ(k.request->member, "");
  // Scheduled, as patronictl writes it.
  k = DecodeFailover(std::string(R"({"leader":"pg0","member":"pg1","scheduled_at":"2026-01-14T10:09:57+00:00"})"));
  ASSERT_TRUE(k.request);
  bool zone = false;
  EXPECT_EQ(k.request->scheduled_at, ParseIsoTimestamp("2026-01-14T10:09:57+00:00", &zone));
}

TEST(FailoverKeyTest, LegacyPlainText) {
  // Failover.from_node: a value that is not JSON is "leader:candidate", each part stripped.
  FailoverKey k = DecodeFailover(std::string("pg0: pg1"));
  ASSERT_TRUE(k.request);
  EXPECT_EQ(k.request->leader, "pg0");
  EXPECT_EQ(k.request->member, "pg1");
  EXPECT_TRUE(k.raw.is_null());
  k = DecodeFailover(std::string(":pg1"));
  ASSERT_TRUE(k.request);
  EXPECT_EQ(k.request->leader, "");
  EXPECT_EQ(k.request->member, "pg1");
  EXPECT_FALSE(DecodeFailover(std::string(" : ")).request);
}

TEST(FailoverKeyTest, RequestsForNothingAreNone) {
  // Failover.__len__ is 0: Patroni ignores such a key.
  EXPECT_FALSE(DecodeFailover(std::string("{}")).request);
  EXPECT_FALSE(DecodeFailover(std::string(R"({"leader":"","member":""})")).request);
  EXPECT_FALSE(DecodeFailover(std::string(R"({"scheduled_at":"2026-01-14T10:09:57Z"})")).request);
  EXPECT_FALSE(DecodeFailover(std::string("")).request);
  EXPECT_FALSE(DecodeFailover(std::string("null")).request);
  EXPECT_FALSE(DecodeFailover(std::string("[\"pg0\"]")).request);
  EXPECT_FALSE(DecodeFailover(Json{{"leader", 1}, {"member", nullptr}}).request);
}

TEST(FailoverKeyTest, ScheduledAt) {
  // Empty or null: not scheduled (Patroni tests `if data.get('scheduled_at')`).
  auto k = DecodeFailover(std::string(R"({"leader":"pg0","scheduled_at":""})"));
  ASSERT_TRUE(k.request);
  EXPECT_FALSE(k.request->scheduled_at);
  k = DecodeFailover(std::string(R"({"leader":"pg0","scheduled_at":null})"));
  ASSERT_TRUE(k.request);
  EXPECT_FALSE(k.request->scheduled_at);
  // Not a time: no request at all, never one at an unknown time.
  EXPECT_FALSE(DecodeFailover(std::string(R"({"leader":"pg0","scheduled_at":"soon"})")).request);
  EXPECT_FALSE(DecodeFailover(std::string(R"({"leader":"pg0","scheduled_at":1700000000})")).request);
}

TEST(FailoverKeyTest, GarbageNeverThrows) {
  for (const auto& g : kGarbage) EXPECT_NO_THROW((void)DecodeFailover(g)) << g;
}

TEST(FailsafeTopologyTest, Shapes) {
  auto t =
      DecodeFailsafe(std::string(R"({"pg0":"http://10.0.0.1:8008/patroni","pg1":"http://10.0.0.2:8008/patroni"})"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->size(), 2u);
  EXPECT_EQ(t->at("pg1"), "http://10.0.0.2:8008/patroni");
  EXPECT_EQ(DecodeFailsafe(EncodeFailsafe(*t)), t);
  // An empty object is a key (Patroni then discards failsafe mode for the race); not an object is none.
  ASSERT_TRUE(DecodeFailsafe(std::string("{}")));
  EXPECT_TRUE(DecodeFailsafe(std::string("{}"))->empty());
  for (const char* g : {"", "[]", "null", "\"pg0\"", "{", "5"}) EXPECT_FALSE(DecodeFailsafe(std::string(g))) << g;
  // A url that is not a string: the member is listed, with no address.
  t = DecodeFailsafe(std::string(R"({"pg0":5,"pg1":null})"));
  ASSERT_TRUE(t);
  EXPECT_EQ((*t)["pg0"], "");
  EXPECT_EQ((*t)["pg1"], "");
  for (const auto& g : kGarbage) EXPECT_NO_THROW((void)DecodeFailsafe(g)) << g;
}

TEST(StatusKeyTest, Shapes) {
  StatusKey s = DecodeStatus(R"({"optime":67109056,"slots":{"pg1":67108960,"cdc":"67108000","bad":"x","neg":[1]}})");
  EXPECT_EQ(s.optime, std::optional<int64_t>(67109056));
  EXPECT_EQ(s.slots, (std::map<std::string, int64_t>{{"pg1", 67108960}, {"cdc", 67108000}}));
  EXPECT_EQ(DecodeStatus(EncodeStatus(5, {{"a", 4}})), (StatusKey{5, {{"a", 4}}}));
  // int() reads a decimal string, spaces around it included.
  EXPECT_EQ(DecodeStatus(R"({"optime":" 42 "})").optime, std::optional<int64_t>(42));
  EXPECT_FALSE(DecodeStatus(R"({"optime":"42abc"})").optime);
  EXPECT_FALSE(DecodeStatus(R"({"optime":18446744073709551615})").optime);
  EXPECT_FALSE(DecodeStatus(R"({"optime":true})").optime);
  EXPECT_TRUE(DecodeStatus(R"({"optime":1,"slots":[1]})").slots.empty());
  for (const auto& g : kGarbage) {
    StatusKey k;
    ASSERT_NO_THROW(k = DecodeStatus(g)) << g;
    EXPECT_EQ(k, StatusKey{}) << g;
  }
  EXPECT_EQ(DecodeLeaderOptime("67109056"), std::optional<int64_t>(67109056));
  EXPECT_FALSE(DecodeLeaderOptime("67109056x"));
  EXPECT_FALSE(DecodeLeaderOptime(""));
}

TEST(HistoryTest, Shapes) {
  auto h = DecodeHistory(
      Json::parse(R"([[1,25165984,"no recovery target specified","2026-01-01T10:00:05.300000+00:00","pg1"],)"
                  R"([2,50331744,"no recovery target specified"],"junk",[],["3",1],[4,null,7,8,9]])"));
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0],
            (HistoryLine{1, 25165984, "no recovery target specified", "2026-01-01T10:00:05.300000+00:00", "pg1"}));
  // A line written before Patroni 1.6: no timestamp, no leader.
  EXPECT_EQ(h[1], (HistoryLine{2, 50331744, "no recovery target specified", "", ""}));
  EXPECT_EQ(h[2], (HistoryLine{4, std::nullopt, "", "", ""}));
  for (const auto& g : kGarbage) {
    Json j = Json::parse(g, nullptr, false);
    EXPECT_NO_THROW((void)DecodeHistory(j)) << g;
  }
  EXPECT_TRUE(DecodeHistory(Json::object()).empty());
}

etcd::KeyValue KV(const std::string& k, const std::string& v, int64_t mod) {
  return etcd::KeyValue{k, v, mod, mod, 1, 0};
}

ClusterView View(const std::vector<etcd::KeyValue>& kvs) {
  std::map<std::string, etcd::KeyValue> m;
  for (const auto& kv : kvs) m[kv.key] = kv;
  return BuildClusterView("/service/demo/", m, 9);
}

TEST(ClusterViewKeysTest, TypedFieldsAreFilledOnce) {
  ClusterView v = View({KV("/service/demo/sync", R"({"leader":"pg0","sync_standby":"pg1, pg2"})", 4),
                        KV("/service/demo/failover", R"({"leader":"pg0","member":"pg2"})", 5),
                        KV("/service/demo/failsafe", R"({"pg0":"http://a/patroni"})", 6),
                        KV("/service/demo/status", R"({"optime":100,"slots":{"pg1":90}})", 7),
                        KV("/service/demo/history", R"([[1,50,"r","t","pg0"]])", 8)});
  ASSERT_TRUE(v.sync);
  EXPECT_EQ(v.sync->members, (Names{"pg1", "pg2"}));
  EXPECT_EQ(v.sync_mod_revision, 4);
  ASSERT_TRUE(v.failover && v.failover->request);
  EXPECT_EQ(v.failover->request->member, "pg2");
  EXPECT_EQ(v.failover_mod_revision, 5);
  EXPECT_EQ(v.failsafe, (FailsafeTopology{{"pg0", "http://a/patroni"}}));
  EXPECT_EQ(v.last_lsn, std::optional<int64_t>(100));
  EXPECT_EQ(v.status.slots.at("pg1"), 90);
  ASSERT_EQ(v.history.size(), 1u);
  EXPECT_EQ(v.history[0].new_leader, "pg0");
  EXPECT_EQ(v.history_raw, Json::parse(R"([[1,50,"r","t","pg0"]])"));
}

// A `sync` key that is not JSON used to read as no key at all: the leader then wrote it create-only (revision 0),
// which etcd refuses while the key exists, so synchronous mode could never publish a standby again, and outside
// synchronous mode nobody deleted it. It now exists, empty, with its revision for the compare-and-swap.
TEST(ClusterViewKeysTest, UnreadableSyncKeyStillExists) {
  ClusterView v = View({KV("/service/demo/sync", "{garbage", 11)});
  ASSERT_TRUE(v.sync);
  EXPECT_EQ(*v.sync, SyncState{});
  EXPECT_EQ(v.sync_mod_revision, 11);
}

// Likewise a `failover` key that is not JSON: it is either Patroni's "leader:candidate" or nothing, and in both cases
// the key exists, so that the leader acts on it or cleans it up.
TEST(ClusterViewKeysTest, UnreadableFailoverKeyStillExists) {
  ClusterView v = View({KV("/service/demo/failover", "", 12)});
  ASSERT_TRUE(v.failover);
  EXPECT_FALSE(v.failover->request);
  // Not JSON: the whole text up to a colon is the leader (Patroni reads "{garbage" as a switchover from a leader
  // named so, and the real leader then cleans the key up as a request for another leader).
  v = View({KV("/service/demo/failover", "{garbage", 12)});
  ASSERT_TRUE(v.failover && v.failover->request);
  EXPECT_EQ(v.failover->request->leader, "{garbage");
  v = View({KV("/service/demo/failover", "pg0:pg1", 12)});
  ASSERT_TRUE(v.failover && v.failover->request);
  EXPECT_EQ(v.failover->request->member, "pg1");
}

// Patroni reads the legacy optime/leader key only when there is no status key; it used to fill in whenever the
// status key had no readable optime.
TEST(ClusterViewKeysTest, LegacyOptimeOnlyWithoutStatus) {
  EXPECT_EQ(View({KV("/service/demo/optime/leader", "500", 1)}).last_lsn, std::optional<int64_t>(500));
  EXPECT_FALSE(View({KV("/service/demo/optime/leader", "500", 1), KV("/service/demo/status", "{}", 2)}).last_lsn);
  EXPECT_EQ(
      View({KV("/service/demo/optime/leader", "500", 1), KV("/service/demo/status", R"({"optime":600})", 2)}).last_lsn,
      std::optional<int64_t>(600));
}

TEST(ClusterViewKeysTest, AbsentKeys) {
  ClusterView v = View({});
  EXPECT_FALSE(v.sync);
  EXPECT_EQ(v.sync_mod_revision, 0);
  EXPECT_FALSE(v.failover);
  EXPECT_FALSE(v.failsafe);
  EXPECT_FALSE(v.last_lsn);
  EXPECT_TRUE(v.history.empty());
  EXPECT_TRUE(v.history_raw.is_array());
}

}  // namespace
}  // namespace pgw
