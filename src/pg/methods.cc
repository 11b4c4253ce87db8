// Custom bootstrap and replica creation methods (Patroni's bootstrap.method and create_replica_methods): the
// argument vectors, and PgController's part of running them.
#include "pg/methods.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/fs.h"
#include "pg/bootstrap.h"
#include "pg/conf.h"
#include "pg/controller.h"

namespace pgw {
namespace {

// A command may run for hours (a restore from an archive); a day bounds one that hangs for good.
constexpr Duration kMethodTimeout{int64_t{24} * 3600 * 1000};

bool TruthyText(const std::string& v) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return l == "true" || l == "on" || l == "yes" || l == "1" || l == "t" || l == "y";
}

bool FalsyText(const std::string& v) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return l == "false" || l == "off" || l == "no" || l == "0" || l == "f" || l == "n";
}

}  // namespace

std::vector<std::string> BootstrapMethodArgv(const Config& cfg) {
  const auto& m = *cfg.bootstrap.custom;
  std::vector<std::string> argv = m.command;
  if (!m.no_params) {
    argv.push_back("--scope=" + cfg.scope);
    argv.push_back("--datadir=" + cfg.postgresql.data_dir);
  }
  return argv;
}

std::vector<std::string> ReplicaMethodArgv(const Config& cfg, const std::string& method,
                                           const std::string& connstring) {
  ReplicaMethod m;
  auto it = cfg.postgresql.replica_methods.find(method);
  if (it != cfg.postgresql.replica_methods.end()) m = it->second;
  std::vector<std::string> argv = m.command;
  if (argv.empty()) argv.push_back(method);
  auto options = m.options;
  if (m.no_params) {
    std::erase_if(options, [](const auto& kv) {
      return kv.first == "no_params" || kv.first == "no_master" || kv.first == "no_leader" || kv.first == "keep_data";
    });
  } else {
    for (const auto& given : std::vector<std::pair<std::string, std::string>>{{"scope", cfg.scope},
                                                                              {"role", "replica"},
                                                                              {"datadir", cfg.postgresql.data_dir},
                                                                              {"connstring", connstring}}) {
      const std::string& k = given.first;  // not a structured binding: clang 14 cannot capture those
      const std::string& v = given.second;
      auto own = std::find_if(options.begin(), options.end(), [&](const auto& kv) { return kv.first == k; });
      if (own != options.end())
        own->second = v;
      else
        options.emplace_back(k, v);
    }
  }
  for (const auto& [k, v] : options) argv.push_back("--" + k + "=" + v);
  return argv;
}

std::vector<std::string> ReplicaMethodsInForce(const Config& cfg, const DynamicConfig& dyn) {
  std::vector<std::string> methods =
      dyn.standby_cluster ? dyn.standby_cluster->create_replica_methods : cfg.postgresql.create_replica_methods;
  if (methods.empty()) methods.push_back("basebackup");
  return methods;
}

bool WorksWithoutLeader(const Config& cfg, const std::string& method) {
  if (method == "basebackup") return false;
  auto it = cfg.postgresql.replica_methods.find(method);
  return it != cfg.postgresql.replica_methods.end() && it->second.no_leader;
}

BootstrapRecovery ResolveBootstrapRecovery(const std::vector<std::pair<std::string, std::string>>& recovery_conf) {
  BootstrapRecovery r;
  std::optional<std::string> pause, action;
  for (const auto& [k, v] : recovery_conf) {
    if (k == "standby_mode") {
      r.standby_signal = TruthyText(v);
    } else if (k == "pause_at_recovery_target") {
      pause = v;
    } else {
      if (k == "recovery_target_action") action = v;
      r.parameters.emplace_back(k, v);
    }
  }
  if (pause && !action && (TruthyText(*pause) || FalsyText(*pause))) {
    action = TruthyText(*pause) ? "pause" : "promote";
    r.parameters.emplace_back("recovery_target_action", *action);
  }
  r.hot_standby_off = action && *action == "promote";
  return r;
}

