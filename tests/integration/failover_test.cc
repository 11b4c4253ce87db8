// Failover, fencing and rejoin with real processes: etcd, pgwarden agents, PostgreSQL 15 on loopback.
// Each test gets its own cluster with the fast timing profile (ttl 5, loop_wait 1, retry_timeout 2).
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "agent/fencer.h"
#include "ha/decide.h"
#include "helpers.h"
#include "testkit/probe.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kTtl = 5;

MonoTime Now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

class FailoverTest : public ClusterFixture {
 protected:
  FailoverTest() : ClusterFixture("fo") {}
  void StartCluster(int nodes, const std::string& extra_dcs = "", std::vector<std::string> tags = {},
                    const std::string& extra_postgresql = "") {
    bool tagged = !tags.empty();
    ClusterFixture::StartCluster(
        nodes,
        [&](SandboxSpec& spec) {
          FastTiming(spec);
          spec.extra_dcs = extra_dcs;
          spec.node_tags = std::move(tags);
          spec.extra_postgresql = extra_postgresql;
        },
        /*wait_healthy=*/nodes > 1 && !tagged);
  }
  void TearDown() override {
    for (auto& p : probes_) p->Stop();
    ClusterFixture::TearDown();
  }

  bool Writable(const std::string& name) { return Sql(sb_->Conninfo(name), "SELECT pg_is_in_recovery()") == "f"; }
  bool InRecovery(const std::string& name) { return Sql(sb_->Conninfo(name), "SELECT pg_is_in_recovery()") == "t"; }
  Json NodeJson(const std::string& name) {
    auto body = sb_->NodeStatus(name);
    return body.ok() ? Json::parse(*body, nullptr, false) : Json();
  }
  std::string Log(const std::string& name) {
    auto t = ReadFile(sb_->Node(name)->log_path);
    return t.ok() ? *t : "";
  }
  // Until `name` streams from `leader` (pg_stat_replication on the leader), on the leader's timeline.
  bool Streams(const std::string& name, const std::string& leader) {
    return Sql(sb_->Conninfo(leader), "SELECT count(*) FROM pg_stat_replication WHERE application_name = '" + name +
                                          "' AND state = 'streaming'") == "1" &&
           NodeJson(name).value("timeline", -1) == NodeJson(leader).value("timeline", -2);
  }
  // A callback program that appends its arguments to DIR/callbacks.log; returns the callbacks: YAML block.
  std::string CallbackScript() {
    std::string script = Dir() + "/callback.sh";
    EXPECT_TRUE(WriteFileAtomic(script, "#!/bin/sh\necho \"$@\" >> " + Dir() + "/callbacks.log\n", 0755).ok());
    chmod(script.c_str(), 0755);
    return "  callbacks:\n    on_start: " + script + "\n    on_stop: " + script + "\n    on_role_change: " + script +
           "\n";
  }
  std::string CallbackLog() {
    auto t = ReadFile(Dir() + "/callbacks.log");
    return t.ok() ? *t : "";
  }
  WriteProbe* Probe(const std::string& name, int64_t first_id) {
    probes_.push_back(std::make_unique<WriteProbe>(sb_->Conninfo(name), "probe", first_id, Duration(20)));
    probes_.back()->Start();
    return probes_.back().get();
  }
  static std::optional<MonoTime> LastAck(const WriteProbe& p, int port) {
    std::optional<MonoTime> last;
    for (const auto& a : p.Acks()) {
      if (a.server_port == port) last = a.at;
    }
    return last;
  }
  static std::optional<MonoTime> FirstAckAfter(const WriteProbe& p, int port, MonoTime after) {
    for (const auto& a : p.Acks()) {
      if (a.server_port == port && a.at > after) return a.at;
    }
    return std::nullopt;
  }

  std::vector<std::unique_ptr<WriteProbe>> probes_;
};

