// The HA decision core: a pure function of what the agent observed. No I/O, no clock reads, no randomness.
//
//   Decide(inputs) -> Decision{actions, message, reason}
//
// The executor (agent/) applies the actions in order and stops at the first that fails; the next cycle observes
// the new state and decides again. What a failure means beyond that is stated here, per action (OnFailure): the
// executor releases the leader key first when the core asks it to, or logs the failure and goes on. So every policy
// lives in the core: a promotion, for instance, is the plan
//
//   [pre_promote] [write_sync() set_sync_names()] arm_fencing promote
//
// (the pre_promote script when one is configured, the `sync` key and synchronous_standby_names in synchronous mode),
// where a refused script, a lost compare-and-swap on `sync` and a fence that cannot be armed each release the leader
// key, and a failed promotion itself does not. Every decision carries one line for the log, worded like Patroni's
// (reference §3.19) so that existing alerting keeps matching.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "common/config.h"
#include "dcs/keys.h"
#include "ha/core_state.h"
#include "ha/reason.h"
#include "ha/slots.h"
#include "pg/controller.h"

namespace pgw::ha {

// What a peer said on GET /patroni during an election.
struct PeerStatus {
  std::string name;
  bool reachable = false;
  bool is_primary = false;  // reports not in recovery (xlog.location present)
  int64_t wal_position = 0;
  bool nofailover = false;
  int failover_priority = 1;
};

struct Inputs {
  const Config* config = nullptr;
  DynamicConfig dynamic;  // from the DCS `config` key, or bootstrap.dcs before it exists
  const ClusterView* cluster = nullptr;
  const LocalView* local = nullptr;
  int64_t my_lease = 0;           // our current lease id (0: none)
  std::vector<PeerStatus> peers;  // filled only when the leader key is absent
  bool peers_checked = false;     // whether `peers` was gathered this cycle

  // Time and the lease. The view of etcd is trusted only while the lease was renewed within retry_timeout:
  // lease_deadline - ttl is the send time of the last acknowledged keepalive (dcs/lease_keeper.h).
  MonoTime now{};
  MonoTime lease_deadline{};

  // Failsafe mode (etcd unreachable): whether every member listed in `failsafe` accepted POST /failsafe.
  bool failsafe_checked = false;
  bool failsafe_ok = false;
  // A primary told us through POST /failsafe that it is alive; we do not race before this.
  MonoTime failsafe_primary_until{};
  // failsafe_primary_until comes from this agent's start, not from a POST /failsafe (only the message differs).
  bool failsafe_restart_hold = false;

