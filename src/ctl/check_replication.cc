// pgwardenctl check: the verdicts on replication (each replica streaming through its slot from its upstream, on the
// leader's timeline, within the lag thresholds, reading the canary) and on synchronous mode. Pure.
#include <algorithm>
#include <cmath>

#include "ctl/check.h"
#include "ha/decide.h"

namespace pgw::ctl::check {

namespace {

std::string Seconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f s", s);
  return b;
}

std::string Bytes(int64_t b) {
  char s[48];
  if (b >= 1024 * 1024)
    std::snprintf(s, sizeof s, "%.1f MB", static_cast<double>(b) / 1024 / 1024);
  else if (b >= 1024)
    std::snprintf(s, sizeof s, "%.1f kB", static_cast<double>(b) / 1024);
  else
    std::snprintf(s, sizeof s, "%lld bytes", static_cast<long long>(b));
  return s;
}

DynamicConfig Dynamic(const ClusterView& c) {
  std::vector<std::string> problems;
  return DynamicConfig::FromJson(c.config ? *c.config : Json::object(), "config", &problems);
}

const ReplicationRow* SenderFor(const PgFacts& upstream, const std::string& member) {
  for (const auto& r : upstream.replication) {
    if (r.application_name == member) return &r;
  }
  return nullptr;
}

const SlotRow* SlotNamed(const PgFacts& pg, const std::string& slot) {
  for (const auto& s : pg.slots) {
    if (s.name == slot) return &s;
  }
  return nullptr;
}

CheckResult Streaming(const Facts& f, const std::string& name, const MemberFacts& m, bool use_slots) {
  const std::string up = UpstreamOf(f.cluster, name);
  auto uit = f.members.find(up);
  if (!m.pg.error.empty()) return Fail("replica.streaming", name, "its PostgreSQL does not answer");
  if (!m.pg.in_recovery) return Fail("replica.streaming", name, "not in recovery: a second primary");
  if (uit == f.members.end() || !uit->second.pg.error.empty()) {
    return Fail("replica.streaming", name, "its upstream " + up + " cannot be asked");
  }
  const PgFacts& upg = uit->second.pg;
  const ReplicationRow* row = SenderFor(upg, name);
  if (!row) return Fail("replica.streaming", name, "no WAL sender for it on " + up);
  if (row->state != "streaming") {
    return Fail("replica.streaming", name, "its WAL sender on " + up + " is in state '" + row->state + "'");
  }
  if (!use_slots) return Pass("replica.streaming", name, "streaming from " + up + " (use_slots is off)");
  const std::string slot = SlotNameFromMemberName(name);
  const SlotRow* s = SlotNamed(upg, slot);
  if (!s) return Fail("replica.streaming", name, "streaming from " + up + ", but " + up + " has no slot " + slot);
  if (!s->active || s->active_pid != row->pid) {
    return Fail("replica.streaming", name, "streaming from " + up + ", but not through its slot " + slot);
  }
  return Pass("replica.streaming", name, "streaming from " + up + " through slot " + slot);
}

CheckResult Timeline(const std::string& name, const MemberFacts& m, const std::string& leader, const PgFacts& lpg) {
  if (!m.pg.error.empty() || m.pg.timeline <= 0) return Fail("replica.timeline", name, "its timeline is unknown");
  if (!lpg.error.empty() || lpg.timeline <= 0)
    return Fail("replica.timeline", name, "the leader's timeline is unknown");
  if (m.pg.timeline != lpg.timeline) {
    return Fail("replica.timeline", name,
                "on timeline " + std::to_string(m.pg.timeline) + ", the leader " + leader + " on " +
                    std::to_string(lpg.timeline));
  }
  return Pass("replica.timeline", name, "on the leader's timeline " + std::to_string(lpg.timeline));
}

CheckResult Lag(const Facts& f, const std::string& name, const MemberFacts& m, const PgFacts& lpg,
                const CheckOptions& o) {
  if (!m.pg.error.empty() || !lpg.error.empty() || m.pg.lsn <= 0 || lpg.lsn <= 0) {
    return Fail("replica.lag", name, "unknown: the replica's or the leader's position could not be read");
  }
  const int64_t bytes = std::max<int64_t>(0, lpg.lsn - m.pg.lsn);
  double seconds = 0;
  auto up = f.members.find(UpstreamOf(f.cluster, name));
  if (up != f.members.end()) {
    for (const auto& r : up->second.pg.replication) {
      if (r.application_name == name && r.replay_lag_s) seconds = *r.replay_lag_s;
    }
  }
  const std::string what = Bytes(bytes) + " and " + Seconds(seconds) + " behind";
  const std::string limits = " (thresholds " + Bytes(o.max_lag_bytes) + ", " + Seconds(o.max_lag_seconds) + ")";
  if (bytes > o.max_lag_bytes || seconds > o.max_lag_seconds) return Fail("replica.lag", name, what + limits);
  return Pass("replica.lag", name, what + limits);
}

CheckResult Canary(const std::string& name, const MemberFacts& m, const CheckOptions& o) {
  if (*m.canary_seen) return Pass("replica.canary", name, "read the canary row after " + Seconds(m.canary_seconds));
  const double limit = static_cast<double>(o.canary_timeout.count()) / 1000.0;
  return Fail("replica.canary", name,
              "did not read the canary row within " + Seconds(limit) +
                  (m.canary_error.empty() ? std::string() : ": " + m.canary_error));
}

}  // namespace

