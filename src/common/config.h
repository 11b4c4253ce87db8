// The agent's configuration: Patroni's patroni.yml tree plus PATRONI_* environment overrides, validated once into an
// immutable typed snapshot.
//
// Loading never throws. Every problem is reported with its key path ("postgresql.listen: ...") and all problems are
// collected, not just the first, so that `pgwarden --validate-config` can list them together.
//
// Keys that Patroni knows but pgwarden does not act on (consul, citus, log.format, ...) are accepted with a warning so
// that an existing patroni.yml loads unchanged; keys nobody knows are errors (they are nearly always typos).
#pragma once

#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/hostport.h"
#include "common/log.h"
#include "common/status.h"

namespace pgw {

using Json = nlohmann::json;

// A permanent replication slot from the dynamic configuration's `slots` (Patroni's names and rules).
struct PermanentSlot {
  std::string type;      // "physical" or "logical"
  std::string database;  // logical only
  std::string plugin;    // logical only
  bool operator==(const PermanentSlot&) const = default;
};

// One entry of `ignore_slots`: a slot matches when every field that is set equals the slot's.
struct SlotMatcher {
  std::optional<std::string> name, type, database, plugin;
  bool operator==(const SlotMatcher&) const = default;
};

// `standby_cluster` of the dynamic configuration (Patroni's names): this cluster replicates from a remote primary.
// Its leader is a "standby leader" (holds the leader key, runs PostgreSQL in recovery streaming from host:port);
// the other members cascade from it. Removing the section promotes the standby leader.
struct StandbyCluster {
  std::string host;
  int port = 5432;
  std::string primary_slot_name;                       // slot on the remote primary ("" : none)
  std::string restore_command;                         // also given to the cascading replicas
  std::string archive_cleanup_command;                 // also given to the cascading replicas
  std::optional<int64_t> recovery_min_apply_delay_ms;  // standby leader only
  std::vector<std::string> create_replica_methods;     // replaces postgresql.create_replica_methods here
  bool operator==(const StandbyCluster&) const = default;
};

// Cluster-wide settings kept in the DCS `config` key (seeded from bootstrap.dcs). Patroni's names and defaults.
struct DynamicConfig {
  int ttl = 30;
  int loop_wait = 10;
  double retry_timeout = 10;  // seconds; decimals allowed (pgwarden: ttl 2 needs 0.5 under the rule below)
  long long maximum_lag_on_failover = 1048576;
  // A member on an older timeline than the cluster's (the `history` key) may not take the leader key, nor be a
  // switchover candidate. Read as Patroni's check_mode reads it: true, "on", "yes", 1 ...; anything else is off.
  bool check_timeline = false;
  int primary_start_timeout = 300;
  bool use_slots = true;
  bool use_pg_rewind = false;
  // postgresql.remove_data_directory_on_rewind_failure / _on_diverged_timelines set in the dynamic configuration
  // (Debian's template puts them under bootstrap.dcs.postgresql): Patroni applies them to every member, under the
  // member's own postgresql section. Effective flag: local || dynamic.
  bool remove_data_directory_on_rewind_failure = false;
  bool remove_data_directory_on_diverged_timelines = false;
  bool pause = false;
  bool failsafe_mode = false;
  bool synchronous_mode = false;  // true for on (and for Patroni 4's "quorum", treated as on)
  bool synchronous_mode_strict = false;
  int synchronous_node_count = 1;
  long long maximum_lag_on_syncnode = -1;
  Json parameters = Json::object();  // postgresql.parameters
  std::vector<std::string> pg_hba;   // postgresql.pg_hba
  // `slots` (aliases `permanent_slots`, `permanent_replication_slots`, Patroni's order of precedence).
  std::map<std::string, PermanentSlot> slots;
  std::vector<SlotMatcher> ignore_slots;
  // Set when the configuration describes a standby cluster (Patroni's rule: host, port or restore_command set).
  std::optional<StandbyCluster> standby_cluster;
  Json raw = Json::object();  // the whole object as stored
  bool operator==(const DynamicConfig&) const = default;
  Duration RetryTimeout() const { return Duration(std::llround(retry_timeout * 1000)); }

  // pgwarden's floor for the timing keys; see docs/configuration.md. Patroni's are 20/1/3.
  static constexpr int kMinTtl = 2;
  static constexpr int kMinLoopWait = 1;
  static constexpr double kMinRetryTimeout = 0.5;
  // Timing keys beyond this many seconds are refused (milliseconds must fit an int).
  static constexpr int kMaxSeconds = 1000000;

