// The local configuration's fields as one table: for each, its path as written in patroni.yml, how two snapshots
// compare on it, and what a change of it takes to apply. The rows are the key table's (common/config_table.h, where
// each key is declared once with its schema type, PATRONI_* variable and reader) that set fields of their own. A reload
// (SIGHUP, POST /reload) diffs the running snapshot against the file just read, logs each changed path with its class,
// and runs with the new snapshot except for the fields that only an agent restart can apply, which keep their old value
// until then.
//
// Pure: no I/O, no clock. Any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"

namespace pgw {

// What a change of a field takes to apply.
enum class ChangeClass {
  kLive,             // applied at once (the next cycle, configuration write or PostgreSQL reload uses it)
  kPostgresRestart,  // written to postgresql.conf, but PostgreSQL applies it only when it restarts (pending_restart)
  kAgentRestart,     // the agent keeps the old value until pgwarden itself is restarted
};

// One row of the table. A mapping reported key by key (postgresql.parameters, tags) has `entries` set: each key
// whose value differs is one change, "<path>.<key>", of the class `entry_class` gives it.
struct ConfigField {
  const char* path;
  ChangeClass cls;
  bool (*same)(const Config& a, const Config& b);
  void (*keep)(const Config& from, Config* to);  // copies this field's value from `from` into `to`
  const Json& (*entries)(const Config& c) = nullptr;
  ChangeClass (*entry_class)(const std::string& key) = nullptr;
};

// Every field of Config, in patroni.yml order. `path` points into the key table (static, never freed).
const std::vector<ConfigField>& ConfigFields();

struct ConfigChange {
  std::string path;  // "postgresql.parameters.work_mem", "tags.nofailover", "restapi.listen"
  ChangeClass cls;
  bool operator==(const ConfigChange& o) const { return path == o.path && cls == o.cls; }
};

// The fields that differ between `running` and `loaded`, in table order.
std::vector<ConfigChange> DiffConfig(const Config& running, const Config& loaded);

// The snapshot to run with after a reload: `loaded`, with each kAgentRestart field back at its `running` value.
std::shared_ptr<const Config> ConfigAfterReload(const Config& running, const Config& loaded);

// "postgresql.parameters.work_mem: applied", "restapi.listen: needs a restart of pgwarden (...)": the log line of
// one change.
std::string DescribeChange(const ConfigChange& c);

// Whether a change of PostgreSQL parameter `name` takes a restart of PostgreSQL (postmaster context).
bool ParameterNeedsRestart(const std::string& name);

}  // namespace pgw
