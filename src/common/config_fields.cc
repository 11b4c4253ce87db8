#include "common/config_fields.h"

#include <set>
#include <tuple>

namespace pgw {
namespace {

using C = ChangeClass;

// A row from an accessor `get` that returns std::tie(...) of the field's members (const or not): the same
// accessor compares two snapshots and copies the field from one into the other, so they cannot disagree.
// Each lambda has its own type, so each row has its own `kGet`; the row's function pointers reach it without a
// capture. (C++17: the fuzz build compiles the config files so, tests/fuzz/CMakeLists.txt.)
template <typename Get>
ConfigField Row(const char* path, ChangeClass cls, Get get) {
  static const Get kGet = get;
  return ConfigField{path, cls, [](const Config& a, const Config& b) { return kGet(a) == kGet(b); },
                     [](const Config& from, Config* to) { kGet(*to) = kGet(from); }};
}

ChangeClass ParameterClass(const std::string& key) {
  return ParameterNeedsRestart(key) ? C::kPostgresRestart : C::kLive;
}
ChangeClass TagClass(const std::string& /*key*/) { return C::kLive; }

std::vector<ConfigField> BuildTable() {
  // Why each class (the facts behind them):
  // - name, scope, namespace, etcd3: who this member is and where its keys live; the DCS client holds them.
  // - restapi.listen and its TLS files: the listener and its TLS context are set up once at start.
  // - postgresql.listen, use_unix_socket, superuser: how the agent and its health check connect to PostgreSQL.
  // - data_dir, bin_dir, pgpass: where the instance and its programs are; changing them under a running
  //   PostgreSQL would lose it.
  // - watchdog: the fencer is armed with them at start.
  // Everything else is read where it is used (member key, REST checks, configuration writes, callbacks, clones).
  std::vector<ConfigField> t = {
      Row("name", C::kAgentRestart, [](auto& c) { return std::tie(c.name); }),
      Row("scope", C::kAgentRestart, [](auto& c) { return std::tie(c.scope); }),
      Row("namespace", C::kAgentRestart, [](auto& c) { return std::tie(c.namespace_); }),
      Row("log.level", C::kLive, [](auto& c) { return std::tie(c.log.level); }),
      Row("log.dir", C::kAgentRestart, [](auto& c) { return std::tie(c.log.dir); }),
      Row("bootstrap.dcs", C::kLive, [](auto& c) { return std::tie(c.bootstrap.dcs, c.bootstrap.dynamic); }),
      Row("bootstrap.method", C::kLive, [](auto& c) { return std::tie(c.bootstrap.custom); }),
      Row("bootstrap.initdb", C::kLive, [](auto& c) { return std::tie(c.bootstrap.initdb_args); }),
      Row("bootstrap.post_bootstrap", C::kLive, [](auto& c) { return std::tie(c.bootstrap.post_bootstrap); }),
      Row("bootstrap.users", C::kLive, [](auto& c) { return std::tie(c.bootstrap.users); }),
      Row("bootstrap.pg_hba", C::kLive, [](auto& c) { return std::tie(c.bootstrap.pg_hba); }),
      Row("etcd3.hosts", C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.hosts); }),
      Row("etcd3.protocol", C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.protocol); }),
      Row("etcd3.username", C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.username); }),
      Row("etcd3.password", C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.password); }),
      Row("etcd3.cacert", C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.cacert); }),
      Row("etcd3.cert", C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.cert); }),
      Row("etcd3.key", C::kAgentRestart, [](auto& c) { return std::tie(c.etcd3.key); }),
      Row("postgresql.listen", C::kAgentRestart,
          [](auto& c) { return std::tie(c.postgresql.listen_hosts, c.postgresql.port); }),
      Row("postgresql.connect_address", C::kLive, [](auto& c) { return std::tie(c.postgresql.connect_address); }),
      Row("postgresql.data_dir", C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.data_dir); }),
      Row("postgresql.bin_dir", C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.bin_dir); }),
      Row("postgresql.pgpass", C::kAgentRestart, [](auto& c) { return std::tie(c.postgresql.pgpass); }),
      Row("postgresql.use_unix_socket", C::kAgentRestart,
          [](auto& c) { return std::tie(c.postgresql.use_unix_socket); }),
      Row("postgresql.authentication.superuser", C::kAgentRestart,
          [](auto& c) { return std::tie(c.postgresql.superuser); }),
      Row("postgresql.authentication.replication", C::kLive,
          [](auto& c) { return std::tie(c.postgresql.replication); }),
      Row("postgresql.authentication.rewind", C::kLive,
          [](auto& c) { return std::tie(c.postgresql.rewind, c.postgresql.has_rewind_user); }),
      Row("postgresql.callbacks", C::kLive, [](auto& c) { return std::tie(c.postgresql.callbacks); }),
      Row("postgresql.create_replica_methods", C::kLive,
          [](auto& c) { return std::tie(c.postgresql.create_replica_methods, c.postgresql.replica_methods); }),
      Row("postgresql.basebackup", C::kLive, [](auto& c) { return std::tie(c.postgresql.basebackup_args); }),
      Row("postgresql.pg_hba", C::kLive, [](auto& c) { return std::tie(c.postgresql.pg_hba); }),
      Row("postgresql.pg_ctl_timeout", C::kLive, [](auto& c) { return std::tie(c.postgresql.pg_ctl_timeout); }),
      Row("postgresql.use_pg_rewind", C::kLive, [](auto& c) { return std::tie(c.postgresql.use_pg_rewind); }),
      Row("postgresql.remove_data_directory_on_rewind_failure", C::kLive,
          [](auto& c) { return std::tie(c.postgresql.remove_data_directory_on_rewind_failure); }),
      Row("postgresql.remove_data_directory_on_diverged_timelines", C::kLive,
          [](auto& c) { return std::tie(c.postgresql.remove_data_directory_on_diverged_timelines); }),
      Row("postgresql.pre_promote", C::kLive, [](auto& c) { return std::tie(c.postgresql.pre_promote); }),
      Row("restapi.listen", C::kAgentRestart,
          [](auto& c) { return std::tie(c.restapi.listen_host, c.restapi.listen_port); }),
      Row("restapi.connect_address", C::kLive, [](auto& c) { return std::tie(c.restapi.connect_address); }),
      Row("restapi.authentication", C::kLive, [](auto& c) { return std::tie(c.restapi.username, c.restapi.password); }),
      Row("restapi.certfile", C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.certfile); }),
      Row("restapi.keyfile", C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.keyfile); }),
      Row("restapi.cafile", C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.cafile); }),
      Row("restapi.verify_client", C::kAgentRestart, [](auto& c) { return std::tie(c.restapi.verify_client); }),
      Row("restapi.allowlist", C::kLive, [](auto& c) { return std::tie(c.restapi.allowlist); }),
      Row("restapi.allowlist_include_members", C::kLive,
          [](auto& c) { return std::tie(c.restapi.allowlist_include_members); }),
      Row("ctl", C::kLive, [](auto& c) { return std::tie(c.ctl.cacert, c.ctl.certfile, c.ctl.keyfile); }),
      Row("watchdog.mode", C::kAgentRestart, [](auto& c) { return std::tie(c.watchdog.mode); }),
      Row("watchdog.device", C::kAgentRestart, [](auto& c) { return std::tie(c.watchdog.device); }),
      Row("watchdog.safety_margin", C::kAgentRestart, [](auto& c) { return std::tie(c.watchdog.safety_margin); }),
  };
  ConfigField params =
      Row("postgresql.parameters", C::kLive, [](auto& c) { return std::tie(c.postgresql.parameters); });
  params.entries = [](const Config& c) -> const Json& { return c.postgresql.parameters; };
  params.entry_class = ParameterClass;
  t.push_back(params);
  // The typed tags (nofailover, ...) are derived from the same keys as `published`, which holds every tag set.
  ConfigField tags = Row("tags", C::kLive, [](auto& c) { return std::tie(c.tags.published); });
  tags.entries = [](const Config& c) -> const Json& { return c.tags.published; };
  tags.entry_class = TagClass;
  t.push_back(tags);
  return t;
}

}  // namespace

