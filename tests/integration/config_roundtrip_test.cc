// The dynamic configuration, keys pgwarden ignores or does not know included, round-trips unchanged through
// `pgwardenctl edit-config`, PATCH /config and an agent restart (issue 11; the pure parts are in
// unit/config_roundtrip_test.cc).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "net/http_client.h"

namespace pgw {
namespace {

using namespace itest;
using Json = nlohmann::json;
using std::chrono::seconds;

class ConfigRoundTripTest : public ClusterFixture {
 protected:
  ConfigRoundTripTest() : ClusterFixture("cfgrt") {}
  Json Config() { return Json::parse(Key("config"), nullptr, false); }
  std::string Patch(const std::string& body) {
    HttpClient http;
    HttpRequest req;
    req.method = "PATCH";
    req.url = "http://127.0.0.1:" + std::to_string(sb_->nodes()[0].api_port) + "/config";
    req.body = body;
    req.timeout = Duration(10000);
    auto r = http.Do(req);
    return r.ok() ? std::to_string(r->status) + " " + r->body : r.status().message();
  }
  std::string Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {PgwardenctlBin(), "-c", sb_->nodes()[0].config_path});
    ProcessOptions o;
    o.env_set["EDITOR"] = "true";  // an editor session that saves the file as it was
    auto r = pgw::Run(args, o);
    if (!r.ok()) return r.status().message();
    return (r->Success() ? "" : "failed: ") + r->output;
  }
};

TEST_F(ConfigRoundTripTest, EditConfigPatchAndRestartKeepEveryKey) {
  StartCluster(1);
  if (HasFatalFailure()) return;
  const std::string node = sb_->nodes()[0].name;
  // Keys Patroni keeps that pgwarden ignores, a newer Patroni's key, values of every type.
  std::string patch = R"({"max_timelines_history": 0, "primary_stop_timeout": 0, "master_start_timeout": 300,
      "check_timeline": true, "member_slots_ttl": "30min", "maximum_lag_on_syncnode": -1,
      "synchronous_node_count": 1, "synchronous_mode_strict": false, "failsafe_mode": false,
      "slots": {"perm": {"type": "physical"}}, "ignore_slots": [{"name": "ignored", "type": "logical"}],
      "postgresql": {"recovery_conf": {"recovery_min_apply_delay": "0"}, "parameters": {"my_ext.setting": "1.5"}},
      "watchdog": {"mode": "off"}, "future_key": {"list": [1, 2.5, "30", true, null, {}], "empty": {}, "s": "yes"}})";
  std::string r = Patch(patch);
  ASSERT_EQ(r.substr(0, 4), "200 ") << r;
  Json want = Config();
  ASSERT_TRUE(want.contains("future_key")) << want.dump();
  EXPECT_EQ(want["future_key"], Json::parse(patch)["future_key"]);
  // An editor session that saves without a change, --set and --pg touch nothing else.
  EXPECT_NE(Ctl({"edit-config", "--force"}).find("Not changed"), std::string::npos);
  std::string out =
      Ctl({"edit-config", "--force", "--set", "future_key.added=on", "--pg", "pg_stat_statements.max=500"});
  EXPECT_NE(out.find("Configuration changed"), std::string::npos) << out;
  want["future_key"]["added"] = true;
  want["postgresql"]["parameters"]["pg_stat_statements.max"] = 500;
  EXPECT_EQ(Config(), want);
  // null deletes, as in Patroni.
  r = Patch(R"({"future_key": {"added": null}, "postgresql": {"parameters": {"pg_stat_statements.max": null}}})");
  ASSERT_EQ(r.substr(0, 4), "200 ") << r;
  want["future_key"].erase("added");
  want["postgresql"]["parameters"].erase("pg_stat_statements.max");
  EXPECT_EQ(Config(), want);
  std::string revision = Etcdctl(sb_->EtcdEndpoint(), {"get", "-w", "json", "/service/" + scope_ + "/config"});
  // The agent restarts (and so does PostgreSQL, with the custom parameter): the key is untouched.
  ASSERT_TRUE(sb_->SignalNode(node, SIGTERM, true).ok());
  ASSERT_TRUE(sb_->StartNode(node).ok());
  ASSERT_TRUE(sb_->WaitHealthy(Duration(60000)).ok());
  std::string err;
  EXPECT_TRUE(WaitFor([&] { return Sql(sb_->Conninfo(node), "SHOW my_ext.setting", &err) == "1.5"; }, seconds(20)))
      << err;
  EXPECT_EQ(Config(), want);
  Json rev_before = Json::parse(revision, nullptr, false);
  Json rev_after = Json::parse(Etcdctl(sb_->EtcdEndpoint(), {"get", "-w", "json", "/service/" + scope_ + "/config"}),
                               nullptr, false);
  EXPECT_EQ(rev_after["kvs"][0]["mod_revision"], rev_before["kvs"][0]["mod_revision"])
      << "the config key was rewritten";
}

// `edit-config --pg` (patronictl's way of changing parameters) reaches the running PostgreSQL of every node within a
// cycle or two, as with Patroni, which applies a changed dynamic configuration at the end of each cycle: a reloadable
// parameter takes effect, a postmaster-level one shows as pending_restart. Before, the change waited for the next
// reload, restart or re-follow of each node.
TEST_F(ConfigRoundTripTest, EditConfigParametersReachTheRunningPostgresOfEveryNode) {
  StartCluster(2);
  if (HasFatalFailure()) return;
  std::string out = Ctl({"edit-config", "--force", "--pg", "work_mem=7MB", "--pg", "max_wal_senders=12"});
  ASSERT_NE(out.find("Configuration changed"), std::string::npos) << out;
  auto status = [&](const std::string& name) {
    auto body = sb_->NodeStatus(name);
    return body.ok() ? *body : body.status().message();
  };
  for (const auto& n : sb_->nodes()) {
    std::string err;
    EXPECT_TRUE(WaitFor([&] { return Sql(sb_->Conninfo(n.name), "SHOW work_mem", &err) == "7MB"; }, seconds(20)))
        << n.name << ": " << Sql(sb_->Conninfo(n.name), "SHOW work_mem", &err) << err;
    EXPECT_TRUE(WaitFor(
        [&] {
          Json j = Json::parse(status(n.name), nullptr, false);
          return j.is_object() && j.value("pending_restart", false);
        },
        seconds(20)))
        << n.name << " does not report the pending restart for max_wal_senders: " << status(n.name);
    EXPECT_EQ(Sql(sb_->Conninfo(n.name), "SHOW max_wal_senders", &err), "10") << n.name;
  }
}

}  // namespace
}  // namespace pgw
