// edit-config: --set/--pg assignments or an editor session, checked as the agents check the dynamic configuration,
// then written with a compare-and-swap on the key's mod_revision.
#include <unistd.h>

#include <cstdlib>

#include "common/fs.h"
#include "common/process.h"
#include "ctl/command.h"
#include "ctl/ctl.h"

namespace pgw::ctl {

namespace {

// patronictl's set_path_value: creates mappings on the way, removes the key for null and mappings left empty.
void SetPath(Json& node, std::vector<std::string> keys, size_t i, const Json& value) {
  if (!node.is_object()) node = Json::object();
  if (i == 2 && keys[0] == "postgresql" && keys[1] == "parameters") {
    std::string name = keys[i];
    for (size_t k = i + 1; k < keys.size(); ++k) name += "." + keys[k];
    keys.resize(i + 1);
    keys[i] = name;
  }
  if (i + 1 == keys.size()) {
    if (value.is_null())
      node.erase(keys[i]);
    else
      node[keys[i]] = value;
    return;
  }
  SetPath(node[keys[i]], keys, i + 1, value);
  if (node[keys[i]].empty()) node.erase(keys[i]);
}

// The configuration after the user's edits: the --set and --pg assignments, else what they save in $EDITOR.
// Returns the exit code on failure (after printing why).
int Edited(const Invocation& in, const Json& before, Json* after) {
  *after = before;
  for (const auto& a : in.opts.sets) {
    Status st = ApplySet(after, a);
    if (!st.ok()) {
      std::fprintf(in.err, "pgwardenctl: %s\n", st.message().c_str());
      return 2;
    }
  }
  for (const auto& a : in.opts.pgs) {
    Status st = ApplySet(after, "postgresql.parameters." + a);
    if (!st.ok()) {
      std::fprintf(in.err, "pgwardenctl: %s\n", st.message().c_str());
      return 2;
    }
  }
  if (!in.opts.sets.empty() || !in.opts.pgs.empty()) return 0;
  const char* editor = std::getenv("EDITOR");
  std::string path = "/tmp/pgwardenctl-config-" + std::to_string(getpid()) + ".yaml";
  if (!WriteFileAtomic(path, ToYaml(before), 0600).ok()) return 1;
  ProcessOptions po;
  po.timeout = Duration(24 * 3600 * 1000);
  auto r = Run({editor ? editor : "vi", path}, po);
  auto text = ReadFile(path);
  unlink(path.c_str());
  if (!r.ok() || !r->Success() || !text.ok()) {
    std::fprintf(in.err, "pgwardenctl: the editor failed\n");
    return 1;
  }
  auto edited = ParseYamlValue(*text);
  if (!edited.ok() || !edited->is_object()) {
    std::fprintf(in.err, "pgwardenctl: the edited configuration is %s\n",
                 edited.ok() ? "not a mapping" : edited.status().message().c_str());
    return 1;
  }
  *after = *edited;
  return 0;
}

}  // namespace

Status ApplySet(Json* config, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) return InvalidArgument("--set needs key=value, got '" + assignment + "'");
  std::string path = assignment.substr(0, eq);
  std::vector<std::string> keys;
  size_t p = 0;
  while (true) {
    auto dot = path.find('.', p);
    std::string k = path.substr(p, dot == std::string::npos ? std::string::npos : dot - p);
    if (k.empty()) return InvalidArgument("--set: empty key in '" + path + "'");
    keys.push_back(k);
    if (dot == std::string::npos) break;
    p = dot + 1;
  }
  auto value = ParseYamlValue(assignment.substr(eq + 1));
  if (!value.ok()) return InvalidArgument("--set " + path + ": the value is " + value.status().message());
  SetPath(*config, keys, 0, *value);
  return Status::Ok();
}

std::string RefusedEdit(const Json& before, const Json& after) {
  std::string p = DynamicConfig::IntroducedProblem(before, after, false);
  if (!p.empty()) return "refusing an invalid configuration: " + p;
  // The agents would run with another value than the one written (a timing below its floor, or breaking
  // loop_wait + 2 * retry_timeout <= ttl): refuse rather than store a value nobody uses.
  std::string a = DynamicConfig::IntroducedProblem(before, after, true);
  return a.empty() ? "" : "refusing a configuration the agents would adjust: " + a;
}

int RunEditConfig(const Invocation& in) {
  const ClusterView& c = in.cluster;
  Json before = c.config ? *c.config : Json::object();
  Json after;
  if (int rc = Edited(in, before, &after); rc != 0) return rc;
  if (std::string why = RefusedEdit(before, after); !why.empty()) {
    std::fprintf(in.err, "pgwardenctl: %s\n", why.c_str());
    return 1;
  }
  if (after == before) {
    std::fprintf(in.out, "Not changed\n");
    return 0;
  }
  std::fprintf(in.out, "--- \n+++ \n%s", ToYaml(after).c_str());
  if (!in.Confirm("Apply these changes?")) {
    std::fprintf(in.err, "Aborted (use --force to apply without asking)\n");
    return 1;
  }
  const std::string key = in.session.Prefix() + "config";
  etcd::Compare cmp{key, etcd::Compare::Target::kMod, etcd::Compare::Result::kEqual, c.config_mod_revision, ""};
  auto r = in.session.etcd().Txn({cmp}, {etcd::Op{etcd::Op::Type::kPut, key, after.dump(), 0, ""}});
  if (!r.ok() || !r->succeeded) {
    std::fprintf(in.err, "pgwardenctl: %s\n",
                 r.ok() ? "the configuration changed meanwhile; run edit-config again" : r.status().message().c_str());
    return 1;
  }
  std::fprintf(in.out, "Configuration changed\n");
  return 0;
}

}  // namespace pgw::ctl
