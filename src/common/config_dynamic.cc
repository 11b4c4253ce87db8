#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "common/config_internal.h"
#include "common/config_parameters.h"
#include "common/truthy.h"

namespace pgw {

using config_internal::ParseBoolText;
using config_internal::ParseDecimalText;
using config_internal::ParseIntText;

std::string FormatSeconds(double seconds) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", seconds);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::vector<std::string> OverriddenParameterWarnings(const Json& parameters, const std::string& path) {
  std::vector<std::string> out;
  if (!parameters.is_object()) return out;
  for (const auto& [k, v] : parameters.items()) {
    std::string l = config_internal::Lower(k);
    if (l == "listen_addresses" || l == "port") {
      out.push_back(path + "." + k + ": ignored, postgresql.listen wins (Patroni sets " + l + " from it too)");
    }
  }
  return out;
}

namespace {
// A value for an error message. Json::dump throws on invalid UTF-8 (a DCS value can hold anything); replace it.
std::string Show(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Patroni's parse_bool of a JSON value: its Python text, lower-cased, is one of on/true/yes/1 or off/false/no/0.
// nullopt for anything else (2, 1.0, "y", null, a list), which Patroni's check_mode takes as false.
std::optional<bool> PatroniBool(const Json& v) {
  std::string s;
  if (v.is_boolean()) {
    s = v.get<bool>() ? "true" : "false";
  } else if (v.is_number_integer()) {
    s = v.dump();
  } else if (v.is_string()) {
    s = config_internal::Lower(v.get<std::string>());
  } else {
    return std::nullopt;
  }
  if (s == "on" || s == "true" || s == "yes" || s == "1") return true;
  if (s == "off" || s == "false" || s == "no" || s == "0") return false;
  return std::nullopt;
}

// Patroni's rule for slot names: lower case letters, digits and underscores, 1 to 63 of them.
bool ValidSlotName(const std::string& n) {
  if (n.empty() || n.size() > 63) return false;
  return std::all_of(n.begin(), n.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// An optional string field of a slot definition or matcher: absent or null is unset, anything else but a string is
// a problem.
std::optional<std::string> OptString(const Json& obj, const char* key, const std::string& path,
                                     std::vector<std::string>* problems) {
  if (!obj.contains(key) || obj.at(key).is_null()) return std::nullopt;
  if (!obj.at(key).is_string()) {
    problems->push_back(path + "." + key + ": must be a string, got " + Show(obj.at(key)));
    return std::nullopt;
  }
  return obj.at(key).get<std::string>();
}

void ParseSlots(const Json& j, const std::string& prefix, DynamicConfig* d, std::vector<std::string>* problems) {
  // Patroni takes the first of these that is set (and not empty).
  const char* key = nullptr;
  for (const char* k : {"permanent_replication_slots", "permanent_slots", "slots"}) {
    if (j.contains(k) && PyTruthy(j.at(k))) {
      key = k;
      break;
    }
  }
  if (key != nullptr) {
    std::string path = prefix + "." + key;
    const Json& slots = j.at(key);
    if (!slots.is_object()) {
      problems->push_back(path +
                          ": must be a mapping of slot names to {type: physical} or {type: logical, "
                          "database: ..., plugin: ...}, got " +
                          Show(slots));
    } else {
      for (const auto& [name, v] : slots.items()) {
        std::string sp = path + "." + name;
        if (!ValidSlotName(name)) {
          problems->push_back(sp +
                              ": not a valid replication slot name (lower case letters, digits and '_', at "
                              "most 63 characters)");
          continue;
        }
        PermanentSlot ps{"physical", "", ""};
        if (PyTruthy(v)) {
          if (!v.is_object()) {
            problems->push_back(sp +
                                ": must be a mapping ({type: physical} or {type: logical, database: ..., "
                                "plugin: ...}), got " +
                                Show(v));
            continue;
          }
          auto type = OptString(v, "type", sp, problems);
          auto db = OptString(v, "database", sp, problems);
          auto plugin = OptString(v, "plugin", sp, problems);
          bool full = db && !db->empty() && plugin && !plugin->empty();
          ps.type = type ? *type : (full ? "logical" : "physical");
          if (ps.type == "logical") {
            if (!full) {
              problems->push_back(sp + ": a logical slot needs both database and plugin");
              continue;
            }
            ps.database = *db;
            ps.plugin = *plugin;
          } else if (ps.type != "physical") {
            problems->push_back(sp + ".type: must be physical or logical, got " + Show(v.at("type")));
            continue;
          }
        }
        d->slots[name] = ps;
      }
    }
  }
  if (j.contains("ignore_slots") && !j.at("ignore_slots").is_null()) {
    std::string path = prefix + ".ignore_slots";
    const Json& list = j.at("ignore_slots");
    if (!list.is_array()) {
      problems->push_back(path + ": must be a list of {name, type, database, plugin} matchers, got " + Show(list));
      return;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      std::string ip = path + "[" + std::to_string(i) + "]";
      if (!list[i].is_object()) {
        problems->push_back(ip + ": must be a mapping with any of name, type, database, plugin, got " + Show(list[i]));
        continue;
      }
      SlotMatcher m;
      m.name = OptString(list[i], "name", ip, problems);
      m.type = OptString(list[i], "type", ip, problems);
      m.database = OptString(list[i], "database", ip, problems);
      m.plugin = OptString(list[i], "plugin", ip, problems);
      if (m.type && *m.type != "physical" && *m.type != "logical") {
        problems->push_back(ip + ".type: must be physical or logical, got \"" + *m.type + "\"");
        continue;
      }
      d->ignore_slots.push_back(m);
    }
  }
}
}  // namespace

DynamicConfig DynamicConfig::FromJson(const Json& j, const std::string& prefix, std::vector<std::string>* problems,
                                      std::vector<std::string>* warnings) {
  DynamicConfig d;
  if (!j.is_object()) {
    problems->push_back(prefix + ": must be a mapping");
    return d;
  }
  d.raw = j;
  auto p = [&](const std::string& k) { return prefix + "." + k; };
  auto get_int = [&](const char* key, long long* out) {
    if (!j.contains(key)) return false;
    const auto& v = j.at(key);
    if (v.is_number_integer()) {
      *out = v.get<long long>();
      return true;
    }
    if (v.is_string()) {
      long long x;
      if (ParseIntText(v.get<std::string>(), &x)) {
        *out = x;
        return true;
      }
    }
    problems->push_back(p(key) + ": must be an integer, got " + Show(v));
    return false;
  };
  auto get_bool = [&](const Json& obj, const char* key, bool* out, const std::string& path) {
    if (!obj.contains(key)) return;
    const auto& v = obj.at(key);
    if (v.is_boolean())
      *out = v.get<bool>();
    else if (v.is_string() && ParseBoolText(v.get<std::string>(), out)) {
    } else if (v.is_null()) {
    } else
      problems->push_back(path + ": must be a boolean, got " + Show(v));
  };
  long long v;
  // Seconds beyond kMaxSeconds are refused: the agent works in milliseconds in an int, and no real setting is near.
  auto get_seconds = [&](const char* key, int* out) {
    if (!get_int(key, &v)) return;
    if (v > kMaxSeconds) {
      problems->push_back(p(key) + ": " + std::to_string(v) + " is beyond the maximum of " +
                          std::to_string(kMaxSeconds) + " seconds");
    } else {
      *out = static_cast<int>(v);
    }
  };
  get_seconds("ttl", &d.ttl);
  get_seconds("loop_wait", &d.loop_wait);
  // retry_timeout takes decimals (pgwarden only; Patroni's are whole seconds): the rule below needs 0.5 at ttl 2.
  if (j.contains("retry_timeout")) {
    const auto& rv = j.at("retry_timeout");
    double x = 0;
    bool number = rv.is_number();
    if (number) x = rv.get<double>();
    if (rv.is_string()) number = ParseDecimalText(rv.get<std::string>(), &x);
    if (!number || !std::isfinite(x)) {
      problems->push_back(p("retry_timeout") + ": must be a number of seconds, got " + Show(rv));
    } else if (x > kMaxSeconds) {
      problems->push_back(p("retry_timeout") + ": " + FormatSeconds(x) + " is beyond the maximum of " +
                          std::to_string(kMaxSeconds) + " seconds");
    } else {
      d.retry_timeout = x;
    }
  }
  if (get_int("maximum_lag_on_failover", &v)) d.maximum_lag_on_failover = v;
  if (j.contains("primary_start_timeout"))
    get_seconds("primary_start_timeout", &d.primary_start_timeout);
  else
    get_seconds("master_start_timeout", &d.primary_start_timeout);
  // Below the floors, and against the rule loop_wait + 2*retry_timeout <= ttl, Patroni adjusts and warns rather
  // than refusing; so does pgwarden (with its own lower floors, see docs/configuration.md).
  auto adjust = [&](const std::string& what) {
    if (warnings) warnings->push_back(prefix + ": " + what);
  };
  if (d.ttl < kMinTtl) {
    adjust("ttl=" + std::to_string(d.ttl) + " is below the minimum of " + std::to_string(kMinTtl) + " seconds, using " +
           std::to_string(kMinTtl));
    d.ttl = kMinTtl;
  }
  if (d.loop_wait < kMinLoopWait) {
    adjust("loop_wait=" + std::to_string(d.loop_wait) + " is below the minimum of " + std::to_string(kMinLoopWait) +
           ", using " + std::to_string(kMinLoopWait));
    d.loop_wait = kMinLoopWait;
  }
  if (d.retry_timeout < kMinRetryTimeout) {
    adjust("retry_timeout=" + FormatSeconds(d.retry_timeout) + " is below the minimum of " +
           FormatSeconds(kMinRetryTimeout) + ", using " + FormatSeconds(kMinRetryTimeout));
    d.retry_timeout = kMinRetryTimeout;
  }
  if (d.loop_wait + 2 * d.retry_timeout > d.ttl) {
    // Patroni's whole seconds, (ttl - 1) / 2 rounded down; at ttl 2 that is 0, below the floor: 0.5.
    double retry = std::max(kMinRetryTimeout, std::floor((d.ttl - kMinLoopWait) / 2.0));
    adjust("loop_wait (" + std::to_string(d.loop_wait) + ") + 2*retry_timeout (" + FormatSeconds(d.retry_timeout) +
           ") exceeds ttl (" + std::to_string(d.ttl) + "): using loop_wait=" + std::to_string(kMinLoopWait) +
           " and retry_timeout=" + FormatSeconds(retry) + ", as Patroni does");
    d.loop_wait = kMinLoopWait;
    d.retry_timeout = retry;
  }
  if (d.maximum_lag_on_failover < 0) problems->push_back(p("maximum_lag_on_failover") + ": must not be negative");
  // Not a problem when unreadable: Patroni takes it as off and runs with the rest of the configuration.
  if (j.contains("check_timeline")) {
    const Json& ct = j.at("check_timeline");
    auto b = PatroniBool(ct);
    d.check_timeline = b.value_or(false);
    if (!b && !ct.is_null())
      adjust("check_timeline=" + Show(ct) + " is not a boolean (true/false, on/off, yes/no, 1/0), using false");
  }
  get_bool(j, "pause", &d.pause, p("pause"));
  get_bool(j, "failsafe_mode", &d.failsafe_mode, p("failsafe_mode"));
  if (j.contains("synchronous_mode") && j.at("synchronous_mode").is_string() &&
      j.at("synchronous_mode").get<std::string>() == "quorum") {
    d.synchronous_mode = true;
  } else {
    get_bool(j, "synchronous_mode", &d.synchronous_mode, p("synchronous_mode"));
  }
  get_bool(j, "synchronous_mode_strict", &d.synchronous_mode_strict, p("synchronous_mode_strict"));
  if (get_int("synchronous_node_count", &v)) {
    if (v < 1)
      problems->push_back(p("synchronous_node_count") + ": must be at least 1");
    else
      d.synchronous_node_count = static_cast<int>(v);
  }
  if (get_int("maximum_lag_on_syncnode", &v)) d.maximum_lag_on_syncnode = v;
  if (j.contains("standby_cluster")) {
    config_internal::ParseStandbyCluster(j.at("standby_cluster"), p("standby_cluster"), &d, problems, warnings);
  }
  if (j.contains("postgresql")) {
    const auto& pg = j.at("postgresql");
    if (!pg.is_object()) {
      problems->push_back(p("postgresql") + ": must be a mapping");
    } else {
      get_bool(pg, "use_slots", &d.use_slots, p("postgresql.use_slots"));
      get_bool(pg, "use_pg_rewind", &d.use_pg_rewind, p("postgresql.use_pg_rewind"));
      get_bool(pg, "remove_data_directory_on_rewind_failure", &d.remove_data_directory_on_rewind_failure,
               p("postgresql.remove_data_directory_on_rewind_failure"));
      get_bool(pg, "remove_data_directory_on_diverged_timelines", &d.remove_data_directory_on_diverged_timelines,
               p("postgresql.remove_data_directory_on_diverged_timelines"));
      // An empty "parameters:" (as in Debian's example) or "pg_hba:" is null: nothing set.
      if (pg.contains("parameters") && !pg.at("parameters").is_null()) {
        if (!pg.at("parameters").is_object())
          problems->push_back(p("postgresql.parameters") + ": must be a mapping");
        else
          d.parameters = pg.at("parameters");
      }
      if (pg.contains("pg_hba") && !pg.at("pg_hba").is_null()) {
        if (!pg.at("pg_hba").is_array())
          problems->push_back(p("postgresql.pg_hba") + ": must be a list of strings");
        else
          for (const auto& l : pg.at("pg_hba")) {
            if (l.is_string())
              d.pg_hba.push_back(l.get<std::string>());
            else
              problems->push_back(p("postgresql.pg_hba") + ": entries must be strings");
          }
      }
    }
  }
  ParseSlots(j, prefix, &d, problems);
  return d;
}

std::string DynamicConfig::IntroducedProblem(const Json& before, const Json& after, bool adjustments) {
  std::vector<std::string> problems_before, adjusted_before, problems, adjusted;
  FromJson(before, "config", &problems_before, &adjusted_before);
  FromJson(after, "config", &problems, &adjusted);
  auto introduced = [](const std::vector<std::string>& now, const std::vector<std::string>& was) {
    for (const auto& p : now) {
      if (std::find(was.begin(), was.end(), p) == was.end()) return p;
    }
    return std::string();
  };
  std::string p = introduced(problems, problems_before);
  if (p.empty() && adjustments) p = introduced(adjusted, adjusted_before);
  return p;
}

}  // namespace pgw
