// Pure rendering of the files pgwarden writes into the data directory: postgresql.conf (parameters plus recovery
// settings), pg_hba.conf, and the pgpass file. No I/O, so every rule is unit-tested.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"

namespace pgw {

// Where a replica streams from, and the recovery settings that go with it. The last three are written only when
// set; the decision core fills them from standby_cluster (or the parameters, so that comparing with what
// PostgreSQL reports stays stable), the controller from what PostgreSQL runs with.
struct Upstream {
  HostPort address;  // empty host: replay from the archive only (no primary_conninfo, no slot), as the standby
                     // leader of an archive-only standby cluster does

  std::string slot;               // primary_slot_name ("" = none)
  std::string restore_command{};  // standby cluster: fetch WAL from the remote archive
  std::string archive_cleanup_command{};
  int64_t min_apply_delay_ms = 0;  // recovery_min_apply_delay
  // target_session_attrs=read-write in primary_conninfo: a standby leader streaming through a slot connects only to
  // a primary (of several standby_cluster hosts, the one that is the remote primary), as Patroni does.
  bool read_write = false;
  bool operator==(const Upstream&) const = default;
};

// Parameters PostgreSQL requires to be equal on every node: taken from the dynamic config only (Patroni's rule).
bool IsClusterWideParameter(const std::string& name);

// defaults < dynamic config < local postgresql.parameters (cluster-wide ones from the dynamic config only; recovery
// parameters left out: a replica's recovery configuration takes them, pg/recovery_conf.h), plus
// what pgwarden owns: listen_addresses and port (postgresql.listen's, whatever the parameters say), cluster_name,
// and hba_file (HbaFile); ident_file made absolute (IdentFile) when set.
Json EffectiveParameters(const Config& cfg, const DynamicConfig& dyn);

// The pg_hba.conf / pg_ident.conf PostgreSQL reads, as Patroni sets them: the hba_file / ident_file parameter
// (local, else dynamic; a relative path is taken from the data directory, as Patroni takes it from its config_dir),
// else the data directory's own file. Lexically normalised.
std::string HbaFile(const Config& cfg, const DynamicConfig& dyn);
std::string IdentFile(const Config& cfg, const DynamicConfig& dyn);
// Whether pgwarden writes pg_hba.conf: only when HbaFile is the data directory's own file. An hba_file naming
// another file makes that file the user's (Patroni then writes no pg_hba.conf, and ignores pg_hba and
// bootstrap.pg_hba).
bool WritesPgHba(const Config& cfg, const DynamicConfig& dyn);

// A postgresql.conf value: integers and booleans (on/off) bare, everything else single-quoted (line breaks as \n).
std::string ConfValue(const Json& v);
// The text PostgreSQL reads from ConfValue(v): on/off for a boolean, a string as it is, anything else as JSON.
std::string ConfText(const Json& v);

// postgresql.conf. `upstream` set => replica recovery settings (primary_conninfo, primary_slot_name,
// recovery_target_timeline 'latest', every other recovery_target* empty, then `recovery` (the user's recovery_conf,
// pg/recovery_conf.h ReplicaRecoveryParameters), then restore_command, archive_cleanup_command,
// recovery_min_apply_delay when set: they come after the parameters and win). Without `upstream`, `recovery` is not
// written (a primary gets none of it). `include_base` adds include of postgresql.base.conf (initdb's original).
std::string RenderPostgresqlConf(const Config& cfg, const Json& parameters, const std::optional<Upstream>& upstream,
                                 bool include_base, const Json& recovery = Json::object());

// primary_conninfo as Patroni writes it: user, passfile, host, port, sslmode, application_name (the member name).
std::string PrimaryConninfo(const Config& cfg, const HostPort& upstream, bool read_write = false);

// pg_hba.conf: local postgresql.pg_hba, else the dynamic one, else (when bootstrap.pg_hba is set) `initdb_lines`
// followed by bootstrap.pg_hba as Patroni appends them to initdb's file, else safe defaults. A replication entry for
// the replication user is added first when the configured lines have none (a replica could not stream otherwise).
// `initdb_lines`: the lines of the pg_hba.conf initdb wrote (kept as pg_hba.base.conf, see HbaLines).
// `gated`: the client gate after a crash restart in synchronous mode (docs/synchronous.md). Only replication
// lines and pgwarden's own roles (superuser, rewind user) stay: every other client is refused by PostgreSQL with
// "no pg_hba.conf entry" until the gate opens. A user field of `all` becomes the list of pgwarden's roles; lines
// naming only other roles, groups (+role) or files (@file) are left out, and so are `include` directives.
std::string RenderPgHba(const Config& cfg, const DynamicConfig& dyn, bool gated = false,
                        const std::vector<std::string>& initdb_lines = {});
// pg_ident.conf as Patroni writes it: the header, then the lines of postgresql.pg_ident, else of the dynamic
// configuration's postgresql.pg_ident. nullopt (the file is left as it is) when neither has a line, or when
// postgresql.parameters (local or dynamic) points ident_file at another file, which is then the user's.
std::optional<std::string> RenderPgIdent(const Config& cfg, const DynamicConfig& dyn);
// The entries of a pg_hba.conf file's text: comments and blank lines dropped.
std::vector<std::string> HbaLines(const std::string& text);

// The host pgwarden connects to for its local PostgreSQL: with use_unix_socket, the socket directory of the running
// postmaster when `running_socket_dir` (RunningSocketDir, pg/controller.h) names one, else the first absolute
// directory of unix_socket_directories as configured (the local parameters, else bootstrap.dcs's, which a first
// start is given); without, the first listen address (127.0.0.1 / ::1 for the wildcards).
std::string LocalHost(const Config& cfg, const std::string& running_socket_dir = "");
// What Patroni passes to the post_bootstrap script: a libpq connection string for the superuser on the local
// PostgreSQL (dbname, user, host, port and the superuser's ssl* options; no password: the script gets PGPASSFILE).
std::string PostBootstrapConninfo(const Config& cfg, const std::string& running_socket_dir = "");

// pg_hba.conf while a custom bootstrap runs (as Patroni opens it): local connections trusted (unix socket,
// loopback, and the local address pgwarden connects to when it is an IP address), nothing else.
std::string RenderBootstrapTrustHba(const Config& cfg);

// What Patroni passes a custom replica creation method as --connstring: a libpq connection string for the
// replication user to `source` (dbname, user, host, port, then the user's ssl* options; no password).
std::string ReplicaMethodConninfo(const Config& cfg, const HostPort& source);

// pgpass lines for the superuser, replication and rewind users (any host), with ':' and '\' escaped.
std::string RenderPgpass(const Config& cfg);

}  // namespace pgw
