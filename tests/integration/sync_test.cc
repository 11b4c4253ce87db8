// Synchronous mode with real processes: the sync key follows pg_stat_replication, a lost synchronous standby is
// replaced, crash rounds lose no acknowledged commit, strict mode blocks writes without a standby.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "helpers.h"
#include "testkit/probe.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

MonoTime Now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

class SyncTest : public ClusterFixture {
 protected:
  SyncTest() : ClusterFixture("sync") {}
  void StartCluster(int nodes, bool strict) {
    ClusterFixture::StartCluster(nodes, [&](SandboxSpec& spec) {
      FastTiming(spec);
      spec.extra_dcs =
          std::string("    synchronous_mode: true\n") + (strict ? "    synchronous_mode_strict: true\n" : "");
    });
  }
  std::string SyncStandby() {
    Json j = Json::parse(Key("sync"), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j["sync_standby"].is_string()) return "";
    return j["sync_standby"].get<std::string>();
  }
  std::string SyncState(const std::string& leader, const std::string& name) {
    return Sql(sb_->Conninfo(leader),
               "SELECT sync_state FROM pg_stat_replication WHERE application_name = '" + name + "'");
  }
  std::string MultiHost() {
    std::string hosts, ports;
    for (const auto& n : sb_->nodes()) {
      hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1");
      ports += (ports.empty() ? "" : ",") + std::to_string(n.pg_port);
    }
    return "host=" + hosts + " port=" + ports + " user=postgres password=" + Sandbox::kSuperuserPassword +
           " dbname=postgres target_session_attrs=read-write";
  }
  // Strict mode on two nodes, with a role `app` (password app-pass) writing table gate_t on the leader (`app_` is
  // its connection string); then the synchronous standby's machine dies and one commit of the application waits
  // for an acknowledgement that never comes (its client gives up after 3 s; the row is in the leader's WAL).
  void StartWithAnUnacknowledgedCommit() {
    StartCluster(2, true);
    leader_ = Key("leader");
    other_ = leader_ == "pg0" ? "pg1" : "pg0";
    ASSERT_TRUE(WaitFor([&] { return SyncStandby() == other_; }, seconds(30)));
    std::string err;
    for (const char* stmt :
         {"CREATE ROLE app LOGIN PASSWORD 'app-pass'", "CREATE TABLE gate_t (x int)", "GRANT ALL ON gate_t TO app"}) {
      Sql(sb_->Conninfo(leader_), stmt, &err);
      ASSERT_EQ(err, "") << stmt;
    }
    app_ = "host=127.0.0.1 port=" + std::to_string(sb_->Node(leader_)->pg_port) +
           " user=app password=app-pass dbname=postgres connect_timeout=5";
    ASSERT_EQ(Sql(app_, "SELECT count(*) FROM gate_t", &err), "0") << err;
    KillMachine(other_);
    ASSERT_TRUE(WaitFor([&] { return SyncStandby().empty(); }, seconds(30))) << Key("sync");
    ProcessOptions o;
    o.timeout = Duration(3000);
    auto bin = FindPostgresBinDir(ProcessEnvironment());
    auto r = pgw::Run({bin + "/psql", app_, "-c", "INSERT INTO gate_t VALUES (42)"}, o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_TRUE(r->timed_out) << "the commit did not wait: " << r->output;
  }

  std::string leader_, other_, app_;
};

TEST_F(SyncTest, SyncKeyFollowsReplicationAndALostStandbyIsReplaced) {
  StartCluster(3, false);
  std::string leader = Key("leader");
  std::string sync;
  ASSERT_TRUE(WaitFor(
      [&] {
        sync = SyncStandby();
        return !sync.empty() && SyncState(leader, sync) == "sync";
      },
      seconds(30)))
      << "no synchronous standby published: " << Key("sync");
  EXPECT_EQ(Json::parse(Key("sync"))["leader"], leader);
  auto code = [&](const std::string& node, const std::string& path) {
    auto body = pgw::Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          "http://127.0.0.1:" + std::to_string(sb_->Node(node)->api_port) + path});
    return body.ok() ? body->output : "";
  };
  EXPECT_EQ(code(sync, "/sync"), "200");
  EXPECT_EQ(code(sync, "/async"), "503");
  for (const auto& n : sb_->nodes()) {
    if (n.name != sync && n.name != leader) {
      EXPECT_EQ(code(n.name, "/sync"), "503");
    }
  }
  KillMachine(sync);
  std::string replacement;
  EXPECT_TRUE(WaitFor(
      [&] {
        replacement = SyncStandby();
        return !replacement.empty() && replacement != sync && SyncState(leader, replacement) == "sync";
      },
      seconds(30)))
      << "the lost synchronous standby was not replaced: " << Key("sync");
  // Writes keep working with the replacement.
  std::string err;
  Sql(sb_->Conninfo(leader), "CREATE TABLE t AS SELECT 1 AS x", &err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(Sql(sb_->Conninfo(leader), "SELECT count(*) FROM t"), "1");
  // Turning synchronous mode off: commits stop waiting and the sync key goes away.
  auto patch = pgw::Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH", "-d",
                         R"({"synchronous_mode": false})",
                         "http://127.0.0.1:" + std::to_string(sb_->Node(leader)->api_port) + "/config"});
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->output, "200");
  EXPECT_TRUE(WaitFor(
      [&] { return Sql(sb_->Conninfo(leader), "SHOW synchronous_standby_names").empty() && Key("sync").empty(); },
      seconds(15)))
      << "synchronous_standby_names: " << Sql(sb_->Conninfo(leader), "SHOW synchronous_standby_names")
      << ", sync: " << Key("sync");
}

