// PgControl: everything the agent does to its local PostgreSQL, as an interface (issue 14's seam). PgController
// (pg/controller.h) is the real one: programs spawned with argv vectors, queries through libpq with timeouts. The
// agent's HA loop thread is the only caller.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/hostport.h"
#include "common/status.h"
#include "pg/conf.h"

namespace pgw {

// A slot as the decision core wants it (ha/slots.h).
struct SlotSpec {
  std::string name;
  std::string type;  // physical | logical
  std::string database, plugin;
  bool operator==(const SlotSpec&) const = default;
};

// A non-temporary replication slot of the local PostgreSQL (pg_replication_slots).
struct SlotState {
  std::string name;
  std::string type;  // physical | logical
  std::string database, plugin;
  bool active = false;
  int64_t restart_lsn = 0;
  int64_t confirmed_flush_lsn = 0;  // logical only
  bool operator==(const SlotState&) const = default;
};

// What the agent observes of its local PostgreSQL in one cycle (PgControl::Observe).
struct LocalView {
  enum class Data { kEmpty, kValid, kInvalid };
  Data data = Data::kEmpty;
  std::string data_problem;  // why kInvalid
  bool running = false;      // postmaster alive
  bool query_ok = false;     // we could query it this cycle
  bool in_recovery = false;
  int timeline = 0;
  int64_t wal_position = 0;  // primary: current LSN; replica: max(received, replayed)
  int64_t received_location = 0;
  int64_t replayed_location = 0;
  std::optional<std::string> replayed_timestamp;
  bool replay_paused = false;
  std::string sysid;
  std::string cluster_state;  // pg_controldata "Database cluster state" when stopped
  // backup_label is present: a base backup (our clone) that never started. Its pg_control was copied from the
  // running primary and says "in production", but it is not a former primary.
  bool backup_label = false;
  std::string postmaster_start_time;
  int server_version = 0;
  std::optional<Upstream> upstream;  // primary_conninfo host/port + primary_slot_name as PostgreSQL has them now
  std::vector<SlotState> slots;      // non-temporary slots
  Json replication = Json::array();  // pg_stat_replication rows (Patroni's fields)
  std::map<std::string, int64_t> replication_flush;  // application_name -> flush LSN (streaming rows)
  std::string sync_names;                            // synchronous_standby_names in effect
  // A setting in postgresql.conf waits for a restart of PostgreSQL (pg_settings.pending_restart), Patroni's
  // pending_restart.
  bool pending_restart = false;
  std::string replication_state;  // replica: "streaming" or "in archive recovery"
  // Client gate (docs/synchronous.md): PostgreSQL was restarted as primary after a crash in synchronous mode and
  // only replication and pgwarden's roles may connect. gate_lsn: the end of WAL the gate waits for a synchronous
  // standby to flush (0 until measured on the running primary).
  bool gated = false;
  int64_t gate_lsn = 0;
};

enum class StopMode { kSmart, kFast, kImmediate };

// Parsed `pg_controldata` output.
struct ControlData {
  std::string sysid;
  std::string state;
  int timeline = 0;
  int64_t checkpoint_lsn = 0;  // "Latest checkpoint location": after a clean shutdown, the shutdown checkpoint
};

// The agent's operations on its local PostgreSQL; PgController (pg/controller.h) implements them.
class PgControl {
 public:
  virtual ~PgControl() = default;

  virtual void SetDynamicConfig(const DynamicConfig& dyn) = 0;
  // A reloaded local configuration (agent/config_reload.h): used from the next call on.
  virtual void SetConfig(std::shared_ptr<const Config> cfg) = 0;
  // synchronous_standby_names as the HA loop wants it on a primary (nullopt: not managed). Takes effect with the
  // next WriteConfiguration (start, reload).
  virtual void SetSyncNames(std::optional<std::string> v) = 0;
  virtual std::optional<std::string> SyncNames() const = 0;
  // Sets synchronous_standby_names now (configuration rewritten, reload).
  virtual Status ApplySyncNames(const std::string& v, const std::optional<Upstream>& upstream) = 0;

  virtual LocalView Observe() = 0;
  // Checks the data directory at start-up: kInvalid when it is non-empty but not a cluster.
  virtual LocalView::Data InspectDataDir(std::string* problem) const = 0;

