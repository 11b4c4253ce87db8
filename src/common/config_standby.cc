// The dynamic configuration's `standby_cluster` section (Patroni's keys and its rule for what makes a standby
// cluster), validated with errors that name the key.
#include <cctype>

#include "common/config_internal.h"
#include "common/slot_name.h"

namespace pgw {

std::optional<int64_t> PgDurationMs(const Json& v) {
  if (v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    return n < 0 ? std::nullopt : std::optional<int64_t>(n);
  }
  if (!v.is_string()) return std::nullopt;
  std::string s = v.get<std::string>();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t digits = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == digits || i - digits > 15) return std::nullopt;
  int64_t n = std::stoll(s.substr(digits, i - digits));
  while (i < s.size() && s[i] == ' ') ++i;
  std::string unit = s.substr(i);
  while (!unit.empty() && unit.back() == ' ') unit.pop_back();
  if (unit.empty() || unit == "ms") return n;
  if (unit == "us") return n / 1000;
  if (unit == "s") return n * 1000;
  if (unit == "min") return n * 60 * 1000;
  if (unit == "h") return n * 3600 * 1000;
  if (unit == "d") return n * 24 * 3600 * 1000;
  return std::nullopt;
}

namespace config_internal {

void ParseStandbyCluster(const Json& j, const std::string& path, DynamicConfig* d, std::vector<std::string>* problems,
                         std::vector<std::string>* warnings) {
  if (j.is_null()) return;  // "standby_cluster:" with nothing under it, or removed by a merge patch
  if (!j.is_object()) {
    problems->push_back(path + ": must be a mapping");
    return;
  }
  StandbyCluster sc;
  size_t before = problems->size();
  auto p = [&](const std::string& k) { return path + "." + k; };
  auto get_str = [&](const char* key, std::string* out) {
    if (!j.contains(key) || j.at(key).is_null()) return;
    if (j.at(key).is_string())
      *out = j.at(key).get<std::string>();
    else
      problems->push_back(p(key) + ": must be a string");
  };
  get_str("host", &sc.host);
  get_str("primary_slot_name", &sc.primary_slot_name);
  get_str("restore_command", &sc.restore_command);
  get_str("archive_cleanup_command", &sc.archive_cleanup_command);
  // Patroni's own defaults for the section are empty strings: "" is unset, like null.
  auto given = [&](const char* k) {
    return j.contains(k) && !j.at(k).is_null() && !(j.at(k).is_string() && j.at(k).get<std::string>().empty());
  };
  bool port_set = given("port");
  if (port_set) {
    const Json& v = j.at("port");
    long long port = 0;
    bool ok = v.is_number_integer() ? (port = v.get<long long>(), true)
                                    : v.is_string() && ParseIntText(v.get<std::string>(), &port);
    if (!ok)
      problems->push_back(p("port") + ": must be an integer");
    else if (port < 1 || port > 65535)
      problems->push_back(p("port") + ": " + std::to_string(port) + " is outside 1..65535");
    else
      sc.port = static_cast<int>(port);
  }
  if (given("recovery_min_apply_delay")) {
    sc.recovery_min_apply_delay_ms = PgDurationMs(j.at("recovery_min_apply_delay"));
    if (!sc.recovery_min_apply_delay_ms) {
      problems->push_back(p("recovery_min_apply_delay") +
                          ": must be a time in milliseconds or with a unit (ms, s, min, h, d), e.g. 5min");
    }
  }
  if (given("create_replica_methods")) {
    const Json& m = j.at("create_replica_methods");
    bool ok = m.is_array();
    for (const auto& x : ok ? m : Json::array()) {
      if (x.is_string())
        sc.create_replica_methods.push_back(x.get<std::string>());
      else
        ok = false;
    }
    if (!ok) problems->push_back(p("create_replica_methods") + ": must be a list of strings");
    // Each member runs these with its own postgresql.<method> section (pg/create_replica.h), as Patroni does.
  }
  // Patroni uses the name through slot_name_from_member_name (postgresql/config.py): "Standby-DC2" is standby_dc2.
  // Only "" (unset) normalises to nothing.
  sc.primary_slot_name = SlotNameFromMemberName(sc.primary_slot_name);
  for (const auto& [k, v] : j.items()) {
    static const char* const kKnown[] = {"host",
                                         "port",
                                         "primary_slot_name",
                                         "restore_command",
                                         "archive_cleanup_command",
                                         "recovery_min_apply_delay",
                                         "create_replica_methods"};
    bool known = false;
    for (const char* n : kKnown) known = known || k == n;
    if (!known && warnings) warnings->push_back(p(k) + ": unknown key, ignored");
  }
  if (problems->size() != before) return;
  // Patroni's rule: the section describes a standby cluster when host, port or restore_command is set. Without
  // host (an archive-only standby cluster) the standby leader has nothing to stream from: it is made by a
  // create_replica_methods method that needs no leader and replays WAL through restore_command alone.
  if (sc.host.empty() && !port_set && sc.restore_command.empty()) return;
  if (sc.host.empty() && port_set) {
    problems->push_back(p("host") +
                        ": required when port is given: pgwarden streams from host:port of the remote "
                        "primary (for an archive-only standby cluster give restore_command without "
                        "host and port)");
    return;
  }
  d->standby_cluster = sc;
}

void WarnArchiveOnlyWithoutMethod(const Config& c, std::vector<std::string>* warnings) {
  const auto& sc = c.bootstrap.dynamic.standby_cluster;
  if (!sc || !sc->host.empty()) return;
  for (const auto& m : sc->create_replica_methods) {
    auto it = c.postgresql.replica_methods.find(m);
    if (m != "basebackup" && it != c.postgresql.replica_methods.end() && it->second.no_leader) return;
  }
  warnings->push_back(
      "bootstrap.dcs.standby_cluster: no host, so the standby leader can only be made by one of "
      "create_replica_methods that works without a leader (a postgresql.<method> section with a command and "
      "no_leader: true), and there is none: bootstrapping this standby cluster will fail");
}

}  // namespace config_internal
}  // namespace pgw
