// PATRONI_<name>_PASSWORD and PATRONI_<name>_OPTIONS: roles of bootstrap.users, as Patroni 3 reads them
// (config.py _build_environment_configuration; its docker example sets PATRONI_admin_PASSWORD and
// PATRONI_admin_OPTIONS=createdb,createrole). Before, pgwarden dropped them without a word.
#include <gtest/gtest.h>

#include <map>

#include "common/config.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::Errors;
using testing::HasError;
using testing::kGoodConfig;
using testing::Load;
using testing::Replace;
using User = Config::Bootstrap::User;

std::map<std::string, User> Users(const LoadResult& r) {
  std::map<std::string, User> m;
  for (const auto& u : r.config->bootstrap.users) m[u.name] = u;
  return m;
}

TEST(ConfigEnvUsersTest, PasswordAndOptionsVariablesAreBootstrapUsers) {
  auto r = Load(kGoodConfig, {{"PATRONI_admin_PASSWORD", "admin"},
                              {"PATRONI_admin_OPTIONS", "createdb,createrole"},
                              {"PATRONI_APP_READER_PASSWORD", "r%x"},  // the name keeps its case and underscores
                              {"PATRONI_bracketed_PASSWORD", "b"},
                              {"PATRONI_bracketed_OPTIONS", "[nologin, 'connection limit 3']"}});
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  auto users = Users(r);
  ASSERT_EQ(users.size(), 3u);
  EXPECT_EQ(users["admin"].password, "admin");
  EXPECT_EQ(users["admin"].options, (std::vector<std::string>{"CREATEDB", "CREATEROLE"}));
  EXPECT_EQ(users["APP_READER"].password, "r%x");
  EXPECT_TRUE(users["APP_READER"].options.empty());
  EXPECT_EQ(users["bracketed"].options, (std::vector<std::string>{"NOLOGIN", "CONNECTION LIMIT 3"}));
}

TEST(ConfigEnvUsersTest, AnEmptyPasswordCreatesNothingAndKeysKeepTheirVariables) {
  auto r = Load(kGoodConfig, {{"PATRONI_empty_PASSWORD", ""},
                              {"PATRONI_empty_OPTIONS", "createdb"},
                              {"PATRONI_SUPERUSER_PASSWORD", "su"},
                              {"PATRONI_REPLICATION_PASSWORD", "rp"},
                              {"PATRONI_RESTAPI_USERNAME", "api"},
                              {"PATRONI_RESTAPI_PASSWORD", "apipw"},
                              {"PATRONI_RESTAPI_KEYFILE_PASSWORD", "kp"},
                              {"PATRONI_CTL_PASSWORD", "ctlpw"},
                              {"PATRONI_ETCD3_USERNAME", "root"},
                              {"PATRONI_ETCD3_PASSWORD", "etcdpw"},
                              {"PATRONI_ETCD3_KEY_PASSWORD", "k"}});
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  EXPECT_TRUE(r.config->bootstrap.users.empty()) << r.config->bootstrap.users[0].name;
  EXPECT_EQ(r.config->postgresql.superuser.password, "su");
  EXPECT_EQ(r.config->postgresql.replication.password, "rp");
  EXPECT_EQ(r.config->restapi.password, "apipw");
  EXPECT_EQ(r.config->etcd3.password, "etcdpw");
}

// Patroni patches the file with the environment: the variable's password replaces the file's, the file's options
// stay unless PATRONI_<name>_OPTIONS is set, and the file's other roles stay.
TEST(ConfigEnvUsersTest, VariablesAreMergedOverTheFilesUsers) {
  const std::string file = Replace(kGoodConfig, "  initdb:\n",
                                   "  users:\n"
                                   "    admin: {password: old, options: [createdb]}\n"
                                   "    other: {password: o, options: [createrole]}\n"
                                   "  initdb:\n");
  auto r = Load(file, {{"PATRONI_admin_PASSWORD", "new"}});
  ASSERT_TRUE(r.errors.empty()) << Errors(r);
  auto users = Users(r);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users["admin"].password, "new");
  EXPECT_EQ(users["admin"].options, (std::vector<std::string>{"CREATEDB"}));
  EXPECT_EQ(users["other"].password, "o");
  auto replaced = Load(file, {{"PATRONI_admin_PASSWORD", "new"}, {"PATRONI_admin_OPTIONS", "nologin"}});
  ASSERT_TRUE(replaced.errors.empty()) << Errors(replaced);
  EXPECT_EQ(Users(replaced)["admin"].options, (std::vector<std::string>{"NOLOGIN"}));
}

TEST(ConfigEnvUsersTest, BadOptionsAreRefusedNamingTheVariable) {
  auto r = Load(kGoodConfig,
                {{"PATRONI_admin_PASSWORD", "admin"}, {"PATRONI_admin_OPTIONS", "createdb,superuser; drop table x"}});
  EXPECT_TRUE(HasError(r, "PATRONI_admin_OPTIONS: 'superuser; drop table x' is not a role option")) << Errors(r);
  auto not_list = Load(kGoodConfig, {{"PATRONI_admin_PASSWORD", "admin"}, {"PATRONI_admin_OPTIONS", "createdb,[x]"}});
  EXPECT_TRUE(HasError(not_list, "PATRONI_admin_OPTIONS: must be a list of role options")) << Errors(not_list);
  auto unparsable = Load(kGoodConfig, {{"PATRONI_admin_PASSWORD", "admin"}, {"PATRONI_admin_OPTIONS", "[createdb"}});
  EXPECT_TRUE(HasError(unparsable, "PATRONI_admin_OPTIONS: cannot parse as YAML")) << Errors(unparsable);
}

}  // namespace
}  // namespace pgw
