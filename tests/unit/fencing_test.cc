// Pure parts of fencing: the supervisor's protocol and timer, the fence margin, callback command lines.
#include <gtest/gtest.h>

#include "agent/callbacks.h"
#include "agent/fence_supervisor.h"
#include "agent/fencer.h"

namespace pgw {
namespace {

TEST(FenceTimer, ArmDisarmAndDeadlines) {
  FenceTimer t;
  EXPECT_FALSE(t.FenceAt());
  EXPECT_FALSE(t.Done());
  ASSERT_TRUE(t.Apply("arm 123456"));
  ASSERT_TRUE(t.FenceAt());
  EXPECT_EQ(t.FenceAt()->time_since_epoch().count(), 123456);
  ASSERT_TRUE(t.Apply("arm 200000\r"));
  EXPECT_EQ(t.FenceAt()->time_since_epoch().count(), 200000);
  ASSERT_TRUE(t.Apply("disarm"));
  EXPECT_FALSE(t.FenceAt());
}

TEST(FenceTimer, MalformedLinesChangeNothing) {
  FenceTimer t;
  ASSERT_TRUE(t.Apply("arm 5000"));
  for (const char* bad : {"arm", "arm -1", "arm 0", "arm 12x", "ARM 5", "", "fence now", "arm 99999999999999999999"}) {
    EXPECT_FALSE(t.Apply(bad)) << bad;
    ASSERT_TRUE(t.FenceAt());
    EXPECT_EQ(t.FenceAt()->time_since_epoch().count(), 5000);
  }
}

TEST(FenceTimer, AgentGoneKeepsTheDeadlineUntilFenced) {
  FenceTimer t;
  ASSERT_TRUE(t.Apply("arm 5000"));
  t.OnEof();
  EXPECT_FALSE(t.Done()) << "an armed supervisor must outlive its agent until the deadline";
  EXPECT_TRUE(t.FenceAt());
  t.OnFenced();
  EXPECT_TRUE(t.Done());
}

TEST(FenceTimer, AgentGoneWhileDisarmedOrQuitEndsAtOnce) {
  FenceTimer a;
  a.OnEof();
  EXPECT_TRUE(a.Done());
  FenceTimer b;
  ASSERT_TRUE(b.Apply("arm 5000"));
  ASSERT_TRUE(b.Apply("quit"));
  EXPECT_TRUE(b.Done());
  EXPECT_FALSE(b.FenceAt());
}

TEST(FenceMarginTest, SafetyMarginCappedAtHalfTtlWithAFloor) {
  EXPECT_EQ(FenceMargin(30, 5), Duration(5000));   // Patroni's defaults
  EXPECT_EQ(FenceMargin(3, 5), Duration(1500));    // capped: ttl/2
  EXPECT_EQ(FenceMargin(10, -1), Duration(5000));  // -1: ttl/2, as Patroni
  EXPECT_EQ(FenceMargin(30, 0), Duration(250));    // floor
}

TEST(SplitCommandLineTest, WordsQuotesAndEscapes) {
  auto w = SplitCommandLine("/usr/bin/notify  --to 'ops team' \"say \\\"hi\\\"\" a\\ b");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<std::string>{"/usr/bin/notify", "--to", "ops team", "say \"hi\"", "a b"}));
  EXPECT_EQ(*SplitCommandLine("x ''"), (std::vector<std::string>{"x", ""}));
  EXPECT_EQ(*SplitCommandLine("$HOME/x; rm -rf /"), (std::vector<std::string>{"$HOME/x;", "rm", "-rf", "/"}))
      << "no shell: no expansion, no command separators";
}

TEST(SplitCommandLineTest, BadLinesAreErrors) {
  EXPECT_EQ(SplitCommandLine("a 'b").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("a \"b").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("a \\").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("   ").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace pgw
