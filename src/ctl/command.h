// pgwardenctl's verbs as a table: each verb has a usage line and a handler in a cmd_*.cc file. ctl::Main parses the
// command line, loads the configuration (target.h), resolves the cluster, reads it once from etcd and hands the
// handler an Invocation. Handlers print patronictl's messages and return the exit code.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "ctl/options.h"
#include "ctl/session.h"

namespace pgw::ctl {

struct Invocation {
  const std::string& verb;
  const std::string& scope;
  const std::vector<std::string>& args;  // positional arguments after the verb and the cluster name
  const Options& opts;
  const ClusterView& cluster;  // as read just before the handler runs
  Session& session;
  FILE* out;
  FILE* err;
  const Config& config;  // the loaded configuration (credentials for PostgreSQL, etcd, the API)

  const Member* Leader() const { return cluster.LeaderMember(); }
  // The member named `name`; prints patronictl's complaint to err and returns nullptr when there is none.
  const Member* MemberOrComplain(const std::string& name) const;
  // The dynamic configuration's pause flag.
  bool Paused() const;
  // --force, or a "y" from a terminal; false without a terminal.
  bool Confirm(const std::string& question) const;
};

using Handler = int (*)(const Invocation&);

struct Command {
  const char* verb;
  // Its line in `pgwardenctl` usage ("" : described on the line of the verb before it).
  const char* usage;
  Handler run;
  // The arguments are member names: the cluster name comes from the configuration, and a first argument equal to
  // it is skipped (patronictl restart CLUSTER MEMBER...).
  bool takes_members;
  // Checks the verb's own options (Options::check) before anything is contacted; nullptr : the verb has none.
  Status (*validate)(const Options&) = nullptr;
};

// Every cluster verb, in the order of the usage text.
const std::vector<Command>& Commands();
// The usage text, from the table.
std::string Usage();

// Handlers (cmd_*.cc).
int RunList(const Invocation& in);  // list, topology
int RunHistory(const Invocation& in);
int RunShowConfig(const Invocation& in);
int RunDsn(const Invocation& in);
int RunEditConfig(const Invocation& in);
int RunPause(const Invocation& in);       // pause, resume
int RunSwitchover(const Invocation& in);  // switchover, failover
int RunMembers(const Invocation& in);     // restart, reinit, reload
int RunRemove(const Invocation& in);
int RunCheck(const Invocation& in);  // cmd_check.cc
Status ValidateCheck(const Options& o);
int RunTop(const Invocation& in);  // cmd_top.cc: top, check --watch
Status ValidateTop(const Options& o);

// Shared by handlers.
bool TrueField(const Json& j, const std::string& key);
// loop_wait from the dynamic configuration (10, Patroni's default, when absent or not a number).
int LoopWait(const ClusterView& c);
// A response body without trailing blanks, or the error's message.
std::string ResponseBody(const Result<HttpResponse>& r);

}  // namespace pgw::ctl
