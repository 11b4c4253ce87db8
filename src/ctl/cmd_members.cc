// restart, reinit and reload: one REST call per named member (or per member of --role, or every member), with
// patronictl's line for each outcome.
#include "ctl/command.h"

namespace pgw::ctl {

namespace {

// Fills `targets` with the members the command names; false (after saying which) when one is not a member.
bool Targets(const Invocation& in, std::vector<const Member*>* targets) {
  const Member* leader = in.Leader();
  if (in.args.empty()) {
    for (const auto& [name, m] : in.cluster.members) {
      const bool is_leader = leader && leader->name == name;
      if (in.opts.role.empty() || (in.opts.role == "replica") != is_leader) targets->push_back(&m);
    }
    return true;
  }
  for (const auto& n : in.args) {
    const Member* m = in.MemberOrComplain(n);
    if (!m) return false;
    targets->push_back(m);
  }
  return true;
}

// The request for one member: path and body.
std::pair<std::string, Json> Request(const Invocation& in) {
  const Options& o = in.opts;
  if (in.verb == "restart") {
    Json body = Json::object();
    if (!o.role.empty()) body["role"] = o.role;
    if (o.pending) body["restart_pending"] = true;
    if (!o.scheduled.empty() && o.scheduled != "now") body["schedule"] = o.scheduled;
    return {"/restart", body};
  }
  if (in.verb == "reinit") return {"/reinitialize", Json{{"force", o.force}}};
  return {"/reload", nullptr};
}

void Report(const Invocation& in, const Member& m, const Result<HttpResponse>& r, bool ok) {
  const char* name = m.name.c_str();
  if (ok && in.verb == "reload") {
    std::fprintf(in.out, "Reload request received for member %s and will be processed within %d seconds\n", name,
                 LoopWait(in.cluster));
  } else if (ok) {
    std::fprintf(in.out, "Success: %s %s member %s\n", in.verb == "restart" ? "restart" : "reinitialize",
                 in.verb == "restart" ? "on" : "for", name);
  } else {
    const char* what = in.verb == "restart" ? "restart" : in.verb == "reinit" ? "reinitialize" : "reload";
    std::fprintf(in.out, "Failed: %s for member %s, status code=%ld, (%s)\n", what, name, r.ok() ? r->status : 0L,
                 ResponseBody(r).c_str());
  }
}

}  // namespace

int RunMembers(const Invocation& in) {
  if (in.args.empty() && in.verb == "reinit") {
    std::fprintf(in.err, "pgwardenctl: reinit needs the member names\n");
    return 2;
  }
  std::vector<const Member*> targets;
  if (!Targets(in, &targets)) return 1;
  std::string names;
  for (const Member* m : targets) names += (names.empty() ? "" : ", ") + m->name;
  if (!in.Confirm("Are you sure you want to " + in.verb + " members " + names + "?")) {
    std::fprintf(in.err, "Aborted (use --force)\n");
    return 1;
  }
  const auto [path, body] = Request(in);
  int rc = 0;
  for (const Member* m : targets) {
    auto r = in.session.Api(*m, "POST", path, body);
    bool ok = r.ok() && (r->status == 200 || r->status == 202);
    Report(in, *m, r, ok);
    if (!ok) rc = 1;
  }
  return rc;
}

}  // namespace pgw::ctl
