#include "pg/conf.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

#include "pg/recovery_conf.h"

namespace pgw {
namespace {

const std::set<std::string> kClusterWide = {"max_connections",
                                            "max_wal_senders",
                                            "max_replication_slots",
                                            "max_worker_processes",
                                            "max_locks_per_transaction",
                                            "max_prepared_transactions",
                                            "track_commit_timestamp",
                                            "wal_level",
                                            "wal_log_hints"};

std::string EscapeConfString(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "''";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";  // a raw line break ends the line: PostgreSQL reads \n and \r escapes
    else if (c == '\r')
      out += "\\r";
    else
      out += c;
  }
  return out + "'";
}

std::string EscapePgpass(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string LibpqValue(const std::string& v) {
  bool plain = !v.empty();
  for (char c : v) plain = plain && c != ' ' && c != '\'' && c != '\\';
  if (plain) return v;
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

bool IsClusterWideParameter(const std::string& name) { return kClusterWide.count(name) > 0; }

namespace {

// The value of an ordinary (not cluster-wide) parameter as EffectiveParameters takes it: the local one when the key
// is there (null: unset), else the dynamic one.
Json MergedParameter(const Config& cfg, const DynamicConfig& dyn, const std::string& name) {
  const Json& local = cfg.postgresql.parameters;
  if (local.is_object() && local.contains(name)) return local.at(name);
  if (dyn.parameters.is_object() && dyn.parameters.contains(name)) return dyn.parameters.at(name);
  return nullptr;
}

// `name`'s file (hba_file, ident_file) with a relative path taken from the data directory, as Patroni takes it from
// its config_dir (the data directory: pgwarden has no config_dir); "" when the parameter is unset or empty.
std::string ConfFileParameter(const Config& cfg, const DynamicConfig& dyn, const std::string& name) {
  Json v = MergedParameter(cfg, dyn, name);
  std::string f = v.is_null() ? "" : ConfText(v);
  if (f.empty()) return "";
  std::filesystem::path path(f);
  if (path.is_relative()) path = std::filesystem::path(cfg.postgresql.data_dir) / path;
  return path.lexically_normal().string();
}

std::string OwnFile(const Config& cfg, const char* base) {
  return (std::filesystem::path(cfg.postgresql.data_dir) / base).lexically_normal().string();
}

}  // namespace

std::string HbaFile(const Config& cfg, const DynamicConfig& dyn) {
  std::string f = ConfFileParameter(cfg, dyn, "hba_file");
  return f.empty() ? OwnFile(cfg, "pg_hba.conf") : f;
}

std::string IdentFile(const Config& cfg, const DynamicConfig& dyn) {
  std::string f = ConfFileParameter(cfg, dyn, "ident_file");
  return f.empty() ? OwnFile(cfg, "pg_ident.conf") : f;
}

bool WritesPgHba(const Config& cfg, const DynamicConfig& dyn) {
  return HbaFile(cfg, dyn) == OwnFile(cfg, "pg_hba.conf");
}

Json EffectiveParameters(const Config& cfg, const DynamicConfig& dyn) {
  static const Json kDefaults = {
      {"wal_level", "replica"},
      {"hot_standby", "on"},
      {"max_connections", 100},
      {"max_wal_senders", 10},
      {"max_replication_slots", 10},
      {"max_worker_processes", 8},
      {"max_locks_per_transaction", 64},
      {"max_prepared_transactions", 0},
      {"track_commit_timestamp", "off"},
      {"wal_keep_size", "128MB"},
      {"wal_log_hints", "on"},
      // PostgreSQL's 5 s default delays a promotion: a standby whose walreceiver failed shortly before (the
      // primary just died) sleeps out the rest of the interval after the promote request (docs/configuration.md).
      {"wal_retrieve_retry_interval", "500ms"}};
  Json p = kDefaults;
  // A parameter given with no value (`archive_command:`) is not written, as Patroni writes no None: PostgreSQL's
  // default applies, or pgwarden's own above. Before, it was written as 'null' (an archiver running `null`).
  auto set = [&](const std::string& k, const Json& v) {
    // Refused in the local parameters; from the dynamic configuration (a Patroni-written one may hold them) they
    // would move PostgreSQL away from data_dir, so they are left out.
    if (k == "data_directory" || k == "config_file") return;
    // Patroni's rule: recovery parameters apply to a replica only (pg/recovery_conf.h RecoveryConf takes them).
    // Before, every node got them: a recovery_target_time stopped each replica's replay at the target.
    if (IsRecoveryParameter(k)) return;
    if (!v.is_null()) {
      p[k] = v;
    } else if (kDefaults.contains(k)) {
      p[k] = kDefaults[k];
    } else {
      p.erase(k);
    }
  };
  for (const auto& [k, v] : dyn.parameters.items()) set(k, v);
  for (const auto& [k, v] : cfg.postgresql.parameters.items()) {
    if (!IsClusterWideParameter(k)) set(k, v);
  }
  std::string listen;
  for (const auto& h : cfg.postgresql.listen_hosts) listen += (listen.empty() ? "" : ",") + h;
  p["listen_addresses"] = listen;
  p["port"] = cfg.postgresql.port;
  p["cluster_name"] = cfg.scope;
  // Patroni's rule: hba_file and ident_file of the parameters are honoured, a relative path taken from the data
  // directory (and pgwarden then writes neither pg_hba.conf nor pg_ident.conf there: see RenderPgIdent,
  // WritesPgHba). hba_file is always written, so that a copied postgresql.base.conf cannot point elsewhere.
  p["hba_file"] = HbaFile(cfg, dyn);
  if (std::string ident = ConfFileParameter(cfg, dyn, "ident_file"); ident.empty()) {
    p.erase("ident_file");  // an empty value too: PostgreSQL's default, the data directory's pg_ident.conf
  } else {
    p["ident_file"] = ident;
  }
  // A backend crash must stop the postmaster: recovering in place would bring back commits nobody acknowledged
  // behind the agent's back (no client gate, no failover). The agent restarts or fails over (issue 10 item 3b).
  p["restart_after_crash"] = "off";
  return p;
}

std::string ConfText(const Json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string ConfValue(const Json& v) {
  // Only integers and booleans go bare: a bare 1e+20 is a syntax error for PostgreSQL, '1e+20' is a number.
  if (v.is_boolean() || v.is_number_integer()) return ConfText(v);
  return EscapeConfString(ConfText(v));
}

std::string PrimaryConninfo(const Config& cfg, const HostPort& upstream, bool read_write) {
  const auto& r = cfg.postgresql.replication;
  std::string s = "user=" + LibpqValue(r.username) + " passfile=" + LibpqValue(cfg.postgresql.pgpass) +
                  " host=" + LibpqValue(upstream.host) + " port=" + std::to_string(upstream.port);
  auto sslmode = r.options.find("sslmode");
  s += " sslmode=" + (sslmode != r.options.end() ? LibpqValue(sslmode->second) : std::string("prefer"));
  for (const auto& [k, v] : r.options) {
    if (k != "sslmode" && !(read_write && k == "target_session_attrs")) s += " " + k + "=" + LibpqValue(v);
  }
  s += " application_name=" + LibpqValue(cfg.name);
  if (read_write) s += " target_session_attrs=read-write";
  return s;
}

std::string RenderPostgresqlConf(const Config& cfg, const Json& parameters, const std::optional<Upstream>& upstream,
                                 bool include_base, const Json& recovery) {
  std::string out =
      "# Do not edit this file manually!\n"
      "# It will be overwritten by pgwarden (Patroni-compatible HA agent).\n";
  if (include_base) out += "include 'postgresql.base.conf'\n";
  out += "\n";
  for (const auto& [k, v] : parameters.items()) {
    if (!v.is_null()) out += k + " = " + ConfValue(v) + "\n";
  }
  if (upstream) {
    out += "\n# recovery: this node is a replica\n";
    if (!upstream->address.host.empty()) {
      out += "primary_conninfo = " + EscapeConfString(PrimaryConninfo(cfg, upstream->address, upstream->read_write)) +
             "\n";
      if (!upstream->slot.empty()) out += "primary_slot_name = " + EscapeConfString(upstream->slot) + "\n";
    }
    out += "recovery_target_timeline = 'latest'\n";
    // As Patroni: no recovery target, whatever an included file (postgresql.base.conf) says, so that a replica is
    // never paused, promoted or shut down at one.
    for (const char* t : {"recovery_target", "recovery_target_name", "recovery_target_time", "recovery_target_xid",
                          "recovery_target_lsn"}) {
      out += std::string(t) + " = ''\n";
    }
    for (const auto& [k, v] : recovery.items()) {
      if (!v.is_null()) out += k + " = " + ConfValue(v) + "\n";
    }
    if (!upstream->restore_command.empty()) {
      out += "restore_command = " + EscapeConfString(upstream->restore_command) + "\n";
    }
    if (!upstream->archive_cleanup_command.empty()) {
      out += "archive_cleanup_command = " + EscapeConfString(upstream->archive_cleanup_command) + "\n";
    }
    if (upstream->min_apply_delay_ms > 0) {
      out += "recovery_min_apply_delay = " + std::to_string(upstream->min_apply_delay_ms) + "\n";
    }
  }
  return out;
}

namespace {

// Whitespace-separated fields of one pg_hba.conf line, keeping double-quoted fields whole. Comments dropped.
std::vector<std::string> HbaFields(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, any = false;
  for (char ch : line) {
    if (ch == '"') quoted = !quoted;
    if (!quoted && ch == '#') break;
    if (!quoted && (ch == ' ' || ch == '\t')) {
      if (any) out.push_back(cur);
      cur.clear();
      any = false;
      continue;
    }
    cur += ch;
    any = true;
  }
  if (any) out.push_back(cur);
  return out;
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string Unquote(const std::string& s) {
  return s.size() >= 2 && s.front() == '"' && s.back() == '"' ? s.substr(1, s.size() - 2) : s;
}

// The gated form of one line, or "" when the line must go.
std::string GatedLine(const std::string& line, const std::vector<std::string>& own_roles) {
  std::vector<std::string> f = HbaFields(line);
  if (f.size() < 3) return "";
  const std::string& type = f[0];
  if (type != "local" && type.rfind("host", 0) != 0) return "";  // include directives and the unknown
  for (const auto& db : SplitCommas(f[1])) {
    if (db == "replication") return line;  // standbys keep streaming, others can pg_basebackup from us
  }
  std::vector<std::string> users;
  for (const auto& u : SplitCommas(f[2])) {
    if (u == "all") {
      users = own_roles;
      break;
    }
    if (std::find(own_roles.begin(), own_roles.end(), Unquote(u)) != own_roles.end()) users.push_back(u);
  }
  if (users.empty()) return "";
  std::string joined;
  for (const auto& u : users) joined += (joined.empty() ? "" : ",") + u;
  f[2] = joined;
  std::string out;
  for (const auto& x : f) out += (out.empty() ? "" : " ") + x;
  return out;
}

}  // namespace

std::vector<std::string> HbaLines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!HbaFields(line).empty()) out.push_back(line);
  }
  return out;
}

std::string RenderPgHba(const Config& cfg, const DynamicConfig& dyn, bool gated,
                        const std::vector<std::string>& initdb_lines) {
  std::vector<std::string> lines = cfg.postgresql.pg_hba.empty() ? dyn.pg_hba : cfg.postgresql.pg_hba;
  const std::string& repl = cfg.postgresql.replication.username;
  // Patroni appends bootstrap.pg_hba to initdb's file, and only when pg_hba is set in neither place.
  bool from_bootstrap = lines.empty() && !cfg.bootstrap.pg_hba.empty();
  if (from_bootstrap) lines = cfg.bootstrap.pg_hba;
  if (lines.empty()) {
    lines = {"local all all peer", "host all all 127.0.0.1/32 scram-sha-256", "host all all ::1/128 scram-sha-256",
             "host all all all scram-sha-256"};
  }
  bool has_replication = false;
  for (const auto& l : lines) {
    std::vector<std::string> f = HbaFields(l);
    if (f.size() < 2) continue;
    for (const auto& db : SplitCommas(f[1])) has_replication = has_replication || db == "replication";
  }
  if (from_bootstrap) lines.insert(lines.begin(), initdb_lines.begin(), initdb_lines.end());
  if (!has_replication) {
    // Replication connections match only lines that name the 'replication' database.
    lines.insert(lines.begin(), "host replication " + repl + " all scram-sha-256");
  }
  std::string out = "# Do not edit this file manually!\n# It will be overwritten by pgwarden.\n";
  if (gated) {
    out +=
        "# Client gate: PostgreSQL restarted after a crash in synchronous mode. Only replication and pgwarden's\n"
        "# own roles may connect until a synchronous standby has received all WAL (docs/synchronous.md).\n";
    std::vector<std::string> own = {cfg.postgresql.superuser.username};
    if (cfg.postgresql.has_rewind_user && cfg.postgresql.rewind.username != own[0]) {
      own.push_back(cfg.postgresql.rewind.username);
    }
    for (const auto& l : lines) {
      std::string g = GatedLine(l, own);
      if (!g.empty()) out += g + "\n";
    }
    return out;
  }
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::optional<std::string> RenderPgIdent(const Config& cfg, const DynamicConfig& dyn) {
  // Patroni's rule: an ident_file of the parameters wins, unless it names the file Patroni writes anyway.
  if (IdentFile(cfg, dyn) != OwnFile(cfg, "pg_ident.conf")) return std::nullopt;
  std::vector<std::string> lines = cfg.postgresql.pg_ident;
  if (lines.empty()) {
    // The dynamic configuration's postgresql section applies too (Patroni merges it under the local one); its
    // non-string entries are skipped.
    const Json& raw = dyn.raw;
    if (raw.is_object() && raw.contains("postgresql") && raw.at("postgresql").is_object() &&
        raw.at("postgresql").contains("pg_ident") && raw.at("postgresql").at("pg_ident").is_array()) {
      for (const auto& l : raw.at("postgresql").at("pg_ident")) {
        if (l.is_string()) lines.push_back(l.get<std::string>());
      }
    }
  }
  if (lines.empty()) return std::nullopt;
  std::string out = "# Do not edit this file manually!\n# It will be overwritten by pgwarden.\n";
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string LocalHost(const Config& cfg, const std::string& running_socket_dir) {
  const auto& pg = cfg.postgresql;
  std::string host = pg.listen_hosts.empty() ? "127.0.0.1" : pg.listen_hosts.front();
  if (host == "*" || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (!pg.use_unix_socket) return host;
  // Where the running postmaster listens is the truth: unix_socket_directories may come from the dynamic
  // configuration (Patroni reads the parameters in effect), or have changed there pending a restart.
  if (!running_socket_dir.empty() && running_socket_dir.front() == '/') return running_socket_dir;
  auto it = pg.parameters.find("unix_socket_directories");
  if (it == pg.parameters.end() || !it->is_string()) {
    const Json& dyn = cfg.bootstrap.dynamic.parameters;
    it = dyn.find("unix_socket_directories");
    if (it == dyn.end() || !it->is_string()) return "/var/run/postgresql";
  }
  // Patroni's rule: the first absolute directory of the list; none (`..`, as in Patroni's own example file, or
  // `@abstract`) means TCP. Before, the first entry was taken whatever it was, and libpq read `..` as a host name.
  for (std::string d : SplitCommas(it->get<std::string>())) {
    d.erase(0, d.find_first_not_of(" \t"));
    d.erase(d.find_last_not_of(" \t") + 1);
    if (!d.empty() && d.front() == '/') return d;
  }
  return host;
}

std::string PostBootstrapConninfo(const Config& cfg, const std::string& running_socket_dir) {
  const auto& su = cfg.postgresql.superuser;
  std::string s = "dbname=postgres user=" + LibpqValue(su.username) +
                  " host=" + LibpqValue(LocalHost(cfg, running_socket_dir)) +
                  " port=" + std::to_string(cfg.postgresql.port);
  for (const auto& [k, v] : su.options) s += " " + k + "=" + LibpqValue(v);
  return s;
}

std::string RenderBootstrapTrustHba(const Config& cfg) {
  std::string out =
      "# Written by pgwarden during a custom bootstrap: the restored superuser's password is unknown until pgwarden\n"
      "# sets it, so local connections are trusted meanwhile. The configured pg_hba.conf replaces this file next.\n"
      "local all all trust\n"
      "host all all 127.0.0.1/32 trust\n"
      "host all all ::1/128 trust\n";
  std::string host = LocalHost(cfg);
  if (host != "127.0.0.1" && host != "::1" && !host.empty() && host[0] != '/') {
    bool v4 = host.find_first_not_of("0123456789.") == std::string::npos;
    bool v6 =
        host.find(':') != std::string::npos && host.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
    if (v4) out += "host all all " + host + "/32 trust\n";
    if (v6) out += "host all all " + host + "/128 trust\n";
  }
  return out;
}

std::string ReplicaMethodConninfo(const Config& cfg, const HostPort& source) {
  const auto& r = cfg.postgresql.replication;
  std::string s = "dbname=postgres user=" + LibpqValue(r.username) + " host=" + LibpqValue(source.host) +
                  " port=" + std::to_string(source.port);
  // Patroni's keyword order (format_dsn); no password: the command gets PGPASSFILE.
  for (const char* k :
       {"sslmode", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir",
        "application_name", "krbsrvname", "gssencmode", "channel_binding", "target_session_attrs"}) {
    auto it = r.options.find(k);
    if (it != r.options.end()) s += std::string(" ") + k + "=" + LibpqValue(it->second);
  }
  return s;
}

std::string RenderPgpass(const Config& cfg) {
  std::string out;
  auto add = [&](const PgUser& u) {
    if (u.username.empty()) return;
    out += "*:*:*:" + EscapePgpass(u.username) + ":" + EscapePgpass(u.password) + "\n";
  };
  add(cfg.postgresql.replication);
  add(cfg.postgresql.superuser);
  if (cfg.postgresql.has_rewind_user) add(cfg.postgresql.rewind);
  return out;
}

}  // namespace pgw
