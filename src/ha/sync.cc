#include "ha/sync.h"

#include <algorithm>

#include "ha/decide_internal.h"

namespace pgw::ha {
namespace {

bool Contains(const std::vector<std::string>& v, const std::string& n) {
  return std::find(v.begin(), v.end(), n) != v.end();
}

}  // namespace

// The leader's synchronous replication (reference §3.9). One step per cycle; the next cycle sees its effect.
std::vector<std::pair<std::string, int64_t>> SyncCandidates(const Inputs& in) {
  const ClusterView& c = *in.cluster;
  const LocalView& l = *in.local;
  const std::string& me = in.config->name;
  std::vector<std::string> current = SyncStandbys(c, me);
  std::vector<std::pair<std::string, int64_t>> streaming;
  for (const auto& [name, flush] : l.replication_flush) {
    const Member* m = c.FindMember(name);
    if (m == nullptr || name == me || !m->IsRunning() || m->tags.value("nosync", false) == true) continue;
    // A standby that may not be promoted cannot take over the acknowledged commits it holds: choosing it would
    // leave a crashed primary with nobody to hand over to (and its clients' commits on a node that never leads).
    if (m->NoFailover()) continue;
    if (in.dynamic.maximum_lag_on_syncnode >= 0 && l.wal_position - flush > in.dynamic.maximum_lag_on_syncnode) {
      continue;
    }
    streaming.emplace_back(name, flush);
  }
  std::stable_sort(streaming.begin(), streaming.end(), [&](const auto& a, const auto& b) {
    if (Contains(current, a.first) != Contains(current, b.first)) return Contains(current, a.first);
    return a.second > b.second;
  });
  return streaming;
}

void SyncHousekeeping(const Inputs& in, Decision* d) {
  const ClusterView& c = *in.cluster;
  const LocalView& l = *in.local;
  const DynamicConfig& dyn = in.dynamic;
  const std::string& me = in.config->name;
  std::vector<std::string> current = SyncStandbys(c, me);
  std::vector<std::pair<std::string, int64_t>> streaming = SyncCandidates(in);
  std::vector<std::string> desired;
  for (const auto& [name, flush] : streaming) {
    if (static_cast<int>(desired.size()) < dyn.synchronous_node_count) desired.push_back(name);
  }
  std::sort(desired.begin(), desired.end());
  // 1. Remove first from `sync`.
  std::vector<std::string> keep;
  for (const auto& n : current) {
    if (Contains(desired, n)) keep.push_back(n);
  }
  bool sync_key_ours = SyncLeader(c) == me;
  bool shrink = keep.size() != current.size() || !sync_key_ours;
  if (shrink) {
    WriteSync a;
    a.sync = keep;
    d->actions.push_back(a);
  }
  // 2. Then PostgreSQL, in the same cycle: the executor stops at the first failed action, so PostgreSQL changes
  // only once the smaller `sync` is written, and a lost standby's replacement is waited for from this cycle on.
  // The executor measures the primary's WAL position right after the change for every member in `sync` of the
  // action (the ones not yet published): that member is published only once it has flushed that far.
  std::vector<std::string> unpublished;
  for (const auto& n : desired) {
    if (!Contains(keep, n)) unpublished.push_back(n);
  }
  std::string want = RenderSyncNames(desired, dyn.synchronous_node_count, dyn.synchronous_mode_strict);
  std::vector<std::string> unmeasured;
  for (const auto& n : unpublished) {
    if (in.state.sync_added_lsn.find(n) == in.state.sync_added_lsn.end()) unmeasured.push_back(n);
  }
  if (l.sync_names != want || !unmeasured.empty()) {
    // Also when PostgreSQL already has the wanted value but this agent never measured when a member was added
    // (an agent restart, a value set by hand): setting it again and measuring now is later, hence stricter.
    SetSyncNames a;
    a.sync_names = want;
    a.sync = l.sync_names != want ? unpublished : unmeasured;
    d->actions.push_back(a);
    return;
  }
  if (shrink) return;
  // 3. Publish the standbys PostgreSQL reports as synchronous and that have flushed the primary's WAL position of
  // the moment they were added (safety rule 9): pg_stat_replication calls a standby far behind "sync" at once, and
  // commits acknowledged before the change (by a former standby, or by nobody in non-strict mode) are not on it.
  std::vector<std::string> confirmed = keep;
  for (const auto& row : l.replication) {
    std::string name = row.value("application_name", "");
    std::string st = row.value("sync_state", "");
    if ((st != "sync" && st != "quorum") || !Contains(unpublished, name)) continue;
    auto added = in.state.sync_added_lsn.find(name);
    auto flushed = l.replication_flush.find(name);
    if (added == in.state.sync_added_lsn.end() || flushed == l.replication_flush.end()) continue;
    if (flushed->second >= added->second) confirmed.push_back(name);
  }
  std::sort(confirmed.begin(), confirmed.end());
  if (confirmed != current) {
    WriteSync a;
    a.sync = confirmed;
    d->actions.push_back(a);
  }
}

// The client gate after a crash restart in synchronous mode (docs/synchronous.md): opens once a synchronous standby
// has flushed the end of WAL recovery left (every commit nobody acknowledged is then on two nodes), when
// synchronous mode is turned off, or, without synchronous_mode_strict, once no candidate has streamed for a ttl
// (the primary would run alone anyway). Returns a note for the loop line.
std::string ClientGate(const Inputs& in, Decision* d) {
  const LocalView& l = *in.local;
  if (!l.gated) return "";
  auto open = [&](const std::string& why) {
    d->actions.push_back(OpenGate{.why = why});
    return "; opening the client gate: " + why;
  };
  if (!in.dynamic.synchronous_mode) return open("synchronous_mode is off");
  if (l.gate_lsn == 0) return " (client gate closed: measuring the end of WAL)";
  for (const auto& n : SyncStandbys(*in.cluster, in.config->name)) {
    auto it = l.replication_flush.find(n);
    if (it != l.replication_flush.end() && it->second >= l.gate_lsn) {
      return open("synchronous standby " + n + " has flushed " + FormatLsn(l.gate_lsn));
    }
  }
  if (!in.dynamic.synchronous_mode_strict && SyncCandidates(in).empty() &&
      in.now - in.state.gate_since >= Duration(static_cast<int64_t>(in.dynamic.ttl) * 1000)) {
    return open("no synchronous standby streamed for ttl; running alone (synchronous_mode_strict is off)");
  }
  return " (client gate closed until a synchronous standby has flushed " + FormatLsn(l.gate_lsn) + ")";
}

std::string SynchronousNote(const DynamicConfig& dyn, const ClusterView& c, const std::string& me) {
  if (!dyn.synchronous_mode || !SyncStandbys(c, me).empty()) return "";
  return dyn.synchronous_mode_strict ? "waiting" : "alone";
}

std::string SyncLeader(const ClusterView& c) { return c.sync ? c.sync->leader : std::string(); }

std::vector<std::string> SyncStandbys(const ClusterView& c, const std::string& leader) {
  if (leader.empty() || SyncLeader(c) != leader) return {};
  std::vector<std::string> out = c.sync->members;
  std::sort(out.begin(), out.end());
  return out;
}

std::string RenderSyncNames(const std::vector<std::string>& names, int count, bool strict) {
  if (names.empty()) return strict ? "*" : "";
  auto quote = [](const std::string& n) { return "\"" + n + "\""; };
  if (names.size() == 1) return quote(names[0]);
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ",") + quote(n);
  return std::to_string(std::min<int>(count, static_cast<int>(names.size()))) + " (" + list + ")";
}

}  // namespace pgw::ha
