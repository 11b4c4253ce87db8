#include "pg/control_file.h"

#include <gtest/gtest.h>

#include <cstring>

namespace pgw {
namespace {

// The head of a pg_control as PostgreSQL 15 writes it (layout from ControlFileData; machine byte order).
std::string Head(uint64_t sysid, uint32_t version, int32_t state, uint64_t checkpoint, size_t size = 8192) {
  std::string b(size, '\0');
  uint32_t catversion = 202209061;
  int64_t time = 1764960000;
  std::memcpy(b.data(), &sysid, 8);
  std::memcpy(b.data() + 8, &version, 4);
  std::memcpy(b.data() + 12, &catversion, 4);
  std::memcpy(b.data() + 16, &state, 4);
  std::memcpy(b.data() + 24, &time, 8);
  std::memcpy(b.data() + 32, &checkpoint, 8);
  return b;
}

TEST(ControlFileTest, ReadsTheShutdownCheckpointOfACleanlyStoppedCluster) {
  auto h = ParseControlFileHead(Head(7444555666777888999ULL, 1300, 1, 0x4000110));
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->system_identifier, 7444555666777888999ULL);
  EXPECT_EQ(h->pg_control_version, 1300u);
  EXPECT_EQ(h->state, 1);
  EXPECT_EQ(h->checkpoint_lsn, 0x4000110);
}

TEST(ControlFileTest, RefusesShortFilesAndUnknownVersionsNamingTheProblem) {
  auto short_file = ParseControlFileHead(Head(1, 1300, 1, 1, 39));
  ASSERT_FALSE(short_file.ok());
  EXPECT_NE(short_file.status().message().find("too short"), std::string::npos);
  for (uint32_t v : {0u, 936u, 10000u, 0xffffffffu}) {
    auto h = ParseControlFileHead(Head(1, v, 1, 1));
    ASSERT_FALSE(h.ok()) << v;
    EXPECT_NE(h.status().message().find("unknown version"), std::string::npos);
  }
  EXPECT_FALSE(ParseControlFileHead(Head(1, 1300, 1, ~0ULL)).ok());
}

TEST(ControlFileTest, AMissingDataDirectoryIsAnError) {
  EXPECT_FALSE(ReadControlFileHead("/nonexistent/pgwarden/data").ok());
}

}  // namespace
}  // namespace pgw