Status PgController::CreateReplica(const std::optional<HostPort>& source, const std::vector<std::string>& methods) {
  const auto& pg = cfg_->postgresql;
  PGW_RETURN_IF_ERROR(WritePgpass());
  PGW_RETURN_IF_ERROR(MakeDirs(pg.data_dir, 0700));
  std::string connstring = source ? ReplicaMethodConninfo(*cfg_, *source) : "";
  std::vector<std::string> tried;
  for (const auto& m : methods) {
    if (source || WorksWithoutLeader(*cfg_, m)) tried.push_back(m);
  }
  if (tried.empty()) {
    std::string names;
    for (const auto& m : methods) names += (names.empty() ? "" : ", ") + m;
    return Unavailable("no replica creation method works without a leader to copy from: none of " + names +
                       " is a method (not basebackup) with no_leader: true (or no_master) in its postgresql.<method> "
                       "section");
  }
  Status last;
  for (const auto& m : tried) {
    if (m == "basebackup") {
      if (!DataDirIsEmpty()) PGW_RETURN_IF_ERROR(WipeDataDir());
      last = Clone(*source);
      if (last.ok()) {
        log_.Info("replica has been created using basebackup");
        return last;
      }
      log_.Error("creating the replica using basebackup failed: " + last.message());
      continue;
    }
    auto it = pg.replica_methods.find(m);
    bool keep = it != pg.replica_methods.end() && it->second.keep_data;
    if (!DataDirIsEmpty()) {
      if (keep)
        log_.Info("create_replica_methods " + m + ": leaving the data directory as it is (keep_data)");
      else
        PGW_RETURN_IF_ERROR(WipeDataDir());
    }
    std::vector<std::string> argv = ReplicaMethodArgv(*cfg_, m, connstring);
    log_.Info("creating the replica using method " + m + ": running " + argv[0]);
    last = RunProgram(argv, kMethodTimeout, {{"PGPASSFILE", pg.pgpass}});
    if (last.ok() && !PathExists(pg.data_dir + "/PG_VERSION")) {
      last = Internal(argv[0] + " exited 0 but left no PostgreSQL data directory in " + pg.data_dir);
    }
    if (last.ok()) {
      // The source's postmaster log may have come along; it is not this node's history.
      unlink((pg.data_dir + "/pgwarden-postmaster.log").c_str());
      log_.Info("replica has been created using " + m);
      return last;
    }
    last = last.Context("replica creation method " + m);
    log_.Error(last.message());
  }
  return last;
}

bool PgController::DataDirIsEmpty() const {
  std::error_code ec;
  return !std::filesystem::exists(cfg_->postgresql.data_dir, ec) ||
         std::filesystem::is_empty(cfg_->postgresql.data_dir, ec);
}

