#include "pg/recovery_conf.h"

#include <algorithm>
#include <array>

#include "pg/param_check.h"

namespace pgw {
namespace {

// Patroni 3's list (validator.py recovery_parameters), sorted.
constexpr std::array<const char*, 18> kRecoveryParameters = {"archive_cleanup_command",
                                                             "pause_at_recovery_target",
                                                             "primary_conninfo",
                                                             "primary_slot_name",
                                                             "promote_trigger_file",
                                                             "recovery_end_command",
                                                             "recovery_min_apply_delay",
                                                             "recovery_target",
                                                             "recovery_target_action",
                                                             "recovery_target_inclusive",
                                                             "recovery_target_lsn",
                                                             "recovery_target_name",
                                                             "recovery_target_time",
                                                             "recovery_target_timeline",
                                                             "recovery_target_xid",
                                                             "restore_command",
                                                             "standby_mode",
                                                             "trigger_file"};

std::string LowerName(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool IsScalar(const Json& v) { return v.is_string() || v.is_number() || v.is_boolean(); }

// The ones pgwarden writes itself for every replica (conf.h RenderPostgresqlConf), or that the Upstream carries.
bool OwnedByPgwarden(const std::string& name) {
  return name.rfind("recovery_target", 0) == 0 || name == "primary_conninfo" || name == "primary_slot_name" ||
         name == "restore_command" || name == "archive_cleanup_command" || name == "recovery_min_apply_delay";
}

}  // namespace

bool IsRecoveryParameter(const std::string& name) {
  const std::string l = LowerName(name);
  return std::any_of(kRecoveryParameters.begin(), kRecoveryParameters.end(), [&](const char* p) { return l == p; });
}

Json RecoveryConf(const Config& cfg, const DynamicConfig& dyn) {
  Json out = Json::object();
  auto put = [&](const std::string& k, const Json& v) {
    if (v.is_null()) {
      out.erase(LowerName(k));
    } else if (IsScalar(v)) {
      out[LowerName(k)] = v;
    }
  };
  Json conf = cfg.postgresql.recovery_conf;
  const Json& raw = dyn.raw;
  if (conf.empty() && raw.is_object() && raw.contains("postgresql") && raw.at("postgresql").is_object() &&
      raw.at("postgresql").contains("recovery_conf")) {
    conf = raw.at("postgresql").at("recovery_conf");
  }
  if (conf.is_object()) {
    for (const auto& [k, v] : conf.items()) put(k, v);
  }
  auto moved = [&](const Json& params) {
    if (!params.is_object()) return;
    for (const auto& [k, v] : params.items()) {
      if (IsRecoveryParameter(k)) put(k, v);
    }
  };
  moved(dyn.parameters);
  moved(cfg.postgresql.parameters);
  return out;
}

Json ReplicaRecoveryParameters(int major, const Config& cfg, const DynamicConfig& dyn,
                               std::vector<std::string>* warnings) {
  Json out = Json::object();
  const Json conf = RecoveryConf(cfg, dyn);
  for (const auto& [k, v] : conf.items()) {
    if (OwnedByPgwarden(k)) continue;
    if (!IsRecoveryParameter(k)) {
      // Patroni's rule: only recovery parameters are taken from recovery_conf.
      warnings->push_back("postgresql.recovery_conf." + k + ": not a recovery parameter, left out");
      continue;
    }
    out[k] = v;
  }
  std::vector<std::string> checked;
  out = CheckParameters(major, out, &checked);
  const std::string from = "postgresql.parameters", to = "postgresql.recovery_conf";
  for (auto& w : checked) {
    if (w.rfind(from, 0) == 0) w = to + w.substr(from.size());
    warnings->push_back(std::move(w));
  }
  return out;
}

}  // namespace pgw
