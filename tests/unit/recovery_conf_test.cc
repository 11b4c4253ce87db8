// postgresql.recovery_conf, as Patroni 3 honours it (patroni/postgresql/config.py build_recovery_params): the
// mapping's recovery parameters are written for a replica only, without the recovery targets, primary_conninfo and
// primary_slot_name (pgwarden sets them), with standby_cluster's restore_command and archive_cleanup_command (and
// the standby leader's apply delay) over them. Recovery parameters put under postgresql.parameters are moved there,
// so that no primary and no replica stops at a recovery target taken from the parameters.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/config_fields.h"
#include "ha/standby.h"
#include "pg/conf.h"
#include "pg/recovery_conf.h"
#include "test_util.h"

namespace pgw {
namespace {

using testing::HasError;
using testing::kGoodConfig;
using testing::Lines;
using testing::Load;
using testing::Replace;

// kGoodConfig with `section` (YAML lines indented under postgresql:) added before postgresql.parameters.
LoadResult With(const std::string& section) {
  return Load(Replace(kGoodConfig, "  parameters:\n    max_connections: 10\n",
                      section + "  parameters:\n    max_connections: 10\n"));
}

std::shared_ptr<const Config> Must(const std::string& section) {
  auto r = With(section);
  EXPECT_TRUE(r.errors.empty()) << Lines(r.errors);
  return r.config ? r.config : std::make_shared<Config>();
}

bool Has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

bool HasWarning(const std::vector<std::string>& warnings, const std::string& needle) {
  return std::any_of(warnings.begin(), warnings.end(), [&](const std::string& w) { return Has(w, needle); });
}

const char* kDelayedReplica =
    "  recovery_conf:\n"
    "    restore_command: 'cp /archive/%f %p'\n"
    "    recovery_min_apply_delay: 1h\n"
    "    recovery_end_command: /bin/true\n"
    "    recovery_target_time: '2026-01-01 00:00:00'\n"
    "    recovery_target_action: promote\n"
    "    primary_conninfo: host=elsewhere\n"
    "    primary_slot_name: elsewhere\n";

// The configuration file of `cfg` as the controller writes it (pg/controller.cc WriteConfiguration), for a replica
// of 10.0.0.2 when `replica`, for a primary otherwise.
std::string Render(const Config& cfg, const DynamicConfig& dyn, bool replica, std::vector<std::string>* warnings) {
  ha::Inputs in;
  in.config = &cfg;
  in.dynamic = dyn;
  std::optional<Upstream> up;
  if (replica) up = ha::WithRecovery(in, Upstream{HostPort{"10.0.0.2", 5432}, "pg0"}, false);
  Json recovery = up ? ReplicaRecoveryParameters(15, cfg, dyn, warnings) : Json::object();
  return RenderPostgresqlConf(cfg, EffectiveParameters(cfg, dyn), up, true, recovery);
}

TEST(RecoveryConfTest, ParsedAsAMappingOfScalars) {
  auto cfg = Must(kDelayedReplica);
  EXPECT_EQ(cfg->postgresql.recovery_conf.at("restore_command"), "cp /archive/%f %p");
  EXPECT_EQ(cfg->postgresql.recovery_conf.at("recovery_min_apply_delay"), "1h");
  EXPECT_TRUE(Must("").get()->postgresql.recovery_conf.empty());
}

TEST(RecoveryConfTest, ShapeErrorsNameTheKey) {
  EXPECT_TRUE(HasError(With("  recovery_conf: [restore_command]\n"), "postgresql.recovery_conf: must be a mapping"));
  EXPECT_TRUE(HasError(With("  recovery_conf: cp x y\n"), "postgresql.recovery_conf: must be a mapping"));
  EXPECT_TRUE(HasError(With("  recovery_conf:\n    restore_command: [cp, x]\n"),
                       "postgresql.recovery_conf.restore_command: must be a string, a number or a boolean"));
  EXPECT_TRUE(HasError(With("  recovery_conf:\n    recovery_end_command: {a: b}\n"),
                       "postgresql.recovery_conf.recovery_end_command: must be a string, a number or a boolean"));
  EXPECT_TRUE(HasError(With("  recovery_conf:\n    recovery_min_apply_delay: soon\n"),
                       "postgresql.recovery_conf.recovery_min_apply_delay: must be a time in milliseconds"));
  // Not the bootstrap method's recovery_conf, and no warning that it is ignored.
  auto r = With(kDelayedReplica);
  EXPECT_FALSE(HasWarning(r.warnings, "recovery_conf")) << Lines(r.warnings);
}

TEST(RecoveryConfTest, AReplicaGetsItAndAPrimaryDoesNot) {
  auto cfg = Must(kDelayedReplica);
  std::vector<std::string> w;
  std::string replica = Render(*cfg, cfg->bootstrap.dynamic, true, &w);
  EXPECT_TRUE(Has(replica, "restore_command = 'cp /archive/%f %p'\n")) << replica;
  EXPECT_TRUE(Has(replica, "recovery_min_apply_delay = 3600000\n")) << replica;
  EXPECT_TRUE(Has(replica, "recovery_end_command = '/bin/true'\n")) << replica;
  std::string primary = Render(*cfg, cfg->bootstrap.dynamic, false, &w);
  for (const char* k : {"restore_command", "recovery_min_apply_delay", "recovery_end_command", "recovery_target"}) {
    EXPECT_FALSE(Has(primary, k)) << k << "\n" << primary;
  }
  EXPECT_TRUE(w.empty()) << Lines(w);
}

TEST(RecoveryConfTest, TargetsConninfoAndSlotAreDropped) {
  auto cfg = Must(kDelayedReplica);
  std::vector<std::string> w;
  std::string replica = Render(*cfg, cfg->bootstrap.dynamic, true, &w);
  EXPECT_FALSE(Has(replica, "2026-01-01")) << replica;
  EXPECT_FALSE(Has(replica, "promote")) << replica;
  EXPECT_FALSE(Has(replica, "elsewhere")) << replica;
  EXPECT_TRUE(Has(replica, "primary_conninfo = 'user=replicator")) << replica;
  EXPECT_TRUE(Has(replica, "primary_slot_name = 'pg0'\n")) << replica;
  EXPECT_TRUE(Has(replica, "recovery_target_timeline = 'latest'\n")) << replica;
  // As Patroni: no target from an included file either.
  EXPECT_TRUE(Has(replica, "recovery_target_time = ''\n")) << replica;
  EXPECT_TRUE(Has(replica, "recovery_target = ''\n")) << replica;
}

TEST(RecoveryConfTest, StandbyClusterOverridesIt) {
  auto cfg = Must(kDelayedReplica);
  DynamicConfig dyn = cfg->bootstrap.dynamic;
  StandbyCluster sc;
  sc.host = "10.0.0.9";
  sc.restore_command = "fetch %f %p";
  sc.archive_cleanup_command = "pg_archivecleanup /remote %r";
  sc.recovery_min_apply_delay_ms = 5000;
  dyn.standby_cluster = sc;
  ha::Inputs in;
  in.config = cfg.get();
  in.dynamic = dyn;
  Upstream cascading = ha::WithRecovery(in, Upstream{HostPort{"10.0.0.2", 5432}, ""}, false);
  EXPECT_EQ(cascading.restore_command, "fetch %f %p");
  EXPECT_EQ(cascading.archive_cleanup_command, "pg_archivecleanup /remote %r");
  EXPECT_EQ(cascading.min_apply_delay_ms, 3600000);  // standby_cluster's delay is the standby leader's only
  Upstream remote = ha::WithRecovery(in, Upstream{HostPort{"10.0.0.9", 5432}, ""}, true);
  EXPECT_EQ(remote.min_apply_delay_ms, 5000);
  std::string conf = RenderPostgresqlConf(*cfg, EffectiveParameters(*cfg, dyn), remote, true);
  EXPECT_TRUE(Has(conf, "restore_command = 'fetch %f %p'\n")) << conf;
  EXPECT_FALSE(Has(conf, "cp /archive")) << conf;
}

TEST(RecoveryConfTest, UnknownAndOutOfVersionParametersAreDroppedWithAWarning) {
  auto cfg = Must(
      "  recovery_conf:\n    work_mem: 1MB\n    standby_mode: 'on'\n    promote_trigger_file: /tmp/t\n"
      "    recovery_end_command: /bin/true\n");
  std::vector<std::string> w15, w16;
  Json on15 = ReplicaRecoveryParameters(15, *cfg, cfg->bootstrap.dynamic, &w15);
  EXPECT_EQ(on15, (Json{{"promote_trigger_file", "/tmp/t"}, {"recovery_end_command", "/bin/true"}}));
  EXPECT_TRUE(HasWarning(w15, "postgresql.recovery_conf.work_mem: not a recovery parameter, left out")) << Lines(w15);
  EXPECT_TRUE(HasWarning(w15, "postgresql.recovery_conf.standby_mode")) << Lines(w15);
  Json on16 = ReplicaRecoveryParameters(16, *cfg, cfg->bootstrap.dynamic, &w16);  // promote_trigger_file: gone in 16
  EXPECT_EQ(on16, (Json{{"recovery_end_command", "/bin/true"}}));
  EXPECT_TRUE(HasWarning(w16, "postgresql.recovery_conf.promote_trigger_file")) << Lines(w16);
}

TEST(RecoveryConfTest, RecoveryParametersOfTheParametersApplyToReplicasOnly) {
  auto r = Load(Replace(kGoodConfig, "    work_mem: 8MB\n",
                        "    work_mem: 8MB\n    restore_command: cp /a/%f %p\n"
                        "    recovery_target_time: '2026-01-01 00:00:00'\n    recovery_min_apply_delay: 2s\n"));
  ASSERT_TRUE(r.errors.empty()) << Lines(r.errors);
  const Config& cfg = *r.config;
  Json p = EffectiveParameters(cfg, cfg.bootstrap.dynamic);
  EXPECT_FALSE(p.contains("restore_command"));
  EXPECT_FALSE(p.contains("recovery_target_time"));
  EXPECT_EQ(p.at("work_mem"), "8MB");
  std::vector<std::string> w;
  std::string replica = Render(cfg, cfg.bootstrap.dynamic, true, &w);
  EXPECT_TRUE(Has(replica, "restore_command = 'cp /a/%f %p'\n")) << replica;
  EXPECT_TRUE(Has(replica, "recovery_min_apply_delay = 2000\n")) << replica;
  EXPECT_FALSE(Has(replica, "2026-01-01")) << replica;  // a replica would stop replaying there
  std::string primary = Render(cfg, cfg.bootstrap.dynamic, false, &w);
  EXPECT_FALSE(Has(primary, "restore_command")) << primary;
  EXPECT_FALSE(Has(primary, "2026-01-01")) << primary;
}

TEST(RecoveryConfTest, DynamicConfigurationAppliesAndLocalWinsWhole) {
  DynamicConfig dyn;
  dyn.raw = {
      {"postgresql",
       {{"recovery_conf", {{"recovery_min_apply_delay", "5min"}, {"recovery_end_command", "/dyn"}, {"x", {1}}}}}}};
  auto none = Must("");
  EXPECT_EQ(RecoveryConf(*none, dyn), (Json{{"recovery_min_apply_delay", "5min"}, {"recovery_end_command", "/dyn"}}));
  auto local = Must("  recovery_conf:\n    Restore_Command: cp /l/%f %p\n");
  EXPECT_EQ(RecoveryConf(*local, dyn), (Json{{"restore_command", "cp /l/%f %p"}}));
  // Parameters (dynamic, then local) go over recovery_conf; a local null unsets.
  dyn.parameters = {{"restore_command", "dyn %f %p"}, {"recovery_end_command", "/p"}};
  auto unset = Load(Replace(kGoodConfig, "    work_mem: 8MB\n", "    work_mem: 8MB\n    recovery_end_command:\n"));
  ASSERT_TRUE(unset.errors.empty()) << Lines(unset.errors);
  EXPECT_EQ(RecoveryConf(*unset.config, dyn),
            (Json{{"recovery_min_apply_delay", "5min"}, {"restore_command", "dyn %f %p"}}));
}

TEST(RecoveryConfTest, AReloadAppliesAChange) {
  auto before = Must(kDelayedReplica);
  auto after = Must(Replace(kDelayedReplica, "recovery_min_apply_delay: 1h", "recovery_min_apply_delay: 2h"));
  EXPECT_EQ(DiffConfig(*before, *after),
            (std::vector<ConfigChange>{{"postgresql.recovery_conf.recovery_min_apply_delay", ChangeClass::kLive}}));
  EXPECT_EQ(ConfigAfterReload(*before, *after)->postgresql.recovery_conf.at("recovery_min_apply_delay"), "2h");
}

}  // namespace
}  // namespace pgw
