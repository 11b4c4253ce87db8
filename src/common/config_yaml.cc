#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
#include "common/config_table.h"

namespace pgw::config_internal {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// PATRONI_* environment variables.

YAML::Node EnsurePath(const YAML::Node& root, const std::vector<std::string>& path) {
  YAML::Node cur = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    if (!cur[path[i]] || !cur[path[i]].IsMap()) cur[path[i]] = YAML::Node(YAML::NodeType::Map);
    cur.reset(cur[path[i]]);
  }
  return cur;
}

void SetPath(YAML::Node& root, const std::vector<std::string>& path, const YAML::Node& value) {
  YAML::Node parent = EnsurePath(root, path);
  parent[path.back()] = value;
}

}  // namespace

std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

bool ParseBoolText(const std::string& s, bool* out) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (l == "true" || l == "yes" || l == "on" || l == "y") {
    *out = true;
    return true;
  }
  if (l == "false" || l == "no" || l == "off" || l == "n") {
    *out = false;
    return true;
  }
  return false;
}

bool ParseBoolWord(const std::string& s, bool* out) {
  if (s == "1" || s == "0") {
    *out = s == "1";
    return true;
  }
  return ParseBoolText(s, out);
}

bool ParseIntText(const std::string& s, long long* out) {
  if (s.empty()) return false;
  size_t pos = 0;
  try {
    *out = std::stoll(s, &pos, 10);
  } catch (const std::exception&) {
    return false;
  }
  return pos == s.size();
}

bool ParseDecimalText(const std::string& s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s.front()))) return false;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
// A variable the key table declares sets its key (config_table.h). Any other PATRONI_<SECTION>_<KEY> still sets
// <section>.<key> by the rule below (Patroni's rule for the DCS sections): the schema check then names a key of a
// newer Patroni as unknown, or another DCS as unsupported, instead of dropping the variable without a word.
void ApplyEnv(YAML::Node& root, const std::map<std::string, std::string>& env, std::vector<std::string>* errors) {
  static const std::set<std::string> kStructured = {
      "HOSTS", "ALLOWLIST", "LOGGERS", "STATIC_FIELDS", "HTTP_EXTRA_HEADERS", "HTTPS_EXTRA_HEADERS", "PORTS", "LABELS"};
  auto value_for = [&](const std::string& var, bool yaml, const std::string& text) -> YAML::Node {
    if (yaml) {
      try {
        return YAML::Load(text);
      } catch (const YAML::Exception& e) {
        errors->push_back(var + ": cannot parse as YAML: " + e.msg);
      }
    }
    return YAML::Node(text);
  };
  for (const auto& [var, text] : env) {
    if (var.rfind("PATRONI_", 0) != 0 || var == "PATRONI_CONFIGURATION") continue;
    if (const KeyRow* row = FindEnv(var)) {
      SetPath(root, SplitPath(row->path), value_for(var, row->EnvIsYaml(), text));
      continue;
    }
    std::string rest = var.substr(8);
    auto starts = [&](const std::string& p) { return rest.rfind(p, 0) == 0; };
    std::vector<std::string> path;
    std::string suffix;
    if (rest == "NAME" || rest == "NAMESPACE" || rest == "SCOPE") {
      path = {Lower(rest)};
    } else if (rest == "LOGLEVEL" || rest == "LOGFORMAT" || rest == "LOG_DATEFMT") {
      // Patroni's old names, read only when the new one is not set.
      std::string key = rest == "LOGLEVEL" ? "LEVEL" : rest == "LOGFORMAT" ? "FORMAT" : "DATEFORMAT";
      if (env.count("PATRONI_LOG_" + key)) continue;
      path = {"log", Lower(key)};
    } else if (starts("LOG_")) {
      suffix = rest.substr(4);
      path = {"log", Lower(suffix)};
    } else if (starts("POSTGRESQL_")) {
      suffix = rest.substr(11);
      if (starts("POSTGRESQL_BIN_") && suffix != "BIN_DIR") {
        path = {"postgresql", "bin_name", Lower(suffix.substr(4))};
      } else {
        path = {"postgresql", Lower(suffix)};
      }
    } else if (starts("RESTAPI_")) {
      suffix = rest.substr(8);
      if (suffix == "USERNAME" || suffix == "PASSWORD") {
        path = {"restapi", "authentication", Lower(suffix)};
      } else {
        path = {"restapi", Lower(suffix)};
      }
    } else if (starts("CTL_")) {
      suffix = rest.substr(4);
      path = {"ctl", Lower(suffix)};
    } else if (starts("SUPERUSER_") || starts("REPLICATION_") || starts("REWIND_")) {
      auto us = rest.find('_');
      suffix = rest.substr(us + 1);
      path = {"postgresql", "authentication", Lower(rest.substr(0, us)), Lower(suffix)};
    } else {
      for (const char* dcs : {"ETCD3_", "ETCD_", "CONSUL_", "ZOOKEEPER_", "EXHIBITOR_", "KUBERNETES_", "RAFT_"}) {
        if (starts(dcs)) {
          std::string d(dcs);
          suffix = rest.substr(d.size());
          path = {Lower(d.substr(0, d.size() - 1)), Lower(suffix)};
          break;
        }
      }
    }
    if (path.empty()) continue;  // bootstrap users, ...: not configuration read from the tree
    SetPath(root, path, value_for(var, kStructured.count(suffix) > 0, text));
  }
}

// Deep-merges `src` into `dst` (mappings merged key by key, everything else replaced).
void Merge(YAML::Node dst, const YAML::Node& src) {
  if (!src.IsMap()) return;
  for (const auto& kv : src) {
    std::string k = kv.first.Scalar();
    if (kv.second.IsMap() && dst[k] && dst[k].IsMap()) {
      Merge(dst[k], kv.second);
    } else {
      dst[k] = YAML::Clone(kv.second);
    }
  }
}
// ---------------------------------------------------------------------------------------------------------------
// Typed extraction. The schema check has already reported type errors, so these helpers fall back to defaults.

Json YamlToJson(const YAML::Node& n) {
  if (n.IsMap()) {
    Json o = Json::object();
    for (const auto& kv : n) o[kv.first.Scalar()] = YamlToJson(kv.second);
    return o;
  }
  if (n.IsSequence()) {
    Json a = Json::array();
    for (const auto& e : n) a.push_back(YamlToJson(e));
    return a;
  }
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted in the YAML: keep as string
    long long i;
    if (ParseIntText(s, &i)) return i;
    bool b;
    if (s == "true" || s == "false" || s == "True" || s == "False") {
      ParseBoolText(s, &b);
      return b;
    }
    try {
      size_t pos = 0;
      double d = std::stod(s, &pos);
      if (pos == s.size() && s.find_first_of(".eE") != std::string::npos) return d;
    } catch (const std::exception&) {
    }
    return s;
  }
  return nullptr;
}

std::string Str(const YAML::Node& n, const std::string& def) { return n && n.IsScalar() ? n.Scalar() : def; }
bool Bool(const YAML::Node& n, bool def) {
  bool b;
  return n && n.IsScalar() && ParseBoolWord(n.Scalar(), &b) ? b : def;
}
long long Int(const YAML::Node& n, long long def) {
  long long v;
  return n && n.IsScalar() && ParseIntText(n.Scalar(), &v) ? v : def;
}

YAML::Node Sub(const YAML::Node& n, const std::string& key) {
  if (!n || !n.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  return n[key];
}

}  // namespace pgw::config_internal
