// The record of every leader change (issue 13), with real processes: a crashed leader, then a planned switchover,
// each recorded in the failovers key with its kind, the two leaders, ordered times, the bytes possibly lost and how
// the old leader came back; shown by `pgwardenctl history -v`, GET /failovers and GET /metrics, while GET /history
// and plain `history` keep Patroni's format.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "ctl/ctl.h"
#include "dcs/etcd_dcs.h"
#include "dcs/failovers.h"
#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

double WallNow() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

double At(const Json& rec, const char* field) {
  bool zone = false;
  if (!rec[field].is_string()) return 0;
  return ParseIsoTimestamp(rec[field].get<std::string>(), &zone).value_or(0);
}

class RecordsTest : public ClusterFixture {
 protected:
  RecordsTest() : ClusterFixture("rec") {}

  bool Writable(const std::string& name) { return Sql(sb_->Conninfo(name), "SELECT pg_is_in_recovery()") == "f"; }
  bool Streams(const std::string& name, const std::string& leader) {
    return Sql(sb_->Conninfo(leader), "SELECT count(*) FROM pg_stat_replication WHERE application_name = '" + name +
                                          "' AND state = 'streaming'") == "1";
  }
  Json Records() {
    Json j = Json::parse(Key("failovers"), nullptr, false);
    return j.is_object() && j["records"].is_array() ? j["records"] : Json::array();
  }
  std::string Ctl(std::vector<std::string> args, int* code = nullptr) {
    args.insert(args.begin(), {PgwardenctlBin(), "-c", sb_->nodes()[0].config_path});
    ProcessOptions o;
    o.timeout = Duration(90000);
    auto r = pgw::Run(args, o);
    if (code) *code = r.ok() ? r->exit_code : -1;
    return r.ok() ? r->output : r.status().message();
  }
  std::string Get(const std::string& node, const std::string& path) {
    auto r = pgw::Run({"curl", "-s", "http://127.0.0.1:" + std::to_string(sb_->Node(node)->api_port) + path});
    return r.ok() ? r->output : "";
  }
};

