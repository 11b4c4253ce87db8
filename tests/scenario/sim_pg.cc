// The model PostgreSQL controller (what pg/controller.cc does to a real instance), over ModelPg.
#include "sim_world.h"

namespace pgw::sim {

namespace {
// The line PostgreSQL appends to the new timeline's history file: the old timeline and where it ends.
void NoteTimelineSwitch(ModelPg& pg) {
  pg.history += std::to_string(pg.timeline) + "\t" + FormatLsn(Lsn(pg.wal.size())) + "\tno recovery target specified\n";
}
}  // namespace

Status World::PgStart(SimNode& n, const std::optional<Upstream>& up, bool standby) {
  ModelPg& pg = n.pg;
  if (!pg.has_data) return Unavailable("start: no data directory");
  if (pg.running) return Status::Ok();
  pg.running = true;
  pg.gated = false;
  pg.pending.clear();
  if (standby) {
    pg.in_recovery = true;
    pg.upstream = up;
    // A start following a leader removes the gate marker; a read-only start following nobody keeps it (a crashed
    // primary may be promoted later), as pg/controller.cc Start.
    if (up && !up->address.host.empty()) pg.gate_marker = false;
    pg.backup_label = false;
    pg.cluster_state = "in archive recovery";
    return Status::Ok();
  }
  bool was_replica =
      pg.backup_label || pg.cluster_state == "shut down in recovery" || pg.cluster_state == "in archive recovery";
  pg.in_recovery = false;
  pg.upstream.reset();
  pg.backup_label = false;
  pg.cluster_state = "in production";
  if (was_replica) {
    // No standby.signal: recovery ends and PostgreSQL picks a new timeline.
    NoteTimelineSwitch(pg);
    pg.timeline = ++max_timeline_;
    pg.wal.push_back(next_record_++);
  }
  pg.gated = pg.gate_marker;
  pg.gate_lsn = pg.gated ? Lsn(pg.wal.size()) : 0;
  Trace(n.name, std::string("pg: started as primary") + (pg.gated ? " behind the client gate" : "") + " on timeline " +
                    std::to_string(pg.timeline));
  CheckNoLostCommits(n, "started as primary");
  return Status::Ok();
}

Status World::PgStop(SimNode& n, bool fast) {
  ModelPg& pg = n.pg;
  if (!pg.running) return Status::Ok();
  if (pg.frozen) return Timeout("pg_ctl stop: server does not shut down");
  bool primary = !pg.in_recovery && pg.promote_done_ms < 0;
  if (!fast) {
    PgCrash(n, "stopped (immediate)");
    return Status::Ok();
  }
  if (primary) {
    // The shutdown checkpoint; walsenders send it to the connected standbys before the postmaster exits.
    pg.wal.push_back(next_record_++);
    Replicate();
  }
  pg.running = false;
  pg.gated = false;
  pg.pending.clear();
  pg.promote_done_ms = -1;
  pg.cluster_state = primary ? "shut down" : "shut down in recovery";
  Trace(n.name, std::string("pg: stopped (fast) as ") + (primary ? "primary" : "replica"));
  return Status::Ok();
}

void World::PgCrash(SimNode& n, const std::string& why) {
  ModelPg& pg = n.pg;
  if (!pg.running) return;
  bool primary = !pg.in_recovery || pg.promote_done_ms >= 0;
  if (!pg.in_recovery && SyncModeNow() && pg.crash_unacked == 0) pg.crash_unacked = pg.wal.size();
  pg.running = false;
  pg.frozen = false;
  pg.gated = false;
  pg.pending.clear();
  pg.promote_done_ms = -1;
  pg.cluster_state = !pg.in_recovery ? "in production" : "in archive recovery";
  Trace(n.name, "pg: " + why + (primary ? " (was primary)" : ""));
}

Status World::PgPromote(SimNode& n) {
  ModelPg& pg = n.pg;
  if (!pg.running) return Unavailable("promote: PostgreSQL is not running");
  if (pg.frozen) return Timeout("promote: pg_ctl promote timed out");
  if (!pg.in_recovery) return Status::Ok();
  if (n.f.promote_delay_ms > 0) {
    pg.promote_done_ms = n.clock.mono_ms + n.f.promote_delay_ms;
    return Status::Ok();
  }
  FinishPromotion(n);
  return Status::Ok();
}

void World::FinishPromotion(SimNode& n) {
  ModelPg& pg = n.pg;
  pg.promote_done_ms = -1;
  if (!pg.running || !pg.in_recovery) return;
  pg.in_recovery = false;
  pg.upstream.reset();
  NoteTimelineSwitch(pg);
  pg.timeline = ++max_timeline_;
  pg.wal.push_back(next_record_++);
  pg.cluster_state = "in production";
  // pg/controller.cc Observe: a primary with the gate marker is gated; the first look takes the end of WAL.
  pg.gated = pg.gate_marker;
  pg.gate_lsn = pg.gated ? Lsn(pg.wal.size()) : 0;
  Trace(n.name,
        "pg: promoted to timeline " + std::to_string(pg.timeline) + (pg.gated ? " behind the client gate" : ""));
  CheckNoLostCommits(n, "promoted");
}

Status World::PgRewind(SimNode& n, const HostPort& source) {
  ModelPg& pg = n.pg;
  if (pg.running) return Unavailable("pg_rewind: PostgreSQL is running");
  SimNode* s = ByAddress(source);
  if (s == nullptr || !s->pg.running || s->pg.frozen || !Link(n, *s))
    return Unavailable("pg_rewind: source unreachable");
  size_t common = CommonPrefix(pg.wal, s->pg.wal);
  size_t dropped = pg.wal.size() - common;
  pg.wal = s->pg.wal;
  pg.timeline = s->pg.timeline;
  pg.history = s->pg.history;
  pg.cluster_state = "in archive recovery";
  pg.crash_unacked = 0;
  pg.backup_label = false;
  Trace(n.name, "pg: rewound from " + s->name + " (" + std::to_string(dropped) + " diverged record(s) dropped)");
  return Status::Ok();
}

Status World::PgClone(SimNode& n, const HostPort& source) {
  SimNode* s = ByAddress(source);
  if (s == nullptr || !s->pg.running || s->pg.frozen || !Link(n, *s))
    return Unavailable("pg_basebackup: source unreachable");
  ModelPg& pg = n.pg;
  pg.has_data = true;
  pg.sysid = s->pg.sysid;
  pg.wal = s->pg.wal;
  pg.timeline = s->pg.timeline;
  pg.history = s->pg.history;
  pg.backup_label = true;
  pg.cluster_state = "in production";
  pg.running = false;
  pg.in_recovery = false;
  pg.crash_unacked = 0;
  pg.gate_marker = s->pg.gate_marker;
  Trace(n.name, "pg: cloned from " + s->name);
  return Status::Ok();
}

Result<std::string> World::PgBootstrap(SimNode& n) {
  ModelPg& pg = n.pg;
  pg.has_data = true;
  pg.sysid = "7300000000000000" + std::to_string(100 + n.index);
  pg.wal = {next_record_++};
  pg.timeline = 1;
  pg.running = true;
  pg.in_recovery = false;
  pg.cluster_state = "in production";
  Trace(n.name, "pg: initdb, started as primary");
  return pg.sysid;
}

void World::PgWipe(SimNode& n) {
  bool frozen = n.pg.frozen, stalled = n.pg.stalled;
  n.pg = ModelPg{};
  n.pg.frozen = frozen;
  n.pg.stalled = stalled;
}

LocalView World::Observe(const SimNode& n) {
  const ModelPg& pg = n.pg;
  LocalView l;
  if (!pg.has_data) return l;
  l.data = LocalView::Data::kValid;
  l.sysid = pg.sysid;
  l.running = pg.running;
  l.timeline = pg.timeline;
  if (!pg.running) {
    l.cluster_state = pg.cluster_state;
    l.backup_label = pg.backup_label;
    return l;
  }
  l.query_ok = !pg.frozen;
  if (!l.query_ok) return l;
  l.in_recovery = pg.in_recovery;
  l.wal_position = Lsn(pg.wal.size());
  l.received_location = l.replayed_location = l.wal_position;
  l.upstream = pg.upstream;
  for (const auto& name : pg.slots) l.slots.push_back(SlotState{name, "physical", "", "", false, 0, 0});
  l.sync_names = pg.sync_names;
  l.gated = pg.gated;
  l.gate_lsn = pg.gate_lsn;
  if (pg.in_recovery) {
    l.replication_state = StreamingFrom(n) != nullptr ? "streaming" : "in archive recovery";
    return l;
  }
  SyncSpec spec = ParseSyncNames(pg.sync_names);
  int sync_given = 0;
  for (auto& r : nodes_) {
    if (r.get() == &n || StreamingFrom(*r) != &n) continue;
    bool listed = spec.any || std::find(spec.names.begin(), spec.names.end(), r->name) != spec.names.end();
    // PostgreSQL reports a listed standby as sync however far behind it is (issue 10 item 2).
    std::string state = "async";
    if (listed) state = sync_given++ < spec.count ? "sync" : "potential";
    l.replication.push_back({{"application_name", r->name},
                             {"state", "streaming"},
                             {"sync_state", state},
                             {"flush_lsn", FormatLsn(Lsn(r->pg.wal.size()))}});
    l.replication_flush[r->name] = Lsn(r->pg.wal.size());
  }
  return l;
}

}  // namespace pgw::sim
