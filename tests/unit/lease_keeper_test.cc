// The lease keeper's deadline rules, on a manual clock with a fake etcd.
#include "dcs/lease_keeper.h"

#include <gtest/gtest.h>

#include <deque>

namespace pgw {
namespace {

// A scripted etcd: each call pops the next answer; `latency` advances the clock inside the call, as a slow
// network would.
class FakeLeaseApi final : public LeaseApi {
 public:
  explicit FakeLeaseApi(ManualClock& clock) : clock_(clock) {}
  Result<int64_t> Grant(int ttl_seconds) override {
    ++grants;
    last_grant_ttl = ttl_seconds;
    clock_.Advance(latency);
    if (fail_grant) return Unavailable("etcd down");
    return next_id++;
  }
  Result<int64_t> KeepAlive(int64_t id) override {
    keepalive_ids.push_back(id);
    clock_.Advance(latency);
    if (answers.empty()) return int64_t{last_grant_ttl};
    auto a = answers.front();
    answers.pop_front();
    return a;
  }
  Status Revoke(int64_t id) override {
    revoked.push_back(id);
    return Status::Ok();
  }

  ManualClock& clock_;
  Duration latency{0};
  bool fail_grant = false;
  int grants = 0;
  int last_grant_ttl = 0;
  int64_t next_id = 100;
  std::deque<Result<int64_t>> answers;
  std::vector<int64_t> keepalive_ids;
  std::vector<int64_t> revoked;
};

class LeaseKeeperTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  FakeLeaseApi api_{clock_};
  Logger log_{stderr, LogLevel::kCritical};
  LeaseKeeper keeper_{api_, clock_, log_};
};

TEST_F(LeaseKeeperTest, GrantSetsDeadlineFromSendTimeNotReplyTime) {
  keeper_.SetTtl(3);
  api_.latency = Duration(400);
  MonoTime sent = clock_.Now();
  ASSERT_TRUE(keeper_.Ensure().ok());
  EXPECT_EQ(keeper_.Id(), 100);
  EXPECT_EQ(api_.last_grant_ttl, 3);
  EXPECT_EQ(keeper_.Deadline(), sent + Duration(3000));  // not reply time + 3 s
  ASSERT_TRUE(keeper_.Ensure().ok());
  EXPECT_EQ(api_.grants, 1) << "Ensure must not grant a second lease while one is held";
}

TEST_F(LeaseKeeperTest, RenewalMovesDeadlineFromItsSendTime) {
  keeper_.SetTtl(4);
  ASSERT_TRUE(keeper_.Ensure().ok());
  clock_.Advance(keeper_.Period());
  EXPECT_EQ(keeper_.Period(), Duration(1000));
  api_.latency = Duration(250);
  MonoTime sent = clock_.Now();
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kRenewed);
  EXPECT_EQ(api_.keepalive_ids, std::vector<int64_t>{100});
  EXPECT_EQ(keeper_.Deadline(), sent + Duration(4000));
  EXPECT_EQ(keeper_.renewals(), 1u);
}

TEST_F(LeaseKeeperTest, FailedRenewalsNeverMoveTheDeadline) {
  keeper_.SetTtl(3);
  MonoTime granted = clock_.Now();
  ASSERT_TRUE(keeper_.Ensure().ok());
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(keeper_.Period());
    api_.answers.push_back(Unavailable("connection refused"));
    EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kFailed);
    EXPECT_EQ(keeper_.Deadline(), granted + Duration(3000));
  }
  EXPECT_EQ(keeper_.Id(), 100) << "a failed keepalive says nothing about the lease: keep trying it";
  EXPECT_LT(keeper_.Deadline(), clock_.Now());
  EXPECT_EQ(keeper_.failures(), 5u);
}

TEST_F(LeaseKeeperTest, ExpiredLeaseIsForgottenAndTheNextEnsureGrantsANewOne) {
  keeper_.SetTtl(3);
  ASSERT_TRUE(keeper_.Ensure().ok());
  MonoTime old_deadline = keeper_.Deadline();
  clock_.Advance(Duration(5000));
  api_.answers.push_back(NotFound("requested lease not found"));
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kExpired);
  EXPECT_EQ(keeper_.Id(), 0);
  EXPECT_EQ(keeper_.Deadline(), old_deadline);
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kNoLease);
  ASSERT_TRUE(keeper_.Ensure().ok());
  EXPECT_EQ(keeper_.Id(), 101);
  EXPECT_EQ(keeper_.Deadline(), clock_.Now() + Duration(3000));
}

