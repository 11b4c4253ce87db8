// Patroni's custom methods: a bootstrap command run instead of initdb (bootstrap.method), and replica creation
// methods tried in order (create_replica_methods). The pure parts, unit-tested: the argument vectors each command
// gets, the list of methods in force, the recovery settings of a custom bootstrap. PgController runs them
// (CreateReplica, BootstrapCustom in pg/methods.cc).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/config.h"

namespace pgw {

// The custom bootstrap's command (cfg.bootstrap.custom must be set): its words, then --scope=SCOPE and
// --datadir=DATA_DIR unless no_params.
std::vector<std::string> BootstrapMethodArgv(const Config& cfg);

// A custom replica creation method's command: its words (the method's name when it has no `command`), then
// --key=value for each option of postgresql.<method> in file order; unless no_params, scope, role (replica),
// datadir and connstring are set on top of them, Python-dict style: an option of the same name is overwritten where
// it stands, the others are appended in that order. With no_params, the flags keep_data, no_params, no_master and
// no_leader are left out and only the method's own options follow. A method without a section: no options.
std::vector<std::string> ReplicaMethodArgv(const Config& cfg, const std::string& method, const std::string& connstring);

// The methods tried when this node creates a replica: standby_cluster.create_replica_methods in a standby cluster,
// else postgresql.create_replica_methods; ["basebackup"] when that list is empty.
std::vector<std::string> ReplicaMethodsInForce(const Config& cfg, const DynamicConfig& dyn);

// Whether `method` can create a replica with no leader to copy from (Patroni: not basebackup, and no_leader or
// no_master set in its section).
bool WorksWithoutLeader(const Config& cfg, const std::string& method);

// recovery_conf of a custom bootstrap, as Patroni writes it for PostgreSQL 12 and later: standby_mode chooses
// standby.signal over recovery.signal and is not a parameter; pause_at_recovery_target becomes
// recovery_target_action (unless that is set). hot_standby is turned off for the recovery when its target action
// is promote (PostgreSQL could stop on a parameter the backup had lower otherwise), as Patroni does.
struct BootstrapRecovery {
  bool standby_signal = false;
  std::vector<std::pair<std::string, std::string>> parameters;
  bool hot_standby_off = false;
};
BootstrapRecovery ResolveBootstrapRecovery(const std::vector<std::pair<std::string, std::string>>& recovery_conf);

}  // namespace pgw
