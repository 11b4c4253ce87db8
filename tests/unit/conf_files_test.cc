// postgresql.parameters that real Patroni files set and pgwarden refused: listen_addresses and port (taken, with a
// warning: postgresql.listen wins, as in Patroni), hba_file and ident_file (honoured as Patroni honours them,
// patroni/postgresql/config.py: a relative path is taken from the data directory, the value is written to
// postgresql.conf, and the file is the user's: no pg_hba.conf / pg_ident.conf is written).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/config_parameters.h"
#include "common/fs.h"
#include "common/log.h"
#include "pg/conf.h"
#include "pg/controller.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::HasError;
using testing::kGoodConfig;
using testing::Lines;
using testing::Load;
using testing::Replace;

bool HasWarning(const LoadResult& r, const std::string& needle) {
  return std::any_of(r.warnings.begin(), r.warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

// kGoodConfig with `params` added to postgresql.parameters.
LoadResult WithParams(const std::string& params) {
  return Load(Replace(kGoodConfig, "    work_mem: 8MB\n", "    work_mem: 8MB\n" + params));
}

TEST(ConfFilesTest, ListenAddressesAndPortAreTakenAndPostgresqlListenWins) {
  auto r = WithParams(
      "    listen_addresses: '*'\n    port: 5433\n    hba_file: /etc/postgresql/pg_hba.conf\n"
      "    ident_file: pg_ident.custom\n");
  ASSERT_TRUE(r.errors.empty()) << Lines(r.errors);
  EXPECT_TRUE(HasWarning(r, "postgresql.parameters.listen_addresses: ignored, postgresql.listen wins"))
      << Lines(r.warnings);
  EXPECT_TRUE(HasWarning(r, "postgresql.parameters.port: ignored, postgresql.listen wins")) << Lines(r.warnings);
  Json p = EffectiveParameters(*r.config, r.config->bootstrap.dynamic);
  EXPECT_EQ(p["listen_addresses"], "0.0.0.0");
  EXPECT_EQ(p["port"], 5432);
  EXPECT_EQ(p["hba_file"], "/etc/postgresql/pg_hba.conf");
  EXPECT_EQ(p["ident_file"], "/var/lib/postgresql/15/main/pg_ident.custom");  // relative: from the data directory
}

TEST(ConfFilesTest, DataDirectoryAndConfigFileAreStillRefused) {
  auto r = WithParams("    data_directory: /elsewhere\n    config_file: /etc/x.conf\n");
  EXPECT_TRUE(HasError(r, "postgresql.parameters.data_directory: set by pgwarden")) << Lines(r.errors);
  EXPECT_TRUE(HasError(r, "postgresql.parameters.config_file: set by pgwarden")) << Lines(r.errors);
  auto unset = WithParams("    data_directory:\n");  // no value: not set
  EXPECT_TRUE(unset.errors.empty()) << Lines(unset.errors);
  // A dynamic configuration (Patroni does not refuse them) cannot move PostgreSQL away from data_dir either.
  auto dyn = Load(Replace(kGoodConfig, "parameters: {max_connections: 200}",
                          "parameters: {max_connections: 200, data_directory: /elsewhere, config_file: /x}"));
  ASSERT_TRUE(dyn.errors.empty()) << Lines(dyn.errors);
  Json p = EffectiveParameters(*dyn.config, dyn.config->bootstrap.dynamic);
  EXPECT_FALSE(p.contains("data_directory"));
  EXPECT_FALSE(p.contains("config_file"));
}

// The dynamic configuration's parameters are taken the same way: a warning, never a refusal.
TEST(ConfFilesTest, TheDynamicParametersAreTakenTheSameWay) {
  auto r = Load(Replace(kGoodConfig, "parameters: {max_connections: 200}",
                        "parameters: {max_connections: 200, port: 6000, hba_file: hba/pg_hba.conf}"));
  ASSERT_TRUE(r.errors.empty()) << Lines(r.errors);
  EXPECT_TRUE(HasWarning(r, "bootstrap.dcs.postgresql.parameters.port: ignored, postgresql.listen wins"))
      << Lines(r.warnings);
  const DynamicConfig& dyn = r.config->bootstrap.dynamic;
  Json p = EffectiveParameters(*r.config, dyn);
  EXPECT_EQ(p["port"], 5432);
  EXPECT_EQ(p["hba_file"], "/var/lib/postgresql/15/main/hba/pg_hba.conf");
  EXPECT_FALSE(WritesPgHba(*r.config, dyn));
  Json dcs = {{"postgresql", {{"parameters", {{"listen_addresses", "*"}}}}}};
  EXPECT_EQ(DynamicConfig::IntroducedProblem(Json::object(), dcs, false), "");
  EXPECT_EQ(OverriddenParameterWarnings(dcs["postgresql"]["parameters"], "config.postgresql.parameters"),
            std::vector<std::string>{"config.postgresql.parameters.listen_addresses: ignored, postgresql.listen wins "
                                     "(Patroni sets listen_addresses from it too)"});
}

// Patroni's rule: a value naming the data directory's own file counts as not set.
TEST(ConfFilesTest, TheDataDirectorysOwnFileCountsAsNotSet) {
  for (const char* v : {"pg_hba.conf", "/var/lib/postgresql/15/main/pg_hba.conf", "''"}) {
    auto r = WithParams(std::string("    hba_file: ") + v + "\n");
    ASSERT_TRUE(r.errors.empty()) << Lines(r.errors);
    EXPECT_TRUE(WritesPgHba(*r.config, r.config->bootstrap.dynamic)) << v;
    EXPECT_EQ(EffectiveParameters(*r.config, r.config->bootstrap.dynamic)["hba_file"],
              "/var/lib/postgresql/15/main/pg_hba.conf")
        << v;
  }
  auto ident = WithParams("    ident_file: pg_ident.conf\n  pg_ident: [a b c]\n");
  ASSERT_TRUE(ident.errors.empty()) << Lines(ident.errors);
  EXPECT_TRUE(RenderPgIdent(*ident.config, ident.config->bootstrap.dynamic).has_value());
  auto other = WithParams("    ident_file: pg_ident.custom\n  pg_ident: [a b c]\n");
  ASSERT_TRUE(other.errors.empty()) << Lines(other.errors);
  EXPECT_FALSE(RenderPgIdent(*other.config, other.config->bootstrap.dynamic).has_value());
}

// The files as PgController writes them into a data directory.
class ConfFilesWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("pgw_conf_files_" + std::to_string(getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "PG_VERSION") << "16\n";
    std::ofstream(dir_ / "pg_hba.conf") << "local all all trust\n";  // initdb's
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes the configuration for kGoodConfig with postgresql.parameters `params` added; the load's errors in *errors.
  Status Write(const std::string& params, std::string* errors) {
    std::string yaml = Replace(Replace(Replace(kGoodConfig, "/var/lib/postgresql/15/main", dir_.string()),
                                       "/tmp/pgpass0", (dir_ / "pgpass").string()),
                               "    work_mem: 8MB\n", "    work_mem: 8MB\n" + params);
    auto r = Load(yaml);
    *errors = Lines(r.errors);
    if (!r.config) return InvalidArgument("config refused");
    PgController pg(r.config, log_);
    return pg.WriteConfiguration(std::nullopt);
  }
  std::string Read(const std::string& name) {
    auto t = ReadFile((dir_ / name).string());
    return t.ok() ? *t : "";
  }

  std::filesystem::path dir_;
  Logger log_{stderr, LogLevel::kCritical};
};

TEST_F(ConfFilesWriteTest, AnHbaFileElsewhereIsWrittenToPostgresqlConfAndPgHbaIsLeftAlone) {
  std::string errors;
  ASSERT_TRUE(Write("    hba_file: /etc/postgresql/hba.conf\n    port: 5433\n", &errors).ok()) << errors;
  std::string conf = Read("postgresql.conf");
  EXPECT_NE(conf.find("hba_file = '/etc/postgresql/hba.conf'\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("port = 5432\n"), std::string::npos) << conf;
  EXPECT_EQ(conf.find("port = 5433"), std::string::npos) << conf;
  EXPECT_EQ(Read("pg_hba.conf"), "local all all trust\n");  // initdb's, untouched
}

TEST_F(ConfFilesWriteTest, ARelativeHbaFileIsTakenFromTheDataDirectory) {
  std::string errors;
  ASSERT_TRUE(Write("    hba_file: conf/hba.conf\n", &errors).ok()) << errors;
  std::string conf = Read("postgresql.conf");
  EXPECT_NE(conf.find("hba_file = '" + (dir_ / "conf/hba.conf").string() + "'\n"), std::string::npos) << conf;
  EXPECT_EQ(Read("pg_hba.conf"), "local all all trust\n");
}

TEST_F(ConfFilesWriteTest, WithoutHbaFilePgHbaIsWrittenAsBefore) {
  std::string errors;
  ASSERT_TRUE(Write("", &errors).ok()) << errors;
  EXPECT_NE(Read("postgresql.conf").find("hba_file = '" + (dir_ / "pg_hba.conf").string() + "'\n"), std::string::npos);
  EXPECT_NE(Read("pg_hba.conf").find("overwritten by pgwarden"), std::string::npos);
}

}  // namespace
}  // namespace pgw
