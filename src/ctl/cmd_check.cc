// check: validates the whole stack and prints one line per named check (check.h), exit status 1 on any failure.
#include "ctl/check.h"
#include "ctl/command.h"
#include "ctl/ctl.h"
#include "ctl/top.h"

namespace pgw::ctl {

Status ValidateCheck(const Options& o) {
  if (o.watch) return ValidateTop(o);
  if (!o.top.empty()) return InvalidArgument("check: " + o.top.front() + " goes with --watch (the live view)");
  return check::ParseCheckOptions(o.check).status();
}

int RunCheck(const Invocation& in) {
  if (in.opts.watch) return RunTop(in);
  if (!in.args.empty()) {
    std::fprintf(in.err, "pgwardenctl: check takes no argument besides the cluster name, got '%s'\n",
                 in.args.front().c_str());
    return 2;
  }
  auto opts = check::ParseCheckOptions(in.opts.check);
  if (!opts.ok()) {
    std::fprintf(in.err, "pgwardenctl: %s\n", opts.status().message().c_str());
    return 2;
  }
  check::Facts facts = check::Gather(in.session, in.config, in.cluster, in.scope, *opts);
  std::vector<check::CheckResult> results = check::Evaluate(facts, *opts);
  if (in.opts.format == "json") {
    std::fprintf(in.out, "%s\n", check::RenderJson(in.scope, results).dump().c_str());
  } else if (in.opts.format == "yaml") {
    std::fputs(ToYaml(check::RenderJson(in.scope, results)).c_str(), in.out);
  } else {
    std::fputs(check::RenderTable(in.scope, results).c_str(), in.out);
  }
  return check::ExitCode(results);
}

}  // namespace pgw::ctl