  // Parses and checks a dynamic configuration object. Problems are appended with `path_prefix` (e.g. "bootstrap.dcs").
  // Values adjusted as Patroni adjusts them (timing floors, the loop_wait + 2*retry_timeout <= ttl rule) are reported
  // in `warnings` when given.
  static DynamicConfig FromJson(const Json& j, const std::string& path_prefix, std::vector<std::string>* problems,
                                std::vector<std::string>* warnings = nullptr);
  // The first problem (with `adjustments`, or adjustment) that the edit from `before` to `after` introduces, ""
  // when none: what `before` already had is not held against an edit (Patroni checks nothing there, so a
  // configuration it wrote may hold values pgwarden refuses or adjusts, and other keys must stay editable).
  static std::string IntroducedProblem(const Json& before, const Json& after, bool adjustments);
};

// A number of seconds as written in a configuration: "10", "0.5" (no trailing zeros).
std::string FormatSeconds(double seconds);

struct PgUser {
  std::string username;
  std::string password;
  std::map<std::string, std::string> options;  // sslmode, sslcert, ... passed through to libpq
  bool operator==(const PgUser&) const = default;
};

struct Tags {
  bool nofailover = false;
  bool noloadbalance = false;
  bool clonefrom = false;
  bool nosync = false;
  std::optional<int> failover_priority;
  std::string replicatefrom;
  // Tags as published in the member key: every tag except defaulted booleans, as Patroni does.
  Json published = Json::object();
  // nofailover, or failover_priority <= 0.
  bool NeverPromote() const { return nofailover || (failover_priority && *failover_priority <= 0); }
};

// A custom replica creation method (`postgresql.<name>`, listed in create_replica_methods), Patroni's names.
struct ReplicaMethod {
  std::vector<std::string> command;  // `command`, split like a shell would (no shell); empty: the method's name
  bool keep_data = false;            // leave the data directory as it is before running the command
  bool no_params = false;            // no --scope/--role/--datadir/--connstring arguments
  bool no_leader = false;            // `no_leader` or `no_master`: works without a running leader
  // Every key but `command`, in file order, with values as Patroni renders them (`True`, `5`, text): passed as
  // --key=value (the four flags above included, as Patroni passes them, except with no_params).
  std::vector<std::pair<std::string, std::string>> options;
  bool operator==(const ReplicaMethod&) const = default;
};

struct Config {
  std::string name;
  std::string scope;
  std::string namespace_ = "/service";

  struct RestApi {
    std::string listen_host;
    int listen_port = 0;
    HostPort connect_address;
    std::string username, password;
    std::string certfile, keyfile, cafile;   // TLS when certfile is set
    std::string keyfile_password;            // decrypts an encrypted keyfile
    std::string verify_client = "none";      // none | optional | required (client certificates, against cafile)
    std::vector<std::string> allowlist;      // IPs or CIDRs allowed to call unsafe endpoints
    bool allowlist_include_members = false;  // ... plus the members' API hosts
    bool Tls() const { return !certfile.empty(); }
  } restapi;

  struct Etcd {
    std::vector<HostPort> hosts;
    std::string protocol = "http";
    std::string username, password;
    std::string cacert, cert, key;
  } etcd3;

  // `ctl`: how a client (pgwardenctl, patronictl) calls the agents' REST API over https. The agent does not use it.
  struct Ctl {
    std::string cacert, certfile, keyfile;
    std::string keyfile_password;    // decrypts an encrypted keyfile (else restapi.keyfile_password)
    std::string username, password;  // ctl.authentication: pgwardenctl's REST credentials (else restapi's)
    bool insecure = false;           // do not check the agents' certificates
  } ctl;

  struct Bootstrap {
    Json dcs = Json::object();
    DynamicConfig dynamic;                 // dcs, parsed
    std::vector<std::string> initdb_args;  // e.g. "--encoding=UTF8", "--data-checksums"
    // post_bootstrap (or its older name post_init), split into an argv vector (common/shlex.h): run once after
    // initdb and the first start, with the superuser's connection string appended. Empty: none.
    std::vector<std::string> post_bootstrap;
    // Roles created (or updated) after bootstrap, as Patroni 3 does (deprecated there, removed in Patroni 4).
    struct User {
      std::string name;
      std::string password;              // "" : no password
      std::vector<std::string> options;  // upper case role options (CREATEDB, CONNECTION LIMIT 5, ...)
      bool operator==(const User&) const = default;
    };
    std::vector<User> users;
    // Lines added after initdb's own pg_hba.conf lines when neither postgresql.pg_hba nor the dynamic
    // postgresql.pg_hba is set (pg/conf.h RenderPgHba).
    std::vector<std::string> pg_hba;
    // bootstrap.method other than initdb, with a `command` in bootstrap.<method> (Patroni's custom bootstrap).
    struct Method {
      std::string name;
      std::vector<std::string> command;  // split; run with --scope= and --datadir= unless no_params
      bool keep_existing_recovery_conf = false;
      bool no_params = false;
      // recovery_conf: recovery parameters (restore_command, recovery_target_*...) written for the first start,
      // which then runs in recovery until PostgreSQL leaves it. nullopt: no recovery_conf key.
      std::optional<std::vector<std::pair<std::string, std::string>>> recovery_conf;
      bool operator==(const Method&) const = default;
    };
    std::optional<Method> custom;
  } bootstrap;

