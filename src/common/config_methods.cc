// Custom methods, read as Patroni reads them: bootstrap.method with its bootstrap.<method> section (a command run
// instead of initdb), and postgresql.create_replica_methods with a postgresql.<method> section for each custom
// replica creation method. What the commands are called with is built in pg/create_replica.cc.
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
#include "common/shlex.h"

namespace pgw::config_internal {
namespace {

// A value the way Python's str() prints what PyYAML read, which is how Patroni formats --key=value: plain YAML 1.1
// booleans are True/False, null is None, everything else is the text as written. nullopt for a list or mapping.
std::optional<std::string> PythonText(const YAML::Node& v) {
  if (!v || v.IsNull()) return std::string("None");
  if (!v.IsScalar()) return std::nullopt;
  if (v.Tag() == "?") {  // plain (unquoted): PyYAML resolves booleans
    static const std::set<std::string> kTrue = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
    static const std::set<std::string> kFalse = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
    if (kTrue.count(v.Scalar())) return std::string("True");
    if (kFalse.count(v.Scalar())) return std::string("False");
  }
  return v.Scalar();
}

bool ReadFlag(const YAML::Node& v, const std::string& path, std::vector<std::string>* errors) {
  bool b = false;
  long long n = 0;
  if (!v || v.IsNull()) return false;
  if (v.IsScalar() && ParseIntText(v.Scalar(), &n)) return n != 0;  // Python's truth of a number
  if (!v.IsScalar() || !ParseBoolText(v.Scalar(), &b)) {
    errors->push_back(path + ": must be a boolean (true/false)");
    return false;
  }
  return b;
}

std::vector<std::string> ReadCommand(const YAML::Node& v, const std::string& path, std::vector<std::string>* errors) {
  if (!v.IsScalar()) {
    errors->push_back(path + ": must be a command line (a string)");
    return {};
  }
  auto argv = SplitCommandLine(v.Scalar());
  if (!argv.ok()) {
    errors->push_back(path + ": " + argv.status().message());
    return {};
  }
  return *argv;
}

}  // namespace

void ParseBootstrapMethod(const YAML::Node& b, Config* c, std::vector<std::string>* errors,
                          std::vector<std::string>* warnings) {
  const YAML::Node m = Sub(b, "method");
  if (!m || !m.IsScalar() || m.Scalar() == "initdb" || m.Scalar().empty()) return;
  const std::string& name = m.Scalar();
  const std::string path = "bootstrap." + name;
  const YAML::Node section = Sub(b, name);
  if (section && !section.IsNull() && !section.IsMap()) {
    errors->push_back(path + ": must be a mapping with the method's command");
    return;
  }
  if (!Sub(section, "command")) {
    // Patroni's rule: a method without a section holding `command` means initdb.
    warnings->push_back("bootstrap.method: '" + name + "' has no " + path +
                        ".command, so initdb runs instead (as "
                        "with Patroni)");
    return;
  }
  Config::Bootstrap::Method method;
  method.name = name;
  for (const auto& kv : section) {
    const std::string key = Str(kv.first);
    const std::string kpath = path + "." + key;
    if (key == "command") {
      method.command = ReadCommand(kv.second, kpath, errors);
    } else if (key == "keep_existing_recovery_conf") {
      method.keep_existing_recovery_conf = ReadFlag(kv.second, kpath, errors);
    } else if (key == "no_params") {
      method.no_params = ReadFlag(kv.second, kpath, errors);
    } else if (key == "recovery_conf") {
      std::vector<std::pair<std::string, std::string>> params;
      if (!kv.second.IsNull() && !kv.second.IsMap()) {
        errors->push_back(kpath + ": must be a mapping of recovery parameters (restore_command, ...)");
        continue;
      }
      for (const auto& p : kv.second) {
        const std::string pname = Str(p.first);
        if (!p.second.IsScalar()) {
          errors->push_back(kpath + "." + pname + ": must be a string or a number");
          continue;
        }
        params.emplace_back(pname, p.second.Scalar());
      }
      method.recovery_conf = params;
    } else {
      warnings->push_back(kpath +
                          ": unknown key, ignored (a bootstrap command gets only --scope and --datadir, as "
                          "with Patroni)");
    }
  }
  c->bootstrap.custom = method;
}

void ParseReplicaMethods(const YAML::Node& pg, Config* c, std::vector<std::string>* errors) {
  // Patroni: create_replica_methods, or the older create_replica_method when the first is missing or empty.
  // (Nodes are initialised, never assigned: assigning a yaml-cpp node rewrites the node it refers to.)
  const YAML::Node plural = Sub(pg, "create_replica_methods");
  const bool use_plural = plural && plural.IsSequence() && plural.size() > 0;
  const std::string list_key = use_plural ? "create_replica_methods" : "create_replica_method";
  const YAML::Node list = Sub(pg, list_key);
  auto& p = c->postgresql;
  // The listed methods, then any other section with a command: standby_cluster.create_replica_methods (dynamic
  // configuration, may change at run time) names methods that are defined here too.
  std::vector<std::string> names;
  for (size_t i = 0; list && list.IsSequence() && i < list.size(); ++i) {
    const std::string name = list[i].IsScalar() ? list[i].Scalar() : "";
    if (name.empty()) {
      errors->push_back("postgresql." + list_key + "[" + std::to_string(i) + "]: must be a method name");
      continue;
    }
    p.create_replica_methods.push_back(name);
    names.push_back(name);
  }
  if (pg && pg.IsMap()) {
    for (const auto& kv : pg) {
      if (kv.first.IsScalar() && kv.second.IsMap() && kv.second["command"]) names.push_back(kv.first.Scalar());
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    if (name == "basebackup" || p.replica_methods.count(name)) continue;
    const std::string path = "postgresql." + name;
    const YAML::Node section = Sub(pg, name);
    ReplicaMethod method;
    if (section && !section.IsNull() && !section.IsMap()) {
      errors->push_back(path + ": must be a mapping with the method's command and options");
      continue;
    }
    for (const auto& kv : section) {
      const std::string key = Str(kv.first);
      const std::string kpath = path + "." + key;
      if (key == "command") {
        method.command = ReadCommand(kv.second, kpath, errors);
        continue;
      }
      if (key == "keep_data") method.keep_data = ReadFlag(kv.second, kpath, errors);
      if (key == "no_params") method.no_params = ReadFlag(kv.second, kpath, errors);
      if (key == "no_leader" || key == "no_master") method.no_leader |= ReadFlag(kv.second, kpath, errors);
      auto text = PythonText(kv.second);
      if (!text) {
        errors->push_back(kpath + ": must be a string, a number or a boolean (it is passed as --" + key + "=value)");
        continue;
      }
      method.options.emplace_back(key, *text);
    }
    if (method.command.empty() && !Sub(section, "command")) {
      // Patroni runs the method's name as the command when the section has none.
      auto argv = SplitCommandLine(name);
      if (!argv.ok())
        errors->push_back("postgresql." + list_key + ": '" + name + "': " + argv.status().message());
      else
        method.command = *argv;
    }
    p.replica_methods[name] = method;
  }
}

}  // namespace pgw::config_internal
