// Internals shared by the configuration loader's files (config.cc, config_table.cc, config_schema.cc,
// config_yaml.cc, config_readers.cc, config_sections.cc, config_dynamic.cc). Not part of the public interface.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/config.h"
#include "common/config_table.h"

namespace pgw::config_internal {

// DCS sections Patroni supports and pgwarden does not.
extern const std::set<std::string> kOtherDcs;

std::string Join(const std::string& a, const std::string& b);
std::string Lower(std::string s);
bool ParseBoolText(const std::string& s, bool* out);
// ParseBoolText's words, or 1 and 0: Patroni's parse_bool, for the keys it reads so (KeyFlag kBoolWord).
bool ParseBoolWord(const std::string& s, bool* out);
// The whole text as a number, or false: a base-10 integer (as std::stoll reads it, leading blanks allowed) ...
bool ParseIntText(const std::string& s, long long* out);
// ... or a decimal ("0.5", "10", "1e3" as strtod reads it; a leading blank refused).
bool ParseDecimalText(const std::string& s, double* out);

// The child `key` of `n`, or an undefined node when `n` is not a mapping (yaml-cpp throws on a scalar).
YAML::Node Sub(const YAML::Node& n, const std::string& key);

// Checks `root` against Patroni's key tree: types, required keys, unknown keys. `extra_known` holds paths that are
// known for this file only (postgresql.<custom replica method>, bootstrap.<custom method>): their sections are
// checked by config_methods.cc. `require` false: missing required keys are fine.
void CheckSchema(const YAML::Node& root, const std::set<std::string>& extra_known, bool require,
                 std::vector<std::string>* errors, std::vector<std::string>* warnings);

// PATRONI_* environment variables applied onto the tree.
void ApplyEnv(YAML::Node& root, const std::map<std::string, std::string>& env, std::vector<std::string>* errors);
// Deep-merges `src` into `dst` (mappings merged key by key, everything else replaced).
void Merge(YAML::Node dst, const YAML::Node& src);

// The dynamic configuration's `standby_cluster` section (config_standby.cc): sets d->standby_cluster when the
// section describes a standby cluster; problems name `path` (e.g. "bootstrap.dcs.standby_cluster").
void ParseStandbyCluster(const Json& j, const std::string& path, DynamicConfig* d, std::vector<std::string>* problems,
                         std::vector<std::string>* warnings);
// bootstrap.dcs.standby_cluster without host (archive-only) whose create_replica_methods has no method that works
// without a leader: the standby leader cannot be made (its bootstrap fails and stops the agent, as in Patroni).
// A warning at load, since another member's section (or a later PATCH) may still make it work.
void WarnArchiveOnlyWithoutMethod(const Config& c, std::vector<std::string>* warnings);

// bootstrap.method with its bootstrap.<method> section, and postgresql.create_replica_methods with each
// postgresql.<method> section (config_methods.cc). Problems name the key path.
void ParseBootstrapMethod(const YAML::Node& bootstrap, Config* c, std::vector<std::string>* errors,
                          std::vector<std::string>* warnings);
void ParseReplicaMethods(const YAML::Node& postgresql, Config* c, std::vector<std::string>* errors);

Json YamlToJson(const YAML::Node& n);
std::string Str(const YAML::Node& n, const std::string& def = "");
// Read with ParseBoolWord: the schema check has already refused 1 and 0 where Patroni does not take them.
bool Bool(const YAML::Node& n, bool def);
long long Int(const YAML::Node& n, long long def);

std::string FindBinDir(const std::map<std::string, std::string>& env);

// The programs of kRequiredPrograms missing from `dir`.
std::vector<std::string> MissingPrograms(const std::string& dir);

// Parsers of the sections with a shape of their own (config_sections.cc). Problems name the key path.
PgUser ParseUser(const YAML::Node& n);
std::vector<std::string> ParseInitdb(const YAML::Node& n, std::vector<std::string>* errors);
std::vector<Config::Bootstrap::User> ParseBootstrapUsers(const YAML::Node& n, std::vector<std::string>* errors,
                                                         std::vector<std::string>* warnings);
// "" when `n` is a CREATE ROLE option bootstrap.users takes (then `*upper` is it in upper case), else why not.
std::string RoleOptionProblem(const YAML::Node& n, std::string* upper);
std::vector<std::string> ParseBasebackup(const YAML::Node& n, std::vector<std::string>* errors);
Tags ParseTags(const YAML::Node& n, std::vector<std::string>* warnings);

// A key bound to one field by its type (KeyRow::def when absent); problems name row.path (config_readers.cc).
void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, std::string* v);
void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, bool* v);
void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, int* v);
void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, std::vector<std::string>* v);
void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, HostPort* v);
void ReadValue(const KeyRow& row, const YAML::Node& n, LoadContext& x, LogLevel* v);

// The readers and checks of the keys with rules of their own (config_readers.cc), named in the key table.
void ReadListen(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadEtcdEndpoints(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadPostBootstrap(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadDataDir(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadBinDir(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadPgpass(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadUser(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadParameters(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadRecoveryConf(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void ReadCallbacks(const KeyRow& row, const YAML::Node& n, const YAML::Node& parent, LoadContext& x);
void CheckNames(LoadContext& x);
void CheckRestapi(LoadContext& x);
void CheckEtcd(LoadContext& x);
void CheckBootstrapDcs(LoadContext& x);
void CheckPostgresql(LoadContext& x);
void CheckWatchdog(LoadContext& x);
void CheckTags(LoadContext& x);

// Typed extraction of every key into `c`, row by row of the key table, then the checks across keys. The schema
// check has already reported type errors.
void Extract(const YAML::Node& root, const LoadOptions& opts, Config* c, std::vector<std::string>* errors,
             std::vector<std::string>* warnings);

}  // namespace pgw::config_internal
