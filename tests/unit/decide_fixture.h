// Fixtures for the decision core's unit tests: hand-built cluster and local views, one Decide() per Run().
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <variant>

#include "ha/decide.h"
#include "test_util.h"

namespace pgw::ha {

using AT = ActionType;

// The step of `a` as S. A step of another type fails the test (gtest reports the std::bad_variant_access).
template <typename S>
const S& As(const Action& a) {
  return std::get<S>(a.step);
}

class DecideTest : public ::testing::Test {
 protected:
  void SetUp() override { SetConfig(""); }

  void SetConfig(const std::string& extra) {
    auto r = testing::Load(std::string(testing::kGoodConfig) + extra);
    ASSERT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0]);
    cfg_ = r.config;
  }
  void AddMember(const std::string& name, int port, const std::string& role = "replica",
                 const std::string& state = "running", Json tags = Json::object()) {
    Member m = testing::MakeMember(name, port, role, state);
    m.tags = std::move(tags);
    cluster_.members[name] = m;
  }
  // Physical slots on the local PostgreSQL.
  void SetSlots(const std::vector<std::string>& names) {
    local_.slots.clear();
    for (const auto& n : names) local_.slots.push_back(SlotState{n, "physical", "", "", false, 0, 0});
  }
  void SetLeader(const std::string& name, int64_t lease = 1) { cluster_.leader = LeaderKey{name, lease, 5, 5}; }
  void RunningPrimary(int64_t lsn = 1000) {
    local_.data = LocalView::Data::kValid;
    local_.running = local_.query_ok = true;
    local_.in_recovery = false;
    local_.wal_position = lsn;
    local_.sysid = "42";
  }
  void RunningReplica(int64_t lsn = 1000) {
    RunningPrimary(lsn);
    local_.in_recovery = true;
  }
  Decision Run() {
    Inputs in;
    in.config = cfg_.get();
    in.dynamic = cfg_->bootstrap.dynamic;
    in.cluster = &cluster_;
    in.local = &local_;
    in.my_lease = my_lease_;
    in.peers = peers_;
    in.peers_checked = peers_checked_;
    in.now = clock_.Now();
    in.lease_deadline = lease_deadline_ ? *lease_deadline_ : clock_.Now() + Duration(in.dynamic.ttl * 1000);
    in.failsafe_checked = failsafe_checked_;
    in.failsafe_ok = failsafe_ok_;
    in.failsafe_primary_until = failsafe_primary_until_;
    in.state.primary_start_failed = primary_start_failed_;
    in.state.rewind_failed = rewind_failed_;
    in.state.no_race_until = no_race_until_;
    in.watchdog_unusable = watchdog_unusable_;
    in.state.sync_added_lsn = sync_added_lsn_;
    if (tweak_) tweak_(in);
    Decision d = Decide(in);
    // Every decision carries a reason code (ha/reason.h): /metrics counts them.
    EXPECT_NE(d.reason, Reason::kNone) << "decision without a reason: " << d.message;
    return d;
  }
  static std::vector<AT> Types(const Decision& d) {
    std::vector<AT> t;
    for (const auto& a : d.actions) t.push_back(a.type());
    return t;
  }

  std::shared_ptr<const Config> cfg_;
  ClusterView cluster_;
  LocalView local_;
  int64_t my_lease_ = 1;
  std::vector<PeerStatus> peers_;
  bool peers_checked_ = false;
  // Time: by default the lease was renewed just now (deadline = now + ttl).
  ManualClock clock_;
  std::optional<MonoTime> lease_deadline_;
  bool failsafe_checked_ = false;
  bool failsafe_ok_ = false;
  MonoTime failsafe_primary_until_{};
  bool primary_start_failed_ = false;
  bool rewind_failed_ = false;
  MonoTime no_race_until_{};
  bool watchdog_unusable_ = false;
  std::map<std::string, int64_t> sync_added_lsn_;  // what the executor measured on kSetSyncNames
  std::function<void(Inputs&)> tweak_;             // e.g. dynamic config changes

  // The last acknowledged renewal was sent `age` ago (ttl 30 from kGoodConfig).
  void LastRenewalAgo(Duration age) { lease_deadline_ = clock_.Now() - age + Duration(30000); }
  void SteadyLeader() {
    cluster_.initialize = "42";
    AddMember("pg0", 5432, "primary");
    AddMember("pg1", 5433);
    SetLeader("pg0");
    RunningPrimary();
    cluster_.last_lsn = 1000;
    SetSlots({"pg1"});
  }
  void FormerPrimaryStopped(int timeline) {
    cluster_.initialize = "42";
    AddMember("pg1", 5433, "primary");
    cluster_.members["pg1"].timeline = timeline;
    SetLeader("pg1");
    local_ = LocalView{};
    local_.data = LocalView::Data::kValid;
    local_.sysid = "42";
    local_.cluster_state = "in production";
    local_.timeline = 1;
  }
};

class SyncDecideTest : public DecideTest {
 protected:
  void SyncLeader() {
    SteadyLeader();
    AddMember("pg2", 5434);
    SetSlots({"pg1", "pg2"});
    tweak_ = [this](Inputs& in) {
      in.dynamic.synchronous_mode = true;
      in.dynamic.synchronous_mode_strict = strict_;
    };
  }
  void Streaming(const std::string& name, int64_t flush, const std::string& sync_state = "async") {
    local_.replication_flush[name] = flush;
    local_.replication.push_back({{"application_name", name}, {"state", "streaming"}, {"sync_state", sync_state}});
  }
  static std::vector<std::string> SyncOf(const Decision& d) {
    for (const auto& a : d.actions) {
      if (const auto* w = a.Get<WriteSync>()) return w->sync;
    }
    return {"<none>"};
  }
  // The members the executor must measure after setting synchronous_standby_names ("<none>": no kSetSyncNames).
  static std::vector<std::string> SetSyncMeasures(const Decision& d) {
    for (const auto& a : d.actions) {
      if (const auto* n = a.Get<SetSyncNames>()) return n->sync;
    }
    return {"<none>"};
  }
  static std::string NamesOf(const Decision& d) {
    for (const auto& a : d.actions) {
      if (const auto* n = a.Get<SetSyncNames>()) return n->sync_names;
    }
    return "<none>";
  }
  bool strict_ = false;
};

}  // namespace pgw::ha
