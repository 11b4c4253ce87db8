// SplitCommandLine must split exactly as Patroni's shlex.split does: the expected values below were produced with
// Python's shlex.split on the same input.
#include <gtest/gtest.h>

#include "common/shlex.h"

namespace pgw {
namespace {

using Words = std::vector<std::string>;

Words Split(const std::string& line) {
  auto w = SplitCommandLine(line);
  EXPECT_TRUE(w.ok()) << line << ": " << w.status().message();
  return w.ok() ? *w : Words{};
}

TEST(SplitCommandLineTest, WordsQuotesAndEscapes) {
  EXPECT_EQ(Split("/usr/bin/notify  --to 'ops team' \"say \\\"hi\\\"\" a\\ b"),
            (Words{"/usr/bin/notify", "--to", "ops team", "say \"hi\"", "a b"}));
  EXPECT_EQ(Split("x ''"), (Words{"x", ""}));
  EXPECT_EQ(Split("$HOME/x; rm -rf /"), (Words{"$HOME/x;", "rm", "-rf", "/"}))
      << "no shell: no expansion, no command separators";
}

TEST(SplitCommandLineTest, AdjacentPiecesJoinIntoOneWord) {
  EXPECT_EQ(Split("a\"b c\"d"), (Words{"ab cd"}));
  EXPECT_EQ(Split("'it'\\''s'"), (Words{"it's"}));
  EXPECT_EQ(Split("psql -c \"CREATE ROLE app LOGIN PASSWORD 's3cret'\" "),
            (Words{"psql", "-c", "CREATE ROLE app LOGIN PASSWORD 's3cret'"}));
}

TEST(SplitCommandLineTest, DoubleQuotesEscapeOnlyTheQuoteAndTheBackslash) {
  // A POSIX shell would also take \$ and \` as escapes; shlex keeps the backslash.
  EXPECT_EQ(Split("\"\\$HOME \\`x\\` \\\\ \\n\""), (Words{"\\$HOME \\`x\\` \\ \\n"}));
  EXPECT_EQ(Split("'\\n stays'"), (Words{"\\n stays"}));
}

TEST(SplitCommandLineTest, AllWhitespaceSeparates) {
  EXPECT_EQ(Split("a\r\nb\tc"), (Words{"a", "b", "c"}));
  EXPECT_EQ(Split("#not-a-comment x"), (Words{"#not-a-comment", "x"}));
}

TEST(SplitCommandLineTest, BadLinesAreErrors) {
  EXPECT_EQ(SplitCommandLine("a 'b").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("a \"b").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("a \"b\\").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("a \\").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("   ").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SplitCommandLine("").status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace pgw