Result<std::string> PgController::BootstrapCustom() {
  const auto& pg = cfg_->postgresql;
  const auto& m = *cfg_->bootstrap.custom;
  const std::string& dir = pg.data_dir;
  PGW_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::vector<std::string> argv = BootstrapMethodArgv(*cfg_);
  log_.Info("running custom bootstrap method " + m.name + ": " + argv[0]);
  Status s = RunProgram(argv, kMethodTimeout);
  if (!s.ok()) return s.Context("custom bootstrap method " + m.name);
  if (!PathExists(dir + "/PG_VERSION")) {
    return Internal("custom bootstrap method " + m.name + ": " + argv[0] + " left no PostgreSQL data directory in " +
                    dir);
  }
  // What may have come along from where the data came from: not this node's.
  for (const char* f : {"pgwarden-postmaster.log", "pgwarden.gate", "promote"}) unlink((dir + "/" + f).c_str());
  auto remove_recovery_files = [&] {
    for (const char* f : {"recovery.conf", "recovery.signal", "standby.signal"}) unlink((dir + "/" + f).c_str());
  };
  bool recovery = false;
  if (m.recovery_conf) {
    BootstrapRecovery r = ResolveBootstrapRecovery(*m.recovery_conf);
    remove_recovery_files();
    PGW_RETURN_IF_ERROR(WriteFileAtomic(dir + (r.standby_signal ? "/standby.signal" : "/recovery.signal"), "", 0600));
    bootstrap_recovery_ = r.parameters;
    hot_standby_off_ = r.hot_standby_off;
    standby_ = r.standby_signal;
    recovery = true;
  } else if (!m.keep_existing_recovery_conf) {
    remove_recovery_files();
    standby_ = false;
  } else {
    // The command's own recovery settings (pgBackRest, ...) stay; trust them to end the recovery, as Patroni does.
    standby_ = PathExists(dir + "/standby.signal");
    recovery = standby_ || PathExists(dir + "/recovery.signal") || PathExists(dir + "/recovery.conf");
    hot_standby_off_ = recovery;
  }
  // The superuser's password in the restored data is unknown: local connections are trusted until it is set.
  bootstrap_trust_ = true;
  PGW_RETURN_IF_ERROR(Launch(std::nullopt).Context("starting PostgreSQL after the custom bootstrap"));
  auto next_note = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kMethodTimeout.count());
  while (true) {
    if (auto exited = PostmasterExited()) {
      return IoError("postgres exited " + std::string(recovery ? "during recovery" : "during start-up") +
                     " after the custom bootstrap: " + *exited);
    }
    if (PgAcceptsConnections(LocalConninfo())) {  // per attempt, as in Start

      auto rows = Query("SELECT pg_catalog.pg_is_in_recovery()");
      if (rows.ok() && !rows->empty() && rows->front()[0].value_or("t") == "f") break;
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Timeout("PostgreSQL did not leave recovery after bootstrap");
    if (std::chrono::steady_clock::now() > next_note) {
      log_.Info("waiting for end of recovery after bootstrap");
      next_note = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  standby_ = false;
  auto rows = Query("SELECT system_identifier::text FROM pg_control_system()");
  if (!rows.ok()) return rows.status();
  if (rows->empty() || !rows->front()[0]) return Internal("no system identifier");
  // As Patroni: the configured superuser (and its password) exists before post_bootstrap runs.
  const PgUser& su = pg.superuser;
  auto found = Query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", {su.username});
  if (!found.ok()) return found.status().Context("looking up the superuser");
  for (const char* set : {"SET log_statement TO none", "SET log_min_duration_statement TO -1"}) {
    auto r = Query(set);
    if (!r.ok()) return r.status();
  }
  auto role = Query(RoleStatement(!found->empty(), conn_.QuoteIdent(su.username), {"SUPERUSER"},
                                  su.password.empty() ? "" : conn_.QuoteLiteral(su.password)));
  if (!role.ok()) return role.status().Context("setting the superuser's password after the custom bootstrap");
  for (const char* reset : {"RESET log_statement", "RESET log_min_duration_statement"}) (void)Query(reset);
  return *rows->front()[0];
}

Status PgController::FinishCustomBootstrap() {
  // hba_file (postmaster context) pointed at the trusting file meanwhile: the user's takes a restart, as in Patroni.
  const bool restart = hot_standby_off_ || !WritesPgHba(*cfg_, dyn_);
  bootstrap_trust_ = false;
  hot_standby_off_ = false;
  bootstrap_recovery_.reset();
  standby_ = false;
  for (const char* f : {"recovery.conf", "recovery.signal", "standby.signal"}) {
    unlink((cfg_->postgresql.data_dir + "/" + f).c_str());
  }
  if (restart) {
    // hot_standby was off for the recovery, or hba_file changes: only a restart brings the configured values back.
    PGW_RETURN_IF_ERROR(Stop(StopMode::kFast));
    return Start(std::nullopt).Context("restarting PostgreSQL after the custom bootstrap");
  }
  PGW_RETURN_IF_ERROR(WriteConfiguration(std::nullopt));
  auto r = Query("SELECT pg_reload_conf()");
  if (!r.ok()) return r.status().Context("reloading after the custom bootstrap");
  conn_.Close();  // the next session authenticates as configured
  return Status::Ok();
}

}  // namespace pgw
