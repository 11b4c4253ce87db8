#include "router/reload.h"

#include <functional>

namespace pgw::router {

namespace {

std::string Endpoints(const etcd::ClientOptions& o) {
  std::string s;
  for (const auto& e : o.endpoints) s += (s.empty() ? "" : ",") + o.protocol + "://" + e.ToString();
  return s;
}

std::string EtcdSecrets(const RouterConfig& c) {
  return c.etcd.username + "\n" + c.etcd.password + "\n" + c.etcd.cacert + "\n" + c.etcd.cert + "\n" + c.etcd.key;
}

// One setting: its key, how it is shown, and (for restart-only settings) how the running value is kept.
struct Setting {
  const char* key;
  std::function<std::string(const RouterConfig&)> show;
  std::function<void(const RouterConfig& running, RouterConfig* next)> keep;  // null: applied live
};

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> kSettings = {
      // etcd: applied live by Router::Reload (TopologyWatcher::SetEtcd), which these two tell through etcd_changed.
      {"dcs_urls", [](const RouterConfig& c) { return Endpoints(c.etcd); }, nullptr},
      {"etcd credentials and TLS (patroni_config)", EtcdSecrets, nullptr},
      {"scope", [](const RouterConfig& c) { return c.scope; },
       [](const RouterConfig& r, RouterConfig* n) { n->scope = r.scope; }},
      {"namespace", [](const RouterConfig& c) { return c.namespace_; },
       [](const RouterConfig& r, RouterConfig* n) { n->namespace_ = r.namespace_; }},
      {"listen_write", [](const RouterConfig& c) { return c.listen_write.ToString(); },
       [](const RouterConfig& r, RouterConfig* n) { n->listen_write = r.listen_write; }},
      {"listen_read", [](const RouterConfig& c) { return c.listen_read.ToString(); },
       [](const RouterConfig& r, RouterConfig* n) { n->listen_read = r.listen_read; }},
      {"listen_admin", [](const RouterConfig& c) { return c.listen_admin.ToString(); },
       [](const RouterConfig& r, RouterConfig* n) { n->listen_admin = r.listen_admin; }},
      {"workers", [](const RouterConfig& c) { return std::to_string(c.workers); },
       [](const RouterConfig& r, RouterConfig* n) { n->workers = r.workers; }},
      {"read_max_lag", [](const RouterConfig& c) { return std::to_string(c.read_max_lag_bytes); }, nullptr},
      {"read_return_lag", [](const RouterConfig& c) { return std::to_string(c.read_return_lag_bytes); }, nullptr},
      {"read_max_lag_time", [](const RouterConfig& c) { return std::to_string(c.read_max_lag_time.count()) + "ms"; },
       nullptr},
      {"read_fallback_to_primary",
       [](const RouterConfig& c) { return std::string(c.read_fallback_to_primary ? "true" : "false"); }, nullptr},
      {"no_leader_wait", [](const RouterConfig& c) { return std::to_string(c.no_leader_wait.count()) + "ms"; },
       nullptr},
      {"connect_timeout", [](const RouterConfig& c) { return std::to_string(c.connect_timeout.count()) + "ms"; },
       nullptr},
      {"recovery_check",
       [](const RouterConfig& c) { return std::string(c.recovery_check == RecoveryCheck::kQuery ? "query" : "auto"); },
       nullptr},
      {"log_level", [](const RouterConfig& c) { return std::string(LogLevelName(c.log_level)); }, nullptr},
      // TLS files are read again at every reload (a renewed certificate under the same name applies too); new
      // sessions use them, established ones keep theirs.
      {"client_tls_cert_file", [](const RouterConfig& c) { return c.client_tls_cert_file; }, nullptr},
      {"client_tls_key_file", [](const RouterConfig& c) { return c.client_tls_key_file; }, nullptr},
      {"client_tls_sslmode", [](const RouterConfig& c) { return std::string(ClientTlsModeName(c.client_tls_sslmode)); },
       nullptr},
      {"server_tls_cert_file", [](const RouterConfig& c) { return c.server_tls_cert_file; }, nullptr},
      {"server_tls_key_file", [](const RouterConfig& c) { return c.server_tls_key_file; }, nullptr},
      {"server_tls_sslmode", [](const RouterConfig& c) { return std::string(ServerTlsModeName(c.server_tls_sslmode)); },
       nullptr},
      {"server_tls_ca_file", [](const RouterConfig& c) { return c.server_tls_ca_file; }, nullptr},
  };
  return kSettings;
}

}  // namespace

ReloadPlan PlanReload(const RouterConfig& running, const RouterConfig& loaded) {
  ReloadPlan plan;
  auto next = std::make_shared<RouterConfig>(loaded);
  for (const auto& s : Settings()) {
    std::string before = s.show(running), after = s.show(loaded);
    if (before == after) continue;
    // Credentials are compared, never shown.
    bool secret = std::string(s.key).find("credentials") != std::string::npos;
    std::string change = std::string(s.key) + (secret ? " changed" : ": " + before + " -> " + after);
    if (secret) before = "the old ones";
    if (s.keep) {
      s.keep(running, next.get());
      plan.needs_restart.push_back(change + " (needs a restart; " + before + " until then)");
    } else {
      plan.applied.push_back(change);
    }
  }
  plan.etcd_changed = Endpoints(running.etcd) != Endpoints(loaded.etcd) || EtcdSecrets(running) != EtcdSecrets(loaded);
  plan.next = std::move(next);
  return plan;
}

}  // namespace pgw::router
