// The recovery parameters of a replica as Patroni builds them (postgresql.recovery_conf, and the recovery
// parameters a user put under postgresql.parameters): written into postgresql.conf only while PostgreSQL runs as a
// replica, never on a primary. Pure functions, any thread.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace pgw {

// Patroni's recovery parameters (the list of its validator): settings that only matter in recovery, including the
// names of PostgreSQL before 12 (standby_mode, trigger_file, pause_at_recovery_target). Case-insensitive.
bool IsRecoveryParameter(const std::string& name);

// The recovery parameters this node's replica configuration starts from, names in lower case, null values (unset)
// left out: the local postgresql.recovery_conf when it has a key, else the dynamic configuration's (Patroni puts the
// local postgresql section's keys over the dynamic one's whole; non-scalar values there are skipped). The recovery
// parameters of postgresql.parameters (dynamic, then local) go over them, as Patroni moves them into recovery_conf:
// EffectiveParameters (conf.h) leaves them out of postgresql.conf. Nothing is dropped yet.
Json RecoveryConf(const Config& cfg, const DynamicConfig& dyn);

// What a replica's postgresql.conf takes from RecoveryConf besides its Upstream (conf.h). Left out:
// primary_conninfo, primary_slot_name and every recovery_target* (pgwarden sets them: a replica streams from its
// upstream, follows the latest timeline and stops at no target); restore_command, archive_cleanup_command and
// recovery_min_apply_delay, which the Upstream carries (ha/standby.h WithRecovery) so that the decision core compares
// them with what PostgreSQL runs with; names that are not recovery parameters, parameters PostgreSQL `major` does
// not have and values it would refuse (pg/param_check.h). Each is reported in `warnings` as
// "postgresql.recovery_conf.<name>: ...". `major` 0 (unknown): values unchecked.
Json ReplicaRecoveryParameters(int major, const Config& cfg, const DynamicConfig& dyn,
                               std::vector<std::string>* warnings);

}  // namespace pgw