TEST_F(FailoverTest, LeaderMachineKilledGivesOneNewLeaderAndTheOldOneRejoinsThroughPgRewind) {
  StartCluster(3, "", {}, CallbackScript());
  std::string old = LeaderKey();
  ASSERT_FALSE(old.empty());
  ASSERT_TRUE(WriteProbe::CreateTable(sb_->Conninfo(old), "probe").ok());
  Sql(sb_->Conninfo(old), "INSERT INTO probe VALUES (1, 0)");

  MonoTime killed = Now();
  KillMachine(old);
  std::string fresh;
  ASSERT_TRUE(WaitFor(
      [&] {
        fresh = LeaderKey();
        return !fresh.empty() && fresh != old && Writable(fresh);
      },
      seconds(30)))
      << "no new writable leader";
  std::fprintf(stderr, "new leader %s writable %lld ms after the crash\n", fresh.c_str(),
               static_cast<long long>((Now() - killed).count()));
  int writable = 0;
  for (const auto& n : sb_->nodes()) {
    if (n.name != old && Writable(n.name)) ++writable;
  }
  EXPECT_EQ(writable, 1) << "exactly one writable primary among the survivors";
  Json hist;
  ASSERT_TRUE(WaitFor(
      [&] {
        hist = Json::parse(Key("history"), nullptr, false);
        return hist.is_array() && !hist.empty();
      },
      seconds(10)))
      << "no history after the promotion";
  EXPECT_EQ(hist.back().back(), fresh) << "history names the new leader";
  EXPECT_TRUE(WaitFor([&] { return CallbackLog().find("on_role_change primary fo") != std::string::npos; }, seconds(5)))
      << CallbackLog();
  EXPECT_NE(CallbackLog().find("on_start primary fo"), std::string::npos) << CallbackLog();
  EXPECT_NE(CallbackLog().find("on_start replica fo"), std::string::npos) << CallbackLog();
  ASSERT_EQ(Sql(sb_->Conninfo(fresh), "INSERT INTO probe VALUES (2, 0) RETURNING id"), "2");

  ASSERT_TRUE(sb_->StartNode(old).ok());
  ASSERT_TRUE(WaitFor([&] { return InRecovery(old) && Streams(old, fresh); }, seconds(90)))
      << "the old primary did not rejoin as a streaming replica of " << fresh;
  EXPECT_NE(Log(old).find("running pg_rewind from " + fresh), std::string::npos);
  EXPECT_TRUE(WaitFor([&] { return Sql(sb_->Conninfo(old), "SELECT count(*) FROM probe") == "2"; }, seconds(10)));
  EXPECT_EQ(LeaderKey(), fresh);
}

// check_timeline (Debian's template sets it), two crashes in a row. The last replica followed the second leader onto
// its timeline, but no restartpoint has run on it since: its last checkpoint is still on the first timeline. When
// its WAL receiver stops with the second leader, the timeline it reports must stay the one it follows, or it sees
// itself behind the cluster timeline and never takes over.
TEST_F(FailoverTest, CheckTimelineLetsTheLastReplicaTakeOverAfterTwoCrashesInARow) {
  StartCluster(3, "    check_timeline: true\n");
  std::string first = LeaderKey(), second, third;
  ASSERT_FALSE(first.empty());
  KillMachine(first);
  ASSERT_TRUE(WaitFor(
      [&] {
        second = LeaderKey();
        return !second.empty() && second != first && Writable(second);
      },
      seconds(30)))
      << "no new leader after the first crash";
  for (const auto& n : sb_->nodes()) {
    if (n.name != first && n.name != second) third = n.name;
  }
  ASSERT_TRUE(WaitFor([&] { return Streams(third, second); }, seconds(30))) << third << " does not follow " << second;
  // Right after the promotion the new leader may still report the old timeline (read from its last checkpoint, as
  // Patroni reads it, until the end-of-recovery checkpoint completes): wait for the new one.
  std::string leader_tl;
  ASSERT_TRUE(WaitFor(
      [&] {
        int tl = NodeJson(second).value("timeline", -1);
        leader_tl = std::to_string(tl);
        return tl >= 2;
      },
      seconds(30)))
      << second << " still reports timeline " << leader_tl << " after its promotion";
  ASSERT_NE(Sql(sb_->Conninfo(third), "SELECT timeline_id FROM pg_control_checkpoint()"), leader_tl)
      << "a restartpoint already moved the replica's checkpoint: this run cannot show the fault";
  KillMachine(second);
  EXPECT_TRUE(WaitFor([&] { return LeaderKey() == third && Writable(third); }, seconds(30)))
      << third << " did not take over; it reports timeline " << NodeJson(third).value("timeline", -1);
}

