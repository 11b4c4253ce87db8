// pgwardenctl's cluster commands: patronictl's verbs, options and output (reference §5). They read the cluster
// from etcd (the same keys patronictl reads) and act through the agents' REST API. Each verb is an entry of the
// table in command.h with its handler in a cmd_*.cc file; the tables and YAML below are output.cc.
#pragma once

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dcs/failovers.h"
#include "dcs/keys.h"

namespace YAML {
class Node;
}

namespace pgw::ctl {

// patronictl's `list` table (pure).
std::string ListTable(const std::string& scope, const ClusterView& c, bool paused, bool topology = false);
// patronictl's `topology` order: the leader, then every member under the member its `replicatefrom` tag names
// (when that is another non-leader member) or under the leader, depth first, in name order. Each entry is a name
// and its depth. Unlike patronictl, members caught in a replicatefrom cycle are not dropped: they are listed under
// the leader.
std::vector<std::pair<std::string, int>> TopologyOrder(const ClusterView& c);
// `list -f json`: one object per member with the table's columns.
Json ListJson(const std::string& scope, const ClusterView& c);
// patronictl's `history` table (pure).
std::string HistoryTable(const std::vector<HistoryLine>& history);
// `history -v`: patronictl's table, then the leader changes of the `failovers` key (history_verbose.cc). A key that
// does not decode is reported under the first table, with the reason.
std::string HistoryVerbose(const ClusterView& c);
// The leader changes alone, one row per record, newest last (pure).
std::string FailoverTable(const FailoverLog& log);
// A box table with patronictl's look; `right` marks right-aligned columns; `title` replaces the start of the top
// border ("+ Cluster: demo ---+---").
std::string Table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& right, const std::string& title);
// JSON to YAML, keys sorted (show-config, edit-config; yaml_json.cc). Strings that YAML 1.1 would read as another
// type are quoted, empty mappings and lists are {} and []: ParseYamlValue(ToYaml(j)) == j.
std::string ToYaml(const Json& j);
// YAML read as patronictl reads it (PyYAML's safe_load: YAML 1.1 booleans, nulls, integers and floats).
Json YamlNodeToJson(const YAML::Node& n);
Result<Json> ParseYamlValue(const std::string& text);
// Applies "a.b.c=value" as patronictl does: the value is read as YAML, null removes the key (and mappings left
// empty), and under postgresql.parameters the rest of the path is one parameter name (GUCs contain dots).
Status ApplySet(Json* config, const std::string& assignment);
// Why an edit of the dynamic configuration from `before` to `after` is refused (empty: accepted): the problems and
// adjustments it introduces. What `before` already had is not held against the edit (a configuration written by
// Patroni may hold values that pgwarden adjusts).
std::string RefusedEdit(const Json& before, const Json& after);

// Parses a command line and loads the configuration it names as Main does (ctl/target.h), without contacting etcd:
// the error Main would report, or OK. For tests and the fuzz target. The first form reads the process environment.
Status CheckCommandLine(const std::vector<std::string>& args);
Status CheckCommandLine(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);

// Runs a cluster command (everything except `sandbox`). Returns the exit code.
int Main(const std::vector<std::string>& args, FILE* out, FILE* err);

// Runs `sandbox VERB [options]` (cmd_sandbox.cc): `args` starts at the verb (up, down, status); the sandbox runs the
// pgwarden and pgwarden-router executables found in `bin_dir`. Returns the exit code (2: bad command line).
int RunSandbox(const std::vector<std::string>& args, const std::string& bin_dir, FILE* out, FILE* err);

}  // namespace pgw::ctl
