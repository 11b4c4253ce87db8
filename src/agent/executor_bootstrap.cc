// The executor's kBootstrap (Patroni's bootstrap and post_bootstrap): initdb and the first start as primary, the
// post_bootstrap script, the roles; only then the cluster is taken as initialized (initialize := system id, config
// seeded from bootstrap.dcs, leader key). A failure before that point is cleaned up as Patroni cleans it up and
// stops the agent (ha::CoreState::bootstrap_failed).
#include "agent/executor.h"
#include "pg/methods.h"

namespace pgw {

Status Executor::RunPostBootstrap() {
  const auto& script = cfg_->bootstrap.post_bootstrap;
  std::vector<std::string> argv = script;
  argv.push_back(PostBootstrapConninfo(*cfg_, RunningSocketDir(cfg_->postgresql.data_dir)));
  ProcessOptions o;
  // What Patroni gives the script: the superuser's password through a pgpass file (written with the first start),
  // and commits that never wait for a synchronous standby.
  o.env_set = {{"PGPASSFILE", cfg_->postgresql.pgpass}, {"PGOPTIONS", "-c synchronous_commit=local"}};
  // Patroni waits as long as the script runs; a day bounds a script that hangs for good.
  o.timeout = Duration(int64_t{24} * 3600 * 1000);
  std::string prog = argv[0].substr(argv[0].rfind('/') + 1);
  o.on_line = [&](const std::string& line) { log_.Info("post_bootstrap " + prog + ": " + line); };
  log_.Info("running post_bootstrap script " + argv[0]);
  auto r = pgw::Run(argv, o);
  if (!r.ok()) return r.status().Context("post_bootstrap script " + argv[0] + " could not be started");
  if (!r->Success()) return Internal("post_bootstrap script " + argv[0] + " failed (" + r->Describe() + ")");
  log_.Info("post_bootstrap script " + argv[0] + " finished");
  return Status::Ok();
}

Result<std::string> Executor::BootstrapPostgres() {
  // bootstrap.method: a custom command instead of initdb (pg/methods.cc), then the same steps, as in Patroni.
  const bool custom = cfg_->bootstrap.custom.has_value();
  auto sysid = custom ? pg_->BootstrapCustom() : pg_->Bootstrap();
  if (!sysid.ok()) return sysid.status();
  if (!cfg_->bootstrap.post_bootstrap.empty()) PGW_RETURN_IF_ERROR(RunPostBootstrap());
  Status roles = pg_->CreateRoles();
  if (!roles.ok()) return roles.Context("creating roles after bootstrap");
  if (custom) PGW_RETURN_IF_ERROR(pg_->FinishCustomBootstrap());
  return sysid;
}

std::string Executor::CleanUpFailedBootstrap(const Status& cause) {
  // As Patroni: free the initialize key first (another member may bootstrap), then stop and remove what we made.
  std::string why = cause.message();
  log_.Error("bootstrap failed: " + why +
             "; removing the initialize key, stopping PostgreSQL and removing the "
             "data directory");
  Status st = dcs_->CancelInitialize();
  if (!st.ok()) why += "; removing the initialize key failed too: " + st.message();
  st = pg_->Stop(StopMode::kImmediate);
  if (!st.ok()) why += "; stopping PostgreSQL failed too: " + st.message();
  st = pg_->WipeDataDir();
  if (!st.ok()) why += "; removing the data directory failed too: " + st.message();
  pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kFailed);
  return why;
}

Status Executor::Bootstrap(ha::ActionReport* r) {
  pg_state_.Move(cfg_->bootstrap.custom ? ha::PgState::kCustomBootstrap : ha::PgState::kInitializing,
                 ha::PgCause::kBootstrap);
  host_->TouchMember(LocalView{});
  auto sysid = BootstrapPostgres();
  if (!sysid.ok()) {
    r->bootstrap_failed = CleanUpFailedBootstrap(sysid.status());
    return sysid.status();
  }
  PGW_RETURN_IF_ERROR(dcs_->SetInitialize(*sysid, ""));
  PGW_RETURN_IF_ERROR(dcs_->InitializeConfig(cfg_->bootstrap.dcs.dump()));
  PGW_RETURN_IF_ERROR(dcs_->AttemptLeader());
  pg_state_.Move(ha::PgState::kRunning, ha::PgCause::kBootstrap);
  log_.Info("initialized a new cluster");
  return Status::Ok();
}

Status Executor::BootstrapStandby(const ha::BootstrapStandby& a, ha::ActionReport* r) {
  // Patroni's bootstrap_standby_leader: no initdb, no post_bootstrap, no roles (they come from the remote primary).
  pg_state_.Move(ha::PgState::kCreatingReplica, ha::PgCause::kBootstrap);
  host_->TouchMember(LocalView{});
  // Archive-only (no address): only the methods that need no leader run (pg/methods.h); none is a failure that
  // stops the agent, as in Patroni.
  Status s = pg_->CreateReplica(a.address, ReplicaMethodsInForce(*cfg_, dyn_)).Context("cloning from " + a.target);
  if (s.ok()) {
    pg_state_.Move(ha::PgState::kStarting, ha::PgCause::kBootstrap);
    s = pg_->Start(a.upstream, /*standby=*/true).Context("starting the clone of " + a.target);
  }
  std::string sysid;
  if (s.ok()) {
    sysid = pg_->Observe().sysid;
    if (sysid.empty()) s = Internal("cannot read the system identifier of the clone of " + a.target);
  }
  if (!s.ok()) {
    r->bootstrap_failed = CleanUpFailedBootstrap(s);
    return s;
  }
  PGW_RETURN_IF_ERROR(dcs_->SetInitialize(sysid, ""));
  PGW_RETURN_IF_ERROR(dcs_->InitializeConfig(cfg_->bootstrap.dcs.dump()));
  PGW_RETURN_IF_ERROR(dcs_->AttemptLeader());
  pg_state_.Move(ha::PgState::kRunning, ha::PgCause::kBootstrap);
  log_.Info("initialized a new standby cluster: this node is the standby leader, " +
            std::string(a.address ? "streaming from " : "replaying WAL from ") + a.target);
  return Status::Ok();
}

}  // namespace pgw
