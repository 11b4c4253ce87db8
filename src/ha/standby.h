// Standby clusters (Patroni's `standby_cluster`): the part of the decision core (decide.h) that runs when the
// dynamic configuration names a remote primary. The leader of such a cluster is a "standby leader": it holds the
// leader key and runs PostgreSQL in recovery, streaming from the remote primary; it is never promoted while the
// section is there. The other members cascade from it. Removing the section makes the standby leader an ordinary
// leader holding the lock in recovery, which the core promotes. Pure functions, like the rest of the core.
#pragma once

#include <optional>
#include <string>

#include "ha/decide.h"
#include "ha/decide_internal.h"

namespace pgw::ha {

// `u` with the recovery settings that go with it: restore_command, archive_cleanup_command and (for the remote
// primary only, as Patroni) recovery_min_apply_delay from standby_cluster when set there, else from
// postgresql.recovery_conf and the recovery parameters of postgresql.parameters (pg/recovery_conf.h RecoveryConf).
Upstream WithRecovery(const Inputs& in, Upstream u, bool remote);
// What the standby leader streams from: standby_cluster host:port, its primary_slot_name (with use_slots).
// Only in a standby cluster. In an archive-only one (restore_command, no host) the address is empty (no
// primary_conninfo: pg/conf.h) and there is no slot.
Upstream RemoteUpstream(const Inputs& in);
// standby_cluster host:port; none in an archive-only standby cluster.
std::optional<HostPort> RemoteAddress(const Inputs& in);
// "the remote primary 10.0.0.9:5432" ("the remote archive via restore_command"), for messages and the executor's
// log.
std::string RemoteName(const Inputs& in);

// Empty data directory, no `initialize` key, standby cluster: race for initialize, then clone from the remote
// primary and become the standby leader.
Decision BootstrapStandbyLeader(const Inputs& in);
// PostgreSQL runs in recovery and this node holds the leader key in a standby cluster.
Decision DecideStandbyLeader(const Inputs& in, bool lock_on_my_lease);

}  // namespace pgw::ha