TEST_F(LeaseKeeperTest, ZeroTtlAnswerMeansExpired) {
  keeper_.SetTtl(3);
  ASSERT_TRUE(keeper_.Ensure().ok());
  api_.answers.push_back(int64_t{0});
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kExpired);
  EXPECT_EQ(keeper_.Id(), 0);
}

TEST_F(LeaseKeeperTest, TtlChangeKeepsTheCurrentLeaseUntilRotated) {
  keeper_.SetTtl(30);
  ASSERT_TRUE(keeper_.Ensure().ok());
  EXPECT_FALSE(keeper_.SetTtl(30));
  EXPECT_EQ(keeper_.Id(), 100);
  EXPECT_TRUE(keeper_.SetTtl(5));
  EXPECT_EQ(keeper_.Id(), 100) << "dropping the lease before a new one holds the keys loses them (issue 10 item 1)";
  EXPECT_TRUE(keeper_.NeedsRotation());
  EXPECT_EQ(keeper_.Period(), Duration(1250));
  clock_.Advance(Duration(1000));
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kRenewed) << "the old lease is still renewed";
  EXPECT_EQ(api_.keepalive_ids, std::vector<int64_t>{100});
}

TEST_F(LeaseKeeperTest, RotateGrantsFirstMovesThenRevokesTheOldLease) {
  keeper_.SetTtl(5);
  ASSERT_TRUE(keeper_.Ensure().ok());
  clock_.Advance(Duration(2000));
  keeper_.SetTtl(8);
  std::vector<std::string> order;
  api_.latency = Duration(100);
  MonoTime sent = clock_.Now();
  Status s = keeper_.Rotate([&](int64_t from, int64_t to) {
    order.push_back("move " + std::to_string(from) + "->" + std::to_string(to));
    EXPECT_EQ(api_.grants, 2) << "the new lease must exist before the keys move";
    EXPECT_TRUE(api_.revoked.empty()) << "the old lease must outlive the move";
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(order, std::vector<std::string>{"move 100->101"});
  EXPECT_EQ(api_.last_grant_ttl, 8);
  EXPECT_EQ(keeper_.Id(), 101);
  EXPECT_EQ(api_.revoked, std::vector<int64_t>{100});
  EXPECT_EQ(keeper_.Deadline(), sent + Duration(8000)) << "the deadline is the new lease's, from its send time";
  EXPECT_FALSE(keeper_.NeedsRotation());
  EXPECT_EQ(keeper_.PendingId(), 0);
  EXPECT_EQ(keeper_.Period(), Duration(2000));
}

TEST_F(LeaseKeeperTest, ShorterTtlMovesTheDeadlineEarlier) {
  keeper_.SetTtl(30);
  ASSERT_TRUE(keeper_.Ensure().ok());
  keeper_.SetTtl(5);
  ASSERT_TRUE(keeper_.Rotate([](int64_t, int64_t) { return Status::Ok(); }).ok());
  EXPECT_EQ(keeper_.Deadline(), clock_.Now() + Duration(5000)) << "a fence on the old 30 s deadline fires late";
}

TEST_F(LeaseKeeperTest, GrantFailureDuringRotationKeepsTheOldLease) {
  keeper_.SetTtl(5);
  ASSERT_TRUE(keeper_.Ensure().ok());
  MonoTime d = keeper_.Deadline();
  keeper_.SetTtl(8);
  api_.fail_grant = true;
  bool moved = false;
  Status s = keeper_.Rotate([&](int64_t, int64_t) {
    moved = true;
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_FALSE(moved);
  EXPECT_EQ(keeper_.Id(), 100);
  EXPECT_EQ(keeper_.Deadline(), d);
  EXPECT_TRUE(api_.revoked.empty());
  EXPECT_TRUE(keeper_.NeedsRotation()) << "retried next time";
}

TEST_F(LeaseKeeperTest, FailedMoveKeepsBothLeasesAliveAndTheEarlierDeadlineUntilARetrySucceeds) {
  keeper_.SetTtl(30);
  ASSERT_TRUE(keeper_.Ensure().ok());  // lease 100, deadline now+30
  clock_.Advance(Duration(1000));
  keeper_.SetTtl(5);
  MonoTime granted = clock_.Now();
  Status s = keeper_.Rotate([](int64_t, int64_t) { return Unavailable("txn timed out"); });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(keeper_.Id(), 100);
  EXPECT_EQ(keeper_.PendingId(), 101);
  EXPECT_TRUE(api_.revoked.empty()) << "the keys may be on either lease: neither may go";
  EXPECT_EQ(keeper_.Deadline(), granted + Duration(5000)) << "the keys may be on the 5 s lease";
  EXPECT_EQ(keeper_.Period(), Duration(1250));
  clock_.Advance(Duration(1000));
  MonoTime sent = clock_.Now();
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kRenewed);
  EXPECT_EQ(api_.keepalive_ids, (std::vector<int64_t>{100, 101}));
  EXPECT_EQ(keeper_.Deadline(), sent + Duration(5000));
  // The retry reuses the pending lease rather than granting a third one.
  std::vector<int64_t> targets;
  ASSERT_TRUE(keeper_
                  .Rotate([&](int64_t, int64_t to) {
                    targets.push_back(to);
                    return Status::Ok();
                  })
                  .ok());
  EXPECT_EQ(targets, std::vector<int64_t>{101});
  EXPECT_EQ(api_.grants, 2);
  EXPECT_EQ(keeper_.Id(), 101);
  EXPECT_EQ(api_.revoked, std::vector<int64_t>{100});
}

TEST_F(LeaseKeeperTest, PendingLeaseLostGivesUpTheCurrentOneWithoutExtendingTheDeadline) {
  keeper_.SetTtl(30);
  ASSERT_TRUE(keeper_.Ensure().ok());
  keeper_.SetTtl(5);
  EXPECT_FALSE(keeper_.Rotate([](int64_t, int64_t) { return Unavailable("txn timed out"); }).ok());
  MonoTime pending_deadline = keeper_.Deadline();
  clock_.Advance(Duration(6000));
  api_.answers.push_back(int64_t{30});                            // the old lease renews...
  api_.answers.push_back(NotFound("requested lease not found"));  // ...the pending one is gone
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kExpired);
  EXPECT_EQ(keeper_.Id(), 0);
  EXPECT_EQ(keeper_.PendingId(), 0);
  EXPECT_EQ(keeper_.Deadline(), pending_deadline) << "keys moved onto the lost lease are gone: no extension";
}

TEST_F(LeaseKeeperTest, ClosedGateSendsNoKeepaliveAndTheDeadlineStays) {
  keeper_.SetTtl(3);
  ASSERT_TRUE(keeper_.Ensure().ok());
  MonoTime d = keeper_.Deadline();
  bool healthy = false;
  keeper_.SetGate([&] { return healthy; });
  clock_.Advance(Duration(750));
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kGated);
  EXPECT_TRUE(api_.keepalive_ids.empty());
  EXPECT_EQ(keeper_.Deadline(), d);
  healthy = true;
  EXPECT_EQ(keeper_.Renew(), LeaseKeeper::Outcome::kRenewed);
  EXPECT_EQ(keeper_.Deadline(), clock_.Now() + Duration(3000));
}

TEST_F(LeaseKeeperTest, GrantFailureLeavesNoLease) {
  keeper_.SetTtl(3);
  api_.fail_grant = true;
  Status s = keeper_.Ensure();
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("granting an etcd lease"), std::string::npos);
  EXPECT_EQ(keeper_.Id(), 0);
  EXPECT_EQ(keeper_.Deadline(), MonoTime{});
}

