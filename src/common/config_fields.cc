#include "common/config_fields.h"

#include "common/config_table.h"

#include <set>

namespace pgw {
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
  // The key table's rows that set fields of their own, in its order (patroni.yml order).
  static const std::vector<ConfigField> table = [] {
    std::vector<ConfigField> t;
    for (const auto& row : config_internal::KeyTable()) {
      if (!row.field.same) continue;
      ConfigField f = row.field;
      f.path = row.path.c_str();  // the table is static: its strings stay where they are
      t.push_back(f);
    }
    return t;
  }();
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
    if (f.cls == ChangeClass::kAgentRestart) f.keep(running, next.get());
  }
  return next;
}

std::string DescribeChange(const ConfigChange& c) {
  switch (c.cls) {
    case ChangeClass::kLive: return c.path + ": applied";
    case ChangeClass::kPostgresRestart:
      return c.path + ": written to postgresql.conf, needs a restart of PostgreSQL to take effect (pending_restart)";
    case ChangeClass::kAgentRestart:
      return c.path + ": needs a restart of pgwarden; the running value stays in force until then";
  }
  return c.path;
}

}  // namespace pgw