TEST_F(FailoverTest, FrozenLeaderAgentIsFencedBeforeAnotherLeaderAcceptsWrites) {
  StartCluster(3);
  std::string old = LeaderKey();
  ASSERT_FALSE(old.empty());
  ASSERT_TRUE(WriteProbe::CreateTable(sb_->Conninfo(old), "probe").ok());
  std::map<std::string, WriteProbe*> probes;
  int64_t base = 0;
  for (const auto& n : sb_->nodes()) probes[n.name] = Probe(n.name, base += 1000000);
  ASSERT_TRUE(WaitFor([&] { return !probes[old]->Acks().empty(); }, seconds(10)));

  MonoTime frozen = Now();
  ASSERT_TRUE(sb_->SignalNode(old, SIGSTOP, false).ok());
  std::string fresh;
  ASSERT_TRUE(WaitFor(
      [&] {
        fresh = LeaderKey();
        return !fresh.empty() && fresh != old && FirstAckAfter(*probes[fresh], sb_->Node(fresh)->pg_port, frozen);
      },
      seconds(30)))
      << "no other node accepted writes";
  for (auto& [name, p] : probes) p->Stop();

  auto last_old = LastAck(*probes[old], sb_->Node(old)->pg_port);
  auto first_new = FirstAckAfter(*probes[fresh], sb_->Node(fresh)->pg_port, frozen);
  ASSERT_TRUE(last_old && first_new);
  std::fprintf(stderr, "old primary's last write %lld ms after the freeze; new primary's first write %lld ms\n",
               static_cast<long long>((*last_old - frozen).count()),
               static_cast<long long>((*first_new - frozen).count()));
  EXPECT_LT(*last_old, *first_new) << "two primaries accepted writes at the same time";
  EXPECT_LT(*last_old - frozen, Duration(kTtl * 1000)) << "fenced later than the lease allows";
  EXPECT_FALSE(sb_->PostmasterPid(old).has_value()) << "the frozen agent's PostgreSQL is still running";

  ASSERT_TRUE(sb_->SignalNode(old, SIGCONT, false).ok());
  ASSERT_TRUE(WaitFor([&] { return InRecovery(old) && Streams(old, fresh); }, seconds(90)))
      << "the fenced node did not rejoin";
}