  struct Postgresql {
    std::vector<std::string> listen_hosts;
    int port = 5432;
    HostPort connect_address;
    std::string data_dir;
    std::string bin_dir;  // resolved: configured, or found in PATH / /usr/lib/postgresql/*/bin
    std::string pgpass;
    PgUser superuser, replication, rewind;
    bool has_rewind_user = false;
    Json parameters = Json::object();
    // recovery_conf: recovery parameters written only while PostgreSQL runs as a replica (pg/recovery_conf.h).
    // Scalars as the YAML gives them; a null value is not written.
    Json recovery_conf = Json::object();
    std::vector<std::string> pg_hba;
    std::vector<std::string> pg_ident;         // pg_ident.conf's lines (pg/conf.h RenderPgIdent)
    std::vector<std::string> basebackup_args;  // "--max-rate=100M", "--checkpoint=fast"
    // create_replica_methods (or the older create_replica_method), tried in order; empty: basebackup only.
    std::vector<std::string> create_replica_methods;
    std::map<std::string, ReplicaMethod> replica_methods;  // postgresql.<method> of each custom method listed
    bool use_unix_socket = false;
    int pg_ctl_timeout = 60;
    bool use_pg_rewind = false;
    bool remove_data_directory_on_rewind_failure = false;
    bool remove_data_directory_on_diverged_timelines = false;
    std::string pre_promote;  // command line; a non-zero exit vetoes the promotion
    std::map<std::string, std::string> callbacks;
  } postgresql;

  Tags tags;

  struct Log {
    LogLevel level = LogLevel::kInfo;
    std::string dir;
  } log;

  struct Watchdog {
    std::string mode = "automatic";
    std::string device = "/dev/watchdog";
    int safety_margin = 5;
  } watchdog;

  // "/service/demo/": where this cluster's keys live in etcd.
  std::string KeyPrefix() const;
  // Path of a PostgreSQL program in bin_dir.
  std::string PgBin(const std::string& program) const;
};

struct LoadOptions {
  // PATRONI_* variables that override the file (pass the process environment from main(); tests pass their own).
  std::map<std::string, std::string> env;
  // Check that bin_dir holds the PostgreSQL programs. Off in unit tests that do not have PostgreSQL installed.
  bool check_bin_dir = true;
  // Who reads the configuration. kAgent: the whole tree, with every key an agent needs. kClient: pgwardenctl, as
  // patronictl reads it (no validator): only scope, namespace, name, etcd3, restapi and ctl are read, with the same
  // types, extraction and PATRONI_* overrides as the agent's, and none of them is required (a client may also get
  // etcd from its command line); every other key is ignored without a word.
  enum class Reader { kAgent, kClient };
  Reader reader = Reader::kAgent;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // set when errors is empty
  std::vector<std::string> errors;       // "key.path: what is wrong"
  std::vector<std::string> warnings;     // accepted but ignored keys, adjusted values
};

// Loads a YAML file, or a directory of *.yml/*.yaml files merged in alphabetical order, then applies `opts.env`.
LoadResult LoadConfigFile(const std::string& path, const LoadOptions& opts);
// Same, from YAML text (used by tests and by PATRONI_CONFIGURATION).
LoadResult LoadConfigText(const std::string& yaml_text, const LoadOptions& opts);

// A PostgreSQL time value in milliseconds: an integer (milliseconds) or a string with an optional unit (us, ms, s,
// min, h, d; "5min", "300000", "2 s"). nullopt when it is neither, or negative.
std::optional<int64_t> PgDurationMs(const Json& v);

// Where PostgreSQL's programs are: PATH first, then Debian's /usr/lib/postgresql/<newest>/bin ("" if nowhere).
std::string FindPostgresBinDir(const std::map<std::string, std::string>& env);

// The process environment as a map (for LoadOptions::env).
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace pgw
