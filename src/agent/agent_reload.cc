// Reload of the local configuration (SIGHUP, POST /reload), as Patroni's reload_local_configuration: the file is
// read again with the loader and environment of the start, a valid one replaces the running snapshot except for
// the fields only an agent restart applies (common/config_fields.h), and PostgreSQL's files are rewritten and
// reloaded. An invalid file changes nothing: its errors are logged with their key paths.
#include "agent/agent.h"
#include "common/config_fields.h"

namespace pgw {

std::vector<std::string> Agent::ReloadConfig() {
  std::vector<std::string> warnings;
  std::vector<std::string> errors = reloader_.Load(&warnings);
  if (!errors.empty()) {
    for (const auto& e : errors) log_.Error("reload: configuration error: " + e);
    log_.Error("reload: the configuration is invalid; keeping the running configuration");
    return errors;
  }
  for (const auto& w : warnings) log_.Warn("configuration: " + w);
  reload_requested_ = true;
  RequestWake();
  return {};
}

void Agent::ApplyReload(const LocalView& local) {
  if (auto loaded = reloader_.TakePending()) {
    std::vector<ConfigChange> changes = DiffConfig(*cfg_, *loaded);
    if (changes.empty()) log_.Info("No local configuration items changed.");
    for (const auto& c : changes) log_.Info("reload: " + DescribeChange(c));
    if (!changes.empty()) {
      std::shared_ptr<const Config> next = ConfigAfterReload(*cfg_, *loaded);
      cfg_.Publish(next);
      pg_->SetConfig(next);
      log_.SetLevel(next->log.level);
      // Tags and addresses reach the member key in this cycle's TouchMember (it writes when the JSON differs).
    }
  }
  if (!local.running || !local.query_ok) return;  // the next start writes the files from the new snapshot
  KeepSyncNames(local);
  Status r = pg_->Reload(local.in_recovery ? local.upstream : std::nullopt);
  if (!r.ok()) log_.Warn("reload: " + r.message());
  auto it = cfg_->postgresql.callbacks.find("on_reload");
  if (r.ok() && it != cfg_->postgresql.callbacks.end()) {
    callbacks_.Fire(it->second, "on_reload", local.in_recovery ? "replica" : "primary", cfg_->scope);
  }
}

void Agent::KeepSyncNames(const LocalView& local) {
  if (dyn_.synchronous_mode && local.query_ok && !local.in_recovery && !pg_->SyncNames()) {
    pg_->SetSyncNames(local.sync_names);
  }
}

void Agent::ApplyDynamicPostgresql(const LocalView& local) {
  // What the files take from the dynamic configuration: its postgresql section, and the permanent slots (a logical
  // one turns hot_standby_feedback on).
  std::string section;
  for (const char* k : {"postgresql", "slots"}) {
    section += dyn_.raw.is_object() && dyn_.raw.contains(k) ? dyn_.raw[k].dump() : "-";
  }
  if (applied_dynamic_postgresql_ == section) return;
  // Not running: the next start writes the files from this configuration; compared again once it runs.
  if (!local.running || !local.query_ok) return;
  KeepSyncNames(local);
  auto changed = pg_->ReloadIfChanged(local.in_recovery ? local.upstream : std::nullopt);
  if (!changed.ok()) {
    log_.Warn("applying the dynamic configuration: " + changed.status().message() + " (retried next cycle)");
    return;
  }
  applied_dynamic_postgresql_ = section;
  if (!*changed) return;
  log_.Info("dynamic configuration applied: PostgreSQL's configuration files rewritten and reloaded");
  auto it = cfg_->postgresql.callbacks.find("on_reload");
  if (it != cfg_->postgresql.callbacks.end()) {
    callbacks_.Fire(it->second, "on_reload", local.in_recovery ? "replica" : "primary", cfg_->scope);
  }
}

}  // namespace pgw
