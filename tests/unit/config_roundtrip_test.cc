// The dynamic configuration round-trips unchanged through edit-config (--set, --pg and an editor session) and
// PATCH /config, with Patroni's semantics (patroni/ctl.py apply_config_changes, patroni/utils.py patch_config),
// including keys pgwarden ignores or does not know (issue 11).
#include <gtest/gtest.h>

#include "agent/api.h"
#include "common/config.h"
#include "ctl/ctl.h"

namespace pgw {
namespace {

// Every key Patroni keeps in the `config` key, as Patroni would store it, plus keys pgwarden ignores or does not
// know (a newer Patroni's, a user's own) and values of every JSON type.
Json FullConfig() {
  return Json::parse(R"({
    "ttl": 30, "loop_wait": 10, "retry_timeout": 10,
    "maximum_lag_on_failover": 1048576, "maximum_lag_on_syncnode": -1, "max_timelines_history": 0,
    "master_start_timeout": 300, "primary_start_timeout": 300, "primary_stop_timeout": 0,
    "synchronous_mode": false, "synchronous_mode_strict": false, "synchronous_node_count": 1,
    "failsafe_mode": false, "check_timeline": false, "member_slots_ttl": "30min",
    "postgresql": {
      "use_pg_rewind": true, "use_slots": true,
      "parameters": {"wal_level": "replica", "hot_standby": "on", "max_connections": 100, "wal_log_hints": "on",
                     "archive_mode": "on", "archive_timeout": "1800s", "my_extension.setting": "1.5",
                     "checkpoint_completion_target": 0.9, "track_commit_timestamp": "off",
                     "wal_keep_segments": 8, "huge_pages": "try", "search_path": "\"$user\", public"},
      "pg_hba": ["host replication replicator 127.0.0.1/32 md5", "host all all 0.0.0.0/0 md5"],
      "recovery_conf": {"restore_command": "cp ../wal_archive/%f %p", "recovery_min_apply_delay": "5min"}
    },
    "slots": {"logical_a": {"type": "logical", "database": "app", "plugin": "pgoutput"},
              "physical_b": {"type": "physical"}},
    "ignore_slots": [{"name": "ignored", "type": "logical", "database": "app", "plugin": "wal2json"},
                     {"type": "physical"}],
    "standby_cluster": {"host": "10.0.0.1", "port": 5433, "primary_slot_name": "standby_slot",
                        "create_replica_methods": ["basebackup"], "restore_command": "true",
                        "archive_cleanup_command": "", "recovery_min_apply_delay": ""},
    "watchdog": {"mode": "automatic"},
    "a_future_patroni_key": {"nested": [1, 2.5, "three", null, true, {}], "empty_list": [], "empty_map": {}},
    "string_that_looks_like_a_number": "30", "string_that_looks_like_a_bool": "yes", "a_null": null,
    "a_float_with_no_fraction": 1.0, "a_big_float": 1e+20, "a_time": "12:30", "a_date": "2024-01-01"
  })");
}

TEST(ConfigRoundTripTest, PatroniKeysPgwardenIgnoresOrDoesNotKnowAreNoProblem) {
  std::vector<std::string> problems, warnings;
  DynamicConfig::FromJson(FullConfig(), "config", &problems, &warnings);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_TRUE(warnings.empty()) << warnings.front();
}

TEST(ConfigRoundTripTest, PatronisEmptyStandbyClusterDefaultsAreUnset) {
  std::vector<std::string> problems;
  DynamicConfig d =
      DynamicConfig::FromJson(Json::parse(R"({"standby_cluster": {"create_replica_methods": "", "host": "", "port": "",
                      "primary_slot_name": "", "restore_command": "", "archive_cleanup_command": "",
                      "recovery_min_apply_delay": ""}})"),
                              "config", &problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_FALSE(d.standby_cluster.has_value());
}

TEST(ConfigRoundTripTest, TheEditorSessionWithoutChangesGivesTheSameConfiguration) {
  Json c = FullConfig();
  std::string yaml = ctl::ToYaml(c);
  auto back = ctl::ParseYamlValue(yaml);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, c) << yaml;
  EXPECT_EQ(ctl::ToYaml(*back), yaml);
}

TEST(ConfigRoundTripTest, YamlValuesAreReadAsPatronictlReadsThem) {
  // PyYAML's safe_load (YAML 1.1): what patronictl's --set and editor session store.
  const std::vector<std::pair<std::string, Json>> cases = {
      {"on", true},
      {"Off", false},
      {"yes", true},
      {"NO", false},
      {"TRUE", true},
      {"~", nullptr},
      {"Null", nullptr},
      {"", nullptr},
      {"42", 42},
      {"-7", -7},
      {"0x1f", 31},
      {"010", 8},
      {"1_000", 1000},
      {"1.5", 1.5},
      {"12:30", 750},
      {"'on'", "on"},
      {"\"42\"", "42"},
      {"y", "y"},
      {"1e3", "1e3"},
      {"30min", "30min"},
      {"[a, 1]", Json::array({"a", 1})},
      {"{a: off}", Json{{"a", false}}},
      {std::string(100000, '1'), std::string(100000, '1')},  // no stack overflow in the matching either
  };
  for (const auto& [text, want] : cases) {
    auto got = ctl::ParseYamlValue(text);
    ASSERT_TRUE(got.ok()) << text;
    EXPECT_EQ(*got, want) << "'" << text << "'";
  }
}

