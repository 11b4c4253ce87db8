// The read-only verbs: list, topology, history, show-config, dsn.
#include "ctl/command.h"
#include "ctl/ctl.h"

namespace pgw::ctl {

int RunList(const Invocation& in) {
  if (in.opts.format == "json")
    std::fprintf(in.out, "%s\n", ListJson(in.scope, in.cluster).dump().c_str());
  else if (in.opts.format == "yaml")
    std::fputs(ToYaml(ListJson(in.scope, in.cluster)).c_str(), in.out);
  else
    std::fputs(ListTable(in.scope, in.cluster, in.Paused(), in.verb == "topology").c_str(), in.out);
  return 0;
}

int RunHistory(const Invocation& in) {
  if (!in.opts.verbose) {
    std::fputs(HistoryTable(in.cluster.history).c_str(), in.out);
    return 0;
  }
  if (in.opts.format == "pretty") {
    std::fputs(HistoryVerbose(in.cluster).c_str(), in.out);
    return 0;
  }
  // -v -f json|yaml: the records as GET /failovers gives them.
  FailoverLog log;
  if (in.cluster.failovers) {
    auto decoded = DecodeFailoverLog(*in.cluster.failovers);
    if (!decoded.ok()) {
      std::fprintf(in.err, "pgwardenctl: %s\n", decoded.status().message().c_str());
      return 1;
    }
    log = std::move(*decoded);
  }
  Json j = FailoverLogJson(log);
  if (in.opts.format == "json")
    std::fprintf(in.out, "%s\n", j.dump().c_str());
  else
    std::fputs(ToYaml(j).c_str(), in.out);
  return 0;
}

int RunShowConfig(const Invocation& in) {
  std::fputs(ToYaml(in.cluster.config ? *in.cluster.config : Json::object()).c_str(), in.out);
  return 0;
}

int RunDsn(const Invocation& in) {
  const std::string& name = in.opts.member;
  const Member* m = name.empty() ? in.Leader() : in.MemberOrComplain(name);
  if (!m || !m->conn) {
    std::fprintf(in.err, "pgwardenctl: %s\n", name.empty() ? "the cluster has no leader" : "no address published");
    return 1;
  }
  std::fprintf(in.out, "host=%s port=%d\n", m->conn->host.c_str(), m->conn->port);
  return 0;
}

}  // namespace pgw::ctl
