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

}  // namespace
}  // namespace pgw
