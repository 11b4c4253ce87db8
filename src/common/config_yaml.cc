#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <string_view>

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

// PATRONI_<name>_PASSWORD that Patroni reads as a role of bootstrap.users (config.py
// _build_environment_configuration): every such variable left once the configuration keys took theirs. `rest` is the
// name without PATRONI_, and variables of the key table are already taken. Still taken by a key: the etcd, etcd3 and
// raft passwords, and Patroni's PATRONI_<dcs>_KEY_PASSWORD (one word before _KEY). The name keeps its case.
constexpr std::string_view kPasswordSuffix = "_PASSWORD";

bool IsUserPassword(const std::string& rest) {
  const size_t n = kPasswordSuffix.size();
  if (rest.size() <= n || rest.compare(rest.size() - n, n, kPasswordSuffix) != 0) return false;
  const std::string name = rest.substr(0, rest.size() - n);
  if (name == "ETCD" || name == "ETCD3" || name == "RAFT") return false;
  const size_t us = name.find('_');
  return !(us != std::string::npos && name.substr(us) == "_KEY");
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

bool ParseYaml11Int(const std::string& text, long long* out) {
  // PyYAML's int resolver (YAML 1.1), which is what Patroni reads patroni.yml with: [-+]? then 0b binary, 0x hex,
  // a leading 0 octal (0770 is 504), else decimal; underscores are separators. Sexagesimal (1:30) is not done.
  if (text.empty()) return false;
  size_t at = (text[0] == '-' || text[0] == '+') ? 1 : 0;
  bool negative = text[0] == '-';
  std::string body = text.substr(at);
  int base = 10;
  std::string digits;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'x')) {
    base = body[1] == 'b' ? 2 : 16;
    digits = body.substr(2);
  } else if (body.size() > 1 && body[0] == '0') {
    base = 8;
    digits = body.substr(1);
  } else {
    if (body.empty() || body[0] == '_') return false;
    digits = body;
  }
  std::string clean;
  for (char ch : digits) {
    if (ch == '_') continue;
    int d = std::isdigit(static_cast<unsigned char>(ch))    ? ch - '0'
            : std::isxdigit(static_cast<unsigned char>(ch)) ? 10 + std::tolower(static_cast<unsigned char>(ch)) - 'a'
                                                            : 99;
    if (d >= base) return false;
    clean.push_back(ch);
  }
  if (clean.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(clean.c_str(), &end, base);
  if (errno != 0 || end != clean.c_str() + clean.size()) return false;
  *out = negative ? -v : v;
  return true;
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
//
// As in Patroni (config.py _get_environment): a variable set to the empty string sets nothing (a compose file's
// `VAR=${UNSET}` must not blank the file's password), and a list or mapping may be written without its brackets:
// `'etcd1:2379','etcd2:2379'` is a list of two, `patroni.postmaster: WARNING, urllib3: DEBUG` a mapping of two.
void ApplyEnv(YAML::Node& root, const std::map<std::string, std::string>& env, std::vector<std::string>* errors) {
  static const std::set<std::string> kLists = {"HOSTS", "ALLOWLIST", "PORTS"};
  static const std::set<std::string> kMaps = {"LOGGERS", "STATIC_FIELDS", "HTTP_EXTRA_HEADERS", "HTTPS_EXTRA_HEADERS",
                                              "LABELS"};
  enum class Shape { kText, kList, kMap, kYaml };
  auto value_for = [&](const std::string& var, Shape shape, const std::string& text) -> YAML::Node {
    if (shape == Shape::kText) return YAML::Node(text);
    std::string doc = text;
    size_t first = text.find_first_not_of(" \t");
    char lead = first == std::string::npos ? '\0' : text[first];
    if (shape == Shape::kList && lead != '-' && text.find('[') == std::string::npos) doc = "[" + text + "]";
    if (shape == Shape::kMap && lead != '{') doc = "{" + text + "}";
    try {
      return YAML::Load(doc);
    } catch (const YAML::Exception& e) {
      errors->push_back(var + ": cannot parse as YAML: " + e.msg);
    }
    return YAML::Node(text);
  };
  auto shape_of = [&](const std::string& suffix) {
    return kLists.count(suffix) ? Shape::kList : kMaps.count(suffix) ? Shape::kMap : Shape::kText;
  };
  for (const auto& [var, text] : env) {
    if (var.rfind("PATRONI_", 0) != 0 || var == "PATRONI_CONFIGURATION") continue;
    if (text.empty()) continue;
    if (const KeyRow* row = FindEnv(var)) {
      std::string key = row->path.substr(row->path.rfind('.') + 1);
      std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::toupper(c); });
      Shape shape = Shape::kText;
      if (row->kind == Kind::kStrList || row->kind == Kind::kStrOrList) {
        shape = Shape::kList;
      } else if (shape_of(key) == Shape::kMap) {
        shape = Shape::kMap;
      } else if (row->EnvIsYaml()) {
        shape = Shape::kYaml;
      }
      SetPath(root, SplitPath(row->path), value_for(var, shape, text));
      continue;
    }
    std::string rest = var.substr(8);
    if (IsUserPassword(rest)) {
      // bootstrap.users.<name>: the password, and the options of PATRONI_<name>_OPTIONS (a list whose brackets may
      // be left out), merged over the file's entry as Patroni patches it (options kept when the variable is unset).
      const std::string name = rest.substr(0, rest.size() - kPasswordSuffix.size());
      SetPath(root, {"bootstrap", "users", name, "password"}, YAML::Node(text));
      const std::string opts_var = var.substr(0, var.size() - kPasswordSuffix.size()) + "_OPTIONS";
      auto opts = env.find(opts_var);
      if (opts == env.end() || opts->second.empty()) continue;
      YAML::Node list = value_for(opts_var, Shape::kList, opts->second);
      bool ok = list.IsSequence();
      if (!ok) errors->push_back(opts_var + ": must be a list of role options (createdb,createrole,...)");
      for (size_t i = 0; ok && i < list.size(); ++i) {
        std::string upper;
        std::string why = RoleOptionProblem(list[i], &upper);
        if (!why.empty()) errors->push_back(opts_var + ": " + why);
        ok = why.empty();
      }
      if (ok && list.size() > 0) SetPath(root, {"bootstrap", "users", name, "options"}, list);
      continue;
    }
    const std::string opts_suffix = "_OPTIONS";
    if (rest.size() > opts_suffix.size() &&
        rest.compare(rest.size() - opts_suffix.size(), opts_suffix.size(), opts_suffix) == 0) {
      const std::string pw_var = var.substr(0, var.size() - opts_suffix.size()) + "_PASSWORD";
      if (!FindEnv(pw_var) && IsUserPassword(pw_var.substr(8)) && env.count(pw_var)) continue;  // read above
    }
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
    SetPath(root, path, value_for(var, shape_of(suffix), text));
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
    // A plain scalar of the file (tag "?") is an integer by YAML 1.1's rules, as PyYAML reads it for Patroni:
    // `unix_socket_permissions: 0770` is 504, not 770 (which PostgreSQL would cap to 0777). Values from PATRONI_*
    // variables (no tag) are decimal text.
    if (n.Tag() == "?" ? ParseYaml11Int(s, &i) : ParseIntText(s, &i)) return i;
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