TEST_F(FailoverTest, EtcdStoppedMakesThePrimaryStopAcceptingWritesWithinTheBound) {
  StartCluster(3);
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(WriteProbe::CreateTable(sb_->Conninfo(leader), "probe").ok());
  WriteProbe* p = Probe(leader, 1);
  ASSERT_TRUE(WaitFor([&] { return !p->Acks().empty(); }, seconds(10)));

  MonoTime frozen = Now();
  ASSERT_EQ(kill(sb_->EtcdPid(), SIGSTOP), 0);
  bool stopped = WaitFor(
      [&] {
        auto last = LastAck(*p, sb_->Node(leader)->pg_port);
        return last && Now() - *last > Duration(2000);
      },
      seconds(15));
  auto last = LastAck(*p, sb_->Node(leader)->pg_port);
  kill(sb_->EtcdPid(), SIGCONT);
  ASSERT_TRUE(stopped) << "the primary kept accepting writes with etcd frozen";
  std::fprintf(stderr, "last write accepted %lld ms after etcd froze (ttl %d s)\n",
               static_cast<long long>((*last - frozen).count()), kTtl);
  // The lease was renewed at most one renewal period (ttl/4) before the freeze, so etcd can expire it no earlier
  // than ttl - ttl/4 after it: every write must be before that (the guarantee in docs/fencing.md). Fencing aims at
  // the deadline minus the margin (2.5 s here), which leaves the kill and a loaded scheduler 1.25 s at worst; the
  // figure printed above shows how early it acted.
  EXPECT_LT(*last - frozen, Duration(kTtl * 1000 - kTtl * 1000 / 4));
  std::string log = Log(leader);
  bool demoted = log.find("demoting self because DCS is not accessible and I was a leader") != std::string::npos;
  bool fenced = log.find("fenced PostgreSQL") != std::string::npos;
  EXPECT_TRUE(demoted || fenced) << "neither the HA loop nor the fence stopped PostgreSQL";
  std::fprintf(stderr, "stopped by: %s\n", demoted ? "the HA loop's demotion" : "the fence");

  // Once etcd is back, the cluster has a writable leader again.
  std::string again;
  EXPECT_TRUE(WaitFor(
      [&] {
        again = LeaderKey();
        return !again.empty() && Writable(again);
      },
      seconds(60)));
}

// With etcd stopped, the primary asks the members (POST /failsafe) once a keepalive went unanswered, SuspectAfter(ttl)
// after the last renewal, and again whenever their promises run out within 3/4 ttl; the fence fires `margin` before
// the later of the lease deadline and the promises. The fast profile's default margin (safety_margin 5 s, capped at
// ttl/2 = 2.5 s) left the first round 625 ms and each later one about 1.2 s, less than a round's own timeout
// (ttl/4 = 1.25 s): an agent or a peer stalled that long by machine load gets the primary fenced although every
// member answered: the fence working as configured, not failsafe mode failing (the fence has its own test,
// EtcdStoppedMakesThePrimaryStopAcceptingWritesWithinTheBound). Here a 1 s margin leaves every round more than its
// timeout, as the default margin does at production ttls (ttl 30: 13.75 s for the first round).
constexpr int kFailsafeSafetyMarginS = 1;

TEST_F(FailoverTest, EtcdStoppedWithFailsafeKeepsThePrimaryRunningWhileEveryMemberAnswers) {
  const Duration round(std::min(2000, kTtl * 1000 / 4));  // the timeout of one POST /failsafe round (Failsafe::Confirm)
  const Duration poll(100);                               // how often the failsafe thread looks
  const Duration margin = FenceMargin(kTtl, kFailsafeSafetyMarginS);
  // From the unanswered keepalive to the fence, a whole round fits (later rounds start ttl/8 further from the fence).
  ASSERT_GE(Duration(kTtl * 1000) - margin - ha::SuspectAfter(kTtl), round + poll);
  ClusterFixture::StartCluster(3, [](SandboxSpec& spec) {
    FastTiming(spec);
    spec.extra_dcs = "    failsafe_mode: true\n";
    spec.extra_top = "watchdog:\n  safety_margin: " + std::to_string(kFailsafeSafetyMarginS) + "\n";
  });
  std::string leader = LeaderKey();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(WaitFor(
      [&] {
        Json f = Json::parse(Key("failsafe"), nullptr, false);
        return f.is_object() && f.size() == 3;
      },
      seconds(20)))
      << "the leader did not publish the failsafe member list";
  ASSERT_TRUE(WriteProbe::CreateTable(sb_->Conninfo(leader), "probe").ok());
  WriteProbe* p = Probe(leader, 1);
  ASSERT_TRUE(WaitFor([&] { return !p->Acks().empty(); }, seconds(10)));
  auto postmaster = sb_->PostmasterPid(leader);
  ASSERT_TRUE(postmaster.has_value());

  MonoTime frozen = Now();
  ASSERT_EQ(kill(sb_->EtcdPid(), SIGSTOP), 0);
  // Watch three TTLs: writes must never pause for long.
  bool gap =
      WaitFor([&] { return WriteProbe::LongestGap(p->Acks(), frozen, Now()) > Duration(1500); }, seconds(3 * kTtl));
  Duration longest = WriteProbe::LongestGap(p->Acks(), frozen, Now());
  // Still on failsafe: the status is read before etcd comes back (a read that times out under load is retried).
  Json st;
  WaitFor(
      [&] {
        st = NodeJson(leader);
        return st.is_object();
      },
      seconds(kTtl));
  kill(sb_->EtcdPid(), SIGCONT);
  std::fprintf(stderr, "longest write gap with etcd stopped: %lld ms\n", static_cast<long long>(longest.count()));
  EXPECT_FALSE(gap) << "writes stopped although every member vouched for the primary";
  EXPECT_EQ(sb_->PostmasterPid(leader), postmaster) << "PostgreSQL of the primary was stopped or restarted";
  ASSERT_TRUE(st.is_object()) << "the primary did not answer GET /patroni";
  EXPECT_EQ(st.value("failsafe_mode_is_active", false), true) << st.dump();
  std::string log = Log(leader);
  EXPECT_NE(log.find("continue to run as a leader because failsafe mode is enabled"), std::string::npos);
  EXPECT_EQ(log.find("fenced PostgreSQL"), std::string::npos);
  // etcd back: the same node holds the lock again and stays writable.
  EXPECT_TRUE(WaitFor([&] { return LeaderKey() == leader && Writable(leader); }, seconds(30)));
}

