// Leadership changes: graceful demotion for a switchover, promotion, the history entry (agent/executor.h).
#include "agent/executor.h"

#include <sstream>

#include "ha/sync.h"

namespace pgw {

Status Executor::DemoteGracefully(const std::string& candidate, const ClusterView& view, ha::ActionReport* report) {
  log_.Info("manual failover: checkpointing, then stopping PostgreSQL so that " +
            (candidate.empty() ? std::string("a replica") : candidate) + " can take over");
  host_->CountDemotion();
  // Whether the failover key names the candidate: it then takes the key the moment it is released, without
  // looking at its peers (decide_replica.cc), so nothing needs to be published before the release.
  bool named_in_key = false;
  if (!candidate.empty() && view.failover) {
    const auto& f = view.failover->request;
    named_in_key = f && f->member == candidate;
    if (f && f->member.empty()) {
      // A switchover without a named candidate: name the one the core chose, so that it promotes in the cycle the
      // key is released (watch event) instead of checking its peers and waiting a loop (issue 10 item 12).
      Json named = view.failover->raw.is_object() ? view.failover->raw : Json::object();
      named["leader"] = cfg_->name;
      named["member"] = candidate;
      Status w = dcs_->ApiSetFailover(named.dump());
      if (!w.ok()) log_.Warn("manual failover: could not name " + candidate + " in the failover key: " + w.message());
      named_in_key = w.ok();
    }
  }
  if (dyn_.use_slots) {
    // The candidate advances its copies of the permanent slots to the positions in `status` when it promotes:
    // publish them once more, as late as we can query them.
    LocalView now = pg_->Observe();
    if (now.query_ok && !now.in_recovery) {
      Status w = dcs_->WriteStatus(EncodeStatus(now.wal_position, ha::PublishedSlots(*cfg_, dyn_, view, now)));
      if (!w.ok()) log_.Warn("manual failover: could not publish the slot positions: " + w.message());
    }
  }
  // Connect to the candidates' PostgreSQL while writes still run (their REST status is refreshed only once per
  // loop, and a new connection costs tens of ms that would add to the write gap).
  std::vector<std::string> names;
  for (const auto& [name, m] : view.members) {
    if (name != cfg_->name && (candidate.empty() || name == candidate)) names.push_back(name);
  }
  std::unique_ptr<Io::Candidates> conns = io_->ConnectCandidates(view, names);
  MonoTime t0 = clock_.Now();
  Status cp = pg_->Checkpoint();  // makes the shutdown checkpoint short
  if (!cp.ok()) log_.Warn(cp.message());
  MonoTime t1 = clock_.Now();
  PGW_RETURN_IF_ERROR(pg_->Stop(StopMode::kFast));
  MonoTime t2 = clock_.Now();
  host_->DisarmFencing();
  pg_state_.Move(ha::PgState::kStopped, ha::PgCause::kStop);
  int64_t ckpt = pg_->ShutdownCheckpointLsn();
  MonoTime t3 = clock_.Now();
  // Release the key once a candidate has received the shutdown checkpoint: from then on it has every commit.
  MonoTime give_up = clock_.Now() + Duration(std::max(5000, dyn_.loop_wait * 2000));
  bool confirmed = ckpt > 0 && conns->AwaitReceived(ckpt, give_up, [this] { return host_->Stopping(); });
  if (!confirmed) log_.Warn("manual failover: no replica confirmed the shutdown checkpoint; releasing the lock anyway");
  report->handed_over = confirmed;
  MonoTime t4 = clock_.Now();
  // GET /patroni must stop calling us primary before the key goes when the peers race for it: they would
  // otherwise see a live primary and wait a loop. A named candidate does not look (the release goes first then).
  if (!named_in_key || !confirmed) host_->Publish(pg_->Observe(), &view);
  Status rel = dcs_->DeleteLeader();
  auto ms = [](MonoTime a, MonoTime b) { return std::to_string((b - a).count()) + " ms"; };
  if (rel.ok()) {
    log_.Info("manual failover: leader key released (checkpoint " + ms(t0, t1) + ", stop " + ms(t1, t2) +
              ", control data " + ms(t2, t3) + ", shutdown checkpoint confirmed " + ms(t3, t4) + ", then " +
              ms(t4, clock_.Now()) + ")");
  }
  if (named_in_key && confirmed) host_->Publish(pg_->Observe(), &view);
  auto it = cfg_->postgresql.callbacks.find("on_stop");
  if (it != cfg_->postgresql.callbacks.end()) io_->FireCallback(it->second, "on_stop", "primary", cfg_->scope);
  return rel.code() == Code::kConflict ? Status::Ok() : rel;
}

Status Executor::PromoteNow(const ClusterView& view, ha::ActionReport* report) {
  MonoTime started = clock_.Now();
  PGW_RETURN_IF_ERROR(pg_->Promote());
  double promoted_at = clock_.WallSeconds();
  auto took = clock_.Now() - started;
  host_->CountPromotion(static_cast<double>(took.count()) / 1000.0);
  report->promoted = true;
  log_.Info("promoted PostgreSQL in " + std::to_string(took.count()) + " ms");
  // Copies of permanent slots go up to the last positions the former leader published (no further: a consumer
  // never misses a change, it may see some again).
  AdvanceToPublished(view);
  LocalView after = pg_->Observe();
  int64_t switch_lsn = 0;
  Status h = WriteHistoryAfterPromote(view, after, &switch_lsn);
  // The end-of-recovery checkpoint puts the new timeline in pg_control, which pg_rewind on the old primary reads.
  Status cp = pg_->Checkpoint();
  if (!cp.ok()) log_.Warn(cp.message());
  RecordPromotion(view, after, switch_lsn, promoted_at);
  return h;
}

Status Executor::WriteHistoryAfterPromote(const ClusterView& view, const LocalView& after, int64_t* switch_lsn) {
  if (after.timeline <= 1) return Status::Ok();
  auto text = io_->ReadTimelineHistory(after.timeline);
  if (!text.ok()) {
    log_.Warn("promoted, but cannot read the timeline history: " + text.status().message());
    return Status::Ok();
  }
  Json history = view.history_raw;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int tl;
    std::string lsn;
    if (!(ls >> tl >> lsn)) continue;
    std::string reason;
    std::getline(ls, reason);
    while (!reason.empty() && (reason.front() == '\t' || reason.front() == ' ')) reason.erase(0, 1);
    auto lsn_bytes = ParseLsn(lsn);
    if (lsn_bytes) *switch_lsn = *lsn_bytes;  // the last line is the newest switch
    bool known = false;
    for (const auto& e : history) known = known || (e.is_array() && !e.empty() && e[0] == tl);
    if (known) continue;
    history.push_back({tl, lsn_bytes.value_or(0), reason, IsoTimestamp(clock_.WallSeconds()), cfg_->name});
  }
  return dcs_->WriteHistory(history.dump());
}

}  // namespace pgw
