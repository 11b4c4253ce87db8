// The failovers key (dcs/failovers.h): the new leader appends the record of its promotion, the old leader fills in
// how it came back. Both are best effort: a failed write is logged and never holds up the HA loop's real work.
#include "agent/executor.h"

#include "dcs/failovers.h"

namespace pgw {

void Executor::RecordPromotion(const ClusterView& view, const LocalView& after, int64_t switch_lsn,
                               double promoted_at) {
  rejoin_outcome_.clear();
  if (after.timeline <= 1) return;  // nothing was promoted onto a new timeline
  ha::PromotionFacts f;
  f.new_leader = cfg_->name;
  f.timeline = after.timeline;
  // Without a readable timeline history, the position right after the promotion is the nearest known start.
  f.start_lsn = switch_lsn > 0 ? switch_lsn : after.wal_position;
  f.promoted_at = promoted_at;
  f.acquired_at = acquired_at_ > 0 && acquired_at_ <= promoted_at ? acquired_at_ : promoted_at;
  acquired_at_ = 0;  // a later promotion under a key taken earlier must not reuse this term's time
  f.ttl = dyn_.ttl;
  FailoverRecord rec = ha::BuildFailoverRecord(leader_trail_, view, f);
  Status s = dcs_->UpdateFailovers(
      view.failovers, view.failovers_mod_revision,
      [&](const std::optional<std::string>& current) -> std::optional<std::string> {
        FailoverLog log;
        if (current) {
          auto decoded = DecodeFailoverLog(*current);
          // A key nobody can read would block every later record: start a new list, and say what was dropped.
          if (decoded.ok())
            log = std::move(*decoded);
          else
            log_.Warn("replacing the failovers key, which does not decode: " + decoded.status().message());
        }
        if (!AppendFailover(&log, rec)) return std::nullopt;  // recorded by an earlier try
        return EncodeFailoverLog(log);
      });
  if (!s.ok()) {
    log_.Warn("promoted, but could not record the failover: " + s.message());
    return;
  }
  log_.Info("recorded the " + rec.kind + " from " + (rec.old_leader.empty() ? "an unknown leader" : rec.old_leader) +
            " in the failovers key" +
            (rec.bytes_possibly_lost ? " (" + std::to_string(*rec.bytes_possibly_lost) + " bytes possibly lost)"
                                     : std::string()));
}

void Executor::ReportRejoin(const ClusterView& view, const LocalView& local, bool unreconciled) {
  if (!view.failovers || unreconciled) return;
  // Back means: running as a replica that follows somebody, while another member leads.
  if (!local.running || !local.query_ok || !local.in_recovery || !local.upstream) return;
  if (!view.leader || view.leader->name == cfg_->name) return;
  auto log = DecodeFailoverLog(*view.failovers);
  if (!log.ok() || !NeedsRejoin(*log, cfg_->name, view.leader->name)) return;
  std::string outcome = rejoin_outcome_.empty() ? kRejoinRejoined : rejoin_outcome_;
  std::string at = IsoTimestamp(clock_.WallSeconds());
  bool filled = false;
  Status s = dcs_->UpdateFailovers(view.failovers, view.failovers_mod_revision,
                                   [&](const std::optional<std::string>& current) -> std::optional<std::string> {
                                     if (!current) return std::nullopt;
                                     auto l = DecodeFailoverLog(*current);
                                     if (!l.ok() || !SetRejoin(&*l, cfg_->name, view.leader->name, outcome, at))
                                       return std::nullopt;
                                     filled = true;
                                     return EncodeFailoverLog(*l);
                                   });
  if (!s.ok()) {
    log_.Warn("could not record how this node rejoined: " + s.message());
    return;
  }
  if (filled) {
    log_.Info("recorded in the failovers key that this former leader " + outcome);
    rejoin_outcome_.clear();
  }
}

}  // namespace pgw