TEST_F(FailoverTest, PostmasterKilledAloneIsRestartedInPlace) {
  StartCluster(3);
  std::string leader = LeaderKey();
  auto pm = sb_->PostmasterPid(leader);
  ASSERT_TRUE(pm.has_value());
  ASSERT_EQ(kill(*pm, SIGKILL), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto now = sb_->PostmasterPid(leader);
        return now && *now != *pm && Writable(leader);
      },
      seconds(30)))
      << "PostgreSQL was not restarted";
  EXPECT_EQ(LeaderKey(), leader) << "a crash with the agent alive should not cost the lock";
  EXPECT_NE(Log(leader).find("starting primary after failure"), std::string::npos);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Sql(sb_->Conninfo(leader), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "2";
      },
      seconds(30)));
}

// Issue 10 item 3b: with PostgreSQL's default restart_after_crash, a crashed child made the postmaster recover in
// place (same postmaster pid) and the agent never noticed. Now the postmaster exits and the agent handles it.
TEST_F(FailoverTest, BackendCrashStopsThePostmasterAndTheAgentHandlesIt) {
  StartCluster(2);
  std::string leader = LeaderKey();
  auto pm = sb_->PostmasterPid(leader);
  ASSERT_TRUE(pm.has_value());
  std::string pid = Sql(sb_->Conninfo(leader), "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'");
  ASSERT_FALSE(pid.empty());
  ASSERT_EQ(kill(static_cast<pid_t>(std::stol(pid)), SIGKILL), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto now = sb_->PostmasterPid(leader);
        return now && *now != *pm && Writable(LeaderKey());
      },
      seconds(60)))
      << "the postmaster recovered in place behind the agent's back";
  EXPECT_NE(Log(leader).find("starting primary after failure"), std::string::npos);
}

