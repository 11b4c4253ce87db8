// switchover and failover: checked against the cluster as read, confirmed, then POSTed to the leader (or, without
// one, to the candidate), which writes the failover key as Patroni does.
#include "ctl/command.h"
#include "ctl/ctl.h"

namespace pgw::ctl {

int RunSwitchover(const Invocation& in) {
  const Options& o = in.opts;
  const std::string& cmd = in.verb;
  const Member* leader = in.Leader();
  std::string from = o.leader.empty() && cmd == "switchover" && leader ? leader->name : o.leader;
  if (cmd == "switchover" && from.empty()) {
    std::fprintf(in.err, "pgwardenctl: This cluster has no leader, use failover --candidate instead\n");
    return 1;
  }
  if (cmd == "failover" && o.candidate.empty()) {
    std::fprintf(in.err, "pgwardenctl: failover needs --candidate\n");
    return 2;
  }
  if (!o.candidate.empty() && !in.MemberOrComplain(o.candidate)) return 1;
  if (!from.empty() && (!leader || leader->name != from)) {
    std::fprintf(in.err, "pgwardenctl: Member %s is not the leader of cluster %s\n", from.c_str(), in.scope.c_str());
    return 1;
  }
  Json body = Json::object();
  if (!from.empty()) body["leader"] = from;
  if (!o.candidate.empty()) body["candidate"] = o.candidate;
  if (!o.scheduled.empty() && o.scheduled != "now") body["scheduled_at"] = o.scheduled;
  std::fputs(ListTable(in.scope, in.cluster, in.Paused()).c_str(), in.out);
  std::string q = "Are you sure you want to " + cmd + " cluster " + in.scope +
                  (from.empty() ? "" : ", demoting current leader " + from) + "?";
  if (!in.Confirm(q)) {
    std::fprintf(in.err, "Aborting %s (use --force)\n", cmd.c_str());
    return 1;
  }
  const Member* via = leader ? leader : in.MemberOrComplain(o.candidate);
  if (!via) return 1;
  auto r = in.session.Api(*via, "POST", "/" + cmd, body);
  if (!r.ok()) {
    std::fprintf(in.err, "pgwardenctl: %s\n", r.status().message().c_str());
    return 1;
  }
  std::fprintf(in.out, "%s\n", ResponseBody(r).c_str());
  return r->status == 200 || r->status == 202 ? 0 : 1;
}

}  // namespace pgw::ctl
