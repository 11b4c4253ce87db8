#include "common/config.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
#include "common/fs.h"
#include "common/yaml_resolve.h"

extern char** environ;

namespace pgw {
namespace {

using namespace config_internal;

// The keys a client reads (LoadOptions::Reader::kClient); the rest of the file configures an agent, which checks it
// when it loads it.
YAML::Node ClientKeys(const YAML::Node& root) {
  YAML::Node read(YAML::NodeType::Map);
  for (const char* key : {"scope", "namespace", "name", "etcd3", "restapi", "ctl"}) {
    if (root[key]) read[key] = root[key];
  }
  // The superuser's credentials: `pgwardenctl check` connects to every member with them.
  const YAML::Node pg = root["postgresql"];
  if (pg && pg.IsMap() && pg["authentication"]) {
    YAML::Node auth(YAML::NodeType::Map);
    auth["authentication"] = pg["authentication"];
    read["postgresql"] = auth;
  }
  return read;
}

LoadResult Finish(YAML::Node input, const LoadOptions& opts) {
  LoadResult r;
  if (!input.IsMap()) {
    r.errors.push_back("configuration: the top level must be a mapping of keys");
    return r;
  }
  ApplyEnv(input, opts.env, &r.errors);
  // Resolved again after the environment, whose lists and mappings are YAML too (PATRONI_ETCD3_HOSTS='&a [*a]').
  auto resolved = ResolveYaml(input);
  if (!resolved.ok()) {
    r.errors.push_back("configuration: " + resolved.status().message());
    return r;
  }
  const YAML::Node root = *resolved;
  const bool client = opts.reader == LoadOptions::Reader::kClient;
  // Initialised, never assigned: assigning one yaml-cpp node to another rewrites the node both handles share.
  const YAML::Node tree = client ? ClientKeys(root) : root;
  std::set<std::string> extra_known;
  for (const char* key : {"create_replica_methods", "create_replica_method"}) {
    const YAML::Node methods = Sub(tree["postgresql"], key);
    if (!methods || !methods.IsSequence()) continue;
    for (const auto& m : methods) {
      if (m.IsScalar() && m.Scalar() != "basebackup") extra_known.insert("postgresql." + m.Scalar());
    }
  }
  // A section with a command may serve a method listed only in standby_cluster.create_replica_methods (dynamic).
  const YAML::Node pg = tree["postgresql"];
  if (pg && pg.IsMap()) {
    for (const auto& kv : pg) {
      if (kv.first.IsScalar() && kv.second.IsMap() && kv.second["command"]) {
        extra_known.insert("postgresql." + kv.first.Scalar());
      }
    }
  }
  const YAML::Node method = Sub(tree["bootstrap"], "method");
  if (method && method.IsScalar() && method.Scalar() != "initdb") extra_known.insert("bootstrap." + method.Scalar());
  CheckSchema(tree, extra_known, !client, &r.errors, &r.warnings);
  auto cfg = std::make_shared<Config>();
  try {
    Extract(tree, opts, cfg.get(), &r.errors, &r.warnings);
    if (r.errors.empty()) config_internal::WarnArchiveOnlyWithoutMethod(*cfg, &r.warnings);
  } catch (const YAML::Exception& e) {
    // Every access is meant to be guarded (Sub, IsMap); this is the net under a shape nobody thought of.
    r.errors.push_back(std::string("configuration: cannot read a value of an unexpected shape: ") + e.what());
  }
  if (r.errors.empty()) r.config = std::move(cfg);
  return r;
}

}  // namespace

std::string Config::KeyPrefix() const {
  std::string joined = "/" + namespace_ + "/" + scope + "/";
  std::string out;
  for (char ch : joined) {
    if (ch == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(ch);
  }
  return out;
}

std::string Config::PgBin(const std::string& program) const { return postgresql.bin_dir + "/" + program; }

LoadResult LoadConfigText(const std::string& yaml_text, const LoadOptions& opts) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    LoadResult r;
    r.errors.push_back(std::string("configuration: not valid YAML: ") + e.what());
    return r;
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) return Finish(root, opts);
  // yaml-cpp keeps duplicate keys and its lookups find the first; Patroni's YAML reader keeps the last, and resolves
  // merge keys (common/yaml_resolve.h).
  auto resolved = ResolveYaml(root);
  if (!resolved.ok()) {
    LoadResult r;
    r.errors.push_back("configuration: " + resolved.status().message());
    return r;
  }
  return Finish(*resolved, opts);
}

LoadResult LoadConfigFile(const std::string& path, const LoadOptions& opts) {
  // Patroni's order: the file when it exists, else PATRONI_CONFIGURATION. (With neither, Patroni runs on the
  // environment alone; pgwarden names the missing file instead, below.)
  bool exists = !path.empty() && std::filesystem::exists(path);
  if (!exists && opts.env.count("PATRONI_CONFIGURATION")) {
    return LoadConfigText(opts.env.at("PATRONI_CONFIGURATION"), opts);
  }
  std::vector<std::string> files;
  if (IsDirectory(path)) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yml" || ext == ".yaml")) files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      LoadResult r;
      r.errors.push_back(path + ": directory holds no *.yml or *.yaml file");
      return r;
    }
  } else {
    files.push_back(path);
  }
  YAML::Node root(YAML::NodeType::Map);
  const bool dir = IsDirectory(path);
  for (const auto& f : files) {
    const std::string where = dir ? f : "configuration";  // a single file is named by the caller already
    auto text = ReadFile(f);
    if (!text.ok()) {
      LoadResult r;
      r.errors.push_back(text.status().message());
      return r;
    }
    try {
      YAML::Node n = YAML::Load(*text);
      if (!n.IsNull() && !n.IsMap()) {
        LoadResult r;
        r.errors.push_back(where + ": the top level must be a mapping of keys");
        return r;
      }
      auto resolved = ResolveYaml(n);
      if (!resolved.ok()) {
        LoadResult r;
        r.errors.push_back(where + ": " + resolved.status().message());
        return r;
      }
      Merge(root, *resolved);
    } catch (const YAML::Exception& e) {
      LoadResult r;
      r.errors.push_back(where + ": not valid YAML: " + std::string(e.what()));
      return r;
    }
  }
  return Finish(root, opts);
}

std::string FindPostgresBinDir(const std::map<std::string, std::string>& env) { return FindBinDir(env); }

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

}  // namespace pgw