TEST_F(RecordsTest, CrashFailoverThenSwitchoverAreBothRecordedWithHowTheOldLeaderCameBack) {
  double test_start = WallNow();
  StartCluster(3, FastTiming);
  std::string first = LeaderKey();
  ASSERT_FALSE(first.empty());
  ASSERT_EQ(Sql(sb_->Conninfo(first), "CREATE TABLE t (id int); INSERT INTO t VALUES (1)"), "");
  EXPECT_TRUE(Records().empty());

  // 1. The leader's machine dies: a crash failover.
  double killed = WallNow();
  KillMachine(first);
  double kill_done = WallNow();  // KillMachine scans /proc first: a renewal can still land after `killed`
  std::string second;
  ASSERT_TRUE(WaitFor(
      [&] {
        second = LeaderKey();
        return !second.empty() && second != first && Writable(second);
      },
      seconds(30)))
      << "no new writable leader";
  ASSERT_TRUE(WaitFor([&] { return Records().size() == 1; }, seconds(10))) << Key("failovers");
  ASSERT_TRUE(sb_->StartNode(first).ok());
  ASSERT_TRUE(WaitFor([&] { return Streams(first, second); }, seconds(90))) << first << " did not rejoin";
  ASSERT_TRUE(WaitFor([&] { return Records()[0]["rejoin"].is_string(); }, seconds(20))) << Key("failovers");

  // 2. A planned switchover to the third member.
  std::string third;
  for (const auto& n : sb_->nodes()) {
    if (n.name != first && n.name != second) third = n.name;
  }
  ASSERT_TRUE(WaitFor([&] { return Streams(third, second) && Streams(first, second); }, seconds(60)));
  int code = 0;
  std::string out = Ctl({"switchover", "--leader", second, "--candidate", third, "--force"}, &code);
  ASSERT_EQ(code, 0) << out;
  ASSERT_TRUE(WaitFor([&] { return LeaderKey() == third && Writable(third); }, seconds(60))) << out;
  ASSERT_TRUE(WaitFor(
      [&] {
        Json r = Records();
        return r.size() == 2 && r[1]["rejoin"].is_string();
      },
      seconds(60)))
      << Key("failovers");
  double done = WallNow();

  Json recs = Records();
  const Json& crash = recs[0];
  const Json& planned = recs[1];
  EXPECT_EQ(crash["kind"], "failover");
  EXPECT_EQ(crash["old_leader"], first);
  EXPECT_EQ(crash["new_leader"], second);
  EXPECT_EQ(crash["timeline"], 2);
  EXPECT_EQ(crash["rejoin"], "rewound") << crash.dump();
  EXPECT_EQ(planned["kind"], "switchover");
  EXPECT_EQ(planned["old_leader"], second);
  EXPECT_EQ(planned["new_leader"], third);
  EXPECT_EQ(planned["timeline"], 3);
  EXPECT_EQ(planned["rejoin"], "rejoined") << planned.dump();  // a clean handover needs no rewind
  for (const Json* r : {&crash, &planned}) {
    double renewed = At(*r, "old_lease_renewed_at"), taken = At(*r, "acquired_at");
    double promoted = At(*r, "promoted_at"), back = At(*r, "rejoined_at");
    EXPECT_GT(renewed, test_start) << r->dump();
    EXPECT_LE(renewed, taken) << r->dump();
    EXPECT_LE(taken, promoted) << r->dump();
    EXPECT_LE(promoted, back) << r->dump();
    EXPECT_LE(back, done) << r->dump();
    EXPECT_GE((*r)["bytes_possibly_lost"].get<int64_t>(), 0) << r->dump();
    EXPECT_GT((*r)["new_leader_start_lsn"].get<int64_t>(), 0) << r->dump();
    EXPECT_NEAR((*r)["downtime_s"].get<double>(), promoted - renewed, 0.01) << r->dump();
  }
  // The dead leader's lease was last renewed before the kill, and the switchover began after the crash episode
  // ended. The renewal time is estimated as (key seen gone - ttl): etcd's 500 ms expiry tick, the watch and the
  // cycle that notices add to it, so the upper bound has 1.5 s of slack after the kill completed.
  EXPECT_LT(At(crash, "old_lease_renewed_at"), kill_done + 1.5) << crash.dump();
  EXPECT_GT(At(crash, "old_lease_renewed_at"), killed - 5.0 - 1.0) << crash.dump();
  EXPECT_LT(At(crash, "rejoined_at"), At(planned, "old_lease_renewed_at"));
  EXPECT_LT(planned["downtime_s"].get<double>(), crash["downtime_s"].get<double>());

  // GET /history and plain `history` keep Patroni's format; `history -v` adds the records.
  Json hist = Json::parse(Get(third, "/history"), nullptr, false);
  ASSERT_TRUE(hist.is_array()) << hist.dump();
  ASSERT_EQ(hist.size(), 2u);
  for (const auto& e : hist) EXPECT_TRUE(e.is_array() && e.size() == 5) << e.dump();
  std::string plain = Ctl({"history"});
  EXPECT_EQ(plain, ctl::HistoryTable(DecodeHistory(Json::parse(Key("history"))))) << plain;
  std::string verbose = Ctl({"history", "-v"}, &code);
  EXPECT_EQ(code, 0);
  std::fprintf(stderr, "history -v:\n%s", verbose.c_str());
  EXPECT_EQ(verbose.rfind(plain, 0), 0u) << verbose;
  auto decoded = DecodeFailoverLog(Key("failovers"));
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(verbose, plain + ctl::FailoverTable(*decoded));
  EXPECT_NE(verbose.find("| failover   | " + first), std::string::npos) << verbose;
  EXPECT_NE(verbose.find("| switchover | " + second), std::string::npos) << verbose;
  Json as_json = Json::parse(Ctl({"history", "-v", "-f", "json"}), nullptr, false);
  EXPECT_EQ(as_json["records"], recs);

  // GET /failovers on any member; /metrics counts per kind and describes the last change.
  Json api = Json::parse(Get(first, "/failovers"), nullptr, false);
  EXPECT_EQ(api["records"], recs);
  EXPECT_EQ(api["totals"], (Json{{"failover", 1}, {"switchover", 1}}));
  std::string metrics = Get(first, "/metrics");
  std::string labels = "{scope=\"rec\",name=\"" + first + "\"";
  EXPECT_NE(metrics.find("pgwarden_failovers_total" + labels + ",kind=\"failover\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("pgwarden_failovers_total" + labels + ",kind=\"switchover\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("pgwarden_failovers_total" + labels + ",kind=\"manual_failover\"} 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("pgwarden_last_failover_downtime_seconds" + labels + ",kind=\"switchover\"} "),
            std::string::npos);
  EXPECT_NE(metrics.find("pgwarden_last_failover_bytes_possibly_lost" + labels + ",kind=\"switchover\"} 0\n"),
            std::string::npos)
      << metrics;
}

// Two writers appending at once through compare-and-swap: neither loses the other's records.
TEST_F(RecordsTest, ConcurrentWritersLoseNoRecord) {
  StartCluster(1, FastTiming, /*wait_healthy=*/false);
  auto writer = [&](const std::string& name, int first_tl) {
    Config cfg;
    cfg.scope = "rec";
    cfg.name = name;
    auto hp = ParseHostPort(sb_->EtcdEndpoint());
    ASSERT_TRUE(hp.ok());
    cfg.etcd3.hosts = {*hp};
    RealClock clock;
    Logger log{stderr};
    EtcdDcs dcs(cfg, clock, log, [] {});
    dcs.Start(10);  // the watch, so that each write waits only until the cache shows it
    for (int tl = first_tl; tl < first_tl + 10; ++tl) {
      FailoverRecord r;
      r.kind = kKindFailover;
      r.timeline = tl;
      r.new_leader = name;
      Status s = dcs.UpdateFailovers(
          std::nullopt, 0,
          [&](const std::optional<std::string>& cur) {
            FailoverLog l;
            if (cur) {
              auto d = DecodeFailoverLog(*cur);
              if (d.ok()) l = std::move(*d);
            }
            AppendFailover(&l, r);
            return std::optional<std::string>(EncodeFailoverLog(l));
          },
          50);
      EXPECT_TRUE(s.ok()) << s.message();
    }
  };
  std::thread a(writer, "w1", 100), b(writer, "w2", 200);
  a.join();
  b.join();
  auto log = DecodeFailoverLog(Key("failovers"));
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_EQ(log->records.size(), 20u);
  EXPECT_EQ(log->totals["failover"], 20);
}

}  // namespace
}  // namespace pgw::itest
