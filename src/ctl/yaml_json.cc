// The dynamic configuration as YAML and back (show-config, edit-config), read the way patronictl reads it (PyYAML's
// safe_load, YAML 1.1 types) and written so that reading it back gives the same JSON: a configuration edited
// without changes is the configuration it was, value types included.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <optional>
#include <regex>

#include "common/yaml_resolve.h"
#include "ctl/ctl.h"

namespace pgw::ctl {

namespace {

std::string Strip(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  return s;
}

// What PyYAML makes of a plain (unquoted) scalar that is not a string: nullopt when it is a string. `other` is set
// when PyYAML would read something other than a string that JSON cannot hold (a date, .inf, .nan): such a scalar
// stays a string here, and is quoted when written.
std::optional<Json> PlainValue(const std::string& s, bool* other = nullptr) {
  static const std::regex kNull("~|null|Null|NULL|");
  static const std::regex kTrue("yes|Yes|YES|true|True|TRUE|on|On|ON");
  static const std::regex kFalse("no|No|NO|false|False|FALSE|off|Off|OFF");
  static const std::regex kBin("[-+]?0b[01_]+");
  static const std::regex kOct("[-+]?0[0-7_]+");
  static const std::regex kDec("[-+]?(0|[1-9][0-9_]*)");
  static const std::regex kHex("[-+]?0x[0-9a-fA-F_]+");
  static const std::regex kSexa("[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+");
  static const std::regex kFloat("[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+][0-9]+)?");
  static const std::regex kOther(
      "[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)|"
      "[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?|<<|=");
  if (other) *other = false;
  // No YAML 1.1 number, boolean or date is this long (and std::regex recurses per character).
  if (s.size() > 64) return std::nullopt;
  if (std::regex_match(s, kNull)) return Json(nullptr);
  if (std::regex_match(s, kTrue)) return Json(true);
  if (std::regex_match(s, kFalse)) return Json(false);
  auto integer = [&](std::string digits, int base) -> std::optional<Json> {
    bool neg = !digits.empty() && digits[0] == '-';
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.erase(0, 1);
    if (base == 16 || base == 2) digits.erase(0, 2);
    std::string plain = Strip(digits);  // kept alive: `end` points into it
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(plain.c_str(), &end, base);
    if (errno != 0 || *end != 0) return std::nullopt;
    return Json(neg ? -v : v);
  };
  if (std::regex_match(s, kDec)) return integer(s, 10);
  if (std::regex_match(s, kBin)) return integer(s, 2);
  if (std::regex_match(s, kHex)) return integer(s, 16);
  if (std::regex_match(s, kOct)) return integer(s, 8);
  if (std::regex_match(s, kSexa)) {
    bool neg = s[0] == '-';
    long long v = 0;
    size_t start = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    while (start <= s.size()) {
      size_t colon = s.find(':', start);
      std::string part = Strip(s.substr(start, colon - start));
      errno = 0;
      char* end = nullptr;
      long long p = std::strtoll(part.c_str(), &end, 10);
      // Too large for a 64-bit integer: not a number pgwarden can carry, left as the text it is.
      if (errno != 0 || *end != 0 || v > (LLONG_MAX - p) / 60) return std::nullopt;
      v = v * 60 + p;
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    return Json(neg ? -v : v);
  }
  if (s != "." && std::regex_match(s, kFloat)) {
    std::string plain = Strip(s);
    errno = 0;
    char* end = nullptr;
    double d = std::strtod(plain.c_str(), &end);
    if (errno != 0 || *end != 0 || plain.empty()) return std::nullopt;  // out of range: left as text
    return Json(d);
  }
  if (other && std::regex_match(s, kOther)) *other = true;
  return std::nullopt;
}

void Emit(YAML::Emitter& e, const Json& j) {
  auto scalar = [&](const std::string& s) {
    bool other = false;
    if (PlainValue(s, &other) || other) e << YAML::SingleQuoted;
    e << s;
  };
  if (j.is_object()) {
    if (j.empty()) {
      e << YAML::Flow << YAML::BeginMap << YAML::EndMap;
      return;
    }
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    e << YAML::BeginMap;
    for (const auto& k : keys) {
      e << YAML::Key;
      scalar(k);
      e << YAML::Value;
      Emit(e, j.at(k));
    }
    e << YAML::EndMap;
  } else if (j.is_array()) {
    if (j.empty()) {
      e << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      return;
    }
    e << YAML::BeginSeq;
    for (const auto& v : j) Emit(e, v);
    e << YAML::EndSeq;
  } else if (j.is_string()) {
    scalar(j.get<std::string>());
  } else if (j.is_boolean()) {
    e << (j.get<bool>() ? "true" : "false");
  } else if (j.is_number_float()) {
    std::string d = j.dump();  // 1.0 stays a float: "1.0"; 1e+20 needs a dot to be one for YAML 1.1: "1.0e+20"
    if (d.find('.') == std::string::npos && d.find('e') != std::string::npos) d.insert(d.find('e'), ".0");
    e << d;
  } else if (j.is_number()) {
    e << j.dump();
  } else {
    e << YAML::Null;
  }
}

}  // namespace

Json YamlNodeToJson(const YAML::Node& n) {
  if (n.IsMap()) {
    Json o = Json::object();
    for (const auto& kv : n) {
      Json k = YamlNodeToJson(kv.first);
      o[k.is_string() ? k.get<std::string>() : k.dump()] = YamlNodeToJson(kv.second);
    }
    return o;
  }
  if (n.IsSequence()) {
    Json a = Json::array();
    for (const auto& e : n) a.push_back(YamlNodeToJson(e));
    return a;
  }
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted: a string whatever it looks like
    auto v = PlainValue(s);
    return v ? *v : Json(s);
  }
  return nullptr;
}

Result<Json> ParseYamlValue(const std::string& text) {
  try {
    auto resolved = ResolveYaml(YAML::Load(text));  // merge keys, and no endless walk of a cyclic alias
    if (!resolved.ok()) return resolved.status();
    return YamlNodeToJson(*resolved);
  } catch (const std::exception& ex) {
    return InvalidArgument(std::string("not valid YAML: ") + ex.what());
  }
}

std::string ToYaml(const Json& j) {
  YAML::Emitter e;
  Emit(e, j);
  return std::string(e.c_str()) + "\n";
}

}  // namespace pgw::ctl
