// A local cluster on loopback: one etcd and N pgwarden agents (each supervising its PostgreSQL), on free ports,
// under one directory. Used by `pgwardenctl sandbox up|down|status`, the integration tests, the benchmarks and the
// torture tool.
//
// When called as root, etcd and the agents run as an unprivileged OS user (default: postgres), because PostgreSQL
// refuses to run as root. Everything started is recorded (with PIDs) in DIR/sandbox.json; Down() stops exactly
// those processes, by PID.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/process.h"
#include "common/status.h"

namespace pgw {

struct SandboxNode {
  std::string name;
  int pg_port = 0;
  int api_port = 0;
  pid_t pid = 0;
  std::string config_path, log_path, data_dir;
};

struct SandboxSpec {
  std::string dir;
  int nodes = 3;
  std::string scope = "demo";
  std::string namespace_ = "/service";
  std::string pgwarden_bin;   // path of the pgwarden executable
  std::string etcd_endpoint;  // host:port of an existing etcd; empty = start one
  std::string run_as = "postgres";
  int ttl = 10, loop_wait = 1;
  double retry_timeout = 3;  // seconds, decimals allowed (ttl 2 needs 0.5)
  std::string name_prefix = "pg";
  // Extra YAML lines appended under `tags:` for node i (tests use it for nofailover etc.).
  std::vector<std::string> node_tags;
  // Extra YAML lines under bootstrap.dcs (4-space indent, e.g. "    failsafe_mode: true\n") and under postgresql
  // (2-space indent).
  std::string extra_dcs;
  int max_connections = 50;           // bootstrap.dcs postgresql.parameters.max_connections (the same on every node)
  std::string wal_level = "replica";  // bootstrap.dcs.postgresql.parameters.wal_level (logical for logical slots)
  std::string extra_postgresql;
  std::string extra_restapi;  // under restapi (2-space indent)
  std::string extra_top;      // top-level sections, e.g. "watchdog:\n  safety_margin: 1\n"
  // etcd3.hosts of node i when set (comma-separated host:port list; tests put a forwarder first): with `{etcd}`
  // replaced by the sandbox's etcd endpoint.
  std::vector<std::string> node_etcd_hosts;
  std::string extra_bootstrap;    // under bootstrap (2-space indent): post_bootstrap, users, pg_hba
  bool postgresql_pg_hba = true;  // write the sandbox's postgresql.pg_hba (false: bootstrap.pg_hba or defaults)
  // Also start a pgwarden-router (write, read and admin ports on loopback) watching the cluster's keys.
  bool start_router = false;
  std::string router_bin;  // path of pgwarden-router; empty = next to pgwarden_bin
  // When set, the whole configuration file of node `i` instead of the generated one (tests that start from a real
  // patroni.yml): `node` has its name, ports and paths filled in, `etcd_hosts` is what etcd3.hosts would be. The
  // file must use the node's name, ports and data_dir for the sandbox to find and watch it.
  std::function<std::string(int i, const SandboxNode& node, const std::string& etcd_hosts)> node_config;
};

// The sandbox's pgwarden-router, when it has one (pid 0 = none).
struct SandboxRouter {
  pid_t pid = 0;
  int write_port = 0, read_port = 0, admin_port = 0;
  std::string log_path;
};

class Sandbox {
 public:
  // Creates the directory, starts etcd (unless given) and the agents. Does not wait for health.
  static Result<Sandbox> Up(const SandboxSpec& spec, Logger& log);
  // Loads a sandbox started by another process (for `down`).
  static Result<Sandbox> Load(const std::string& dir);

  // Until one leader and nodes-1 replicas stream from it (through slots named after the members), and the router
  // (if any) routes writes to that leader, or timeout.
  Status WaitHealthy(Duration timeout) const;
  // Sends `sig` to the agent of `name`; with wait, until it exited (bounded).
  Status SignalNode(const std::string& name, int sig, bool wait, Duration timeout = Duration(60000));
  Status StartNode(const std::string& name);
  // Stops the router, every agent (SIGTERM, then SIGKILL after a bound), any postmaster left in our data dirs, and the
  // etcd we started. With wipe, removes the directory.
  Status Down(bool wipe);

  std::string EtcdEndpoint() const { return etcd_endpoint_; }
  pid_t EtcdPid() const { return etcd_pid_; }
  // The live postmaster of a node, if any.
  std::optional<pid_t> PostmasterPid(const std::string& name) const;
  const std::vector<SandboxNode>& nodes() const { return nodes_; }
  const SandboxNode* Node(const std::string& name) const;
  const SandboxRouter& router() const { return router_; }
  std::string Dir() const { return spec_.dir; }
  std::string Scope() const { return spec_.scope; }
  std::string KeyPrefix() const;
  // libpq conninfo for the superuser on a node.
  std::string Conninfo(const std::string& name) const;
  // Human-readable summary: connection strings, REST URLs, etcd endpoint.
  std::string Describe() const;
  // GET /patroni of a node, parsed (kUnavailable when it does not answer).
  Result<std::string> NodeStatus(const std::string& name) const;

  static constexpr const char* kSuperuserPassword = "sandbox-superuser";

 private:
  Status SaveState() const;
  Status StartEtcd();
  std::optional<RunAs> RunAsUser() const;
  // sandbox_router.cc
  Status StartRouter();
  Status StopRouter();
  // Ok once the router's GET /health answers 200 naming `leader` as its write target; else why not.
  Status RouterRoutesTo(const std::string& leader) const;
  std::string DescribeRouter() const;

  SandboxSpec spec_;
  std::string etcd_endpoint_;
  pid_t etcd_pid_ = 0;
  std::vector<SandboxNode> nodes_;
  SandboxRouter router_;
};

// Fence supervisors (agent/fence_supervisor.h) guarding `data_dir`, whoever runs them.
std::vector<pid_t> FenceSupervisorsOf(const std::string& data_dir);

// A TCP port on 127.0.0.1 that nothing listens on right now.
Result<int> FreePort();
// `n` such ports, all different (picked while all of them are held).
Result<std::vector<int>> FreePorts(int n);

}  // namespace pgw
