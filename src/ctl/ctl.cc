// pgwardenctl's cluster commands: parse, load the configuration, resolve the cluster, read it, dispatch to the verb's
// handler (command.h).
#include "ctl/ctl.h"

#include <algorithm>

#include "ctl/command.h"
#include "ctl/options.h"
#include "ctl/session.h"
#include "ctl/target.h"

namespace pgw::ctl {

namespace {

const Command* Find(const std::string& verb) {
  const auto& all = Commands();
  auto it = std::find_if(all.begin(), all.end(), [&](const Command& c) { return verb == c.verb; });
  return it == all.end() ? nullptr : &*it;
}

// The cluster name: the first argument, else the configuration's scope. For verbs whose arguments are members, the
// configuration's scope first, and a first argument equal to it is skipped (patronictl restart CLUSTER MEMBER...).
std::string ResolveScope(const Command& cmd, const std::string& configured, std::vector<std::string>* rest) {
  std::string scope = configured;
  if (!rest->empty() && (!cmd.takes_members || configured.empty())) {
    scope = rest->front();
    rest->erase(rest->begin());
  } else if (!rest->empty() && rest->front() == configured) {
    rest->erase(rest->begin());
  }
  return scope;
}

// The verb's own options (check's), checked before anything is contacted.
Status ValidateVerbOptions(const Command& cmd, const Options& o) {
  if (cmd.validate) return cmd.validate(o);
  if (!o.check.empty()) return InvalidArgument("'" + o.check.front() + "' is an option of check, not of " + cmd.verb);
  return Status::Ok();
}

}  // namespace

Status CheckCommandLine(const std::vector<std::string>& args) { return CheckCommandLine(args, ProcessEnvironment()); }

Status CheckCommandLine(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  auto parsed = ParseOptions(args);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->positional.empty()) {
    if (const Command* cmd = Find(parsed->positional[0])) PGW_RETURN_IF_ERROR(ValidateVerbOptions(*cmd, *parsed));
  }
  return LoadTarget(*parsed, env).status();
}

int Main(const std::vector<std::string>& raw, FILE* out, FILE* err) {
  auto parsed = ParseOptions(raw);
  if (!parsed.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", parsed.status().message().c_str());
    return 2;
  }
  const Options& o = *parsed;
  if (o.positional.empty()) {
    std::fputs(Usage().c_str(), err);
    return 2;
  }
  const std::string& verb = o.positional[0];
  const Command* cmd = Find(verb);
  if (!cmd) {
    std::fprintf(err, "pgwardenctl: unknown command '%s' (try --help)\n", verb.c_str());
    return 2;
  }
  if (Status v = ValidateVerbOptions(*cmd, o); !v.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", v.message().c_str());
    return 2;
  }
  auto target = LoadTarget(o, ProcessEnvironment());
  if (!target.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", target.status().message().c_str());
    return 1;
  }
  std::vector<std::string> rest(o.positional.begin() + 1, o.positional.end());
  Config config = *target;
  config.scope = ResolveScope(*cmd, config.scope, &rest);
  if (config.scope.empty()) {
    std::fprintf(err, "pgwardenctl: no cluster name: give it as an argument or set scope in the config file\n");
    return 2;
  }
  Session session(config, err);
  auto view = session.Cluster();
  if (!view.ok()) {
    std::fprintf(err, "pgwardenctl: %s\n", view.status().message().c_str());
    return 1;
  }
  Invocation in{verb, config.scope, rest, o, *view, session, out, err, config};
  return cmd->run(in);
}

}  // namespace pgw::ctl