std::vector<CheckResult> EvaluateReplication(const Facts& f, const CheckOptions& o) {
  std::vector<CheckResult> out;
  if (!f.cluster.leader) return out;  // leader.unique already fails; nothing to replicate from
  const std::string leader = f.cluster.leader->name;
  auto lit = f.members.find(leader);
  const PgFacts none = PgUnanswered("not asked");
  const PgFacts& lpg = lit == f.members.end() ? none : lit->second.pg;
  const bool use_slots = Dynamic(f.cluster).use_slots;
  if (f.canary_tried && !f.canary_write_error.empty()) {
    out.push_back(Fail("leader.canary", leader, "could not write the canary row: " + f.canary_write_error));
  }
  for (const auto& [name, m] : f.members) {
    if (name == leader) continue;
    out.push_back(Streaming(f, name, m, use_slots));
    out.push_back(Timeline(name, m, leader, lpg));
    out.push_back(Lag(f, name, m, lpg, o));
    if (m.canary_seen) out.push_back(Canary(name, m, o));
  }
  return out;
}

std::vector<CheckResult> EvaluateSync(const Facts& f) {
  std::vector<CheckResult> out;
  const DynamicConfig d = Dynamic(f.cluster);
  if (!d.synchronous_mode || !f.cluster.leader) return out;
  const std::string leader = f.cluster.leader->name;
  const std::vector<std::string> standbys = ha::SyncStandbys(f.cluster, leader);
  auto lit = f.members.find(leader);
  if (standbys.empty()) {
    std::string why = ha::SyncLeader(f.cluster).empty() ? "the sync key names no leader"
                                                        : "the sync key names " + ha::SyncLeader(f.cluster);
    out.push_back({"sync.standby", leader, d.synchronous_mode_strict ? Verdict::kFail : Verdict::kWarn,
                   "synchronous mode is on but no synchronous standby is published (" + why + ")"});
    return out;
  }
  for (const auto& s : standbys) {
    if (lit == f.members.end() || !lit->second.pg.error.empty()) {
      out.push_back(Fail("sync.standby", s, "published as synchronous, but the leader " + leader + " cannot be asked"));
      continue;
    }
    const ReplicationRow* row = SenderFor(lit->second.pg, s);
    if (!row) {
      out.push_back(Fail("sync.standby", s, "published as synchronous, but it does not stream from " + leader));
    } else if (row->sync_state != "sync" && row->sync_state != "quorum") {
      out.push_back(Fail("sync.standby", s,
                         "published as synchronous, but " + leader + "'s pg_stat_replication says sync_state '" +
                             row->sync_state + "'"));
    } else {
      out.push_back(Pass("sync.standby", s, "synchronous on " + leader + " (sync_state " + row->sync_state + ")"));
    }
  }
  return out;
}

}  // namespace pgw::ctl::check
