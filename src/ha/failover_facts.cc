#include "ha/failover_facts.h"

#include <algorithm>

#include "common/clock.h"
#include "ha/decide.h"

namespace pgw::ha {
namespace {

// The kind from the `failover` key: one naming the leader is a switchover, one naming only a candidate a manual
// failover (patronictl's failover verb); none (or one scheduled for later) means the lease went.
std::string KindOf(const ClusterView& view, double now) {
  if (!view.failover) return kKindFailover;
  const auto& f = view.failover->request;
  if (!f || (f->scheduled_at && *f->scheduled_at > now)) return kKindFailover;
  return f->leader.empty() ? kKindManualFailover : kKindSwitchover;
}

// The old leader when the trail does not know it (this agent started after it went): the newest record's new
// leader, else the leader of Patroni's last history entry.
std::string FallbackOldLeader(const ClusterView& view) {
  if (view.failovers) {
    auto log = DecodeFailoverLog(*view.failovers);
    if (log.ok() && !log->records.empty()) return log->records.back().new_leader;
  }
  return view.history.empty() ? "" : view.history.back().new_leader;
}

}  // namespace

void LeaderTrail::Observe(const ClusterView& v, double wall_now) {
  if (!v.leader) {
    if (current_ && current_->gone_at == 0) current_->gone_at = wall_now;
    return;
  }
  if (!current_ || current_->name != v.leader->name) {
    // The key changed hands between two views: the old holder was last seen in the previous one.
    if (current_ && current_->gone_at == 0) current_->gone_at = wall_now;
    if (current_) previous_ = current_;
    current_ = LeaderSighting{v.leader->name, std::nullopt, 0, 0};
  }
  current_->seen_at = wall_now;
  current_->gone_at = 0;
  const Member* m = v.FindMember(v.leader->name);
  if (m != nullptr && m->xlog_location) current_->xlog = m->xlog_location;
}

FailoverRecord BuildFailoverRecord(const LeaderTrail& trail, const ClusterView& view, const PromotionFacts& f) {
  FailoverRecord r;
  r.kind = KindOf(view, f.acquired_at);
  r.timeline = f.timeline;
  r.new_leader = f.new_leader;
  r.acquired_at = IsoTimestamp(f.acquired_at);
  r.promoted_at = IsoTimestamp(f.promoted_at);
  r.new_leader_start_lsn = f.start_lsn;
  // Our own key, seen in a cycle between taking it and promoting, is not the old leader.
  std::optional<LeaderSighting> old = trail.current();
  if (old && old->name == f.new_leader && old->gone_at == 0) old = trail.previous();
  std::optional<int64_t> lsn = view.last_lsn;
  if (old) {
    r.old_leader = old->name;
    if (old->xlog) lsn = std::max(lsn.value_or(0), *old->xlog);
    if (old->gone_at > 0) {
      double renewed = r.kind == kKindFailover ? old->gone_at - f.ttl : old->gone_at;
      r.old_lease_renewed_at = IsoTimestamp(renewed);
      r.downtime_s = std::max(0.0, f.promoted_at - renewed);
    }
  } else {
    r.old_leader = FallbackOldLeader(view);
  }
  r.old_leader_lsn = lsn;
  if (lsn) r.bytes_possibly_lost = std::max<int64_t>(0, *lsn - f.start_lsn);
  return r;
}

}  // namespace pgw::ha
