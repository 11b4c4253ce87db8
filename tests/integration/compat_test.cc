// Patroni configurations written for another PostgreSQL major version start PostgreSQL (issue 11).
#include <gtest/gtest.h>

#include "helpers.h"

namespace pgw {
namespace {

using namespace itest;

class CompatTest : public ClusterFixture {
 protected:
  CompatTest() : ClusterFixture("compat") {}
};

TEST_F(CompatTest, WalKeepSegmentsAndARemovedParameterStillStartPostgres15) {
  // wal_keep_segments (gone in 13) and stats_temp_directory (gone in 15) made PostgreSQL 15 refuse to start.
  StartCluster(2, [](SandboxSpec& spec) {
    spec.extra_postgresql = "    wal_keep_segments: 5\n    stats_temp_directory: /tmp\n";
  });
  for (const auto& n : sb_->nodes()) {
    std::string err;
    EXPECT_EQ(Sql(sb_->Conninfo(n.name), "SHOW wal_keep_size", &err), "80MB") << n.name << " " << err;
  }
}

TEST_F(CompatTest, UnknownParametersAndBadValuesAreLeftOutAndPostgresStarts) {
  // Each of the first two made PostgreSQL 15 refuse to start; the third too (out of range); the last is a custom
  // parameter, passed through unchecked.
  StartCluster(1, [](SandboxSpec& spec) {
    spec.extra_postgresql =
        "    no_such_parameter: 1\n    work_mem: lots\n    checkpoint_timeout: 2d\n"
        "    my_extension.setting: anything\n";
  });
  const auto& n = sb_->nodes().front();
  std::string err;
  EXPECT_EQ(Sql(sb_->Conninfo(n.name), "SHOW work_mem", &err), "4MB") << err;           // PostgreSQL's default
  EXPECT_EQ(Sql(sb_->Conninfo(n.name), "SHOW checkpoint_timeout", &err), "1d") << err;  // the maximum
  EXPECT_EQ(Sql(sb_->Conninfo(n.name), "SHOW my_extension.setting", &err), "anything") << err;
  auto log = ReadFile(n.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("postgresql.parameters.no_such_parameter: not a parameter of PostgreSQL 15, left out"),
            std::string::npos);
  EXPECT_NE(log->find("postgresql.parameters.work_mem: invalid value 'lots' for PostgreSQL 15: not an integer; left "
                      "out, PostgreSQL uses its default"),
            std::string::npos);
  EXPECT_NE(log->find("postgresql.parameters.checkpoint_timeout: value '2d' is above the maximum"), std::string::npos);
  EXPECT_EQ(log->find("my_extension.setting"), std::string::npos) << "a custom parameter needs no warning";
}

}  // namespace
}  // namespace pgw
