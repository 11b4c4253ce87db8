// pgwardenctl torture against real clusters: the checker catches defects planted on a real sandbox (an acknowledged
// row deleted before verification is lost; a replica promoted by hand next to the leader is a split brain), and a
// short real run (one kill-primary round on a sandbox the tool starts itself) passes.
#include <nlohmann/json.hpp>

#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;

struct Outcome {
  int code = -1;
  std::string output;
  Json report;  // the --json document (null when missing)
};

class TortureTest : public ClusterFixture {
 protected:
  TortureTest() : ClusterFixture("tort") {}

  Outcome Torture(std::vector<std::string> args) {
    std::string json = Dir() + "/report-" + std::to_string(++runs_) + ".json";
    args.insert(args.begin(), {PgwardenctlBin(), "torture"});
    args.insert(args.end(), {"--json", json});
    ProcessOptions o;
    o.timeout = Duration(150000);
    auto r = pgw::Run(args, o);
    Outcome out;
    if (!r.ok()) {
      out.output = r.status().message();
      return out;
    }
    out.code = r->exit_code;
    out.output = r->output;
    auto text = ReadFile(json);
    if (text.ok()) out.report = Json::parse(*text, nullptr, false);
    return out;
  }

  std::string Leader() {
    for (const auto& n : sb_->nodes()) {
      if (Sql(sb_->Conninfo(n.name), "SELECT pg_is_in_recovery()") == "f") return n.name;
    }
    return "";
  }

  int runs_ = 0;
};

// Both planted defects on one cluster (a cluster start is the slow part): first a row deleted by the "recover"
// command, then a second primary promoted by hand.
TEST_F(TortureTest, ReportsADeletedAcknowledgedRowAsLostAndAHandPromotedReplicaAsSplitBrain) {
  StartCluster(3, FastTiming);
  ASSERT_FALSE(HasFatalFailure());
  const std::string leader = Leader();
  ASSERT_FALSE(leader.empty());

  // The fault does nothing; the recovery deletes the round's first row, which was acknowledged while the writers
  // were getting steady. --sync: a lost row fails the run.
  std::string del = "psql '" + sb_->Conninfo(leader) +
                    "' -c 'DELETE FROM pgwarden_torture WHERE id = (SELECT min(id) FROM pgwarden_torture)'";
  Outcome lost = Torture({"--sandbox", sb_->Dir(), "--fault-cmd", "true", "--recover-cmd", del, "--sync", "--steady",
                          "1", "--heal-timeout", "30"});
  ASSERT_TRUE(lost.report.is_object()) << lost.output;
  const Json& r1 = lost.report["rounds"][0];
  EXPECT_EQ(lost.code, 1) << lost.output;
  EXPECT_EQ(r1["lost"], 1) << lost.output;
  EXPECT_EQ(r1["lost_ids"], Json::array({r1["first_id"]})) << lost.output;
  EXPECT_EQ(r1["split_brain"], 0) << lost.output;
  EXPECT_EQ(r1["duplicates"], 0) << lost.output;
  EXPECT_EQ(r1["errors"], Json::array()) << lost.output;
  EXPECT_GT(r1["acked"].get<int>(), 50) << lost.output;
  EXPECT_NE(lost.output.find("lost: " + r1["first_id"].dump()), std::string::npos) << lost.output;

  // A replica whose agent is dead is promoted by hand (the fault) while the leader keeps its lease: two primaries.
  // The writers' DSN names the replica first, so connections opened after the promotion land on it while older
  // ones still write on the leader.
  std::string replica;
  for (const auto& n : sb_->nodes()) {
    if (n.name != leader && replica.empty()) replica = n.name;
  }
  const SandboxNode* rn = sb_->Node(replica);
  ASSERT_TRUE(sb_->SignalNode(replica, SIGKILL, true, Duration(10000)).ok());
  for (pid_t p : FenceSupervisorsOf(rn->data_dir)) kill(p, SIGKILL);
  std::string dsn = "host=127.0.0.1,127.0.0.1 port=" + std::to_string(rn->pg_port) + "," +
                    std::to_string(sb_->Node(leader)->pg_port) +
                    " user=postgres password=" + Sandbox::kSuperuserPassword +
                    " dbname=postgres target_session_attrs=read-write";
  std::string promote = "psql '" + sb_->Conninfo(replica) + "' -c 'SELECT pg_promote()'";
  Outcome split = Torture(
      {"--dsn", dsn, "--fault-cmd", promote, "--reconnect-every", "200", "--steady", "1", "--heal-timeout", "5"});
  ASSERT_TRUE(split.report.is_object()) << split.output;
  const Json& r2 = split.report["rounds"][0];
  EXPECT_EQ(split.code, 1) << split.output;
  EXPECT_GE(r2["split_brain"].get<int>(), 1) << split.output;
  EXPECT_EQ(r2["servers"].size(), 2u) << split.output;
  EXPECT_NE(split.output.find("split brain: "), std::string::npos) << split.output;
  EXPECT_EQ(split.report["summary"]["passed"], false);
}

TEST_F(TortureTest, OneKillPrimaryRoundOnASandboxItStartsPasses) {
  std::string dir = Dir() + "/own";
  Outcome run = Torture({"--sandbox", dir, "--fault", "kill-primary", "--rounds", "1", "--steady", "1"});
  ASSERT_TRUE(run.report.is_object()) << run.output;
  EXPECT_EQ(run.code, 0) << run.output;
  const Json& r = run.report["rounds"][0];
  EXPECT_EQ(r["fault"], "kill-primary");
  EXPECT_GT(r["acked"].get<int>(), 50) << run.output;
  EXPECT_EQ(r["lost"], 0) << run.output;
  EXPECT_EQ(r["split_brain"], 0) << run.output;
  EXPECT_GT(r["downtime_s"].get<double>(), 0.0) << run.output;
  EXPECT_LT(r["downtime_s"].get<double>(), 30.0) << run.output;
  EXPECT_EQ(run.report["summary"]["passed"], true);
  // The sandbox it started is gone: stopped and removed.
  EXPECT_FALSE(PathExists(dir + "/sandbox.json")) << run.output;
}

}  // namespace
}  // namespace pgw::itest
