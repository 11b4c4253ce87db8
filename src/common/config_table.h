// The local configuration's keys as one table (internal to the loader). Each row is one key of Patroni's
// patroni.yml tree, declared once with everything the loader does with it:
// - its type and flags: the schema check (config_schema.cc) builds its tree from the rows;
// - the PATRONI_* variable that sets it, when Patroni has one: ApplyEnv (config_yaml.cc) maps variables by it;
// Rows come parent before child, in patroni.yml order. Pure: no I/O. Any thread.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"

namespace pgw::config_internal {

enum class Kind { kMap, kOpenMap, kStr, kInt, kBool, kStrList, kStrOrList, kAny };

enum KeyFlag : unsigned {
  kNone = 0,
  kRequired = 1,  // an agent's file must have it
  kIgnored = 2,   // Patroni knows it, pgwarden accepts it with a warning (the row's note, or a generic one)
  kEmptyOk = 4,   // a key given with no value (`password:`, null) counts as unset, as Patroni reads it
  kEnvYaml = 8,   // its PATRONI_* variable holds YAML (a list or a mapping); implied by list and mapping kinds
};

struct KeyRow {
  std::string path;  // "postgresql.authentication.superuser.username"
  Kind kind = Kind::kAny;
  unsigned flags = kNone;
  std::string env;   // the PATRONI_* variable that sets it, "" when Patroni has none
  std::string note;  // kIgnored: what ignoring it means ("": the generic warning)

  bool Has(unsigned f) const { return (flags & f) != 0; }
  // Whether the PATRONI_* variable's text is parsed as YAML.
  bool EnvIsYaml() const;
};

// Every key pgwarden knows, parent before child.
const std::vector<KeyRow>& KeyTable();
// The row of `path`, null when none.
const KeyRow* FindKey(const std::string& path);
// The row whose PATRONI_* variable is `var`, null when none.
const KeyRow* FindEnv(const std::string& var);
// "a.b.c" -> {"a", "b", "c"}
std::vector<std::string> SplitPath(const std::string& path);

}  // namespace pgw::config_internal
