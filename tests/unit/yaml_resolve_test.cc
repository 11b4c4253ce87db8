// Merge keys, duplicate keys and aliases that would never end, resolved or refused as common/yaml_resolve.h says;
// and through the configuration loader, which read `<<` as an unknown key and crashed on a cyclic alias.
#include "common/yaml_resolve.h"

#include <gtest/gtest.h>

#include <string>

#include "common/config.h"
#include "ctl/ctl.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::Errors;

YAML::Node Resolved(const std::string& text) {
  auto r = ResolveYaml(YAML::Load(text));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : YAML::Node();
}

std::string ErrorOf(const std::string& text) {
  auto r = ResolveYaml(YAML::Load(text));
  return r.ok() ? "(resolved)" : r.status().message();
}

TEST(YamlResolveTest, MergeKeysFollowPyYaml) {
  YAML::Node n = Resolved(
      "base: &b {a: 1, c: 5}\n"
      "other: &o {a: 9, d: 7, c: 8}\n"
      "one:\n  <<: *b\n  c: 2\n"
      "list:\n  <<: [*b, *o]\n  e: 3\n");
  EXPECT_EQ(n["one"]["a"].Scalar(), "1");
  EXPECT_EQ(n["one"]["c"].Scalar(), "2") << "the mapping's own key wins over a merged one";
  EXPECT_FALSE(n["one"]["<<"]);
  EXPECT_EQ(n["list"]["a"].Scalar(), "1") << "the earlier mapping of a list wins";
  EXPECT_EQ(n["list"]["c"].Scalar(), "5");
  EXPECT_EQ(n["list"]["d"].Scalar(), "7");
  EXPECT_EQ(n["list"]["e"].Scalar(), "3");
  EXPECT_EQ(n["base"]["c"].Scalar(), "5") << "the anchored mapping itself is unchanged";
  EXPECT_EQ(n["base"].size(), 2u);
}

TEST(YamlResolveTest, DuplicateKeysKeepTheLastValueAndTheInputIsNotChanged) {
  YAML::Node in = YAML::Load("x: &v 1\ny: *v\nx: 2\nm: {k: a, k: b}\n");
  auto r = ResolveYaml(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["x"].Scalar(), "2");
  EXPECT_EQ((*r)["y"].Scalar(), "1") << "replacing x must not rewrite the node y shares with it";
  EXPECT_EQ((*r)["m"]["k"].Scalar(), "b");
  EXPECT_EQ((*r).size(), 3u);
  EXPECT_EQ(in["y"].Scalar(), "1");
}

TEST(YamlResolveTest, AQuotedMergeKeyIsAnOrdinaryKey) {
  YAML::Node n = Resolved("m:\n  '<<': {a: 1}\n");
  EXPECT_TRUE(n["m"]["<<"].IsMap());
  EXPECT_FALSE(n["m"]["a"]);
}

TEST(YamlResolveTest, WhatCannotBeWalkedIsRefusedWithItsPath) {
  EXPECT_EQ(ErrorOf("a: &x [1, *x]\n"), "a[1]: a YAML alias names a node that contains it (a cycle)");
  EXPECT_EQ(ErrorOf("tags: &t\n  k: *t\n"), "tags.k: a YAML alias names a node that contains it (a cycle)");
  EXPECT_EQ(ErrorOf("m: &m\n  <<: *m\n"), "m.<<: a YAML alias names a node that contains it (a cycle)");
  EXPECT_EQ(ErrorOf("m:\n  <<: 3\n"), "m.<<: a merge key takes a mapping or a list of mappings");
  EXPECT_EQ(ErrorOf("m:\n  <<: [{a: 1}, 2]\n"), "m.<<: a merge key takes a mapping or a list of mappings");
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += "[";
  for (int i = 0; i < 70; ++i) deep += "]";
  EXPECT_NE(ErrorOf("d: " + deep + "\n").find("nested deeper than 64 levels"), std::string::npos);
  // Ten levels of ten aliases each: 10^10 nodes if expanded.
  std::string laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 10; ++j) laughs += ", " + prev;
    laughs += "]\n";
  }
  EXPECT_NE(ErrorOf(laughs).find("more than 20000 YAML nodes once aliases are expanded"), std::string::npos);
}

// A Patroni file that shares its credentials through an anchor and a merge key (PyYAML reads it so).
TEST(YamlResolveTest, TheLoaderReadsMergeKeysAndRefusesCyclesInsteadOfCrashing) {
  std::string yaml = testing::Replace(testing::kGoodConfig, "    superuser: {username: postgres, password: secret}\n",
                                      "    superuser: &su {username: postgres, password: secret, sslmode: prefer}\n"
                                      "    rewind:\n      <<: *su\n      username: rewinder\n");
  auto r = testing::Load(yaml);
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_EQ(r.config->postgresql.rewind.username, "rewinder");
  EXPECT_EQ(r.config->postgresql.rewind.password, "secret");
  EXPECT_EQ(r.config->postgresql.superuser.username, "postgres");

  auto cyc = testing::Load(std::string(testing::kGoodConfig) + "log: &l\n  loggers: *l\n");
  EXPECT_NE(Errors(cyc).find("log.loggers: a YAML alias names a node that contains it"), std::string::npos)
      << Errors(cyc);
  auto env = testing::Load(testing::kGoodConfig, {{"PATRONI_ETCD3_HOSTS", "&h [*h]"}});
  EXPECT_NE(Errors(env).find("a YAML alias names a node that contains it"), std::string::npos) << Errors(env);

  // pgwardenctl edit-config reads YAML the same way.
  auto j = ctl::ParseYamlValue("a: &x {k: 1}\nb:\n  <<: *x\n  j: 2\n");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(j->dump(), R"({"a":{"k":1},"b":{"j":2,"k":1}})");
  EXPECT_FALSE(ctl::ParseYamlValue("a: &x [*x]\n").ok());
}

}  // namespace
}  // namespace pgw