TEST_F(SyncTest, CrashRoundsLoseNoAcknowledgedCommit) {
  StartCluster(3, false);
  ASSERT_TRUE(WaitFor([&] { return !SyncStandby().empty(); }, seconds(30)));
  ASSERT_TRUE(WriteProbe::CreateTable(MultiHost(), "probe").ok());
  // Round 1: the leader's machine dies. Round 2: its postmaster alone is killed.
  for (int round = 1; round <= 2; ++round) {
    std::string leader = Key("leader");
    std::string sync;
    ASSERT_TRUE(WaitFor(
        [&] {
          sync = SyncStandby();
          return !sync.empty() && SyncState(leader, sync) == "sync";
        },
        seconds(60)))
        << "round " << round << ": no synchronous standby";
    WriteProbe probe(MultiHost(), "probe", int64_t{round} * 1000000, Duration(5));
    probe.Start();
    ASSERT_TRUE(WaitFor([&] { return probe.Acks().size() >= 50; }, seconds(10)));
    MonoTime crash = Now();
    if (round == 1) {
      KillMachine(leader);
    } else {
      auto pm = sb_->PostmasterPid(leader);
      ASSERT_TRUE(pm.has_value());
      kill(*pm, SIGKILL);
    }
    std::string fresh;
    bool resumed = WaitFor(
        [&] {
          auto acks = probe.Acks();
          fresh = Key("leader");
          return !fresh.empty() && fresh != leader && !acks.empty() && acks.back().at > crash;
        },
        seconds(60));
    probe.Stop();
    ASSERT_TRUE(resumed) << "round " << round << ": writes did not resume on another node";
    EXPECT_EQ(fresh, sync) << "only the synchronous standby may take over";
    auto missing = WriteProbe::Missing(sb_->Conninfo(fresh), "probe", probe.Acks());
    ASSERT_TRUE(missing.ok()) << missing.status().message();
    EXPECT_TRUE(missing->empty()) << "round " << round << ": " << missing->size() << " acknowledged rows lost";
    if (round == 1) {
      ASSERT_TRUE(sb_->StartNode(leader).ok());
    }
    ASSERT_TRUE(sb_->WaitHealthy(Duration(120000)).ok()) << "round " << round << ": cluster did not recover";
  }
}

