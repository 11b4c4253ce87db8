// Executor::Execute and ExecuteOne: carrying out the actions of one decision (agent/executor.h).
#include "agent/executor.h"

#include <algorithm>
#include <variant>

#include "agent/peers.h"
#include "common/fs.h"
#include "ha/sync.h"
#include "pg/fence.h"
#include "pg/methods.h"

namespace pgw {

Executor::Executor(const ConfigCell& cfg, const DynamicConfig& dyn, const Clock& clock, Logger& log, Dcs& dcs,
                   PgControl& pg, CallbackRunner& callbacks, ha::PgStateMachine& pg_state, Host& host)
    : Executor(cfg, dyn, clock, log, dcs, pg, MakeExecutorIo(cfg, clock, log, callbacks), nullptr, pg_state, host) {}

Executor::Executor(const ConfigCell& cfg, const DynamicConfig& dyn, const Clock& clock, Logger& log, Dcs& dcs,
                   PgControl& pg, Io& io, ha::PgStateMachine& pg_state, Host& host)
    : Executor(cfg, dyn, clock, log, dcs, pg, nullptr, &io, pg_state, host) {}

Executor::Executor(const ConfigCell& cfg, const DynamicConfig& dyn, const Clock& clock, Logger& log, Dcs& dcs,
                   PgControl& pg, std::unique_ptr<Io> own_io, Io* io, ha::PgStateMachine& pg_state, Host& host)
    : cfg_(cfg),
      dyn_(dyn),
      clock_(clock),
      log_(log),
      dcs_(&dcs),
      pg_(&pg),
      own_io_(std::move(own_io)),
      io_(io != nullptr ? io : own_io_.get()),
      pg_state_(pg_state),
      host_(&host) {}

Executor::~Executor() = default;

bool Executor::Execute(const ha::Decision& d, const ClusterView& view, const LocalView& local, ha::CoreState* core) {
  for (const auto& a : d.actions) {
    if (host_->Stopping()) return false;
    ha::ActionReport report;
    Status s = ExecuteOne(a, view, local, &report);
    report.ok = s.ok();
    *core = ha::Record(std::move(*core), a, report, local, dyn_);
    if (!s.ok()) {
      if (a.on_failure == ha::OnFailure::kContinue) {
        log_.Warn(s.message());
        continue;
      }
      if (a.on_failure == ha::OnFailure::kReleaseLeader) {
        // The core's word for this step: another member may take over (best effort: the key lapses with our
        // lease otherwise).
        Status rel = dcs_->DeleteLeader();
        if (!rel.ok()) log_.Warn(rel.message());
      }
      if (a.type() == ha::ActionType::kFatal) return false;
      if (s.code() == Code::kAlreadyExists && a.type() == ha::ActionType::kAttemptInitialize) {
        log_.Info("failed to acquire initialize lock");
      } else if (s.code() == Code::kAlreadyExists && a.type() == ha::ActionType::kAttemptLeader) {
        log_.Info("failed to acquire the leader lock: another member holds it");
      } else {
        log_.Error(std::string(ha::ActionName(a.type())) + " failed: " + s.message());
      }
      return false;
    }
  }
  return true;
}

Status Executor::ExecuteOne(const ha::Action& a, const ClusterView& view, const LocalView& local, ha::ActionReport* r) {
  using ha::ActionType;
  // Each case reads the step of its own type: Action::type() is the index of the step, so std::get cannot throw.
  switch (a.type()) {
    case ActionType::kWait:
    case ActionType::kCheckPeers: return Status::Ok();
    case ActionType::kFatal: {
      const std::string& why = std::get<ha::Fatal>(a.step).why;
      log_.Error(why.empty() ? "stopping: fatal condition" : why);
      host_->Fatal();
      return Internal("fatal");
    }
    case ActionType::kAttemptInitialize: return dcs_->AttemptInitialize("");
    case ActionType::kBootstrap: return Bootstrap(r);
    case ActionType::kBootstrapStandby: return BootstrapStandby(std::get<ha::BootstrapStandby>(a.step), r);
    case ActionType::kClone: {
      const ha::Clone& c = std::get<ha::Clone>(a.step);
      pg_state_.Move(ha::PgState::kCreatingReplica, ha::PgCause::kClone);
      host_->TouchMember(local);
      // create_replica_methods in order (pg/methods.h); without an address (no leader), only no_leader ones.
      Status s = pg_->CreateReplica(c.address, ReplicaMethodsInForce(*cfg_, dyn_));
      std::string from = c.address ? "from " + c.target : "without a leader";
      if (!s.ok()) {
        pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kFailed);
        Status w = pg_->WipeDataDir();
        if (!w.ok()) log_.Error(w.message());
        return s.Context("creating a replica " + from);
      }
      log_.Info("created a replica " + from);
      return Status::Ok();
    }
    case ActionType::kArmFencing:
      return host_->ArmFencing().Context(std::get<ha::ArmFencing>(a.step).promotion
                                             ? "Not promoting self because watchdog could not be activated"
                                             : "not starting as primary");
    case ActionType::kStartPrimary: {
      const ha::StartPrimary& start = std::get<ha::StartPrimary>(a.step);
      pg_state_.Move(ha::PgState::kStarting, ha::PgCause::kStart);
      if (start.gated) {
        PGW_RETURN_IF_ERROR(pg_->CloseGate());
        r->at = clock_.Now();
        log_.Warn(
            "client gate closed: only replication and pgwarden's roles may connect until a synchronous "
            "standby has received all WAL");
      }
      if (start.sync_names) pg_->SetSyncNames(*start.sync_names);
      r->start_attempted = true;
      return pg_->Start(std::nullopt);
    }
    case ActionType::kStartReplica: {
      const ha::StartReplica& start = std::get<ha::StartReplica>(a.step);
      pg_state_.Move(ha::PgState::kStarting, ha::PgCause::kStart);
      pg_->SetSyncNames(std::nullopt);
      if (start.gated) {
        // Kept across the read-only start (following nobody): honoured if this node is promoted later.
        PGW_RETURN_IF_ERROR(pg_->CloseGate());
        log_.Warn(
            "client gate closed: this crashed primary starts read-only; should it be promoted, clients wait "
            "until a synchronous standby has received all WAL");
      }
      r->start_attempted = true;  // the core may now take a former primary as unreconciled
      return pg_->Start(start.upstream, /*standby=*/true);
    }
    case ActionType::kFollow: {
      const ha::Follow& f = std::get<ha::Follow>(a.step);
      if (f.upstream.address.host.empty()) {
        log_.Info("changing the recovery settings to follow " + f.target + " (no primary_conninfo) and reloading");
      } else {
        log_.Info("changing primary_conninfo to follow " + f.target + " (" + f.upstream.address.ToString() +
                  ") and reloading");
      }
      Status s = pg_->Follow(f.upstream);
      auto it = cfg_->postgresql.callbacks.find("on_reload");
      if (s.ok() && it != cfg_->postgresql.callbacks.end()) {
        io_->FireCallback(it->second, "on_reload", CallbackRole(false, StandbyLeader(view)), cfg_->scope);
      }
      return s;
    }
    case ActionType::kAttemptLeader: {
      Status s = dcs_->AttemptLeader();
      if (s.ok()) acquired_at_ = clock_.WallSeconds();
      return s;
    }
    case ActionType::kRefreshLeader: return dcs_->RefreshLeader();
    case ActionType::kPrePromote: {
      bool allowed = io_->RunPrePromote(cfg_->postgresql.pre_promote, Duration(cfg_->postgresql.pg_ctl_timeout * 1000));
      r->at = clock_.Now();
      return allowed ? Status::Ok() : Internal("Promotion cancelled because the pre-promote script failed");
    }
    case ActionType::kPromote: return PromoteNow(view, r);
    case ActionType::kDemote: {
      const ha::Demote& demote = std::get<ha::Demote>(a.step);
      if (demote.mode == ha::DemoteMode::kGraceful) return DemoteGracefully(demote.target, view, r);
      host_->CountDemotion();
      StopMode mode = demote.mode == ha::DemoteMode::kOffline ? StopMode::kFast : StopMode::kImmediate;
      log_.Info(std::string("demoting: stopping PostgreSQL (") + ha::ModeName(demote.mode) + ")");
      Status s = pg_->Stop(mode);
      if (!s.ok()) return s;
      host_->DisarmFencing();
      pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kStop);
      return Status::Ok();
    }
    case ActionType::kReleaseLeader: {
      r->at = clock_.Now();  // given up on purpose: the core lets the others take it before racing again
      Status s = dcs_->DeleteLeader();
      if (s.code() == Code::kConflict) return Status::Ok();  // not ours any more: nothing to release
      return s;
    }
    case ActionType::kRewind: {
      const ha::Rewind& rewind = std::get<ha::Rewind>(a.step);
      Status s = pg_->Rewind(rewind.address);
      if (s.ok()) {
        rejoin_outcome_ = kRejoinRewound;
        log_.Info("pg_rewind from " + rewind.target + " finished");
      }
      return s;
    }
    case ActionType::kReinitialize: {
      if (local.running) {
        // POST /reinitialize on a running replica (Patroni stops it immediately too): nothing of it is kept.
        PGW_RETURN_IF_ERROR(pg_->Stop(StopMode::kImmediate));
        pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kStop);
      }
      log_.Info("removing the data directory to clone it again");
      rejoin_outcome_ = kRejoinRecloned;
      return pg_->WipeDataDir();
    }
    case ActionType::kCheckFailsafe: return Status::Ok();
    case ActionType::kDeleteFailover: return dcs_->DeleteFailover();
    case ActionType::kSetSyncNames: {
      const ha::SetSyncNames& set = std::get<ha::SetSyncNames>(a.step);
      log_.Info(set.sync_names.empty() ? std::string("synchronous_standby_names := '' (no synchronous standby)")
                                       : "synchronous_standby_names := '" + set.sync_names + "'");
      PGW_RETURN_IF_ERROR(pg_->ApplySyncNames(set.sync_names, set.upstream));
      if (set.sync.empty()) return Status::Ok();
      // Safety rule 9: measured after the change, so the position covers every commit acknowledged before it.
      LocalView after = pg_->Observe();
      if (!after.query_ok || after.in_recovery) {
        return Unavailable("cannot read the WAL position after changing synchronous_standby_names");
      }
      r->wal_position = after.wal_position;
      log_.Info("synchronous standby candidates added at " + FormatLsn(after.wal_position) +
                ": published once they have flushed it");
      return Status::Ok();
    }
    case ActionType::kDeleteSync:
      log_.Info("synchronous_mode is off: removing the sync key");
      return dcs_->DeleteSync();
    case ActionType::kWriteSync: {
      const ha::WriteSync& write = std::get<ha::WriteSync>(a.step);
      if (write.promotion) {
        return dcs_->WriteSync(EncodeSync(cfg_->name, write.sync), view.sync_mod_revision)
            .Context("Postponing promotion because synchronous replication state was updated by somebody else");
      }
      std::string list;
      for (const auto& n : write.sync) list += (list.empty() ? "" : ",") + n;
      log_.Info("Synchronous standby status assigned to [" + list + "]");
      return dcs_->WriteSync(EncodeSync(cfg_->name, write.sync), view.sync_mod_revision);
    }
    case ActionType::kRestart: {
      host_->RestartStarting();
      log_.Info("restarting PostgreSQL");
      const ha::Restart& restart = std::get<ha::Restart>(a.step);
      bool primary = restart.primary;
      std::optional<Upstream> up = primary ? std::nullopt : restart.upstream;
      Status s = pg_->Stop(StopMode::kFast);
      if (s.ok()) {
        pg_state_.Move(ha::PgState::kStarting, ha::PgCause::kRestart);
        if (primary) s = host_->ArmFencing();
        if (s.ok()) s = pg_->Start(up, /*standby=*/!primary);
      }
      host_->RestartFinished(s.ok());
      auto it = cfg_->postgresql.callbacks.find("on_restart");
      if (s.ok() && it != cfg_->postgresql.callbacks.end()) {
        io_->FireCallback(it->second, "on_restart", CallbackRole(primary, StandbyLeader(view)), cfg_->scope);
      }
      return s;
    }
    case ActionType::kWriteFailsafe: return dcs_->WriteFailsafe(EncodeFailsafe(ha::FailsafeMembers(view)));
    case ActionType::kWriteStatus: {
      const ha::WriteStatus& status = std::get<ha::WriteStatus>(a.step);
      return dcs_->WriteStatus(EncodeStatus(status.optime, status.slot_lsns));
    }
    case ActionType::kSyncSlots: return SyncSlots(std::get<ha::SyncSlots>(a.step), local);
    case ActionType::kOpenGate: {
      Status s = pg_->OpenGate();
      if (s.ok()) log_.Info("client gate opened: " + std::get<ha::OpenGate>(a.step).why);
      return s;
    }
  }
  return Internal("unknown action");
}