  // initdb + configuration + start as primary (pg/bootstrap.cc). On success returns the system id. The agent runs
  // post_bootstrap next, then CreateRoles.
  virtual Result<std::string> Bootstrap() = 0;
  // Creates (or updates) the replication and rewind roles, then bootstrap.users, as Patroni does after
  // post_bootstrap. Role passwords are kept out of the server log.
  virtual Status CreateRoles() = 0;
  // pg_basebackup from `source` into the (empty) data directory.
  virtual Status Clone(const HostPort& source) = 0;
  // Patroni's create_replica (pg/methods.cc): `methods` (basebackup or custom ones, pg/methods.h) tried in order
  // until one succeeds, the data directory emptied before each (unless a custom method's keep_data). Without a
  // `source` (no leader), only the methods that work without one are tried. Returns the last failure.
  virtual Status CreateReplica(const std::optional<HostPort>& source, const std::vector<std::string>& methods) = 0;
  // A custom bootstrap (bootstrap.method, pg/methods.cc) instead of Bootstrap(): runs the method's command, writes
  // its recovery_conf (or removes or keeps what recovery settings the data has, as Patroni does), starts PostgreSQL
  // with local connections trusted, waits until it has left recovery, and sets the superuser's password. Returns
  // the system id. The agent then runs post_bootstrap and CreateRoles, then FinishCustomBootstrap, which restores
  // the configured pg_hba.conf and parameters (restarting when hot_standby was turned off for the recovery).
  virtual Result<std::string> BootstrapCustom() = 0;
  virtual Status FinishCustomBootstrap() = 0;
  // Writes postgresql.conf, pg_hba.conf, pgpass and standby.signal (present iff upstream is set). The files initdb
  // (or the clone source) left are kept once as postgresql.base.conf (included) and pg_hba.base.conf (its lines
  // come before bootstrap.pg_hba).
  virtual Status WriteConfiguration(const std::optional<Upstream>& upstream) = 0;
  // Writes the configuration and starts the postmaster, waiting until it accepts connections.
  // `standby`: start in recovery (standby.signal) even without an upstream (a replica that follows nobody yet).
  virtual Status Start(const std::optional<Upstream>& upstream, bool standby = false) = 0;
  // Fails unless no process of the data directory is left (pg/fence.h: leftovers are killed).
  virtual Status Stop(StopMode mode) = 0;
  virtual Status Promote() = 0;
  // Re-points a running replica (primary_conninfo / primary_slot_name are reloadable on PostgreSQL 13+).
  virtual Status Follow(const Upstream& upstream) = 0;
  // Rewrites the configuration files (same upstream) and reloads PostgreSQL.
  virtual Status Reload(const std::optional<Upstream>& upstream) = 0;
  // Rewrites the configuration files and reloads PostgreSQL only when postgresql.conf, pg_hba.conf or
  // pg_ident.conf now read differently. Whether it reloaded.
  virtual Result<bool> ReloadIfChanged(const std::optional<Upstream>& upstream) = 0;
  // Drops the inactive slots `drop`, then creates `create` (logical ones in their database).
  virtual Status DropSlots(const std::vector<std::string>& drop) = 0;
  virtual Status CreateSlots(const std::vector<SlotSpec>& create) = 0;
  // pg_replication_slot_advance of each slot to its position (never backwards; logical slots in their database).
  virtual Status AdvanceSlots(const std::map<std::string, int64_t>& to, const std::vector<SlotState>& local) = 0;
  // A replica copies logical slots from the leader at `leader` (its superuser reads each slot's state file with
  // pg_read_binary_file): PostgreSQL is stopped, the files are written into pg_replslot, and it starts again
  // following `upstream`. Slots whose type, database or plugin differ on the leader are skipped with a warning.
  virtual Status CopyLogicalSlots(const HostPort& leader, const std::vector<SlotSpec>& slots,
                                  const Upstream& upstream) = 0;
  // pg_rewind from `source` (PostgreSQL must be stopped; pg_rewind runs crash recovery itself when the node crashed).
  // Uses the rewind user when configured, else the superuser.
  virtual Status Rewind(const HostPort& source) = 0;
  // CHECKPOINT on the running instance (after a promotion, so that pg_rewind on the old primary sees the new
  // timeline in the control file).
  virtual Status Checkpoint() = 0;
  // pg_controldata of the (stopped) data directory.
  virtual Result<ControlData> ReadControlData() = 0;
  // The shutdown checkpoint's LSN of a cleanly stopped data directory, read from pg_control directly (no fork:
  // a switchover waits on it with writes stopped), else through pg_controldata; 0 when it cannot be known.
  virtual int64_t ShutdownCheckpointLsn() = 0;
  // Removes everything in the data directory (after a failed bootstrap or clone).
  virtual Status WipeDataDir() = 0;

  // The client gate. CloseGate marks the data directory (pgwarden.gate, so that a restarted agent keeps the gate)
  // before a start as primary (or a read-only start of a crashed primary following nobody, which may be promoted
  // later); while it exists, pg_hba.conf admits no client unless PostgreSQL follows a leader, and it is removed by
  // any start following a leader (clone and pg_rewind copy it from their source). OpenGate removes it and, when
  // PostgreSQL runs, rewrites pg_hba.conf and reloads.
  virtual Status CloseGate() = 0;
  virtual Status OpenGate() = 0;
};

}  // namespace pgw