bool ParameterNeedsRestart(const std::string& name) {
  // PostgreSQL's postmaster-context parameters (pg_settings.context = 'postmaster', PostgreSQL 13 to 18). The
  // running server's pg_settings.pending_restart stays the authority; this list only labels the log line.
  static const std::set<std::string> kPostmaster = {
      "archive_mode",
      "autovacuum_max_workers",
      "autovacuum_worker_slots",
      "bonjour",
      "bonjour_name",
      "cluster_name",
      "commit_timestamp_buffers",
      "data_sync_retry",
      "dynamic_shared_memory_type",
      "event_source",
      "external_pid_file",
      "hot_standby",
      "huge_pages",
      "huge_page_size",
      "ident_file",
      "io_max_concurrency",
      "io_method",
      "jit_provider",
      "logging_collector",
      "max_connections",
      "max_files_per_process",
      "max_locks_per_transaction",
      "max_logical_replication_workers",
      "max_notify_queue_pages",
      "max_pred_locks_per_transaction",
      "max_prepared_transactions",
      "max_replication_slots",
      "max_wal_senders",
      "max_worker_processes",
      "min_dynamic_shared_memory",
      "multixact_member_buffers",
      "multixact_offset_buffers",
      "notify_buffers",
      "old_snapshot_threshold",
      "reserved_connections",
      "serializable_buffers",
      "shared_buffers",
      "shared_memory_type",
      "shared_preload_libraries",
      "subtransaction_buffers",
      "superuser_reserved_connections",
      "track_activity_query_size",
      "track_commit_timestamp",
      "transaction_buffers",
      "unix_socket_directories",
      "unix_socket_group",
      "unix_socket_permissions",
      "wal_buffers",
      "wal_decode_buffer_size",
      "wal_level",
      "wal_log_hints",
  };
  return kPostmaster.count(name) > 0;
}