TEST_F(LeaseKeeperTest, ForgetOnlyDropsTheNamedLeaseAndRevokeRevokesTheCurrentOne) {
  keeper_.SetTtl(3);
  ASSERT_TRUE(keeper_.Ensure().ok());
  keeper_.Forget(99);  // a stale id: ignored
  EXPECT_EQ(keeper_.Id(), 100);
  keeper_.Revoke();
  EXPECT_EQ(api_.revoked, std::vector<int64_t>{100});
  EXPECT_EQ(keeper_.Id(), 0);
  keeper_.Revoke();  // nothing held: nothing sent
  EXPECT_EQ(api_.revoked.size(), 1u);
}

TEST_F(LeaseKeeperTest, PeriodHasAFloorForTinyTtls) {
  keeper_.SetTtl(1);
  EXPECT_EQ(keeper_.Period(), Duration(250));
  keeper_.SetTtl(0);
  EXPECT_EQ(keeper_.Period(), Duration(200));
}

// Found by the simulator (renewal_period_vs_retry_timeout): ttl 5 with retry_timeout 1 is a valid Patroni timing,
// but a ttl/4 period (1.25 s) let the lease age past retry_timeout between two healthy renewals.
TEST_F(LeaseKeeperTest, PeriodStaysWithinTwoThirdsOfRetryTimeout) {
  keeper_.SetTtl(5);
  EXPECT_EQ(keeper_.Period(), Duration(1250));
  keeper_.SetRetryTimeout(Duration(1000));
  EXPECT_EQ(keeper_.Period(), Duration(666));
  keeper_.SetRetryTimeout(Duration(10000));  // the ttl bound is the tighter one
  EXPECT_EQ(keeper_.Period(), Duration(1250));
}

}  // namespace
}  // namespace pgw
