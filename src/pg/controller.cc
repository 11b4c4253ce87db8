#include "pg/controller.h"

#include "pg/control_file.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/fs.h"
#include "pg/params.h"
#include "pg/recovery_conf.h"

namespace pgw {

namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

long long ToInt(const std::optional<std::string>& s, long long def = 0) {
  if (!s) return def;
  try {
    return std::stoll(*s);
  } catch (const std::exception&) {
    return def;
  }
}

// One query gives the whole local state (like Patroni's): role, LSNs, timeline, start time, version.
// A replica's timeline is its WAL receiver's while one runs. Once it stops (its primary died), the last checkpoint's
// timeline alone can be one behind for up to checkpoint_timeout after a timeline switch (a restartpoint moves it), so
// the newest timeline whose history file the replica fetched counts too, as does the minimum recovery point's: with
// check_timeline, a replica that had followed the new primary would otherwise see itself behind the cluster and
// refuse to take over (FailoverTest.CheckTimelineLetsTheLastReplicaTakeOverAfterTwoCrashesInARow). pg_ls_waldir()
// is read only then, not every cycle of a streaming replica.
constexpr const char* kStateQuery = R"SQL(
SELECT pg_is_in_recovery(),
       CASE WHEN pg_is_in_recovery() THEN 0 ELSE pg_current_wal_lsn() - '0/0' END,
       COALESCE(pg_last_wal_receive_lsn() - '0/0', 0),
       COALESCE(pg_last_wal_replay_lsn() - '0/0', 0),
       to_char(pg_postmaster_start_time(), 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00',
       current_setting('server_version_num')::int,
       CASE WHEN pg_is_in_recovery()
            THEN COALESCE((SELECT received_tli FROM pg_stat_get_wal_receiver() WHERE received_tli > 0),
                          GREATEST((SELECT timeline_id FROM pg_control_checkpoint()),
                                   (SELECT min_recovery_end_timeline FROM pg_control_recovery()),
                                   (SELECT max(('x' || substr(name, 1, 8))::bit(32)::int) FROM pg_ls_waldir()
                                     WHERE name ~ '^[0-9A-F]{8}\.history$')))
            ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
       (SELECT system_identifier::text FROM pg_control_system()),
       to_char(pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00:00',
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END,
       current_setting('primary_conninfo'),
       current_setting('primary_slot_name'),
       EXISTS (SELECT 1 FROM pg_stat_get_wal_receiver() WHERE status = 'streaming'),
       current_setting('synchronous_standby_names'),
       current_setting('restore_command'),
       current_setting('archive_cleanup_command'),
       (SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'),
       EXISTS (SELECT 1 FROM pg_settings WHERE pending_restart)
)SQL";

constexpr const char* kReplicationQuery =
    "SELECT usename, application_name, host(client_addr), state, sync_state, sync_priority, "
    "COALESCE(flush_lsn - '0/0', 0) FROM pg_stat_replication ORDER BY application_name";

}  // namespace

ControlData ParseControlData(const std::string& output) {
  ControlData d;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k = Trim(line.substr(0, colon)), v = Trim(line.substr(colon + 1));
    if (k == "Database system identifier")
      d.sysid = v;
    else if (k == "Database cluster state")
      d.state = v;
    else if (k == "Latest checkpoint's TimeLineID")
      d.timeline = std::atoi(v.c_str());
    else if (k == "Latest checkpoint location")
      d.checkpoint_lsn = ParseLsn(v).value_or(0);
  }
  return d;
}

std::optional<int64_t> ParseLsn(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  try {
    uint64_t hi = std::stoull(s.substr(0, slash), nullptr, 16);
    uint64_t lo = std::stoull(s.substr(slash + 1), nullptr, 16);
    return static_cast<int64_t>((hi << 32) | lo);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string FormatLsn(int64_t lsn) {
  char buf[32];
  auto u = static_cast<uint64_t>(lsn);
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(u >> 32), static_cast<unsigned>(u & 0xffffffffu));
  return buf;
}

namespace {

// The key=value words of a conninfo PrimaryConninfo wrote, quotes taken off a value (the last of a key wins).
std::map<std::string, std::string> ConninfoWords(const std::string& conninfo) {
  std::map<std::string, std::string> words;
  std::istringstream in(conninfo);
  std::string tok;
  while (in >> tok) {
    auto eq = tok.find('=');
    if (eq == std::string::npos) continue;
    std::string v = tok.substr(eq + 1);
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
    words[tok.substr(0, eq)] = v;
  }
  return words;
}

}  // namespace

std::optional<HostPort> ConninfoHostPort(const std::string& conninfo) {
  auto words = ConninfoWords(conninfo);
  auto host = words.find("host"), port = words.find("port");
  if (host == words.end() || host->second.empty()) return std::nullopt;
  return HostPort{host->second, port != words.end() ? std::atoi(port->second.c_str()) : 5432};
}

bool ConninfoReadWrite(const std::string& conninfo) {
  auto words = ConninfoWords(conninfo);
  auto it = words.find("target_session_attrs");
  return it != words.end() && it->second == "read-write";
}

PgController::PgController(std::shared_ptr<const Config> cfg, Logger& log) : cfg_(std::move(cfg)), log_(log) {
  dyn_ = cfg_->bootstrap.dynamic;
}

PgController::~PgController() = default;

std::string PgController::LocalConninfo() const {
  return SuperuserConninfo(*cfg_, LocalHost(*cfg_, RunningSocketDir(cfg_->postgresql.data_dir)), cfg_->postgresql.port);
}

std::string UserConninfo(const PgUser& u, std::vector<std::pair<std::string, std::string>> kv) {
  kv.push_back({"user", u.username});
  // sslmode, sslcert, sslkey, sslrootcert, ... as the user's authentication section gives them (issue 11: with
  // client certificates, every connection of every user needs them).
  for (const auto& [k, v] : u.options) kv.push_back({k, v});
  return ConnInfo(kv);
}

std::string SuperuserConninfo(const Config& cfg, const std::string& host, int port) {
  const auto& su = cfg.postgresql.superuser;
  return UserConninfo(
      su, {{"host", host}, {"port", std::to_string(port)}, {"password", su.password}, {"dbname", "postgres"}});
}

Status PgController::EnsureConnected() {
  if (conn_.connected()) return Status::Ok();
  return conn_.Connect(LocalConninfo(), Duration(5000));
}

Result<std::vector<Row>> PgController::Query(const std::string& sql, const std::vector<std::string>& params) {
  PGW_RETURN_IF_ERROR(EnsureConnected());
  return conn_.Query(sql, params);
}

LocalView::Data PgController::InspectDataDir(std::string* problem) const {
  const std::string& dir = cfg_->postgresql.data_dir;
  // The common case first, with three system calls (it runs every cycle): both files exist, so the directory
  // exists, is one and is not empty; it is ours to use when accessible. Anything else takes the full check.
  if (PathExists(dir + "/PG_VERSION") && PathExists(dir + "/global/pg_control") &&
      access(dir.c_str(), R_OK | W_OK | X_OK) == 0) {
    return LocalView::Data::kValid;
  }
  if (IsMissingOrEmptyDir(dir)) return LocalView::Data::kEmpty;
  if (!IsDirectory(dir)) {
    *problem = "data_dir " + dir + " exists but is not a directory";
    return LocalView::Data::kInvalid;
  }
  if (access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    *problem = "data_dir " + dir + " is not accessible to this user";
    return LocalView::Data::kInvalid;
  }
  if (!PathExists(dir + "/PG_VERSION") || !PathExists(dir + "/global/pg_control")) {
    *problem = "data_dir " + dir + " is not empty but is not a PostgreSQL data directory (no PG_VERSION)";
    return LocalView::Data::kInvalid;
  }
  return LocalView::Data::kValid;
}

std::optional<pid_t> PgController::PostmasterPid() const {
  auto text = ReadFile(cfg_->postgresql.data_dir + "/postmaster.pid");
  if (!text.ok()) return std::nullopt;
  pid_t pid = static_cast<pid_t>(std::atol(text->c_str()));
  if (pid <= 0) return std::nullopt;
  return pid;
}

LocalView PgController::Observe() {
  LocalView v;
  if (child_pid_ > 0 && Reap(child_pid_)) child_pid_ = 0;
  v.data = InspectDataDir(&v.data_problem);
  if (v.data != LocalView::Data::kValid) return v;
  auto pid = PostmasterPid();
  v.running = pid && ProcessAlive(*pid);
  if (!v.running) {
    conn_.Close();
    ProcessOptions po;
    po.timeout = Duration(10000);
    po.env_set["LC_ALL"] = "C";  // pg_controldata's labels are translated otherwise
    auto out = Run({cfg_->PgBin("pg_controldata"), cfg_->postgresql.data_dir}, po);
    if (out.ok() && out->Success()) {
      auto cd = ParseControlData(out->output);
      v.sysid = cd.sysid;
      v.cluster_state = cd.state;
      v.timeline = cd.timeline;
    }
    v.backup_label = PathExists(cfg_->postgresql.data_dir + "/backup_label");
    return v;
  }
  // The state, the slots and the replication rows in one round trip. A batch that fails on a statement (not
  // expected: they only read) is retried one by one, so that each failure costs only its own part, as it did.
  Result<std::vector<Row>> rows = Unavailable("not queried"), slot_rows = rows, repl = rows;
  Status connected = EnsureConnected();
  auto batch = connected.ok() ? conn_.QueryBatch({kStateQuery, SlotsQuery(), kReplicationQuery})
                              : Result<std::vector<std::vector<Row>>>(connected);
  if (batch.ok()) {
    rows = std::move((*batch)[0]);
    slot_rows = std::move((*batch)[1]);
    repl = std::move((*batch)[2]);
  } else if (batch.status().code() == Code::kInvalidArgument) {
    rows = Query(kStateQuery);
    slot_rows = Query(SlotsQuery());
    repl = Query(kReplicationQuery);
  } else {
    rows = batch.status();
  }
  if (!rows.ok() || rows->empty()) {
    if (!rows.ok()) log_.Debug("state query: " + rows.status().message());
    return v;
  }
  const Row& r = rows->front();
  v.query_ok = true;
  v.in_recovery = r[0].value_or("f") == "t";
  standby_ = v.in_recovery;  // an adopted instance keeps its role across configuration rewrites
  int64_t current = ToInt(r[1]);
  v.received_location = ToInt(r[2]);
  v.replayed_location = ToInt(r[3]);
  v.wal_position = v.in_recovery ? std::max(v.received_location, v.replayed_location) : current;
  v.postmaster_start_time = r[4].value_or("");
  v.server_version = static_cast<int>(ToInt(r[5]));
  v.timeline = static_cast<int>(ToInt(r[6]));
  v.sysid = r[7].value_or("");
  v.replayed_timestamp = r[8];
  v.replay_paused = r[9].value_or("f") == "t";
  if (v.in_recovery) {
    auto hp = ConninfoHostPort(r[10].value_or(""));
    if (hp) {
      v.upstream = Upstream{*hp, r[11].value_or(""), r[14].value_or(""), r[15].value_or(""), ToInt(r[16])};
      v.upstream->read_write = ConninfoReadWrite(r[10].value_or(""));
    } else if (!r[14].value_or("").empty()) {
      // Replaying from an archive only (an archive-only standby cluster's standby leader): no address (conf.h).
      v.upstream = Upstream{HostPort{}, "", r[14].value_or(""), r[15].value_or(""), ToInt(r[16])};
    }
    v.replication_state = r[12].value_or("f") == "t" ? "streaming" : "in archive recovery";
  }
  v.sync_names = r[13].value_or("");
  v.pending_restart = r[17].value_or("f") == "t";
  if (slot_rows.ok()) v.slots = SlotsFromRows(*slot_rows);
  if (repl.ok()) {
    for (const auto& s : *repl) {
      v.replication.push_back({{"usename", s[0].value_or("")},
                               {"application_name", s[1].value_or("")},
                               {"client_addr", s[2] ? Json(*s[2]) : Json(nullptr)},
                               {"state", s[3].value_or("")},
                               {"sync_state", s[4].value_or("")},
                               {"sync_priority", ToInt(s[5])}});
      if (s[3].value_or("") == "streaming") v.replication_flush[s[1].value_or("")] = ToInt(s[6]);
    }
  }
  if (!v.in_recovery) {
    if (auto gate = ReadGate()) {
      v.gated = true;
      v.gate_lsn = *gate;
      if (v.gate_lsn == 0) {
        // First look after the start: no client has connected, so the current end of WAL covers every commit
        // crash recovery brought back.
        v.gate_lsn = v.wal_position;
        Status w = WriteFileAtomic(GatePath(), std::to_string(v.gate_lsn) + "\n", 0600);
        if (!w.ok()) log_.Warn("client gate: " + w.message());
      }
    }
  }
  return v;
}

std::string PgController::GatePath() const { return cfg_->postgresql.data_dir + "/pgwarden.gate"; }

std::optional<int64_t> PgController::ReadGate() const {
  auto content = ReadFile(GatePath());
  if (!content.ok()) return std::nullopt;
  long long n = std::strtoll(content->c_str(), nullptr, 10);
  return n > 0 ? n : 0;
}

Status PgController::CloseGate() { return WriteFileAtomic(GatePath(), "0\n", 0600).Context("closing the client gate"); }

Status PgController::OpenGate() {
  PGW_RETURN_IF_ERROR(RemoveAll(GatePath()));
  auto pid = PostmasterPid();
  if (!pid || !ProcessAlive(*pid)) return Status::Ok();
  PGW_RETURN_IF_ERROR(WriteConfiguration(std::nullopt));
  auto r = Query("SELECT pg_reload_conf()");
  return r.ok() ? Status::Ok() : r.status().Context("opening the client gate");
}

Status PgController::RunProgram(const std::vector<std::string>& argv, Duration timeout,
                                const std::map<std::string, std::string>& env) {
  ProcessOptions o;
  o.timeout = timeout;
  o.env_set = env;
  std::string prog = argv[0].substr(argv[0].rfind('/') + 1);
  o.on_line = [&](const std::string& line) { log_.Info(prog + ": " + line); };
  auto r = Run(argv, o);
  if (!r.ok()) return r.status();
  if (!r->Success()) return IoError(prog + " failed (" + r->Describe() + ")");
  return Status::Ok();
}

Status PgController::WritePgpass() { return WriteFileAtomic(cfg_->postgresql.pgpass, RenderPgpass(*cfg_), 0600); }

Status PgController::WriteConfiguration(const std::optional<Upstream>& upstream) {
  const std::string& dir = cfg_->postgresql.data_dir;
  std::string conf = dir + "/postgresql.conf", base = dir + "/postgresql.base.conf";
  // Keep initdb's (or the clone source's) original file as postgresql.base.conf, included by ours.
  if (!PathExists(base)) {
    auto orig = ReadFile(conf);
    if (orig.ok() && orig->find("It will be overwritten by pgwarden") == std::string::npos) {
      PGW_RETURN_IF_ERROR(WriteFileAtomic(base, *orig, 0600));
    } else {
      PGW_RETURN_IF_ERROR(WriteFileAtomic(base, "", 0600));
    }
  }
  std::vector<std::string> param_warnings;
  const int major = DataDirMajorVersion(dir);
  Json params = TranslateEffectiveParameters(major, EffectiveParameters(*cfg_, dyn_), *cfg_, dyn_, &param_warnings);
  // postgresql.recovery_conf: a replica's only (Patroni writes none of it for a primary).
  Json recovery = upstream ? ReplicaRecoveryParameters(major, *cfg_, dyn_, &param_warnings) : Json::object();
  for (const auto& w : param_warnings) log_.Warn(w);
  // Also written on a standby about to be promoted (no effect until then), so that strict mode holds from the
  // first commit on.
  if (sync_names_) params["synchronous_standby_names"] = *sync_names_;
  // Copies of logical slots on a replica need the primary to keep the catalog rows they may decode: the replica's
  // feedback carries their catalog_xmin (Patroni forces this too). Harmless on a primary.
  bool logical =
      std::any_of(dyn_.slots.begin(), dyn_.slots.end(), [](const auto& s) { return s.second.type == "logical"; });
  if (logical && dyn_.use_slots && !cfg_->tags.NeverPromote()) params["hot_standby_feedback"] = "on";
  // A custom bootstrap's recovery (pg/methods.cc).
  if (bootstrap_recovery_) {
    for (const auto& [k, v] : *bootstrap_recovery_) params[k] = v;
  }
  if (hot_standby_off_) params["hot_standby"] = "off";
  // The trusting file of a custom bootstrap is ours whatever hba_file says (Patroni does the same).
  if (bootstrap_trust_) params["hba_file"] = dir + "/pg_hba.conf";
  PGW_RETURN_IF_ERROR(WriteFileAtomic(conf, RenderPostgresqlConf(*cfg_, params, upstream, true, recovery), 0600));
  bool gated = !upstream && ReadGate().has_value();
  std::string hba = dir + "/pg_hba.conf", hba_base = dir + "/pg_hba.base.conf";
  if (!PathExists(hba_base)) {
    auto orig = ReadFile(hba);
    bool initdb_file = orig.ok() && orig->find("overwritten by pgwarden") == std::string::npos;
    PGW_RETURN_IF_ERROR(WriteFileAtomic(hba_base, initdb_file ? *orig : "", 0600));
  }
  std::vector<std::string> initdb_hba;
  if (!cfg_->bootstrap.pg_hba.empty()) {
    auto base_text = ReadFile(hba_base);
    if (base_text.ok()) initdb_hba = HbaLines(*base_text);
  }
  if (bootstrap_trust_ || WritesPgHba(*cfg_, dyn_)) {
    PGW_RETURN_IF_ERROR(WriteFileAtomic(
        hba, bootstrap_trust_ ? RenderBootstrapTrustHba(*cfg_) : RenderPgHba(*cfg_, dyn_, gated, initdb_hba), 0600));
  } else if (gated) {
    // hba_file names the user's file (Patroni's rule: pgwarden does not write it), so it cannot be gated.
    log_.Warn("client gate: hba_file is " + HbaFile(*cfg_, dyn_) +
              ", which pgwarden does not write: clients are not held back until a synchronous standby caught up");
  }
  // pg_ident.conf only when configured (Patroni leaves initdb's file, or the user's ident_file, alone otherwise).
  if (auto ident = RenderPgIdent(*cfg_, dyn_))
    PGW_RETURN_IF_ERROR(WriteFileAtomic(dir + "/pg_ident.conf", *ident, 0600));
  PGW_RETURN_IF_ERROR(WritePgpass());
  std::string signal = dir + "/standby.signal";
  if (upstream || standby_) {
    if (!PathExists(signal)) PGW_RETURN_IF_ERROR(WriteFileAtomic(signal, "", 0600));
  } else if (PathExists(signal)) {
    if (unlink(signal.c_str()) != 0) return IoError("cannot remove " + signal);
  }
  return Status::Ok();
}

Status PgController::ApplySyncNames(const std::string& v, const std::optional<Upstream>& upstream) {
  sync_names_ = v;
  return Reload(upstream);
}

Status PgController::Reload(const std::optional<Upstream>& upstream) {
  PGW_RETURN_IF_ERROR(WriteConfiguration(upstream));
  auto r = Query("SELECT pg_reload_conf()");
  return r.ok() ? Status::Ok() : r.status().Context("reload");
}

Status PgController::Follow(const Upstream& upstream) {
  PGW_RETURN_IF_ERROR(WriteConfiguration(upstream));
  auto r = Query("SELECT pg_reload_conf()");
  return r.ok() ? Status::Ok() : r.status().Context("reload");
}

Status PgController::Clone(const HostPort& source) {
  const auto& pg = cfg_->postgresql;
  PGW_RETURN_IF_ERROR(WritePgpass());
  PGW_RETURN_IF_ERROR(MakeDirs(pg.data_dir, 0700));
  std::string dbname = UserConninfo(pg.replication, {{"host", source.host},
                                                     {"port", std::to_string(source.port)},
                                                     {"dbname", "postgres"},
                                                     {"application_name", cfg_->name}});
  std::vector<std::string> argv = {cfg_->PgBin("pg_basebackup"), "--pgdata=" + pg.data_dir, "-X", "stream",
                                   "--dbname=" + dbname};
  for (const auto& a : pg.basebackup_args) argv.push_back(a);
  // Patroni tries twice; a clone can fail on a transient connection problem.
  Status s;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    s = RunProgram(argv, Duration(6 * 3600 * 1000), {{"PGPASSFILE", pg.pgpass}});
    if (s.ok()) break;
    log_.Warn("pg_basebackup attempt " + std::to_string(attempt) + " failed: " + s.message());
    Status w = WipeDataDir();
    if (!w.ok()) return w;
  }
  if (!s.ok()) return s;
  // The source's postmaster log came along; it is not this node's history.
  unlink((pg.data_dir + "/pgwarden-postmaster.log").c_str());
  return Status::Ok();
}

Status PgController::Rewind(const HostPort& source) {
  const auto& pg = cfg_->postgresql;
  conn_.Close();
  PGW_RETURN_IF_ERROR(WritePgpass());
  const PgUser& who = pg.has_rewind_user ? pg.rewind : pg.superuser;
  std::string src = UserConninfo(
      who,
      {{"host", source.host}, {"port", std::to_string(source.port)}, {"dbname", "postgres"}, {"connect_timeout", "5"}});
  // Keep our own postmaster log: pg_rewind copies every file of the source, including the source's log.
  std::string log_path = pg.data_dir + "/pgwarden-postmaster.log";
  auto own_log = ReadFile(log_path);
  Status s =
      RunProgram({cfg_->PgBin("pg_rewind"), "--target-pgdata=" + pg.data_dir, "--source-server=" + src, "--progress"},
                 Duration(3600 * 1000), {{"PGPASSFILE", pg.pgpass}});
  if (own_log.ok()) {
    Status w = WriteFileAtomic(log_path, *own_log, 0600);
    if (!w.ok()) log_.Warn(w.message());
  }
  if (!s.ok()) return s.Context("pg_rewind from " + source.ToString());
  // The source's postgresql.conf and pg_hba.conf came along; the next start writes ours again.
  return Status::Ok();
}

Result<ControlData> PgController::ReadControlData() {
  ProcessOptions po;
  po.timeout = Duration(10000);
  po.env_set["LC_ALL"] = "C";
  auto out = Run({cfg_->PgBin("pg_controldata"), cfg_->postgresql.data_dir}, po);
  if (!out.ok()) return out.status();
  if (!out->Success()) return IoError("pg_controldata failed (" + out->Describe() + ")");
  return ParseControlData(out->output);
}

int64_t PgController::ShutdownCheckpointLsn() {
  auto head = ReadControlFileHead(cfg_->postgresql.data_dir);
  if (head.ok() && head->state == 1) return head->checkpoint_lsn;  // DB_SHUTDOWNED
  if (!head.ok()) log_.Warn(head.status().message() + "; asking pg_controldata");
  auto cd = ReadControlData();
  return cd.ok() ? cd->checkpoint_lsn : 0;
}

Status PgController::Checkpoint() {
  auto r = Query("CHECKPOINT");
  return r.ok() ? Status::Ok() : r.status().Context("checkpoint");
}

Status PgController::WipeDataDir() {
  const std::string& dir = cfg_->postgresql.data_dir;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::filesystem::remove_all(e.path(), ec);
    if (ec) return IoError("cannot remove " + e.path().string() + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace pgw
