// pause and resume: PATCH /config {"pause": true|null} through the first member that answers, leader first.
#include <chrono>

#include "common/wait.h"
#include "ctl/command.h"

namespace pgw::ctl {

namespace {

// --wait: until every member reports the new pause state, bounded by loop_wait + 1 seconds.
void WaitRecognized(const Invocation& in, bool want) {
  std::fprintf(in.out, "'%s' request sent, waiting until it is recognized by all nodes\n", in.verb.c_str());
  WaitFor(
      [&] {
        auto v = in.session.Cluster();
        bool all = v.ok();
        if (v.ok()) {
          for (const auto& [name, m] : v->members) all = all && TrueField(m.raw, "pause") == want;
        }
        return all;
      },
      std::chrono::seconds(LoopWait(in.cluster) + 1), Duration(200));
}

}  // namespace

int RunPause(const Invocation& in) {
  const bool want = in.verb == "pause";
  if (in.Paused() == want) {
    std::fprintf(in.err, "pgwardenctl: Cluster is %s paused\n", want ? "already" : "not");
    return 1;
  }
  const Member* leader = in.Leader();
  std::vector<const Member*> order;
  if (leader) order.push_back(leader);
  for (const auto& [name, m] : in.cluster.members) {
    if (&m != leader) order.push_back(&m);
  }
  for (const Member* m : order) {
    auto r = in.session.Api(*m, "PATCH", "/config", Json{{"pause", want ? Json(true) : Json(nullptr)}});
    if (!r.ok()) continue;
    if (r->status != 200) {
      std::fprintf(in.out, "Failed: %s cluster management status code=%ld, (%s)\n", in.verb.c_str(), r->status,
                   ResponseBody(r).c_str());
      return 1;
    }
    if (in.opts.wait) WaitRecognized(in, want);
    std::fprintf(in.out, "Success: cluster management is %s\n", want ? "paused" : "resumed");
    return 0;
  }
  std::fprintf(in.err, "pgwardenctl: Can not find accessible cluster member\n");
  return 1;
}

}  // namespace pgw::ctl
