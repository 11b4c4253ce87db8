#include <gtest/gtest.h>

#include "common/process.h"

namespace pgw {
namespace {

TEST(ProcessTest, CapturesOutputAndExitCode) {
  std::vector<std::string> lines;
  ProcessOptions o;
  o.on_line = [&](const std::string& l) { lines.push_back(l); };
  auto r = pgw::Run({"sh", "-c", "echo one; echo two >&2; exit 3"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_FALSE(r->Success());
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two"}));
}

TEST(ProcessTest, ArgvIsNotInterpretedByAShell) {
  auto r = pgw::Run({"echo", "$HOME; rm -rf /"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "$HOME; rm -rf /\n");
}

TEST(ProcessTest, TimeoutKillsTheChild) {
  ProcessOptions o;
  o.timeout = Duration(200);
  auto r = pgw::Run({"sleep", "30"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->Success());
}

TEST(ProcessTest, MissingProgramIsAClearError) {
  auto r = pgw::Run({"/nonexistent/pgwarden-test-binary"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot run /nonexistent/pgwarden-test-binary"), std::string::npos);
}

TEST(ProcessTest, StdinAndEnvironment) {
  ProcessOptions o;
  o.stdin_data = "hello";
  o.env_set["PGW_TEST_VAR"] = "x1";
  auto r = pgw::Run({"sh", "-c", "cat; echo $PGW_TEST_VAR"}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "hellox1\n");
}

}  // namespace
}  // namespace pgw
