// The PostgreSQL controller: everything the agent does to its local PostgreSQL. Programs are spawned with argv
// vectors; queries go through libpq with timeouts. Owned and called by the agent's HA loop thread only.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/process.h"
#include "pg/conf.h"
#include "pg/libpq.h"
#include "pg/pg_control.h"

namespace pgw {

// A libpq connection string for the configured superuser to database postgres on host:port (the agent's own
// session, and its queries to other members' PostgreSQL).
std::string SuperuserConninfo(const Config& cfg, const std::string& host, int port);
// Conninfo of `u` (its name and libpq options: sslmode, sslcert, ...) added to `kv` (host, port, ...).
std::string UserConninfo(const PgUser& u, std::vector<std::pair<std::string, std::string>> kv);

// pg_controldata output parsed.
ControlData ParseControlData(const std::string& output);
// "0/3000060" -> bytes.
std::optional<int64_t> ParseLsn(const std::string& s);
// bytes -> "0/3000060".
std::string FormatLsn(int64_t lsn);
// host and port out of a primary_conninfo string.
std::optional<HostPort> ConninfoHostPort(const std::string& conninfo);
// Whether `conninfo` asks for target_session_attrs=read-write (what Upstream::read_write writes).
bool ConninfoReadWrite(const std::string& conninfo);
// The unix socket directory the postmaster of `data_dir` listens on: line 5 of its postmaster.pid, which
// PostgreSQL writes once the socket exists (its first usable directory); "" without a pid file or that line.
std::string RunningSocketDir(const std::string& data_dir);

class PgController final : public PgControl {
 public:
  PgController(std::shared_ptr<const Config> cfg, Logger& log);
  ~PgController() override;

  // PgControl (pg/pg_control.h)
  void SetDynamicConfig(const DynamicConfig& dyn) override { dyn_ = dyn; }
  void SetConfig(std::shared_ptr<const Config> cfg) override { cfg_ = std::move(cfg); }
  void SetSyncNames(std::optional<std::string> v) override { sync_names_ = std::move(v); }
  std::optional<std::string> SyncNames() const override { return sync_names_; }
  Status ApplySyncNames(const std::string& v, const std::optional<Upstream>& upstream) override;
  LocalView Observe() override;
  LocalView::Data InspectDataDir(std::string* problem) const override;
  Result<std::string> Bootstrap() override;
  Status CreateRoles() override;
  Status Clone(const HostPort& source) override;
  Status CreateReplica(const std::optional<HostPort>& source, const std::vector<std::string>& methods) override;
  Result<std::string> BootstrapCustom() override;
  Status FinishCustomBootstrap() override;
  Status WriteConfiguration(const std::optional<Upstream>& upstream) override;
  Status Start(const std::optional<Upstream>& upstream, bool standby = false) override;
  Status Stop(StopMode mode) override;
  Status Promote() override;
  Status Follow(const Upstream& upstream) override;
  Status Reload(const std::optional<Upstream>& upstream) override;
  Result<bool> ReloadIfChanged(const std::optional<Upstream>& upstream) override;
  Status DropSlots(const std::vector<std::string>& drop) override;
  Status CreateSlots(const std::vector<SlotSpec>& create) override;
  Status AdvanceSlots(const std::map<std::string, int64_t>& to, const std::vector<SlotState>& local) override;
  Status CopyLogicalSlots(const HostPort& leader, const std::vector<SlotSpec>& slots,
                          const Upstream& upstream) override;
  Status Rewind(const HostPort& source) override;
  Status Checkpoint() override;
  Result<ControlData> ReadControlData() override;
  int64_t ShutdownCheckpointLsn() override;
  Status WipeDataDir() override;
  Status CloseGate() override;
  Status OpenGate() override;

 private:
  // Start's first half: configuration written, leftovers of a dead postmaster killed, postmaster started.
  Status Launch(const std::optional<Upstream>& upstream);
  // When the postmaster we started has exited (reaped): the last line of its log.
  std::optional<std::string> PostmasterExited();
  bool DataDirIsEmpty() const;
  // Stop's signalling part: the mode's signal to the postmaster, escalating to SIGQUIT then SIGKILL.
  Status SignalPostmaster(StopMode mode);
  std::string LocalConninfo() const;
  // A query in another database of the local instance (logical slots live in one).
  Result<std::vector<Row>> QueryIn(const std::string& database, const std::string& sql,
                                   const std::vector<std::string>& params);
  std::vector<SlotState> ObserveSlots();
  // ObserveSlots' query (pg/slots.cc), and its rows as SlotStates.
  static const char* SlotsQuery();
  static std::vector<SlotState> SlotsFromRows(const std::vector<Row>& rows);
  Status EnsureConnected();
  Result<std::vector<Row>> Query(const std::string& sql, const std::vector<std::string>& params = {});
  std::optional<pid_t> PostmasterPid() const;
  Status RunProgram(const std::vector<std::string>& argv, Duration timeout,
                    const std::map<std::string, std::string>& env = {});
  Status WritePgpass();
  std::string GatePath() const;
  // The marker's content: the gate LSN (0: not measured yet); nullopt when there is no marker.
  std::optional<int64_t> ReadGate() const;

  std::shared_ptr<const Config> cfg_;
  Logger& log_;
  DynamicConfig dyn_;
  PgConnection conn_;
  pid_t child_pid_ = 0;  // postmaster we started (to reap it)
  std::optional<std::string> sync_names_;
  bool standby_ = false;  // the role of the last start: standby.signal is kept while true
  // While a custom bootstrap runs (BootstrapCustom .. FinishCustomBootstrap): recovery_conf's parameters,
  // hot_standby forced off, and pg_hba.conf trusting local connections.
  std::optional<std::vector<std::pair<std::string, std::string>>> bootstrap_recovery_;
  bool hot_standby_off_ = false;
  bool bootstrap_trust_ = false;
};

}  // namespace pgw