const std::vector<ConfigField>& ConfigFields() {
  static const std::vector<ConfigField> table = BuildTable();
  return table;
}

std::vector<ConfigChange> DiffConfig(const Config& running, const Config& loaded) {
  std::vector<ConfigChange> out;
  for (const auto& f : ConfigFields()) {
    if (f.same(running, loaded)) continue;
    if (!f.entries) {
      out.push_back({f.path, f.cls});
      continue;
    }
    const Json& a = f.entries(running);
    const Json& b = f.entries(loaded);
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      bool in_a = a.contains(k), in_b = b.contains(k);
      if (in_a && in_b && a.at(k) == b.at(k)) continue;
      out.push_back({std::string(f.path) + "." + k, f.entry_class(k)});
    }
  }
  return out;
}

std::shared_ptr<const Config> ConfigAfterReload(const Config& running, const Config& loaded) {
  auto next = std::make_shared<Config>(loaded);
  for (const auto& f : ConfigFields()) {
    if (f.cls == C::kAgentRestart) f.keep(running, next.get());
  }
  return next;
}

std::string DescribeChange(const ConfigChange& c) {
  switch (c.cls) {
    case C::kLive: return c.path + ": applied";
    case C::kPostgresRestart:
      return c.path + ": written to postgresql.conf, needs a restart of PostgreSQL to take effect (pending_restart)";
    case C::kAgentRestart: return c.path + ": needs a restart of pgwarden; the running value stays in force until then";
  }
  return c.path;
}

}  // namespace pgw
