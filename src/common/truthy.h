// Python's truth value of a JSON value: how Patroni reads flags it tests with `if data.get(...)` (member tags such
// as nofailover, slot definitions, request fields like restart_pending). `1`, `"yes"` and `{"a": 1}` are true;
// `0`, `""`, `null`, `[]` are false. Never throws, whatever the type: the values come from other processes.
#pragma once

#include <nlohmann/json.hpp>

namespace pgw {

inline bool PyTruthy(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::boolean: return j.get<bool>();
    case nlohmann::json::value_t::number_integer: return j.get<int64_t>() != 0;
    case nlohmann::json::value_t::number_unsigned: return j.get<uint64_t>() != 0;
    case nlohmann::json::value_t::number_float: return j.get<double>() != 0;
    case nlohmann::json::value_t::string: return !j.get_ref<const std::string&>().empty();
    case nlohmann::json::value_t::array:
    case nlohmann::json::value_t::object: return !j.empty();
    default: return false;
  }
}

// The field `name` of an object, by PyTruthy; false when `j` is no object or has no such field.
inline bool PyTruthyField(const nlohmann::json& j, const char* name) {
  if (!j.is_object()) return false;
  auto it = j.find(name);
  return it != j.end() && PyTruthy(*it);
}

}  // namespace pgw