TEST_F(SyncTest, StrictModeBlocksWritesWithoutAStandby) {
  StartCluster(2, true);
  std::string leader = Key("leader");
  std::string other = leader == "pg0" ? "pg1" : "pg0";
  ASSERT_TRUE(WaitFor([&] { return SyncStandby() == other; }, seconds(30)));
  KillMachine(other);
  // A commit must wait for a synchronous standby that is not there. Run it in a separate psql that we kill
  // after 4 s (a commit waiting for synchronous replication ignores statement_timeout).
  ProcessOptions o;
  o.timeout = Duration(4000);
  auto bin = FindPostgresBinDir(ProcessEnvironment());
  auto r = pgw::Run({bin + "/psql", sb_->Conninfo(leader), "-c", "CREATE TABLE blocked AS SELECT 1"}, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->timed_out) << "the commit did not wait for a synchronous standby: " << r->output;
  EXPECT_TRUE(WaitFor(
      [&] {
        return Sql(sb_->Conninfo(leader), "SHOW synchronous_standby_names") == "*" ||
               Sql(sb_->Conninfo(leader), "SHOW synchronous_standby_names") == "\"" + other + "\"";
      },
      seconds(15)));
}

TEST_F(SyncTest, PrimaryRestartedAfterACrashKeepsClientsOutUntilASyncStandbyHasItsWal) {
  // The standby goes away for good; strict mode keeps commits waiting: one is in the WAL, unacknowledged.
  ASSERT_NO_FATAL_FAILURE(StartWithAnUnacknowledgedCommit());
  const std::string leader = leader_, other = other_, app = app_;
  // The primary crashes; with no synchronous standby running it restarts in place, behind the client gate.
  auto pm = sb_->PostmasterPid(leader);
  ASSERT_TRUE(pm.has_value());
  kill(*pm, SIGKILL);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto npm = sb_->PostmasterPid(leader);
        return npm && *npm != *pm && Sql(sb_->Conninfo(leader), "SELECT 1") == "1";
      },
      seconds(60)))
      << "the primary was not restarted in place";
  EXPECT_EQ(Key("leader"), leader);
  EXPECT_EQ(Sql(sb_->Conninfo(leader), "SELECT count(*) FROM gate_t"), "1") << "crash recovery brought the row back";
  std::string refusal;
  EXPECT_EQ(Sql(app, "SELECT count(*) FROM gate_t", &refusal), "") << "an application read an unacknowledged row";
  EXPECT_NE(refusal.find("no pg_hba.conf entry"), std::string::npos) << refusal;
  EXPECT_TRUE(WaitFor(
      [&] {
        Json m = Json::parse(Key("members/" + leader), nullptr, false);
        return m.is_object() && m.value("client_gate", "") == "closed";
      },
      seconds(15)))
      << Key("members/" + leader);
  auto patroni =
      pgw::Run({"curl", "-s", "http://127.0.0.1:" + std::to_string(sb_->Node(leader)->api_port) + "/patroni"});
  ASSERT_TRUE(patroni.ok());
  Json pj = Json::parse(patroni->output, nullptr, false);
  EXPECT_EQ(pj.value("client_gate", ""), "closed") << patroni->output;
  EXPECT_EQ(pj.value("synchronous", ""), "waiting") << patroni->output;
  // The standby comes back: once it is synchronous and has the recovered WAL, clients are let in.
  ASSERT_TRUE(sb_->StartNode(other).ok());
  std::string count;
  ASSERT_TRUE(WaitFor(
      [&] {
        count = Sql(app, "SELECT count(*) FROM gate_t");
        return count == "1";
      },
      seconds(90)))
      << "the gate did not open: " << Key("members/" + leader);
  EXPECT_EQ(SyncStandby(), other);
  EXPECT_EQ(Sql(sb_->Conninfo(other), "SELECT count(*) FROM gate_t"), "1") << "the standby has the recovered row";
  EXPECT_TRUE(WaitFor(
      [&] {
        Json m = Json::parse(Key("members/" + leader), nullptr, false);
        return m.is_object() && !m.contains("client_gate");
      },
      seconds(15)))
      << Key("members/" + leader);
}

