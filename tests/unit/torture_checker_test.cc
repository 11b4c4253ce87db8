// The torture checker (src/torture/checker.h): lost rows, duplicates, overlapping server windows, gaps, and the
// edge cases around them (nothing acknowledged, one server, windows that only touch, single inserts).
#include "torture/checker.h"

#include <gtest/gtest.h>

namespace pgw::torture {
namespace {

ServerId Server(const std::string& address, int timeline) { return ServerId{"7001", timeline, address}; }

// An insert of `id` through `server`, sent at `sent` ms and acknowledged 2 ms later.
Ack At(int64_t id, const ServerId& server, int64_t sent_ms, int64_t rtt_ms = 2) {
  return Ack{id, 0, server, sent_ms * 1000, (sent_ms + rtt_ms) * 1000};
}

const ServerId kA = Server("127.0.0.1:5432", 1);
const ServerId kB = Server("127.0.0.1:5433", 2);

TEST(TortureChecker, NothingAcknowledgedNothingStoredIsClean) {
  Verdict v = Check({}, {});
  EXPECT_TRUE(v.lost.empty());
  EXPECT_TRUE(v.duplicates.empty());
  EXPECT_TRUE(v.split_brain.empty());
  EXPECT_TRUE(v.windows.empty());
}

TEST(TortureChecker, AnAcknowledgedRowMissingFromTheTableIsLost) {
  Verdict v = Check({At(1, kA, 0), At(2, kA, 10), At(3, kA, 20)}, {1, 3});
  EXPECT_EQ(v.lost, (std::vector<int64_t>{2}));
  EXPECT_TRUE(v.duplicates.empty());
}

TEST(TortureChecker, RowsNotAcknowledgedMayBeThereOrNot) {
  // 5 was committed but its acknowledgement never arrived (connection lost): present, not an error.
  Verdict v = Check({At(1, kA, 0)}, {1, 5});
  EXPECT_TRUE(v.lost.empty());
  EXPECT_TRUE(v.duplicates.empty());
}

TEST(TortureChecker, ARowStoredTwiceIsADuplicateOnceAcknowledgedOrNot) {
  Verdict v = Check({At(1, kA, 0), At(2, kA, 10)}, {2, 1, 2, 2, 9, 9});
  EXPECT_EQ(v.duplicates, (std::vector<int64_t>{2, 9}));
  EXPECT_TRUE(v.lost.empty());
}

TEST(TortureChecker, OneServerNeverSplitsTheBrain) {
  std::vector<Ack> acks;
  acks.reserve(100);
  for (int i = 0; i < 100; ++i) acks.push_back(At(i, kA, i * 5));
  Verdict v = Check(acks, {});
  EXPECT_TRUE(v.split_brain.empty());
  ASSERT_EQ(v.windows.size(), 1u);
  EXPECT_EQ(v.windows[0].acks, 100u);
  EXPECT_EQ(v.windows[0].first_acked, 2000);
  EXPECT_EQ(v.windows[0].last_sent, 495000);
}

TEST(TortureChecker, AFailoverWithAGapIsNotASplitBrain) {
  std::vector<Ack> acks = {At(1, kA, 0), At(2, kA, 10), At(3, kA, 20), At(4, kB, 3000), At(5, kB, 3010)};
  EXPECT_TRUE(Overlaps(acks).empty());
}

TEST(TortureChecker, WritersInterleavedOutOfOrderAreSortedFirst) {
  std::vector<Ack> acks = {At(4, kB, 3000), At(1, kA, 0), At(5, kB, 3010), At(3, kA, 20), At(2, kA, 10)};
  auto w = Windows(acks);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].server, kA);
  EXPECT_EQ(w[1].server, kB);
  EXPECT_TRUE(Overlaps(acks).empty());
}

TEST(TortureChecker, OverlappingCertainWindowsAreASplitBrain) {
  // A accepts writes from 0 to 100 ms, B from 50 to 150 ms: both certainly took writes in [52, 100].
  std::vector<Ack> acks;
  for (int t = 0; t <= 100; t += 10) acks.push_back(At(t, kA, t));
  for (int t = 50; t <= 150; t += 10) acks.push_back(At(1000 + t, kB, t));
  auto sb = Overlaps(acks);
  ASSERT_EQ(sb.size(), 1u);
  EXPECT_EQ(sb[0].a, kA.Key());
  EXPECT_EQ(sb[0].b, kB.Key());
  EXPECT_EQ(sb[0].from, 52000);
  EXPECT_EQ(sb[0].to, 100000);
  EXPECT_EQ(Check(acks, {}).split_brain.size(), 1u);
}

TEST(TortureChecker, ASingleInsertInsideAnotherServersWindowIsASplitBrain) {
  // B acknowledged only one insert (no certain window of its own), but it committed while A certainly was primary.
  std::vector<Ack> acks = {At(1, kA, 0), At(2, kA, 10), At(3, kB, 20), At(4, kA, 30), At(5, kA, 40)};
  auto sb = Overlaps(acks);
  ASSERT_EQ(sb.size(), 1u);
  EXPECT_EQ(sb[0].from, 20000);
  EXPECT_EQ(sb[0].to, 22000);
}

