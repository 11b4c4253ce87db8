// The real patronictl (Debian's patroni package), given the same patroni.yml, drives a pgwarden cluster; its
// output agrees with pgwardenctl's.
#include <signal.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

CmdOut Cmd(const std::vector<std::string>& argv) {
  ProcessOptions o;
  o.timeout = Duration(90000);
  o.env_set["LC_ALL"] = "C.UTF-8";
  return RunCmd(argv, o);
}

bool SameYaml(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  if (a.IsScalar()) return a.Scalar() == b.Scalar();
  if (a.IsSequence()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!SameYaml(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.IsMap()) {
    if (a.size() != b.size()) return false;
    for (const auto& kv : a) {
      if (!b[kv.first.Scalar()] || !SameYaml(kv.second, b[kv.first.Scalar()])) return false;
    }
    return true;
  }
  return true;
}

class PatronictlTest : public ClusterFixture {
 protected:
  PatronictlTest() : ClusterFixture("compat") {}
  void SetUp() override {
    if (!PathExists("/usr/bin/patronictl")) GTEST_SKIP() << "patronictl is not installed (apt-get install patroni)";
    StartCluster(3);
    if (sb_) cfg_ = sb_->nodes()[0].config_path;
  }
  CmdOut Patronictl(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/patronictl", "-c", cfg_});
    return Cmd(args);
  }
  CmdOut Pgwardenctl(std::vector<std::string> args) {
    args.insert(args.begin(), {PgwardenctlBin(), "-c", cfg_});
    return Cmd(args);
  }
  // Both tools print the same table (retried: lag and timelines settle within a loop or two).
  void ExpectSameList() {
    std::string a, b;
    bool same = WaitFor(
        [&] {
          a = Patronictl({"list"}).text;
          b = Pgwardenctl({"list"}).text;
          return a == b;
        },
        seconds(20));
    EXPECT_TRUE(same) << "patronictl:\n" << a << "pgwardenctl:\n" << b;
  }

  std::string cfg_;
};

TEST_F(PatronictlTest, RealPatronictlListsSwitchesOverRestartsAndEditsConfigAndAgreesWithPgwardenctl) {
  ExpectSameList();
  {
    std::string a, b;
    EXPECT_TRUE(WaitFor(
        [&] {
          a = Patronictl({"topology"}).text;
          b = Pgwardenctl({"topology"}).text;
          return a == b && a.find("+ ") != std::string::npos;
        },
        seconds(20)))
        << "patronictl:\n"
        << a << "pgwardenctl:\n"
        << b;
  }
  std::string old = LeaderKey();
  std::string cand = old == "pg1" ? "pg2" : "pg1";

  CmdOut sw = Patronictl({"switchover", "--leader", old, "--candidate", cand, "--force"});
  EXPECT_EQ(sw.code, 0) << sw.text;
  EXPECT_NE(sw.text.find("Successfully switched over to \"" + cand + "\""), std::string::npos) << sw.text;
  EXPECT_EQ(LeaderKey(), cand);
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sql(sb_->Conninfo(old), "SELECT pg_is_in_recovery()") == "t" &&
               Sql(sb_->Conninfo(cand), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "2";
      },
      seconds(60)))
      << "the old leader did not follow " << cand;
  ExpectSameList();

  CmdOut h1 = Patronictl({"history"}), h2 = Pgwardenctl({"history"});
  EXPECT_EQ(h1.code, 0);
  EXPECT_EQ(h1.text, h2.text);
  EXPECT_NE(h1.text.find("| " + cand), std::string::npos) << h1.text;

  CmdOut e = Patronictl({"edit-config", "--set", "loop_wait=2", "--force"});
  EXPECT_EQ(e.code, 0) << e.text;
  CmdOut c1 = Patronictl({"show-config"}), c2 = Pgwardenctl({"show-config"});
  EXPECT_EQ(c1.code, 0);
  EXPECT_TRUE(SameYaml(YAML::Load(c1.text), YAML::Load(c2.text))) << c1.text << "\n---\n" << c2.text;
  EXPECT_EQ(YAML::Load(c2.text)["loop_wait"].as<int>(), 2);

  std::string replica = old;
  auto pm = sb_->PostmasterPid(replica);
  CmdOut r = Patronictl({"restart", "compat", replica, "--force"});
  EXPECT_EQ(r.code, 0) << r.text;
  EXPECT_NE(r.text.find("Success: restart on member " + replica), std::string::npos) << r.text;
  EXPECT_NE(sb_->PostmasterPid(replica), pm) << "PostgreSQL was not restarted";

  CmdOut p = Pgwardenctl({"pause", "--wait"});
  EXPECT_EQ(p.code, 0) << p.text;
  EXPECT_TRUE(WaitFor([&] { return Patronictl({"list"}).text.find("Maintenance mode: on") != std::string::npos; },
                      seconds(10)));
  ExpectSameList();
  CmdOut q = Patronictl({"resume", "--wait"});
  EXPECT_EQ(q.code, 0) << q.text;
  EXPECT_NE(q.text.find("Success: cluster management is resumed"), std::string::npos) << q.text;
}

TEST_F(PatronictlTest, PgwardenctlReportsMistakesInOneLineWithNonZeroExit) {
  CmdOut a = Pgwardenctl({"switchover", "--candidate", "nosuch", "--force"});
  EXPECT_NE(a.code, 0);
  EXPECT_NE(a.text.find("nosuch is not a member of cluster compat"), std::string::npos) << a.text;
  CmdOut b = Pgwardenctl({"list", "other"});
  EXPECT_NE(b.code, 0);
  EXPECT_NE(b.text.find("no cluster named 'other'"), std::string::npos) << b.text;
  CmdOut c = Cmd({PgwardenctlBin(), "--dcs-url", "http://127.0.0.1:1", "list", "compat"});
  EXPECT_NE(c.code, 0);
  EXPECT_NE(c.text.find("reading the cluster from etcd"), std::string::npos) << c.text;
  CmdOut d = Pgwardenctl({"list", "-f", "xml"});
  EXPECT_EQ(d.code, 2);
  EXPECT_NE(d.text.find("-f must be pretty, json or yaml"), std::string::npos) << d.text;
  CmdOut e = Pgwardenctl({"edit-config", "--set", "ttl=1", "--force"});
  EXPECT_NE(e.code, 0) << e.text;
  EXPECT_NE(e.text.find("ttl"), std::string::npos) << e.text;
}

}  // namespace
}  // namespace pgw::itest
