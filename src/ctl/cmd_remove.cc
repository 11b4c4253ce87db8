// remove: deletes every key of the cluster, after patronictl's two typed confirmations (or --force).
#include <unistd.h>

#include <iostream>

#include "ctl/command.h"

namespace pgw::ctl {

namespace {

// The two confirmations patronictl asks for on a terminal; false (after saying why) when they are not given.
bool ConfirmRemoval(const Invocation& in) {
  if (!isatty(0)) {
    std::fprintf(in.err,
                 "pgwardenctl: remove deletes every key of the cluster; run it on a terminal, or add --force\n");
    return false;
  }
  std::fprintf(in.out, "Please confirm the cluster name to remove: ");
  std::fflush(in.out);
  std::string line;
  std::getline(std::cin, line);
  if (line != in.scope) {
    std::fprintf(in.err, "Aborted: cluster names specified do not match\n");
    return false;
  }
  std::fprintf(in.out, "You are about to remove all information in DCS for %s, please type: \"Yes I am aware\": ",
               in.scope.c_str());
  std::fflush(in.out);
  std::getline(std::cin, line);
  if (line != "Yes I am aware") {
    std::fprintf(in.err, "Aborting removal\n");
    return false;
  }
  return true;
}

}  // namespace

int RunRemove(const Invocation& in) {
  if (!in.opts.force && !ConfirmRemoval(in)) return 1;
  const Member* leader = in.Leader();
  if (leader && leader->IsRunning() && !in.opts.force) {
    std::fprintf(in.err, "pgwardenctl: the cluster still has a running leader (%s); stop it first or add --force\n",
                 leader->name.c_str());
    return 1;
  }
  auto r = in.session.etcd().DeletePrefix(in.session.Prefix());
  if (!r.ok()) {
    std::fprintf(in.err, "pgwardenctl: %s\n", r.status().message().c_str());
    return 1;
  }
  std::fprintf(in.out, "Removed cluster %s from etcd\n", in.scope.c_str());
  return 0;
}

}  // namespace pgw::ctl
