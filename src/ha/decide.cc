#include "ha/decide.h"

#include <algorithm>

#include "ha/decide_internal.h"
#include "ha/standby.h"
#include "ha/sync.h"

namespace pgw::ha {

void AddPromotion(const Inputs& in, Decision* d) {
  // Patroni's order: the pre_promote script may veto; in synchronous mode nobody is a synchronous standby of the
  // new leader yet (reference §3.3), and a lost compare-and-swap on `sync` means somebody else changed it (we may
  // have lost the lock): postpone; the fence is armed before PostgreSQL can accept a single write. Each of these
  // gives the leader key up when it fails, so that another member can take over. A failed promotion keeps it: the
  // next cycle decides again on what PostgreSQL then is.
  if (!in.config->postgresql.pre_promote.empty()) {
    d->actions.emplace_back(PrePromote{}, OnFailure::kReleaseLeader);
  }
  if (in.dynamic.synchronous_mode) {
    d->actions.emplace_back(WriteSync{.sync = {}, .promotion = true}, OnFailure::kReleaseLeader);
    // '*' when strict: no commit is acknowledged before a synchronous standby is back. Only warned when it fails.
    // Still a replica: its recovery settings stay until the promotion.
    d->actions.emplace_back(
        SetSyncNames{
            .sync_names = in.dynamic.synchronous_mode_strict ? "*" : "", .sync = {}, .upstream = in.local->upstream},
        OnFailure::kContinue);
  }
  d->actions.emplace_back(ArmFencing{.promotion = true}, OnFailure::kReleaseLeader);
  d->actions.emplace_back(Promote{});
}

void AddStartPrimary(const Inputs& in, bool gated, Decision* d) {
  // The fence is armed before PostgreSQL can accept a single write; a node that cannot arm it gives the key up.
  d->actions.emplace_back(ArmFencing{}, OnFailure::kReleaseLeader);
  StartPrimary start{.gated = gated, .sync_names = std::nullopt};
  if (in.dynamic.synchronous_mode) {
    // Restarting in place after a crash: only the published synchronous standbys (or '*' when strict and there
    // are none) may acknowledge commits from the first moment on.
    start.sync_names = RenderSyncNames(SyncStandbys(*in.cluster, in.config->name), in.dynamic.synchronous_node_count,
                                       in.dynamic.synchronous_mode_strict);
  }
  d->actions.emplace_back(start);
}

Action RestartInPlace(const Inputs& in) {
  // A primary starts again without recovery settings, the fence armed again before the start; a replica with the
  // recovery settings it runs with now.
  if (!in.local->in_recovery) return Restart{.primary = true, .upstream = std::nullopt};
  return Restart{.primary = false, .upstream = in.local->upstream};
}

std::string Me(const Inputs& in) { return "(" + in.config->name + ")"; }

std::optional<Upstream> UpstreamFor(const Inputs& in, const std::string& member) {
  const Member* m = in.cluster->FindMember(member);
  if (m == nullptr || !m->conn) return std::nullopt;
  std::string slot = in.dynamic.use_slots ? SlotNameFromMemberName(in.config->name) : "";
  return WithRecovery(in, Upstream{*m->conn, slot}, false);
}

// Adds kSyncSlots when the local slots differ from what this node should hold (ha/slots.h).
void AddSlotSync(const Inputs& in, bool leader, Decision* d) {
  if (!in.dynamic.use_slots) return;  // slots are not managed at all then
  SlotPlan plan = PlanSlots(*in.config, in.dynamic, *in.cluster, *in.local, leader);
  if (plan.Empty()) return;
  SyncSlots a;
  a.slots = plan.hold;
  if (!plan.copy.empty()) {
    const Member* lm = in.cluster->LeaderMember();
    if (lm == nullptr || !lm->conn) {
      plan.copy.clear();  // nobody to copy from yet
      if (plan.Empty()) return;
    } else {
      a.target = lm->name;
      a.address = lm->conn;
    }
  }
  a.slot_plan = plan;
  d->actions.push_back(a);
}

namespace {

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

Inputs WithoutReinit(const Inputs& in) {
  Inputs out = in;
  out.reinit_requested = false;
  return out;
}

Decision Paused(const Inputs& in, Decision d) {
  if (in.dynamic.pause) d.message = "PAUSE: " + d.message;
  return d;
}

}  // namespace

FailsafeTopology FailsafeMembers(const ClusterView& c) {
  FailsafeTopology j;
  for (const auto& [name, m] : c.members) {
    if (!m.api_url.empty()) j[name] = m.api_url;
  }
  return j;
}

// When the lease keeper last had a keepalive acknowledged: the deadline is that send time plus ttl.
MonoTime LastRenewal(const Inputs& in) { return in.lease_deadline - Duration(int64_t{in.dynamic.ttl} * 1000); }

bool LeaseSuspect(const Inputs& in) { return in.my_lease == 0 || in.now - LastRenewal(in) > SuspectAfter(in.dynamic); }

Duration SuspectAfter(const DynamicConfig& d) { return SuspectAfter(d.ttl); }

Duration SuspectAfter(int ttl_seconds) {
  // One renewal period (ttl/4, as the lease keeper renews) plus half a period of grace.
  return Duration(std::max<int64_t>(200, int64_t{ttl_seconds} * 1000 / 4) * 3 / 2);
}

bool DcsReachable(const Inputs& in) {
  return in.my_lease != 0 && in.now - LastRenewal(in) <= in.dynamic.RetryTimeout();
}

const char* ModeName(DemoteMode m) {
  switch (m) {
    case DemoteMode::kOffline: return "offline";
    case DemoteMode::kImmediateNoLock: return "immediate-nolock";
    case DemoteMode::kGraceful: return "graceful";
  }
  return "?";
}

const char* ModeName(const Action& a) {
  if (const auto* x = a.Get<Demote>()) return ModeName(x->mode);
  if (const auto* x = a.Get<StartPrimary>()) return x->gated ? "gated" : "";
  if (const auto* x = a.Get<StartReplica>()) return x->gated ? "gated" : "";
  if (const auto* x = a.Get<ArmFencing>()) return x->promotion ? "promotion" : "";
  if (const auto* x = a.Get<WriteSync>()) return x->promotion ? "promotion" : "";
  if (const auto* x = a.Get<Restart>()) return x->primary ? "primary" : "";
  return "";
}

const char* ActionName(ActionType t) {
  switch (t) {
    case ActionType::kAttemptInitialize: return "attempt_initialize";
    case ActionType::kBootstrap: return "bootstrap";
    case ActionType::kBootstrapStandby: return "bootstrap_standby";
    case ActionType::kClone: return "clone";
    case ActionType::kArmFencing: return "arm_fencing";
    case ActionType::kStartPrimary: return "start_primary";
    case ActionType::kStartReplica: return "start_replica";
    case ActionType::kFollow: return "follow";
    case ActionType::kAttemptLeader: return "attempt_leader";
    case ActionType::kRefreshLeader: return "refresh_leader";
    case ActionType::kPrePromote: return "pre_promote";
    case ActionType::kPromote: return "promote";
    case ActionType::kDemote: return "demote";
    case ActionType::kReleaseLeader: return "release_leader";
    case ActionType::kRewind: return "rewind";
    case ActionType::kReinitialize: return "reinitialize";
    case ActionType::kCheckFailsafe: return "check_failsafe";
    case ActionType::kWriteFailsafe: return "write_failsafe";
    case ActionType::kDeleteFailover: return "delete_failover";
    case ActionType::kRestart: return "restart";
    case ActionType::kSetSyncNames: return "set_sync_names";
    case ActionType::kWriteSync: return "write_sync";
    case ActionType::kDeleteSync: return "delete_sync";
    case ActionType::kWriteStatus: return "write_status";
    case ActionType::kSyncSlots: return "sync_slots";
    case ActionType::kOpenGate: return "open_gate";
    case ActionType::kCheckPeers: return "check_peers";
    case ActionType::kWait: return "wait";
    case ActionType::kFatal: return "fatal";
  }
  return "?";
}

std::optional<std::string> UpstreamMember(const Config& cfg, const ClusterView& cluster) {
  const std::string& from = cfg.tags.replicatefrom;
  if (!from.empty() && from != cfg.name) {
    const Member* m = cluster.FindMember(from);
    if (m != nullptr && m->IsRunning() && m->conn) return from;
  }
  if (cluster.leader && cluster.leader->name != cfg.name) return cluster.leader->name;
  return std::nullopt;
}

std::vector<std::string> WantedSlots(const Config& cfg, const ClusterView& cluster, bool i_am_leader) {
  std::vector<std::string> out;
  for (const auto& [name, m] : cluster.members) {
    if (name == cfg.name) continue;
    std::string from = m.ReplicateFrom();
    const Member* src = from.empty() || from == name ? nullptr : cluster.FindMember(from);
    bool cascades = src != nullptr && src->IsRunning() && src->conn;
    if (i_am_leader ? (!cascades || from == cfg.name) : (cascades && from == cfg.name)) {
      out.push_back(SlotNameFromMemberName(name));
    }
  }
  return Sorted(out);
}

Decision Decide(const Inputs& in) {
  const Config& cfg = *in.config;
  const ClusterView& c = *in.cluster;
  const LocalView& l = *in.local;
  Decision d;

  if (!in.state.bootstrap_failed.empty()) {
    // Patroni too stops after a failed bootstrap instead of trying again: the same configuration would fail the
    // same way, and the initialize key is free for another member.
    Fatal fatal{.why = "Failed to bootstrap cluster: " + in.state.bootstrap_failed +
                       "; the initialize key and the data directory were removed, so another member may bootstrap; "
                       "fix the cause and start pgwarden again"};
    d.actions.push_back(fatal);
    d.reason = Reason::kBootstrapFailed;
    d.message = "stopping after a failed bootstrap";
    return d;
  }
  if (l.data == LocalView::Data::kInvalid) {
    d.actions.push_back(Fatal{});
    d.reason = Reason::kInvalidDataDir;
    d.message = l.data_problem;
    return d;
  }
  if (l.data == LocalView::Data::kEmpty) {
    if (in.dynamic.pause) {
      d.actions.push_back(Wait{});
      d.reason = Reason::kPausedEmptyDataDir;
      d.message = "PAUSE: running with empty data directory";
      return d;
    }
    return DecideEmptyDataDir(in);
  }

  if (c.initialize && !c.initialize->empty() && !l.sysid.empty() && *c.initialize != l.sysid) {
    d.actions.push_back(Fatal{});
    d.reason = Reason::kSysidMismatch;
    d.message =
        "system ID mismatch, node " + cfg.name + " belongs to a different cluster: " + l.sysid + " != " + *c.initialize;
    return d;
  }

  bool dcs_ok = DcsReachable(in);
  bool have_lock = dcs_ok && c.leader && c.leader->name == cfg.name;
  bool lock_on_my_lease = have_lock && in.my_lease != 0 && c.leader->lease == in.my_lease;

  if (in.reinit_requested) {
    if (dcs_ok && !have_lock && c.leader) {
      d.actions.push_back(Reinitialize{});
      d.reason = Reason::kReinitializeRequested;
      d.message = "reinitializing: stopping PostgreSQL and removing the data directory; the next cycle clones";
      return d;
    }
    Decision rest = Decide(WithoutReinit(in));
    rest.message += !dcs_ok     ? " (reinitialize not done)"
                    : have_lock ? " (reinitialize not done: I am the leader)"
                                : " (reinitialize not done: the cluster has no leader)";
    return rest;
  }

  if (!l.running) return Paused(in, DecideStopped(in, have_lock, lock_on_my_lease));
  if (!l.query_ok) {
    d.actions.push_back(Wait{});
    d.reason = Reason::kPgUnreachable;
    d.message = "Error communicating with PostgreSQL. Will try again later";
    return Paused(in, d);
  }

  if (!l.in_recovery) return Paused(in, DecidePrimary(in, dcs_ok, have_lock, lock_on_my_lease));
  return Paused(in, DecideReplica(in, dcs_ok, have_lock, lock_on_my_lease));
}

}  // namespace pgw::ha