// Issue 10 item 3a: agent and postmaster killed with no synchronous standby running. The node returns after its
// key expired, starts read-only following nobody (crash recovery brings the unacknowledged row back), wins the race
// as the former leader and promotes: the client gate must hold across all of it.
TEST_F(SyncTest, CrashedPrimaryReturningAfterItsKeyExpiredPromotesBehindTheClientGate) {
  ASSERT_NO_FATAL_FAILURE(StartWithAnUnacknowledgedCommit());
  const std::string leader = leader_, other = other_, app = app_;
  KillMachine(leader);
  ASSERT_TRUE(WaitFor([&] { return Key("leader").empty(); }, seconds(60))) << "the key did not expire";
  ASSERT_TRUE(sb_->StartNode(leader).ok());
  ASSERT_TRUE(WaitFor(
      [&] { return Key("leader") == leader && Sql(sb_->Conninfo(leader), "SELECT pg_is_in_recovery()") == "f"; },
      seconds(90)))
      << "the former leader did not take over again";
  EXPECT_EQ(Sql(sb_->Conninfo(leader), "SELECT count(*) FROM gate_t"), "1") << "crash recovery brought the row back";
  std::string refusal;
  EXPECT_EQ(Sql(app, "SELECT count(*) FROM gate_t", &refusal), "") << "an application read an unacknowledged row";
  EXPECT_NE(refusal.find("no pg_hba.conf entry"), std::string::npos) << refusal;
  // The standby returns: once it has the WAL, clients are let in.
  ASSERT_TRUE(sb_->StartNode(other).ok());
  EXPECT_TRUE(WaitFor([&] { return Sql(app, "SELECT count(*) FROM gate_t") == "1"; }, seconds(120)))
      << "the gate did not open: " << Key("members/" + leader);
}

// After an agent restart the sync code finds synchronous_standby_names already right and leaves it alone, so the
// agent had no value of its own for it: the next rewrite of postgresql.conf (POST /reload, or an applied change of
// the dynamic configuration) left it out, and PostgreSQL ran without a synchronous standby until the next cycle
// set it again: commits acknowledged then were on the primary only. The rewrite now keeps the running value.
TEST_F(SyncTest, AReloadRightAfterAnAgentRestartKeepsSynchronousReplicationOn) {
  StartCluster(2, false);
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  std::string standby = leader == "pg0" ? "pg1" : "pg0";
  ASSERT_TRUE(WaitFor([&] { return SyncStandby() == standby && SyncState(leader, standby) == "sync"; }, seconds(30)));
  const SandboxNode* n = sb_->Node(leader);
  auto pglog = [&] {
    auto t = ReadFile(n->data_dir + "/pgwarden-postmaster.log");
    return t.ok() ? *t : std::string();
  };
  // Only what PostgreSQL logs from here on (the cluster's start set and changed its settings before).
  const size_t from = pglog().size();
  auto since = [&] { return pglog().substr(from); };
  const std::string dropped = "parameter \"synchronous_standby_names\" changed to \"\"";
  ASSERT_TRUE(sb_->SignalNode(leader, SIGKILL, true, Duration(10000)).ok());
  ASSERT_TRUE(sb_->StartNode(leader).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = RestCall(*n, "POST", "/reload", "");
        return r.first == 200 || r.first == 202;
      },
      seconds(30)));
  // The reload happens in the agent's next cycle (loop_wait 1 s); a second one after the agent has run a while.
  EXPECT_FALSE(WaitFor([&] { return since().find(dropped) != std::string::npos; }, seconds(4)))
      << "synchronous replication was switched off by the reload:\n"
      << since();
  auto r = RestCall(*n, "POST", "/reload", "");
  EXPECT_TRUE(r.first == 200 || r.first == 202) << r.first << " " << r.second;
  EXPECT_FALSE(WaitFor([&] { return since().find(dropped) != std::string::npos; }, seconds(4)))
      << "synchronous replication was switched off by the second reload:\n"
      << since();
  EXPECT_EQ(SyncState(leader, standby), "sync");
  EXPECT_EQ(LeaderKey(), leader);
}

}  // namespace
}  // namespace pgw::itest
