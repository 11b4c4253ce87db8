// SimPgControl (sim_pg_control.h): PgController over the model PostgreSQL.
#include "sim_pg_control.h"

#include <algorithm>

#include "dcs/keys.h"

namespace pgw::sim {

Status SimPgControl::Reachable(const char* what) const {
  if (!n_.pg.running) return Unavailable(std::string(what) + ": PostgreSQL is not running");
  if (n_.pg.frozen) return Timeout(std::string(what) + ": timed out");
  return Status::Ok();
}

LocalView::Data SimPgControl::InspectDataDir(std::string* /*problem*/) const {
  return n_.pg.has_data ? LocalView::Data::kValid : LocalView::Data::kEmpty;
}

Status SimPgControl::ApplySyncNames(const std::string& v, const std::optional<Upstream>& upstream) {
  sync_names_ = v;
  return Reload(upstream);
}

Status SimPgControl::Reload(const std::optional<Upstream>& /*upstream*/) {
  PGW_RETURN_IF_ERROR(Reachable("reload"));
  n_.pg.sync_names = sync_names_.value_or("");
  return Status::Ok();
}

Result<std::string> SimPgControl::Bootstrap() {
  auto sysid = w_.PgBootstrap(n_);
  if (!sysid.ok() || n_.f.initdb_ms <= 0) return sysid;
  // initdb takes this long: PostgreSQL starts once it is done, the HA loop waits for it.
  n_.pg.running = false;
  sleep_(Duration(n_.f.initdb_ms));
  n_.pg.running = true;
  return sysid;
}

Status SimPgControl::CreateRoles() { return Reachable("creating roles"); }

Status SimPgControl::Clone(const HostPort& source) { return w_.PgClone(n_, source); }

Status SimPgControl::CreateReplica(const std::optional<HostPort>& source, const std::vector<std::string>& methods) {
  // Only pg_basebackup from the leader is modelled (restores from a backup without a leader are not).
  if (!source) return NotModelled("creating a replica without a leader");
  for (const auto& m : methods) {
    if (m != "basebackup") return NotModelled("replica method " + m);
  }
  return w_.PgClone(n_, *source);
}

Status SimPgControl::Start(const std::optional<Upstream>& upstream, bool standby) {
  bool was_running = n_.pg.running;
  Status s = w_.PgStart(n_, upstream, standby || upstream.has_value());
  // postgresql.conf is written before the start: synchronous_standby_names as the HA loop set it (unmanaged:
  // the configured value, empty in the model).
  if (s.ok() && !was_running) n_.pg.sync_names = sync_names_.value_or("");
  return s;
}

Status SimPgControl::Stop(StopMode mode) { return w_.PgStop(n_, mode != StopMode::kImmediate); }

Status SimPgControl::Promote() {
  PGW_RETURN_IF_ERROR(w_.PgPromote(n_));
  // pg_promote and the wait until recovery has ended: a slow promotion holds the HA loop.
  while (n_.pg.running && n_.pg.promote_done_ms >= 0) sleep_(Duration(n_.pg.promote_done_ms - n_.clock.mono_ms));
  if (!n_.pg.running) return Unavailable("promote: PostgreSQL is not running");
  return Status::Ok();
}

Status SimPgControl::Follow(const Upstream& upstream) {
  PGW_RETURN_IF_ERROR(Reachable("reload"));
  n_.pg.upstream = upstream;
  return Status::Ok();
}

Status SimPgControl::DropSlots(const std::vector<std::string>& drop) {
  if (drop.empty()) return Status::Ok();
  PGW_RETURN_IF_ERROR(Reachable("dropping slots"));
  // A primary never drops the slot of a member whose key exists (issue 10 item 12).
  if (!n_.pg.in_recovery) {
    for (const auto& s : drop) {
      if (MemberKeyForSlot(s)) {
        w_.Violation(n_.name + " dropped the slot " + s + " of a live member");
      }
    }
  }
  for (const auto& s : drop) std::erase(n_.pg.slots, s);
  return Status::Ok();
}

bool SimPgControl::MemberKeyForSlot(const std::string& slot) const {
  std::string mp = w_.etcd().prefix() + "members/";
  for (const auto& [k, kv] : w_.etcd().kvs()) {
    if (k.rfind(mp, 0) == 0 && SlotNameFromMemberName(k.substr(mp.size())) == slot) return true;
  }
  return false;
}

Status SimPgControl::CreateSlots(const std::vector<SlotSpec>& create) {
  if (create.empty()) return Status::Ok();
  PGW_RETURN_IF_ERROR(Reachable("creating slots"));
  for (const auto& c : create) {
    if (std::find(n_.pg.slots.begin(), n_.pg.slots.end(), c.name) == n_.pg.slots.end()) n_.pg.slots.push_back(c.name);
  }
  return Status::Ok();
}

Status SimPgControl::AdvanceSlots(const std::map<std::string, int64_t>& to, const std::vector<SlotState>& /*local*/) {
  if (to.empty()) return Status::Ok();
  return Reachable("advancing slots");  // positions are not modelled
}

Status SimPgControl::Checkpoint() { return Reachable("checkpoint"); }

Result<ControlData> SimPgControl::ReadControlData() {
  if (!n_.pg.has_data) return IoError("pg_controldata: no data directory");
  ControlData cd;
  cd.sysid = n_.pg.sysid;
  cd.state = n_.pg.cluster_state;
  cd.timeline = n_.pg.timeline;
  cd.checkpoint_lsn = ShutdownCheckpointLsn();
  return cd;
}

int64_t SimPgControl::ShutdownCheckpointLsn() {
  // The shutdown checkpoint is the last record of a cleanly stopped primary (World::PgStop); its start.
  const ModelPg& pg = n_.pg;
  if (!pg.has_data || pg.running || pg.cluster_state != "shut down" || pg.wal.empty()) return 0;
  return Lsn(pg.wal.size() - 1);
}

Status SimPgControl::WipeDataDir() {
  w_.PgWipe(n_);
  return Status::Ok();
}

Status SimPgControl::CloseGate() {
  if (!n_.pg.has_data) return IoError("closing the client gate: no data directory");
  n_.pg.gate_marker = true;
  return Status::Ok();
}

Status SimPgControl::OpenGate() {
  n_.pg.gate_marker = false;
  // A running primary rereads pg_hba.conf (reload): clients may connect.
  if (n_.pg.running) {
    PGW_RETURN_IF_ERROR(Reachable("opening the client gate"));
    n_.pg.gated = false;
  }
  return Status::Ok();
}

}  // namespace pgw::sim
