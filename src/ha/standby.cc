#include "ha/standby.h"

#include "pg/recovery_conf.h"

namespace pgw::ha {

bool IsStandbyCluster(const DynamicConfig& d) { return d.standby_cluster.has_value(); }

bool IsStandbyCluster(const ClusterView& c) {
  // Patroni's rule on the stored configuration: a standby_cluster mapping with host, port or restore_command.
  if (!c.config || !c.config->is_object()) return false;
  auto it = c.config->find("standby_cluster");
  if (it == c.config->end() || !it->is_object()) return false;
  auto truthy = [&](const char* k) {
    auto v = it->find(k);
    if (v == it->end() || v->is_null()) return false;
    if (v->is_string()) return !v->get<std::string>().empty();
    if (v->is_number()) return v->get<double>() != 0;
    return true;
  };
  return truthy("host") || truthy("port") || truthy("restore_command");
}

Upstream WithRecovery(const Inputs& in, Upstream u, bool remote) {
  // postgresql.recovery_conf with the recovery parameters of postgresql.parameters over it (Patroni's rule).
  Json p = RecoveryConf(*in.config, in.dynamic);
  auto str = [&](const char* k) {
    auto it = p.find(k);
    return it != p.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  u.restore_command = str("restore_command");
  u.archive_cleanup_command = str("archive_cleanup_command");
  auto delay = p.find("recovery_min_apply_delay");
  u.min_apply_delay_ms = delay != p.end() ? PgDurationMs(*delay).value_or(0) : 0;
  if (const auto& sc = in.dynamic.standby_cluster) {
    if (!sc->restore_command.empty()) u.restore_command = sc->restore_command;
    if (!sc->archive_cleanup_command.empty()) u.archive_cleanup_command = sc->archive_cleanup_command;
    if (remote && sc->recovery_min_apply_delay_ms) u.min_apply_delay_ms = *sc->recovery_min_apply_delay_ms;
  }
  return u;
}

Upstream RemoteUpstream(const Inputs& in) {
  const StandbyCluster& sc = *in.dynamic.standby_cluster;
  // Archive-only: no address (no primary_conninfo), and a slot name would serve nothing.
  if (sc.host.empty()) return WithRecovery(in, Upstream{HostPort{}, ""}, true);
  std::string slot = in.dynamic.use_slots ? sc.primary_slot_name : "";
  Upstream u{HostPort{sc.host, sc.port}, slot};
  u.read_write = !slot.empty();  // the slot is on the remote primary: never stream from one of its replicas
  return WithRecovery(in, u, true);
}

std::optional<HostPort> RemoteAddress(const Inputs& in) {
  const StandbyCluster& sc = *in.dynamic.standby_cluster;
  if (sc.host.empty()) return std::nullopt;
  return HostPort{sc.host, sc.port};
}

std::string RemoteName(const Inputs& in) {
  auto address = RemoteAddress(in);
  return address ? "the remote primary " + address->ToString() : "the remote archive via restore_command";
}

Decision BootstrapStandbyLeader(const Inputs& in) {
  Decision d;
  BootstrapStandby a;
  a.upstream = RemoteUpstream(in);
  a.address = RemoteAddress(in);
  a.target = RemoteName(in);
  d.actions = {AttemptInitialize{}, a};
  d.reason = Reason::kBootstrapStandbyLeader;
  d.message = "trying to bootstrap a new standby leader (clone from " + a.target + ")";
  return d;
}

Decision DecideStandbyLeader(const Inputs& in, bool lock_on_my_lease) {
  const LocalView& l = *in.local;
  Decision d;
  if (!lock_on_my_lease) d.actions.push_back(RefreshLeader{});
  if (in.cluster->failover) {
    Decision manual;
    if (ManualFailoverFromLeader(in, &manual)) {
      if (!lock_on_my_lease) manual.actions.insert(manual.actions.begin(), RefreshLeader{});
      return manual;
    }
  }
  if (in.restart_requested) {
    d.actions = {RestartInPlace(in)};
    d.reason = Reason::kRestartRequested;
    d.message = "restarting after a request";
    return d;
  }
  Upstream want = RemoteUpstream(in);
  bool remote_already = l.upstream && l.upstream->address == want.address;
  if (l.upstream != want) {
    Follow f;
    f.upstream = want;
    f.target = RemoteName(in);
    d.actions.push_back(f);
  }
  LeaderHousekeeping(in, &d);
  // Patroni's two lines: the first cycle that points PostgreSQL at the remote primary, then the steady one.
  d.reason = Reason::kStandbyLeader;
  d.message = remote_already ? "no action. I am " + Me(in) + ", the standby leader with the lock"
                             : "promoted self to a standby leader because i had the session lock";
  return d;
}

}  // namespace pgw::ha