TEST(TortureChecker, WindowsThatOnlyTouchOrOverlapByLessThanTheRoundTripPass) {
  // A's last insert was sent at 100 and acknowledged at 110; B's first was sent at 95, acknowledged at 105. The
  // commits may have been ordered either way: not a certain overlap.
  std::vector<Ack> acks = {At(1, kA, 0, 10), At(2, kA, 100, 10), At(3, kB, 95, 10), At(4, kB, 200, 10)};
  EXPECT_TRUE(Overlaps(acks).empty());
  // Exactly touching: A's certain window ends at 100 (last sent), B's begins at 100 (first acknowledged).
  std::vector<Ack> touch = {At(1, kA, 0, 10), At(2, kA, 100, 10), At(3, kB, 90, 10), At(4, kB, 200, 10)};
  EXPECT_TRUE(Overlaps(touch).empty());
}

TEST(TortureChecker, TheSameNodeOnANewTimelineIsAnotherServer) {
  // A fails over to B and later becomes primary again (timeline 3): three windows, none overlapping.
  ServerId a3 = Server("127.0.0.1:5432", 3);
  std::vector<Ack> acks = {At(1, kA, 0), At(2, kA, 10), At(3, kB, 100), At(4, kB, 110), At(5, a3, 200), At(6, a3, 210)};
  auto w = Windows(acks);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_TRUE(Overlaps(acks).empty());
  // The old timeline acknowledging again after B took over is a split brain.
  acks.push_back(At(7, kA, 150));
  EXPECT_EQ(Overlaps(acks).size(), 1u);
}

TEST(TortureChecker, ThreeServersReportEachOverlappingPairOnce) {
  ServerId c = Server("127.0.0.1:5434", 2);
  std::vector<Ack> acks;
  for (int t = 0; t <= 100; t += 10) {
    acks.push_back(At(t, kA, t));
    acks.push_back(At(1000 + t, kB, t + 1));
    acks.push_back(At(2000 + t, c, t + 2));
  }
  EXPECT_EQ(Overlaps(acks).size(), 3u);
}

TEST(TortureChecker, KeysNameAddressTimelineAndSystem) {
  EXPECT_EQ(kA.Key(), "127.0.0.1:5432 tl 1 sysid 7001");
  EXPECT_NE(kA.Key(), Server("127.0.0.1:5432", 2).Key());
}

TEST(TortureChecker, LongestGapCountsFromTheStartAndUpToTheEnd) {
  std::vector<Ack> acks = {At(1, kA, 0), At(2, kA, 10), At(3, kB, 3000)};
  EXPECT_EQ(LongestGap(acks, 0, 3100 * 1000), (3002 - 12) * 1000);
  EXPECT_EQ(LongestGap({}, 0, 5000), 5000);
  // Acks outside the range are ignored; the tail after the last ack counts.
  EXPECT_EQ(LongestGap(acks, 5000 * 1000, 9000 * 1000), 4000 * 1000);
}

TEST(TortureChecker, WritesFlowOnlyAfterASustainedRunPastTheFault) {
  std::vector<Ack> acks;
  for (int t = 0; t < 1000; t += 10) acks.push_back(At(t, kA, t));  // before the fault at 1000 ms
  const Micros fault = 1000 * 1000, span = 500 * 1000, gap = 100 * 1000;
  EXPECT_FALSE(Flowing(acks, fault, 1200 * 1000, span, gap));  // nothing since the fault
  acks.push_back(At(1000, kA, 1001));                          // an orphaned backend's late acknowledgement
  EXPECT_FALSE(Flowing(acks, fault, 1400 * 1000, span, gap));
  for (int t = 3000; t < 3400; t += 10) acks.push_back(At(t, kB, t));
  EXPECT_FALSE(Flowing(acks, fault, 3400 * 1000, span, gap));  // flowing for less than the span
  for (int t = 3400; t < 3600; t += 10) acks.push_back(At(t, kB, t));
  EXPECT_TRUE(Flowing(acks, fault, 3600 * 1000, span, gap));
  EXPECT_FALSE(Flowing(acks, fault, 3800 * 1000, span, gap));  // stopped again
  // The span must lie after `since`: acks before it do not count even when flowing.
  EXPECT_FALSE(Flowing(acks, 3300 * 1000, 3600 * 1000, span, gap));
}

TEST(TortureChecker, SummaryIsMedianNearestRankP95AndMax) {
  Spread s = Summarize({5, 1, 3, 2, 4});
  EXPECT_DOUBLE_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.p95, 5);
  EXPECT_DOUBLE_EQ(s.max, 5);
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  s = Summarize(v);
  EXPECT_DOUBLE_EQ(s.median, 50.5);
  EXPECT_DOUBLE_EQ(s.p95, 95);
  EXPECT_DOUBLE_EQ(Summarize({}).max, 0);
  EXPECT_DOUBLE_EQ(Summarize({7}).median, 7);
}

}  // namespace
}  // namespace pgw::torture
