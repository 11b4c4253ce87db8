// FreePorts (src/testkit/sandbox.h): the ports a sandbox gives its etcd and nodes must all differ. Picking them one at
// a time (bind, close, bind) let the kernel hand the same port out twice: two nodes of one sandbox once got the
// same REST port and the integration test LeaseTest.LiveTtlChange... failed on "Address already in use".
#include <gtest/gtest.h>

#include <set>

#include "testkit/sandbox.h"

namespace pgw {
namespace {

TEST(SandboxPortsTest, PortsPickedTogetherAreAllDifferent) {
  for (int round = 0; round < 20; ++round) {
    auto ports = FreePorts(16);
    ASSERT_TRUE(ports.ok()) << ports.status().message();
    ASSERT_EQ(ports->size(), 16u);
    std::set<int> distinct(ports->begin(), ports->end());
    EXPECT_EQ(distinct.size(), ports->size()) << "round " << round;
    for (int p : *ports) EXPECT_GT(p, 0);
  }
}

TEST(SandboxPortsTest, ZeroPortsIsAnEmptyList) {
  auto ports = FreePorts(0);
  ASSERT_TRUE(ports.ok());
  EXPECT_TRUE(ports->empty());
}

}  // namespace
}  // namespace pgw
