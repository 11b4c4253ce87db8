// Patroni's node status JSON (GET /patroni and the body of every health check, reference §1.3) and the
// health-check status codes, computed from the agent's cached state. Pure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "dcs/keys.h"
#include "ha/pg_state.h"
#include "pg/controller.h"

namespace pgw {

// The Patroni generation pgwarden emulates on the wire (role "primary", member "version").
inline constexpr const char* kPatroniCompatVersion = "4.0.0";
inline constexpr const char* kPgwardenVersion = "0.1.0";

struct NodeState {
  ha::PgState pg_state = ha::PgState::kStopped;
  LocalView local;
  bool is_leader = false;         // holds the leader key
  bool cluster_unlocked = false;  // no leader key at all
  bool dcs_ok = false;
  double dcs_last_seen = 0;         // wall seconds
  std::optional<int64_t> last_lsn;  // status.optime
  bool paused = false;              // maintenance mode (config `pause`)
  bool failsafe_active = false;     // running as primary on failsafe confirmations while etcd is unreachable
  bool sync_standby = false;        // a replica the `sync` key names (Patroni's "sync_standby": true)
  std::string sync_note;            // ha::SynchronousNote while leading as primary
  bool standby_cluster = false;     // the dynamic configuration has a standby_cluster section
  bool standby_leader = false;      // holds the leader key in a standby cluster
};

// The member's role as the member key and GET /patroni report it.
enum class MemberRole { kUninitialized, kPrimary, kReplica, kStandbyLeader };
// "uninitialized" / "primary" / "replica" / "standby_leader"
const char* RoleName(MemberRole r);
MemberRole RoleOf(const NodeState& s);
nlohmann::json StatusJson(const Config& cfg, const NodeState& s);

// The member key's fields that follow from the node's state, as Agent::TouchMember publishes them (the simulator
// publishes the same): all but the two addresses and a scheduled restart, which the caller sets.
MemberData MemberKeyData(const LocalView& local, const ha::PgStateMachine& pg_state, bool standby_leader,
                         const nlohmann::json& tags, bool pause, const std::string& sync_note);

}  // namespace pgw