TEST(ConfigRoundTripTest, SetChangesOnlyWhatItNamesAsPatronictlDoes) {
  Json c = FullConfig();
  Json want = c;
  ASSERT_TRUE(ctl::ApplySet(&c, "loop_wait=5").ok());
  want["loop_wait"] = 5;
  EXPECT_EQ(c, want);
  // --pg and postgresql.parameters: the rest of the path is one parameter name.
  ASSERT_TRUE(ctl::ApplySet(&c, "postgresql.parameters.pg_stat_statements.max=10000").ok());
  want["postgresql"]["parameters"]["pg_stat_statements.max"] = 10000;
  EXPECT_EQ(c, want);
  // null deletes, and a mapping left empty goes too.
  ASSERT_TRUE(ctl::ApplySet(&c, "slots.logical_a=null").ok());
  ASSERT_TRUE(ctl::ApplySet(&c, "slots.physical_b=").ok());
  want.erase("slots");
  EXPECT_EQ(c, want);
  ASSERT_TRUE(ctl::ApplySet(&c, "postgresql.pg_hba=[local all all trust]").ok());
  want["postgresql"]["pg_hba"] = Json::array({"local all all trust"});
  EXPECT_EQ(c, want);
  ASSERT_TRUE(ctl::ApplySet(&c, "synchronous_mode=on").ok());
  want["synchronous_mode"] = true;
  EXPECT_EQ(c, want);
}

TEST(ConfigRoundTripTest, AnEditIsRefusedOnlyForWhatItIntroduces) {
  // A configuration pgwarden adjusts (Patroni writes it as is): other keys stay editable.
  Json c = FullConfig();
  c["ttl"] = 20;
  c["loop_wait"] = 2;
  c["retry_timeout"] = 10;
  Json after = c;
  after["maximum_lag_on_failover"] = 1;
  EXPECT_EQ(ctl::RefusedEdit(c, after), "");
  after["loop_wait"] = 3;
  EXPECT_NE(ctl::RefusedEdit(c, after), "");
  after = c;
  after["synchronous_node_count"] = 0;
  EXPECT_NE(ctl::RefusedEdit(c, after).find("synchronous_node_count"), std::string::npos);
}

TEST(ConfigRoundTripTest, PatchIsPatronisPatchConfig) {
  Json c = FullConfig();
  bool changed = true;
  // Values whose text is the stored one's leave the stored value (and its type) alone: nothing changed.
  Json out = api::MergePatch(c, Json::parse(R"({"ttl": "30", "synchronous_mode": "False",
                                                "postgresql": {"parameters": {"max_connections": "100"}}})"),
                             &changed);
  EXPECT_FALSE(changed);
  EXPECT_EQ(out, c);
  // null deletes (also deep), a new key takes its value as given, nulls inside included.
  changed = false;
  out = api::MergePatch(c, Json::parse(R"({"check_timeline": null, "postgresql": {"parameters": {"huge_pages": null}},
                                           "new_section": {"a": null, "b": 1}, "no_such_key": null})"),
                        &changed);
  EXPECT_TRUE(changed);
  Json want = c;
  want.erase("check_timeline");
  want["postgresql"]["parameters"].erase("huge_pages");
  want["new_section"] = Json::parse(R"({"a": null, "b": 1})");
  EXPECT_EQ(out, want);
  // Deleting what is not there changes nothing.
  changed = false;
  api::MergePatch(c, Json::parse(R"({"no_such_key": null})"), &changed);
  EXPECT_FALSE(changed);
}

}  // namespace
}  // namespace pgw

namespace pgw::ctl {
namespace {

// Found by the fuzz step (fuzz_ctl_args, under AddressSanitizer): the integer reader read its end pointer after
// the string it pointed into was gone, and std::stoll / std::stod threw on values past 64 bits.
TEST(ConfigRoundTripTest, NumbersTooLargeOrMalformedStayTextAndNeverThrow) {
  for (const std::string text : {"99999999999999999999:00", "1:99999999999999999999", "1.0e+999", ".e+1",
                                 "0x1ffffffffffffffffff", "99999999999999999999"}) {
    Result<Json> v = Json();
    ASSERT_NO_THROW(v = ParseYamlValue(text)) << text;
    ASSERT_TRUE(v.ok()) << text << ": " << v.status().message();
    EXPECT_TRUE(v->is_string()) << text << " became " << v->dump();
  }
  auto small = ParseYamlValue("1:30");  // YAML 1.1 sexagesimal, as Patroni's PyYAML reads it
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(*small, Json(90));
  auto hex = ParseYamlValue("0x1f");
  ASSERT_TRUE(hex.ok());
  EXPECT_EQ(*hex, Json(31));
}

}  // namespace
}  // namespace pgw::ctl
