// Issue 10 item 3b: PostgreSQL must never recover from a backend crash in place behind the agent's back.
#include <gtest/gtest.h>

#include "pg/conf.h"
#include "test_util.h"

namespace pgw {
namespace {

TEST(CrashRestartTest, RestartAfterCrashIsForcedOffWhateverTheUserSets) {
  auto r = testing::Load(std::string(testing::kGoodConfig));
  ASSERT_TRUE(r.errors.empty());
  Json p = EffectiveParameters(*r.config, r.config->bootstrap.dynamic);
  EXPECT_EQ(p.value("restart_after_crash", Json()), Json("off"))
      << "a backend crash must stop the postmaster so that the agent handles it (client gate, failover)";
  DynamicConfig dyn = r.config->bootstrap.dynamic;
  dyn.parameters["restart_after_crash"] = "on";
  EXPECT_EQ(EffectiveParameters(*r.config, dyn).value("restart_after_crash", Json()), Json("off"));
  std::string conf = RenderPostgresqlConf(*r.config, EffectiveParameters(*r.config, dyn), std::nullopt, true);
  EXPECT_NE(conf.find("restart_after_crash = 'off'"), std::string::npos) << conf;
}

}  // namespace
}  // namespace pgw