// Issue 10 item 12: a switchover that names no candidate. The leader names the one it chose in the failover key, so
// that it promotes as soon as the key is released, not a loop later after finding the old leader "still alive".
TEST_F(FailoverTest, UnnamedSwitchoverIsTakenAtOnceByTheChosenCandidate) {
  StartCluster(3);
  std::string leader = LeaderKey();
  auto sw = pgw::Run({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-XPOST", "-H",
                      "Content-Type: application/json", "-d", "{\"leader\":\"" + leader + "\"}",
                      "http://127.0.0.1:" + std::to_string(sb_->Node(leader)->api_port) + "/switchover"});
  ASSERT_TRUE(sw.ok() && sw->output == "200") << (sw.ok() ? sw->output : sw.status().message());
  std::string now;
  ASSERT_TRUE(WaitFor(
      [&] {
        now = LeaderKey();
        return !now.empty() && now != leader && Writable(now);
      },
      seconds(60)));
  ASSERT_TRUE(sb_->WaitHealthy(Duration(120000)).ok());
  for (const auto& n : sb_->nodes()) {
    std::string log = Log(n.name);
    EXPECT_EQ(log.find("Primary (" + leader + ") is still alive"), std::string::npos) << n.name;
  }
  // The shutdown checkpoint (read from pg_control) was confirmed received before the key was released.
  std::string old_log = Log(leader);
  EXPECT_NE(old_log.find("manual failover: leader key released ("), std::string::npos) << old_log;
  EXPECT_EQ(old_log.find("no replica confirmed the shutdown checkpoint"), std::string::npos) << old_log;
  EXPECT_EQ(old_log.find("asking pg_controldata"), std::string::npos) << old_log;
}

TEST_F(FailoverTest, NofailoverMemberIsNeverPromoted) {
  StartCluster(2, "", {"", "  nofailover: true\n"});
  ASSERT_TRUE(WaitFor([&] { return LeaderKey() == "pg0" && Streams("pg1", "pg0"); }, seconds(120)));
  KillMachine("pg0");
  ASSERT_TRUE(WaitFor([&] { return LeaderKey().empty(); }, seconds(2 * kTtl)))
      << "the dead leader's lease did not expire";
  // Three more TTLs: pg1 must stay a replica and nobody may take the lock.
  bool promoted = WaitFor([&] { return !LeaderKey().empty() || Writable("pg1"); }, seconds(3 * kTtl));
  EXPECT_FALSE(promoted);
  EXPECT_TRUE(InRecovery("pg1"));
  EXPECT_NE(Log("pg1").find("I am not allowed to promote"), std::string::npos);
}

TEST_F(FailoverTest, RestartedAgentAdoptsTheRunningPrimaryAndRetiresTheOldSupervisor) {
  StartCluster(3);
  std::string leader = LeaderKey();
  const SandboxNode* n = sb_->Node(leader);
  auto pm = sb_->PostmasterPid(leader);
  auto old_sups = FenceSupervisorsOf(n->data_dir);
  ASSERT_TRUE(pm.has_value());
  ASSERT_EQ(old_sups.size(), 1u);
  ASSERT_TRUE(sb_->SignalNode(leader, SIGKILL, true, Duration(10000)).ok());
  ASSERT_TRUE(sb_->StartNode(leader).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto sups = FenceSupervisorsOf(n->data_dir);
        return sups.size() == 1 && sups[0] != old_sups[0];
      },
      seconds(30)))
      << "the old supervisor was not retired (or no new one started)";
  // Two TTLs: past the dead agent's lease and its supervisor's deadline. PostgreSQL must not be touched.
  bool restarted = WaitFor([&] { return sb_->PostmasterPid(leader) != pm; }, seconds(2 * kTtl));
  EXPECT_FALSE(restarted) << "the running primary was stopped or fenced instead of adopted";
  EXPECT_EQ(LeaderKey(), leader);
  EXPECT_TRUE(Writable(leader));
}

TEST_F(FailoverTest, PrePromoteVetoKeepsAReplicaFromPromoting) {
  StartCluster(2, "", {}, "  pre_promote: /bin/false\n");
  std::string leader = LeaderKey();
  std::string other = leader == "pg0" ? "pg1" : "pg0";
  ASSERT_TRUE(WaitFor([&] { return Streams(other, leader); }, seconds(60)));
  KillMachine(leader);
  ASSERT_TRUE(WaitFor(
      [&] { return Log(other).find("Promotion cancelled because the pre-promote script failed") != std::string::npos; },
      seconds(30)));
  EXPECT_FALSE(WaitFor([&] { return Writable(other); }, seconds(kTtl))) << "promoted despite the veto";
}

}  // namespace
}  // namespace pgw::itest
