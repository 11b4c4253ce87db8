#include "ctl/command.h"

#include <unistd.h>

#include <iostream>

namespace pgw::ctl {

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"list", "list [-f pretty|json|yaml]       members, roles, states, timelines and lag", RunList, false},
      {"topology", "topology                         the same, as a tree of who streams from whom", RunList, false},
      {"history", "history [-v]                     timeline switches (-v: and every leader change)", RunHistory,
       false},
      {"show-config", "show-config                      the dynamic configuration", RunShowConfig, false},
      {"edit-config", "edit-config [--set k=v]... [--pg k=v]... [--force]   change the dynamic configuration",
       RunEditConfig, false},
      {"pause", "pause [--wait] | resume [--wait]  maintenance mode", RunPause, false},
      {"resume", "", RunPause, false},
      {"switchover", "switchover [--leader L] [--candidate C] [--scheduled ISO|now] [--force]", RunSwitchover, false},
      {"failover", "failover --candidate C [--force]", RunSwitchover, false},
      {"restart", "restart [MEMBER...] [--role primary|replica] [--scheduled ISO] [--pending] [--force]", RunMembers,
       true},
      {"reinit", "reinit MEMBER... [--force] | reload [MEMBER...] [--force]", RunMembers, true},
      {"reload", "", RunMembers, true},
      {"dsn", "dsn [--member M]                 libpq connection string of the leader or a member", RunDsn, false},
      {"check", "check [--router HOST:PORT] [--max-lag-bytes 10MB] [--max-lag-seconds 5] [--no-canary] [-f json]",
       RunCheck, false, ValidateCheck},
      {"top",
       "top [--interval 1] [--iterations N] [--max-lag-bytes 10MB] [--max-lag-seconds 5]   live view "
       "(also check --watch)",
       RunTop, false, ValidateTop},
      {"remove", "remove CLUSTER                   delete the cluster's keys from etcd (asks for confirmation)",
       RunRemove, false},
  };
  return kCommands;
}

std::string Usage() {
  std::string u =
      "usage: pgwardenctl [-c patroni.yml | --dcs-url URL] [-k] COMMAND [CLUSTER] [options]\n"
      "  -k, --insecure  do not check the agents' REST certificates (as ctl.insecure)\n"
      "commands (as patronictl):\n";
  for (const Command& c : Commands()) {
    if (*c.usage) u += std::string("  ") + c.usage + "\n";
  }
  return u + "  sandbox up|down|status           a local cluster on loopback (see pgwardenctl sandbox --help)\n";
}

const Member* Invocation::MemberOrComplain(const std::string& name) const {
  const Member* m = cluster.FindMember(name);
  if (!m) std::fprintf(err, "pgwardenctl: %s is not a member of cluster %s\n", name.c_str(), scope.c_str());
  return m;
}

bool Invocation::Paused() const { return cluster.config && TrueField(*cluster.config, "pause"); }

bool Invocation::Confirm(const std::string& question) const {
  if (opts.force) return true;
  if (!isatty(0)) return false;
  std::fprintf(out, "%s [y/N]: ", question.c_str());
  std::fflush(out);
  std::string line;
  std::getline(std::cin, line);
  return line == "y" || line == "Y" || line == "yes";
}

bool TrueField(const Json& j, const std::string& key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

int LoopWait(const ClusterView& c) {
  if (!c.config || !c.config->is_object()) return 10;
  auto it = c.config->find("loop_wait");
  return it != c.config->end() && it->is_number() ? static_cast<int>(it->get<double>()) : 10;
}

std::string ResponseBody(const Result<HttpResponse>& r) {
  if (!r.ok()) return r.status().message();
  std::string b = r->body;
  while (!b.empty() && (b.back() == '\n' || b.back() == ' ')) b.pop_back();
  return b;
}

}  // namespace pgw::ctl
