// pgwardenctl torture's command line (src/torture/options.h): defaults, and every bad argument named.
#include "torture/options.h"

#include <gtest/gtest.h>

namespace pgw::torture {
namespace {

std::string Error(const std::vector<std::string>& args) {
  auto o = ParseOptions(args);
  return o.ok() ? "" : o.status().message();
}

TEST(TortureOptions, SandboxFaultsWithDefaults) {
  auto o = ParseOptions({"--sandbox", "/tmp/sb", "--fault", "kill-primary,switchover", "--rounds", "4"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->faults, (std::vector<std::string>{"kill-primary", "switchover"}));
  EXPECT_EQ(o->rounds, 4);
  EXPECT_EQ(o->table, "pgwarden_torture");
  EXPECT_EQ(o->writers, 4);
  EXPECT_FALSE(o->hold.has_value());
}

TEST(TortureOptions, CommandsAreSplitIntoWordsWithoutAShell) {
  auto o = ParseOptions({"--dsn", "host=a", "--fault-cmd", "ssh db1 'systemctl stop patroni; echo $HOME'",
                         "--recover-cmd", "ssh db1 systemctl start patroni", "--hold", "30"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->fault_cmd, (std::vector<std::string>{"ssh", "db1", "systemctl stop patroni; echo $HOME"}));
  EXPECT_EQ(o->recover_cmd.size(), 5u);
  EXPECT_EQ(o->hold, Duration(30000));
}

TEST(TortureOptions, EveryMistakeIsNamed) {
  EXPECT_EQ(Error({"--fault", "kill-primary"}), "give --sandbox DIR or --dsn DSN");
  EXPECT_EQ(Error({"--sandbox", "d"}), "no fault: give --fault NAME (with --sandbox) or --fault-cmd CMD");
  EXPECT_NE(Error({"--dsn", "h", "--fault", "kill-primary"}).find("needs --sandbox DIR"), std::string::npos);
  EXPECT_NE(Error({"--sandbox", "d", "--fault", "kill-primry"}).find("unknown fault 'kill-primry'"), std::string::npos);
  EXPECT_EQ(Error({"--sandbox", "d", "--fault", "kill-primary", "--rounds"}), "--rounds needs a value");
  EXPECT_NE(Error({"--sandbox", "d", "--fault", "kill-primary", "--rounds", "x"}).find("--rounds must be a whole"),
            std::string::npos);
  EXPECT_NE(Error({"--sandbox", "d", "--fault", "kill-primary", "--writers", "65"}).find("from 1 to 64"),
            std::string::npos);
  EXPECT_NE(Error({"--dsn", "h", "--fault-cmd", "a 'b"}).find("--fault-cmd: unterminated quote"), std::string::npos);
  EXPECT_EQ(Error({"--dsn", "h", "--fault-cmd", "a", "--fault-cmd", "b"}), "--fault-cmd is given twice");
  EXPECT_EQ(Error({"--sandbox", "d", "--fault", "kill-primary", "--recover-cmd", "x"}),
            "--recover-cmd needs --fault-cmd");
  EXPECT_NE(Error({"--dsn", "postgresql://h/db", "--fault-cmd", "x"}).find("not a URI"), std::string::npos);
  EXPECT_NE(Error({"--sandbox", "d", "--fault", "kill-primary", "--health-cmd", "x"}).find("--health-cmd"),
            std::string::npos);
  EXPECT_NE(Error({"--sandbox", "d", "--fault", "kill-primary", "--frobnicate"}).find("unknown option '--frobnicate'"),
            std::string::npos);
}

TEST(TortureOptions, HelpNeedsNothingElse) {
  auto o = ParseOptions({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(TortureUsage().find("partition-primary"), std::string::npos);
}

}  // namespace
}  // namespace pgw::torture
