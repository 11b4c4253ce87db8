// Failsafe coordination (agent/failsafe.h) over a fake PeerClient and a manual clock: what a primary asks and what
// the promises it gets buy it, what a replica promises, and the hold-back of a restarted agent.
#include "agent/failsafe.h"

#include <gtest/gtest.h>

#include "common/wait.h"
#include "ha/decide.h"
#include "test_util.h"

namespace pgw {
namespace {

class FakePeers final : public PeerClient {
 public:
  std::vector<ha::PeerStatus> CheckMembers(const ClusterView&, const std::vector<std::string>&, Duration) override {
    return {};
  }
  bool PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self, const std::string& body,
                    Duration /*timeout*/, const std::string& /*username*/, const std::string& /*password*/) override {
    std::lock_guard<std::mutex> l(mu);
    ++posts;
    last_self = self;
    last_body = body;
    last_members = failsafe;
    return accept;
  }
  int Posts() {
    std::lock_guard<std::mutex> l(mu);
    return posts;
  }

  std::mutex mu;
  bool accept = true;
  int posts = 0;
  std::string last_self, last_body;
  std::optional<FailsafeTopology> last_members;
};

class FailsafeTest : public ::testing::Test {
 protected:
  FailsafeTest() : cfg_(testing::Load(testing::kGoodConfig).config) {
    lease_deadline_ = clock_.Now() + Duration(30000);
    Failsafe::Hooks h;
    h.armed = [this] { return armed_.load(); };
    h.lease_deadline = [this] {
      std::lock_guard<std::mutex> l(mu_);
      return lease_deadline_;
    };
    h.withhold = [this] {
      std::lock_guard<std::mutex> l(mu_);
      return withhold_;
    };
    h.extend_fence = [this](MonoTime until) {
      std::lock_guard<std::mutex> l(mu_);
      fence_until_ = until;
    };
    fs_ = std::make_unique<Failsafe>(cfg_, clock_, log_, peers_, std::move(h));
    fs_->Configure(true, 30);
    fs_->SetMembers(FailsafeTopology{{"pg0", "http://127.0.0.1:8008"}, {"pg1", "http://127.0.0.1:8009"}});
  }
  MonoTime FenceUntil() {
    std::lock_guard<std::mutex> l(mu_);
    return fence_until_;
  }

  ConfigCell cfg_;
  ManualClock clock_;
  Logger log_{stderr, LogLevel::kCritical};
  FakePeers peers_;
  std::atomic<bool> armed_{false};
  std::mutex mu_;
  MonoTime lease_deadline_{};
  std::string withhold_;
  MonoTime fence_until_{};
  std::unique_ptr<Failsafe> fs_;
};

TEST_F(FailsafeTest, PromisesOfEveryMemberExtendTheFenceForATtlFromTheRequest) {
  MonoTime sent = clock_.Now();
  ASSERT_TRUE(fs_->Confirm());
  EXPECT_EQ(peers_.last_self, "pg0");
  EXPECT_NE(peers_.last_body.find("\"name\":\"pg0\""), std::string::npos) << peers_.last_body;
  ASSERT_TRUE(peers_.last_members);
  EXPECT_EQ(peers_.last_members->size(), 2U);
  EXPECT_EQ(FenceUntil(), sent + Duration(30000));
  EXPECT_EQ(fs_->ConfirmedUntil(), sent + Duration(30000));
  // While the promises cover us beyond the margin the loop does not ask again.
  clock_.Advance(Duration(10000));
  EXPECT_TRUE(fs_->Check(Duration(5000)));
  EXPECT_EQ(peers_.Posts(), 1);
  clock_.Advance(Duration(16000));  // 4 s left, less than the margin: ask now
  EXPECT_TRUE(fs_->Check(Duration(5000)));
  EXPECT_EQ(peers_.Posts(), 2);
}

TEST_F(FailsafeTest, ARefusalExtendsNothing) {
  peers_.accept = false;
  EXPECT_FALSE(fs_->Confirm());
  EXPECT_FALSE(fs_->Check(Duration(5000)));
  EXPECT_EQ(FenceUntil(), MonoTime{});
  EXPECT_EQ(fs_->ConfirmedUntil(), MonoTime{});
}

TEST_F(FailsafeTest, AHungPostgresWithholdsTheRequest) {
  withhold_ = "PostgreSQL is running but has not answered for 15000 ms";
  EXPECT_FALSE(fs_->Confirm());
  EXPECT_EQ(peers_.Posts(), 0);
  withhold_.clear();
  EXPECT_TRUE(fs_->Confirm());
  EXPECT_EQ(peers_.Posts(), 1);
}

TEST_F(FailsafeTest, AVouchHoldsAReplicaBackForATtl) {
  fs_->Vouch();
  EXPECT_EQ(fs_->VouchedUntil(), clock_.Now() + Duration(30000));
  EXPECT_FALSE(fs_->RestartHold());
  MonoTime first = fs_->VouchedUntil();
  fs_->Configure(true, 10);
  fs_->Vouch();  // a shorter promise never shortens one given before
  EXPECT_EQ(fs_->VouchedUntil(), first);
}

TEST_F(FailsafeTest, ARestartedAgentListedInTheKeyKeepsAPromiseItMayHaveGiven) {
  ClusterView v;
  v.failsafe = FailsafeTopology{{"pg0", "http://127.0.0.1:8008"}, {"pg1", "http://127.0.0.1:8009"}};
  MonoTime started = clock_.Now();
  fs_->HoldBackAfterRestart(v, started);
  EXPECT_EQ(fs_->VouchedUntil(), started + Duration(30000));
  EXPECT_TRUE(fs_->RestartHold());
  clock_.Advance(Duration(5000));
  fs_->Vouch();  // a primary's own request now: the hold no longer comes from the restart
  EXPECT_FALSE(fs_->RestartHold());
}

TEST_F(FailsafeTest, RestartHoldOnlyInTheFirstCycleWithFailsafeModeAndOnlyWhenListed) {
  ClusterView v;
  v.failsafe = FailsafeTopology{{"pg1", "http://127.0.0.1:8009"}};
  fs_->HoldBackAfterRestart(v, clock_.Now());
  EXPECT_EQ(fs_->VouchedUntil(), MonoTime{}) << "not listed: nobody asked this node to promise";
  v.failsafe->emplace("pg0", "http://127.0.0.1:8008");
  fs_->HoldBackAfterRestart(v, clock_.Now());
  EXPECT_EQ(fs_->VouchedUntil(), MonoTime{}) << "checked once, in the first cycle";
}

TEST_F(FailsafeTest, TheThreadAsksForAnArmedPrimaryWhoseKeepalivesGoUnanswered) {
  fs_->Start();
  armed_ = true;
  fs_->Notify();
  // Keepalives went unanswered for longer than a renewal period and a half.
  DynamicConfig timing;
  timing.ttl = 30;
  {
    std::lock_guard<std::mutex> l(mu_);
    lease_deadline_ = clock_.Now() + Duration(30000) - ha::SuspectAfter(timing) - Duration(1000);
  }
  EXPECT_TRUE(WaitFor([&] { return peers_.Posts() > 0; }, Duration(5000), Duration(10)));
  EXPECT_TRUE(WaitFor([&] { return FenceUntil() != MonoTime{}; }, Duration(5000), Duration(10)));
  fs_->Stop();
}

}  // namespace
}  // namespace pgw
