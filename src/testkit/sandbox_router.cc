// The sandbox's pgwarden-router: started after the agents, on three more loopback ports, watching the same etcd
// keys; stopped by PID before the agents.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "net/http_client.h"
#include "testkit/sandbox.h"
#include "testkit/sandbox_internal.h"

namespace pgw {

using Json = nlohmann::json;
using sandbox_internal::StopPid;

Status Sandbox::StartRouter() {
  std::string bin = spec_.router_bin;
  if (bin.empty()) bin = spec_.pgwarden_bin.substr(0, spec_.pgwarden_bin.rfind('/') + 1) + "pgwarden-router";
  if (access(bin.c_str(), X_OK) != 0) return NotFound("no pgwarden-router executable at " + bin);
  auto ports = FreePorts(3);
  if (!ports.ok()) return IoError("no free ports for the router");
  SandboxRouter r;
  r.write_port = (*ports)[0];
  r.read_port = (*ports)[1];
  r.admin_port = (*ports)[2];
  r.log_path = spec_.dir + "/router.log";
  auto port = [](int p) { return "127.0.0.1:" + std::to_string(p); };
  ProcessOptions o;
  o.run_as = RunAsUser();
  auto pid = StartDetached({bin, "--dcs-url", "http://" + etcd_endpoint_, "--scope", spec_.scope, "--namespace",
                            spec_.namespace_, "--listen-write", port(r.write_port), "--listen-read", port(r.read_port),
                            "--listen-admin", port(r.admin_port), "--workers", "2"},
                           r.log_path, o);
  if (!pid.ok()) return pid.status().Context("starting pgwarden-router");
  r.pid = *pid;
  router_ = r;
  return SaveState();
}

Status Sandbox::StopRouter() {
  if (router_.pid <= 0) return Status::Ok();
  kill(router_.pid, SIGCONT);  // a frozen router would not act on SIGTERM
  if (!StopPid(router_.pid, SIGTERM, Duration(15000)) && !StopPid(router_.pid, SIGKILL, Duration(5000))) {
    return Timeout("pgwarden-router (pid " + std::to_string(router_.pid) + ") did not exit");
  }
  return Status::Ok();
}

Status Sandbox::RouterRoutesTo(const std::string& leader) const {
  if (router_.pid <= 0) return Status::Ok();
  if (!ProcessAlive(router_.pid)) return Unavailable("pgwarden-router exited (see " + router_.log_path + ")");
  HttpClient http;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(router_.admin_port) + "/health";
  req.timeout = Duration(2000);
  auto r = http.Do(req);
  if (!r.ok()) return r.status().Context("router /health");
  Json j = Json::parse(r->body, nullptr, false);
  std::string target = j.is_discarded() ? "" : j.value("write_target", "");
  if (r->status != 200 || target != leader) {
    return Unavailable("router routes writes to '" + target + "', not yet to " + leader + " (" + r->body + ")");
  }
  return Status::Ok();
}

std::string Sandbox::DescribeRouter() const {
  if (router_.pid <= 0) return "";
  std::string auth = std::string("postgres:") + kSuperuserPassword + "@127.0.0.1:";
  return "router writes: postgresql://" + auth + std::to_string(router_.write_port) +
         "/postgres   reads: postgresql://" + auth + std::to_string(router_.read_port) +
         "/postgres\nrouter admin: http://127.0.0.1:" + std::to_string(router_.admin_port) +
         "/stats (/health, /metrics)   log " + router_.log_path + "\n";
}

}  // namespace pgw
