// Inputs found by fuzzing the configuration loader: each one used to throw out of LoadConfigText or
// DynamicConfig::FromJson. They must come back as errors naming the key.
#include <gtest/gtest.h>

#include <string>

#include "common/config.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::Errors;
using testing::HasError;
using testing::kGoodConfig;
using testing::Load;

LoadResult LoadNoThrow(const std::string& yaml) {
  try {
    return Load(yaml);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the loader threw: " << e.what() << "\n" << yaml;
  }
  return {};
}

TEST(ConfigRobustTest, ScalarWhereAMappingIsExpectedNamesTheKey) {
  // YAML keeps the last of duplicate keys, so appending a key replaces the good section.
  struct Case {
    std::string append;
    std::string error;
  } cases[] = {
      {"postgresql: 5\n", "postgresql: must be a mapping"},
      {"restapi: {listen: 127.0.0.1:8008, connect_address: 127.0.0.1:8008, authentication: x}\n",
       "restapi.authentication: must be a mapping"},
      {"log: 3\n", "log: must be a mapping"},
      {"log: [1, 2]\n", "log: must be a mapping"},
      {"etcd3: 5\n", "etcd3: must be a mapping"},
      {"bootstrap: 5\n", "bootstrap: must be a mapping"},
      {"watchdog: x\n", "watchdog: must be a mapping"},
      {"tags: [a]\n", "tags: must be a mapping"},
      {"restapi: 7\n", "restapi: must be a mapping"},
  };
  for (const auto& c : cases) {
    auto r = LoadNoThrow(std::string(kGoodConfig) + c.append);
    EXPECT_TRUE(HasError(r, c.error)) << c.append << Errors(r);
    EXPECT_FALSE(r.config) << c.append;
  }
}

TEST(ConfigRobustTest, NestedScalarsWhereMappingsAreExpected) {
  const std::string pg_head =
      "postgresql:\n  listen: 0.0.0.0:5432\n  connect_address: 127.0.0.1:5432\n  data_dir: /d\n";
  struct Case {
    std::string pg_tail;
    std::string error;
  } cases[] = {
      {"  authentication: 5\n", "postgresql.authentication: must be a mapping"},
      {"  authentication: {superuser: x, replication: [1]}\n",
       "postgresql.authentication.superuser: must be a mapping"},
      {"  authentication: {superuser: {username: a}, replication: {username: b}}\n  callbacks: 5\n",
       "postgresql.callbacks: must be a mapping"},
      {"  authentication: {superuser: {username: a}, replication: {username: b}}\n  create_replica_methods: 5\n",
       "postgresql.create_replica_methods: must be a list of strings"},
      {"  authentication: {superuser: {username: a}, replication: {username: b}}\n  parameters: [1]\n",
       "postgresql.parameters: must be a mapping"},
  };
  for (const auto& c : cases) {
    auto r = LoadNoThrow(std::string(kGoodConfig) + pg_head + c.pg_tail);
    EXPECT_TRUE(HasError(r, c.error)) << c.pg_tail << Errors(r);
  }
}

TEST(ConfigRobustTest, OddKeysAreErrorsNotCrashes) {
  for (const char* extra : {"? [a, b]\n: 1\n", "? {a: 1}\n: 2\n", "~: 3\n", "bootstrap: {dcs: [1], initdb: {a: 1}}\n",
                            "bootstrap: {dcs: {postgresql: 5}}\n", "bootstrap: {dcs: {ttl: 99999999999999999999}}\n"}) {
    auto r = LoadNoThrow(std::string(kGoodConfig) + extra);
    EXPECT_FALSE(r.errors.empty() && r.warnings.empty()) << extra;  // unknown keys are warnings
  }
}

TEST(ConfigRobustTest, DynamicConfigWithInvalidUtf8IsAnError) {
  std::vector<std::string> problems;
  Json j = {{"ttl", std::string("\xff\xfe")}, {"pause", std::string("\xc3")}};
  try {
    DynamicConfig::FromJson(j, "config", &problems);
  } catch (const std::exception& e) {
    FAIL() << "FromJson threw: " << e.what();
  }
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("config.ttl: must be an integer"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("config.pause: must be a boolean"), std::string::npos) << problems[1];
}

}  // namespace
}  // namespace pgw
