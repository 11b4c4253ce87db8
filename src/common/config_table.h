// The local configuration's keys as one table (internal to the loader). Each row is one key of Patroni's
// patroni.yml tree, declared once with everything the loader does with it:
// - its type and flags: the schema check (config_schema.cc) builds its tree from the rows;
// - the PATRONI_* variable that sets it, when Patroni has one: ApplyEnv (config_yaml.cc) maps variables by it;
// - how it is read into Config and checked: Extract (config_sections.cc) runs the rows in table order;
// - the fields of Config it sets and what a change of them takes: the reload diff (config_fields.cc).
// Rows come parent before child, in patroni.yml order. Pure: no I/O. Any thread.
#pragma once

#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/config.h"
#include "common/config_fields.h"

namespace pgw::config_internal {

enum class Kind { kMap, kOpenMap, kStr, kInt, kBool, kStrList, kStrOrList, kAny };

enum KeyFlag : unsigned {
  kNone = 0,
  kRequired = 1,   // an agent's file must have it
  kIgnored = 2,    // Patroni knows it, pgwarden accepts it with a warning (the row's note, or a generic one)
  kEmptyOk = 4,    // a key given with no value (`password:`, null) counts as unset, as Patroni reads it
  kEnvYaml = 8,    // its PATRONI_* variable holds YAML (a list or a mapping); implied by list and mapping kinds
  kBoolWord = 16,  // a boolean Patroni reads with parse_bool: 1 and 0 too (an integer or a word)
};

// What the extraction of one file works on.
struct LoadContext {
  const YAML::Node& root;
  const LoadOptions& opts;
  bool client;  // LoadOptions::Reader::kClient: checks that concern only an agent are skipped
  Config* c;
  std::vector<std::string>* errors;
  std::vector<std::string>* warnings;
};

struct KeyRow;
// Reads the key's node `n` (undefined when absent) from its section `parent` into the Config. Called when the
// parent is a mapping (a missing section leaves Config's defaults).
using ExtractFn = void (*)(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
// Checks across keys, run once every row is extracted.
using CheckFn = void (*)(LoadContext& x);

struct KeyRow {
  std::string path;  // "postgresql.authentication.superuser.username"
  Kind kind = Kind::kAny;
  unsigned flags = kNone;
  std::string env;   // the PATRONI_* variable that sets it, "" when Patroni has none
  std::string note;  // kIgnored: what ignoring it means ("": the generic warning)
  std::string def;   // the default a bound key (Field) takes when absent, as YAML text
  ExtractFn extract = nullptr;
  bool bound = false;   // extract reads the key into one field by its type (ReadValue), `def` when absent
  std::string read_by;  // "": read by its own extract or a section's; else the row whose reader reads it too
  CheckFn check = nullptr;
  // The reload diff's row (path left unset here; ConfigFields() fills it). `field.same` null: no Config field of
  // its own (read into a parent's or a sibling's field, or not read at all).
  ConfigField field{nullptr, ChangeClass::kLive, nullptr, nullptr};

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