Status Executor::SyncSlots(const ha::SyncSlots& a, const LocalView& local) {
  const ha::SlotPlan& p = a.slot_plan;
  PGW_RETURN_IF_ERROR(pg_->DropSlots(p.drop));
  PGW_RETURN_IF_ERROR(pg_->CreateSlots(p.create));
  Status advanced = pg_->AdvanceSlots(p.advance, local.slots);
  if (p.copy.empty() || !a.address || !local.upstream || local.upstream->address.host.empty()) return advanced;
  pg_state_.Move(ha::PgState::kRestarting, ha::PgCause::kRestart);
  Status s = pg_->CopyLogicalSlots(*a.address, p.copy, *local.upstream);
  return s.Context("copying logical slots from " + a.target);
}

void Executor::AdvanceToPublished(const ClusterView& view) {
  if (!dyn_.use_slots) return;
  const auto& published = view.status.slots;
  LocalView now = pg_->Observe();
  if (!now.query_ok) log_.Warn("after the promotion: cannot read the replication slots, none is advanced");
  std::map<std::string, int64_t> to;
  std::string mine = SlotNameFromMemberName(cfg_->name);
  for (const auto& s : now.slots) {
    auto it = published.find(s.name);
    if (s.name == mine || it == published.end()) continue;
    int64_t at = s.type == "logical" ? s.confirmed_flush_lsn : s.restart_lsn;
    if (at >= it->second) continue;
    if (s.active) {
      log_.Warn("after the promotion: slot " + s.name + " is in use, not advancing it to " + FormatLsn(it->second));
      continue;
    }
    to[s.name] = it->second;
    log_.Info("after the promotion: advancing slot " + s.name + " from " + FormatLsn(at) + " to " +
              FormatLsn(it->second) + ", where the former leader last published it");
  }
  for (const auto& entry : dyn_.slots) {
    const std::string& name = entry.first;
    bool held = std::any_of(now.slots.begin(), now.slots.end(), [&](const SlotState& s) { return s.name == name; });
    if (!held && published.count(name))
      log_.Warn("after the promotion: permanent slot " + name + " has no local copy to advance");
  }
  Status s = pg_->AdvanceSlots(to, now.slots);
  if (!s.ok()) log_.Warn("after the promotion: " + s.message());
}

}  // namespace pgw
