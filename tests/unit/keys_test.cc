#include <gtest/gtest.h>

#include "dcs/keys.h"

namespace pgw {
namespace {

etcd::KeyValue KV(const std::string& k, const std::string& v, int64_t lease = 0, int64_t mod = 1) {
  return etcd::KeyValue{k, v, mod, mod, 1, lease};
}

TEST(KeysTest, BuildsClusterViewFromPatroniLayout) {
  std::map<std::string, etcd::KeyValue> kvs;
  auto put = [&](const etcd::KeyValue& kv) { kvs[kv.key] = kv; };
  put(KV("/service/demo/initialize", "7710784184727718416"));
  put(KV("/service/demo/config", R"({"ttl":30,"loop_wait":10})", 0, 3));
  put(KV("/service/demo/leader", "pg0", 99, 7));
  put(KV("/service/demo/status", R"({"optime":67109056})"));
  put(KV(
      "/service/demo/members/pg0",
      R"({"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"primary","version":"4.0.0","xlog_location":67108960,"timeline":1})",
      99));
  put(KV("/service/demo/members/pg1", "not json", 55));
  put(KV("/service/other/leader", "x"));  // another scope: ignored
  auto v = BuildClusterView("/service/demo/", kvs, 12);
  EXPECT_EQ(v.revision, 12);
  EXPECT_EQ(*v.initialize, "7710784184727718416");
  ASSERT_TRUE(v.leader);
  EXPECT_EQ(v.leader->name, "pg0");
  EXPECT_EQ(v.leader->lease, 99);
  EXPECT_EQ(v.config_mod_revision, 3);
  EXPECT_EQ(*v.last_lsn, 67109056);
  ASSERT_EQ(v.members.size(), 2u);
  const Member* pg0 = v.FindMember("pg0");
  EXPECT_EQ(pg0->conn->port, 5432);
  EXPECT_EQ(*pg0->xlog_location, 67108960);
  EXPECT_TRUE(pg0->IsPrimaryRole());
  EXPECT_EQ(v.FindMember("pg1")->state, "");  // malformed JSON: name only, no error
  EXPECT_EQ(v.LeaderMember(), pg0);
}

TEST(KeysTest, MemberJsonIsCompactInPatroniOrder) {
  MemberData m;
  m.conn_url = "postgres://127.0.0.1:5433/postgres";
  m.api_url = "http://127.0.0.1:8009/patroni";
  m.state = "running";
  m.role = "replica";
  m.version = "4.0.0";
  m.xlog_location = 67108960;
  m.timeline = 1;
  m.replication_state = "streaming";
  EXPECT_EQ(EncodeMember(m),
            R"({"conn_url":"postgres://127.0.0.1:5433/postgres","api_url":"http://127.0.0.1:8009/patroni",)"
            R"("state":"running","role":"replica","version":"4.0.0","xlog_location":67108960,"timeline":1,)"
            R"("replication_state":"streaming"})");
  EXPECT_EQ(EncodeStatus(123), R"({"optime":123})");
  // A standby's replay and receive positions follow xlog_location, as Patroni 4.1 writes them; parsed back.
  m.replay_lsn = 67108000;
  m.receive_lsn = 67108960;
  std::string with_lsns = EncodeMember(m);
  EXPECT_NE(with_lsns.find(R"("xlog_location":67108960,"replay_lsn":67108000,"receive_lsn":67108960,)"),
            std::string::npos)
      << with_lsns;
  ClusterView v = BuildClusterView("/service/demo/", {{"/service/demo/members/pg1", etcd::KeyValue{"", with_lsns}}}, 1);
  ASSERT_EQ(v.members.count("pg1"), 1u);
  EXPECT_EQ(v.members["pg1"].replay_lsn, std::optional<int64_t>(67108000));
  m.replay_lsn.reset();
  m.receive_lsn.reset();
  m.synchronous = "alone";
  m.client_gate_closed = true;
  EXPECT_NE(EncodeMember(m).find(R"("synchronous":"alone","client_gate":"closed"})"), std::string::npos)
      << EncodeMember(m);
}

TEST(KeysTest, SlotNamesFollowPatroni) {
  EXPECT_EQ(SlotNameFromMemberName("pg0"), "pg0");
  EXPECT_EQ(SlotNameFromMemberName("Node-1.east"), "node_1_east");
  EXPECT_EQ(SlotNameFromMemberName("a b"), "au0032b");
  EXPECT_EQ(SlotNameFromMemberName("\xc3\xa4"), "u0228");  // U+00E4, one code point
  EXPECT_EQ(SlotNameFromMemberName(std::string(80, 'x')).size(), 63u);
}

TEST(KeysTest, ConnUrl) {
  EXPECT_EQ(ConnUrl(HostPort{"10.0.0.1", 5433}), "postgres://10.0.0.1:5433/postgres");
  EXPECT_EQ(ParseConnUrl("postgres://u:p@db:6000/postgres")->host, "db");
  EXPECT_EQ(ParseConnUrl("postgres://db/postgres")->port, 5432);
  EXPECT_FALSE(ParseConnUrl("garbage"));
}

}  // namespace
}  // namespace pgw

namespace pgw {
namespace {

// Found by fuzz_cluster_view: a member key whose fields have the wrong JSON type (anyone who can write to etcd can
// store one) threw out of BuildClusterView, and a non-boolean tag threw out of NoFailover()/CloneFrom().
TEST(KeysFuzzRegressionTest, WrongTypedMemberFieldsAreIgnored) {
  std::map<std::string, etcd::KeyValue> kvs;
  kvs["/service/demo/members/pg0"] =
      KV("/service/demo/members/pg0", R"({"conn_url":5,"api_url":[1],"state":{"a":1},"role":null,"version":true})");
  kvs["/service/demo/members/pg1"] =
      KV("/service/demo/members/pg1", R"({"state":"running","tags":{"nofailover":"yes","clonefrom":1}})");
  ClusterView v;
  ASSERT_NO_THROW(v = BuildClusterView("/service/demo/", kvs, 1));
  ASSERT_EQ(v.members.size(), 2u);
  const Member& m0 = v.members.at("pg0");
  EXPECT_EQ(m0.conn_url, "");
  EXPECT_EQ(m0.api_url, "");
  EXPECT_EQ(m0.state, "");
  EXPECT_EQ(m0.role, "");
  EXPECT_EQ(m0.version, "");
  EXPECT_FALSE(m0.conn);
  const Member& m1 = v.members.at("pg1");
  EXPECT_EQ(m1.state, "running");
  // Patroni reads boolean tags by Python truth value: "yes" and 1 count.
  bool nofailover = false, clonefrom = false;
  ASSERT_NO_THROW(nofailover = m1.NoFailover());
  ASSERT_NO_THROW(clonefrom = m1.CloneFrom());
  EXPECT_TRUE(nofailover);
  EXPECT_TRUE(clonefrom);
}

}  // namespace
}  // namespace pgw