  // What earlier cycles learned (ha/core_state.h): the core's own state, kept by the caller between cycles.
  CoreState state;
  bool watchdog_unusable = false;  // watchdog.mode is required and the device cannot be used
  double wall_now = 0;             // wall seconds (scheduled switchovers)
  bool restart_requested = false;  // POST /restart (or a due scheduled restart)
  // POST /reinitialize, taken once: carried out when this node does not hold the leader key and the cluster has a
  // leader (Patroni's rule, pause mode included); otherwise the cycle's message says why it was not.
  bool reinit_requested = false;
};

// Whether pg_control says this data directory was last a primary (running, crashed, or shut down as primary).
bool WasPrimary(const LocalView& l);
// Whether pg_control says PostgreSQL died as a primary (crashed, or crashed again during crash recovery).
bool Crashed(const LocalView& l);

// Whether the view of etcd is fresh enough to act on (see Inputs::lease_deadline).
bool DcsReachable(const Inputs& in);
// Send time of the last keepalive etcd acknowledged (lease_deadline - ttl).
MonoTime LastRenewal(const Inputs& in);
// Whether a keepalive went unanswered: the last renewal is older than SuspectAfter (a renewal period and a half).
bool LeaseSuspect(const Inputs& in);
Duration SuspectAfter(const DynamicConfig& d);
Duration SuspectAfter(int ttl_seconds);
// Synchronous replication (reference §3.9, DESIGN.md safety rule 5).
// The leader named in `sync` ("" when there is no such key or name).
std::string SyncLeader(const ClusterView& c);
// The synchronous standbys published in `sync` when its leader is `leader` (empty otherwise).
std::vector<std::string> SyncStandbys(const ClusterView& c, const std::string& leader);
// synchronous_standby_names for these members: '' / "a" / 2 ("a","b"); strict and none: '*'.
std::string RenderSyncNames(const std::vector<std::string>& names, int count, bool strict);

// How the leader's synchronous replication stands, for the member key and GET /patroni: "" (not in synchronous
// mode, or a synchronous standby is published), "alone" (non-strict, commits are not replicated synchronously),
// "waiting" (strict, commits wait for a standby).
std::string SynchronousNote(const DynamicConfig& dyn, const ClusterView& c, const std::string& me);

// `failsafe` as the leader publishes it: {name: api_url} of every member.
FailsafeTopology FailsafeMembers(const ClusterView& c);

enum class ActionType {
  kAttemptInitialize,  // create-only race for `initialize`; the rest of the plan runs only if we won
  kBootstrap,          // initdb, start as primary, roles; then initialize := sysid, seed config, take leader
  kBootstrapStandby,   // standby cluster: pg_basebackup from the remote primary (`address`), start in recovery
                       // following `upstream`; then initialize := sysid, seed config, take leader (standby leader)
  kClone,              // pg_basebackup from `target`
  kArmFencing,         // arm the fencer for our lease (watchdog too), before PostgreSQL may accept a write; fails
                       // when watchdog.mode is required and the device cannot be used. `promotion`: a step of a
                       // promotion (its failure is worded as Patroni's, and CoreState forgets the synchronous
                       // measurements); otherwise of a start as primary
  kStartPrimary,       // start PostgreSQL without recovery settings (after kArmFencing), with
                       // synchronous_standby_names := `sync_names` when set (synchronous mode); unset: not managed
  kStartReplica,       // start PostgreSQL following `upstream` (none: read-only, following nobody)
  kFollow,             // re-point a running replica at `upstream` (reload)
  kAttemptLeader,      // create-only acquire of `leader`
  kRefreshLeader,      // re-attach our leader key to our current lease
  kPrePromote,         // run postgresql.pre_promote and wait for it; fails (the promotion is vetoed) when it exits
                       // non-zero (ActionReport::at: when it ended)
  kPromote,            // promote PostgreSQL (after kArmFencing), then the `history` and `failovers` records
  kDemote,             // stop PostgreSQL (`mode`: offline = fast, immediate-nolock, graceful); the next cycle
                       // brings it back as a replica (after pg_rewind when needed)
  kReleaseLeader,      // delete `leader` (compare on our name)
  kRewind,             // pg_rewind from `target` at `address`
  kReinitialize,       // stop PostgreSQL (immediate) if it runs, wipe the data directory; the next cycle clones
  kCheckFailsafe,      // POST /failsafe to every member in `failsafe`, then decide again
  kWriteFailsafe,      // failsafe := {name: api_url} of every member
  kDeleteFailover,     // remove the `failover` key (done, stale, or impossible)
  kRestart,            // stop (fast) and start PostgreSQL again in the role the core states. `primary`: as a
                       // primary, the fence armed between the stop and the start (a failed arm fails the restart);
                       // otherwise in recovery following `upstream` (none: following nobody)
  kSetSyncNames,       // synchronous_standby_names := `sync_names` (reload, keeping `upstream`: the recovery
                       // settings of a replica about to be promoted); then measure the WAL position
                       // (ActionReport::wal_position, kept in CoreState::sync_added_lsn) for every member in `sync`
  kWriteSync,          // sync := {"leader": me, "sync_standby": `sync`} (compare-and-swap). `promotion`: the
                       // reset before a promotion (`sync` empty), worded as Patroni's when the compare fails
  kDeleteSync,         // remove `sync` (synchronous_mode turned off)
  kWriteStatus,        // status := {"optime": optime, "slots": slot_lsns}
  kSyncSlots,          // carry out `slot_plan` (ha/slots.h): drop, create, advance, copy from the leader at
                       // `address` (`target`); `slots` lists what the node holds afterwards
  kOpenGate,           // let clients connect again after a crash restart in synchronous mode (`why`)
  kCheckPeers,         // gather GET /patroni of every member, then decide again (election input)
  kWait,               // nothing to do but wait (message says why)
  kFatal,              // the agent must stop: `why` (or the decision's message) says why
};

// What a failed action means besides ending the plan, carried out by the executor.
enum class OnFailure {
  kStop,           // the rest of the plan is skipped (the default)
  kReleaseLeader,  // delete `leader` first (best effort: a failure is only logged), then stop
  kContinue,       // log it and go on with the plan
};

// How a kDemote stops PostgreSQL.
enum class DemoteMode {
  kOffline,          // fast shutdown (the leader key is kept or lost by the cycle's own rules)
  kImmediateNoLock,  // immediate shutdown of a primary that no longer holds the key
  kGraceful,         // planned switchover: checkpoint, hand over to `target`, stop cleanly
};
// "offline", "immediate-nolock", "graceful": Patroni's words (logs, traces).
const char* ModeName(DemoteMode m);

// The steps of a plan: one type per ActionType, in its order, each holding only what that step needs (see
// ActionType for what each does).
struct AttemptInitialize {
  static constexpr ActionType kType = ActionType::kAttemptInitialize;
  bool operator==(const AttemptInitialize&) const = default;
};
struct Bootstrap {
  static constexpr ActionType kType = ActionType::kBootstrap;
  bool operator==(const Bootstrap&) const = default;
};
struct BootstrapStandby {
  static constexpr ActionType kType = ActionType::kBootstrapStandby;
  std::optional<Upstream> upstream;  // what the new standby leader follows
  std::optional<HostPort> address;   // the remote primary to clone (none: restored from the archive)
  std::string target;                // the remote primary or archive, in words
  bool operator==(const BootstrapStandby&) const = default;
};
struct Clone {
  static constexpr ActionType kType = ActionType::kClone;
  std::string target;               // the member cloned from ("" without a leader)
  std::optional<HostPort> address;  // its address (none: only no_leader methods may run)
  bool operator==(const Clone&) const = default;
};
struct ArmFencing {
  static constexpr ActionType kType = ActionType::kArmFencing;
  bool promotion = false;  // a step of a promotion; otherwise of a start as primary
  bool operator==(const ArmFencing&) const = default;
};
struct StartPrimary {
  static constexpr ActionType kType = ActionType::kStartPrimary;
  bool gated = false;                     // clients wait behind the client gate
  std::optional<std::string> sync_names;  // synchronous_standby_names to start with (none: not managed)
  bool operator==(const StartPrimary&) const = default;
};
struct StartReplica {
  static constexpr ActionType kType = ActionType::kStartReplica;
  std::optional<Upstream> upstream;  // none: read-only, following nobody
  bool gated = false;                // the client gate closed across the read-only start
  bool operator==(const StartReplica&) const = default;
};
struct Follow {
  static constexpr ActionType kType = ActionType::kFollow;
  Upstream upstream;
  std::string target;  // the member (or remote) followed, in words
  bool operator==(const Follow&) const = default;
};
struct AttemptLeader {
  static constexpr ActionType kType = ActionType::kAttemptLeader;
  bool operator==(const AttemptLeader&) const = default;
};
struct RefreshLeader {
  static constexpr ActionType kType = ActionType::kRefreshLeader;
  bool operator==(const RefreshLeader&) const = default;
};
struct PrePromote {
  static constexpr ActionType kType = ActionType::kPrePromote;
  bool operator==(const PrePromote&) const = default;
};
struct Promote {
  static constexpr ActionType kType = ActionType::kPromote;
  bool operator==(const Promote&) const = default;
};
struct Demote {
  static constexpr ActionType kType = ActionType::kDemote;
  DemoteMode mode = DemoteMode::kOffline;
  std::string target;  // kGraceful: the candidate ("" any replica)
  bool operator==(const Demote&) const = default;
};
struct ReleaseLeader {
  static constexpr ActionType kType = ActionType::kReleaseLeader;
  bool operator==(const ReleaseLeader&) const = default;
};
struct Rewind {
  static constexpr ActionType kType = ActionType::kRewind;
  std::string target;  // the leader rewound from
  HostPort address;
  bool operator==(const Rewind&) const = default;
};
struct Reinitialize {
  static constexpr ActionType kType = ActionType::kReinitialize;
  bool operator==(const Reinitialize&) const = default;
};
struct CheckFailsafe {
  static constexpr ActionType kType = ActionType::kCheckFailsafe;
  bool operator==(const CheckFailsafe&) const = default;
};
struct WriteFailsafe {
  static constexpr ActionType kType = ActionType::kWriteFailsafe;
  bool operator==(const WriteFailsafe&) const = default;
};
struct DeleteFailover {
  static constexpr ActionType kType = ActionType::kDeleteFailover;
  bool operator==(const DeleteFailover&) const = default;
};
struct Restart {
  static constexpr ActionType kType = ActionType::kRestart;
  bool primary = false;              // started again as a primary (the fence armed between stop and start)
  std::optional<Upstream> upstream;  // otherwise: the recovery settings (none: following nobody)
  bool operator==(const Restart&) const = default;
};
struct SetSyncNames {
  static constexpr ActionType kType = ActionType::kSetSyncNames;
  std::string sync_names;            // the value for synchronous_standby_names
  std::vector<std::string> sync;     // the members whose WAL position is measured after the change
  std::optional<Upstream> upstream;  // a replica about to be promoted: its recovery settings, kept
  bool operator==(const SetSyncNames&) const = default;
};
struct WriteSync {
  static constexpr ActionType kType = ActionType::kWriteSync;
  std::vector<std::string> sync;  // the members published as synchronous standbys
  bool promotion = false;         // the reset before a promotion
  bool operator==(const WriteSync&) const = default;
};
struct DeleteSync {
  static constexpr ActionType kType = ActionType::kDeleteSync;
  bool operator==(const DeleteSync&) const = default;
};
struct WriteStatus {
  static constexpr ActionType kType = ActionType::kWriteStatus;
  int64_t optime = 0;
  std::map<std::string, int64_t> slot_lsns;  // status.slots
  bool operator==(const WriteStatus&) const = default;
};
struct SyncSlots {
  static constexpr ActionType kType = ActionType::kSyncSlots;
  SlotPlan slot_plan;
  std::vector<std::string> slots;   // what the node holds afterwards
  std::string target;               // the leader logical slots are copied from
  std::optional<HostPort> address;  // its address (none: nothing to copy)
  bool operator==(const SyncSlots&) const = default;
};
struct OpenGate {
  static constexpr ActionType kType = ActionType::kOpenGate;
  std::string why;
  bool operator==(const OpenGate&) const = default;
};
struct CheckPeers {
  static constexpr ActionType kType = ActionType::kCheckPeers;
  bool operator==(const CheckPeers&) const = default;
};
struct Wait {
  static constexpr ActionType kType = ActionType::kWait;
  bool operator==(const Wait&) const = default;
};
struct Fatal {
  static constexpr ActionType kType = ActionType::kFatal;
  std::string why;  // "": the decision's message says it
  bool operator==(const Fatal&) const = default;
};

using Step = std::variant<AttemptInitialize, Bootstrap, BootstrapStandby, Clone, ArmFencing, StartPrimary, StartReplica,
                          Follow, AttemptLeader, RefreshLeader, PrePromote, Promote, Demote, ReleaseLeader, Rewind,
                          Reinitialize, CheckFailsafe, WriteFailsafe, DeleteFailover, Restart, SetSyncNames, WriteSync,
                          DeleteSync, WriteStatus, SyncSlots, OpenGate, CheckPeers, Wait, Fatal>;

// One step of a plan and what its failure means. A value: copied, compared, never allocated on its own.
struct Action {
  // Every step converts to an Action, so that a plan reads as a list of steps: {AttemptLeader{}, Promote{}}.
  template <typename S>
  requires(std::is_constructible_v<Step, S> && !std::is_same_v<S, Action>)
      Action(S s, OnFailure f = OnFailure::kStop)  // NOLINT(google-explicit-constructor)
      : step(std::move(s)), on_failure(f) {}
  Step step;
  OnFailure on_failure = OnFailure::kStop;
  ActionType type() const { return static_cast<ActionType>(step.index()); }
  // The step as S, or nullptr.
  template <typename S>
  const S* Get() const {
    return std::get_if<S>(&step);
  }
  template <typename S>
  S* Get() {
    return std::get_if<S>(&step);
  }
  bool operator==(const Action&) const = default;
};

namespace detail {
template <size_t... I>
constexpr bool StepsInTypeOrder(std::index_sequence<I...> /*unused*/) {
  return ((std::variant_alternative_t<I, Step>::kType == static_cast<ActionType>(I)) && ...);
}
}  // namespace detail
// Action::type() is the index of the step: the alternatives follow ActionType's order.
static_assert(detail::StepsInTypeOrder(std::make_index_sequence<std::variant_size_v<Step>>{}));
static_assert(std::variant_size_v<Step> == static_cast<size_t>(ActionType::kFatal) + 1);

// How an action is carried out, in the words logs and traces use: "" (nothing particular), a kDemote's mode,
// "gated" (a start behind the client gate), "promotion" (kArmFencing/kWriteSync as steps of a promotion),
// "primary" (kRestart as a primary).
const char* ModeName(const Action& a);

struct Decision {
  std::vector<Action> actions;
  std::string message;            // one line: what was decided and why
  Reason reason = Reason::kNone;  // the same as a code (ha/reason.h); every decision sets one
};

Decision Decide(const Inputs& in);

// Helpers shared with the executor and the REST API.
const char* ActionName(ActionType t);
// Standby cluster (ha/standby.h): the dynamic configuration names a remote primary. The ClusterView form applies
// Patroni's rule to the stored `config` key (for the REST API and pgwardenctl).
bool IsStandbyCluster(const DynamicConfig& d);
bool IsStandbyCluster(const ClusterView& c);
// The member a replica should stream from: its replicatefrom member when that one is running, else the leader.
std::optional<std::string> UpstreamMember(const Config& cfg, const ClusterView& cluster);
// Slots this node must hold: one per member that streams from it (all other members on the leader, except those
// cascading from another member; on a replica, the members whose replicatefrom names it).
std::vector<std::string> WantedSlots(const Config& cfg, const ClusterView& cluster, bool i_am_leader);

}  // namespace pgw::ha
