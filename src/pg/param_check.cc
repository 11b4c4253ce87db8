#include "pg/param_check.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <string_view>

#include "pg/conf.h"
#include "pg/pg_params_table.h"

namespace pgw {
namespace {

using Kind = ParamVerdict::Kind;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// `s` is a case-insensitive prefix of `word` (PostgreSQL's pg_strncasecmp(s, word, strlen(s)) == 0).
bool PrefixOfNoCase(std::string_view s, std::string_view word) {
  return s.size() <= word.size() && EqualsNoCase(s, word.substr(0, s.size()));
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// postgresql.conf's lexer: ID is [A-Za-z_\200-\377][A-Za-z_0-9\200-\377]*, a qualified name is ID.ID.
bool IsId(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// PostgreSQL's parse_bool: on/off, true/false, yes/no, 1/0, and unique prefixes ("t", "of"; not "o").
bool ParseBool(std::string_view s) {
  if (s.empty()) return false;
  switch (Lower(s[0])) {
    case 't': return PrefixOfNoCase(s, "true");
    case 'f': return PrefixOfNoCase(s, "false");
    case 'y': return PrefixOfNoCase(s, "yes");
    case 'n': return PrefixOfNoCase(s, "no");
    case 'o': return EqualsNoCase(s, "on") || (s.size() >= 2 && PrefixOfNoCase(s, "off"));
    case '1':
    case '0': return s.size() == 1;
    default: return false;
  }
}

struct UnitName {
  const char* name;
  double size;  // in bytes or in milliseconds
};
constexpr UnitName kMemoryUnits[] = {
    {"TB", 1099511627776.0}, {"GB", 1073741824.0}, {"MB", 1048576.0}, {"kB", 1024.0}, {"B", 1.0}};
constexpr UnitName kTimeUnits[] = {{"d", 86400000.0}, {"h", 3600000.0}, {"min", 60000.0},
                                   {"s", 1000.0},     {"ms", 1.0},      {"us", 0.001}};

bool IsMemory(PgUnit u) {
  return u == PgUnit::kBytes || u == PgUnit::kKilobytes || u == PgUnit::kMegabytes || u == PgUnit::kBlocks;
}

double BaseSize(PgUnit u) {
  switch (u) {
    case PgUnit::kBytes: return 1.0;
    case PgUnit::kKilobytes: return 1024.0;
    case PgUnit::kMegabytes: return 1048576.0;
    case PgUnit::kBlocks: return 8192.0;
    case PgUnit::kMilliseconds: return 1.0;
    case PgUnit::kSeconds: return 1000.0;
    case PgUnit::kMinutes: return 60000.0;
    case PgUnit::kNone: break;
  }
  return 1.0;
}

std::string UnitsHint(PgUnit u) {
  return IsMemory(u) ? "valid units: B, kB, MB, GB, TB" : "valid units: us, ms, s, min, h, d";
}

// PostgreSQL's convert_to_base_unit: a unit name of at most 3 characters, optionally followed by blanks; a
// fractional value is rounded to a multiple of the next smaller unit.
bool ConvertUnit(double value, const char* text, PgUnit base, double* out) {
  std::string unit;
  while (*text != '\0' && !IsSpace(*text) && unit.size() < 3) unit += *text++;
  while (IsSpace(*text)) ++text;
  if (*text != '\0') return false;
  auto convert = [&](const auto& table) {
    const size_t n = std::size(table);
    for (size_t i = 0; i < n; ++i) {
      if (unit != table[i].name) continue;
      double v = value * (table[i].size / BaseSize(base));
      if (i + 1 < n) {
        double next = table[i + 1].size / BaseSize(base);
        v = std::rint(v / next) * next;
      }
      *out = v;
      return true;
    }
    return false;
  };
  return IsMemory(base) ? convert(kMemoryUnits) : convert(kTimeUnits);
}

// PostgreSQL's parse_int / parse_real: the number in the parameter's unit, or why the text is refused.
std::optional<double> ParseNumber(const std::string& text, bool integer, PgUnit unit, std::string* why) {
  const char* s = text.c_str();
  char* end = nullptr;
  double val = 0;
  errno = 0;
  if (integer) {
    val = static_cast<double>(std::strtol(s, &end, 0));
    if (*end == '.' || *end == 'e' || *end == 'E' || errno == ERANGE) {
      errno = 0;
      val = std::strtod(s, &end);
    }
  } else {
    val = std::strtod(s, &end);
  }
  if (end == s || errno == ERANGE || std::isnan(val)) {
    *why = integer ? "not an integer" : "not a number";
    return std::nullopt;
  }
  while (IsSpace(*end)) ++end;
  if (*end != '\0') {
    if (unit == PgUnit::kNone) {
      *why = std::string(integer ? "not an integer" : "not a number") + " (this parameter takes no unit)";
      return std::nullopt;
    }
    if (!ConvertUnit(val, end, unit, &val)) {
      *why = "unknown unit '" + std::string(end) + "' (" + UnitsHint(unit) + ")";
      return std::nullopt;
    }
  }
  if (integer) {
    val = std::rint(val);
    if (val > INT_MAX || val < INT_MIN) {
      *why = "outside the integer range";
      return std::nullopt;
    }
  }
  return val;
}

std::string FormatNumber(double v) {
  if (std::fabs(v) < 1e15 && v == std::rint(v)) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string WithUnit(double v, PgUnit u) {
  static constexpr const char* kSuffix[] = {"", "B", "kB", "MB", " (8kB blocks)", "ms", "s", "min"};
  return FormatNumber(v) + kSuffix[static_cast<int>(u)];
}

// Splits "a,b|c,d" into the listed and the hidden values.
void SplitValues(std::string_view all, std::vector<std::string>* listed, std::vector<std::string>* hidden) {
  size_t bar = all.find('|');
  auto split = [](std::string_view s, std::vector<std::string>* out) {
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      out->emplace_back(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  };
  split(all.substr(0, bar), listed);
  if (bar != std::string_view::npos) split(all.substr(bar + 1), hidden);
}

ParamVerdict CheckEnum(const PgParamSpec& spec, const std::string& value) {
  std::vector<std::string> listed, hidden;
  SplitValues(spec.values, &listed, &hidden);
  for (const auto* list : {&listed, &hidden}) {
    for (const auto& v : *list) {
      if (EqualsNoCase(v, value)) return {};
    }
  }
  std::string allowed;
  for (const auto& v : listed) allowed += (allowed.empty() ? "" : ", ") + (v.empty() ? "''" : v);
  return {Kind::kInvalid, "not one of the allowed values: " + allowed, nullptr};
}

ParamVerdict CheckNumber(const PgParamSpec& spec, const std::string& value) {
  const bool integer = spec.type == PgParamType::kInteger;
  std::string why;
  auto v = ParseNumber(value, integer, spec.unit, &why);
  if (!v) return {Kind::kInvalid, why, nullptr};
  std::string range = "range " + WithUnit(spec.min, spec.unit) + " to " + WithUnit(spec.max, spec.unit);
  auto bound = [&](double b) { return integer ? Json(static_cast<long long>(b)) : Json(b); };
  if (*v < spec.min) return {Kind::kBelowMin, "below the minimum (" + range + ")", bound(spec.min)};
  if (*v > spec.max) return {Kind::kAboveMax, "above the maximum (" + range + ")", bound(spec.max)};
  return {};
}

// Where else the name exists, for the message about an unknown parameter ("" when nowhere).
std::string OtherVersions(int major, const std::string& name) {
  for (const auto& spec : PgParamTable()) {
    if (!EqualsNoCase(spec.name, name)) continue;
    if (spec.since > major) return " (added in PostgreSQL " + std::to_string(spec.since) + ")";
    if (spec.until != 0 && spec.until <= major) return " (removed in PostgreSQL " + std::to_string(spec.until) + ")";
  }
  return "";
}

// The value for a log line: quoted, control characters escaped, long values cut.
std::string Shown(const std::string& v) {
  std::string out = "'";
  for (size_t i = 0; i < v.size() && i < 100; ++i) {
    unsigned char c = static_cast<unsigned char>(v[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += v[i];
    }
  }
  return out + (v.size() > 100 ? "...'" : "'");
}

}  // namespace

ParamVerdict CheckParameter(int major, const std::string& name, const std::string& value) {
  size_t dot = name.find('.');
  if (dot == std::string::npos ? !IsId(name) : !(IsId(name.substr(0, dot)) && IsId(name.substr(dot + 1)))) {
    return {Kind::kBadName, "not a name postgresql.conf can hold", nullptr};
  }
  if (value.find('\0') != std::string::npos) {
    return {Kind::kInvalid, "contains a NUL character", nullptr};
  }
  if (dot != std::string::npos || major < PgParamTableMinMajor() || major > PgParamTableMaxMajor()) {
    return {Kind::kUnchecked, "", nullptr};
  }
  const PgParamSpec* spec = nullptr;
  for (const auto& s : PgParamTable()) {
    if (major >= s.since && (s.until == 0 || major < s.until) && EqualsNoCase(s.name, name)) spec = &s;
  }
  if (spec == nullptr) {
    return {Kind::kUnknown, "not a parameter of PostgreSQL " + std::to_string(major) + OtherVersions(major, name),
            nullptr};
  }
  switch (spec->type) {
    case PgParamType::kBool:
      if (ParseBool(value)) return {};
      return {Kind::kInvalid, "not a boolean (on, off, true, false, yes, no, 1, 0)", nullptr};
    case PgParamType::kInteger:
    case PgParamType::kReal: return CheckNumber(*spec, value);
    case PgParamType::kEnum: return CheckEnum(*spec, value);
    case PgParamType::kInternal:
      return {Kind::kReadOnly, "read-only: fixed when PostgreSQL was built or the cluster initialised", nullptr};
    case PgParamType::kString: break;
  }
  return {};
}

Json CheckParameters(int major, const Json& params, std::vector<std::string>* warnings) {
  if (major <= 0 || !params.is_object() || major < PgParamTableMinMajor()) return params;
  const std::string pg = "PostgreSQL " + std::to_string(major);
  if (major > PgParamTableMaxMajor()) {
    warnings->push_back("postgresql.parameters: pgwarden knows the parameters of PostgreSQL " +
                        std::to_string(PgParamTableMinMajor()) + " to " + std::to_string(PgParamTableMaxMajor()) +
                        "; those for " + pg + " are written unchecked");
    return params;
  }
  Json out = Json::object();
  for (const auto& [name, value] : params.items()) {
    const std::string text = ConfText(value);
    ParamVerdict v = CheckParameter(major, name, text);
    const std::string key = "postgresql.parameters." + name;
    switch (v.kind) {
      case Kind::kOk:
      case Kind::kUnchecked: out[name] = value; break;
      case Kind::kBadName:
        warnings->push_back("postgresql.parameters." + Shown(name) + ": " + v.why + ", left out");
        break;
      case Kind::kUnknown:
      case Kind::kReadOnly:
        warnings->push_back(key + ": " + v.why + ", left out (" + pg + " would refuse to start)");
        break;
      case Kind::kInvalid:
        warnings->push_back(key + ": invalid value " + Shown(text) + " for " + pg + ": " + v.why +
                            "; left out, PostgreSQL uses its default");
        break;
      case Kind::kBelowMin:
      case Kind::kAboveMax:
        out[name] = v.bound;
        warnings->push_back(key + ": value " + Shown(text) + " is " + v.why + " in " + pg + "; written as " +
                            v.bound.dump());
        break;
    }
  }
  return out;
}

}  // namespace pgw
