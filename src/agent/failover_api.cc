#include "agent/failover_api.h"

#include <sstream>

#include "agent/api.h"
#include "dcs/failovers.h"

namespace pgw::api {

HttpServerResponse FailoversResponse(const ClusterView* c) {
  if (c == nullptr) return Text(503, "DCS is not accessible");
  if (!c->failovers) return JsonBody(200, FailoverLogJson(FailoverLog{}));
  auto log = DecodeFailoverLog(*c->failovers);
  if (!log.ok()) return JsonBody(500, Json{{"error", log.status().message()}});
  return JsonBody(200, FailoverLogJson(*log));
}

std::string FailoverMetricsText(const Config& cfg, const ClusterView* c) {
  if (c == nullptr) return "";
  std::ostringstream o;
  std::string labels = "scope=\"" + cfg.scope + "\",name=\"" + cfg.name + "\"";
  FailoverLog log;
  if (c->failovers) {
    auto decoded = DecodeFailoverLog(*c->failovers);
    if (!decoded.ok()) {
      o << "# HELP pgwarden_failovers_key_invalid Value is 1 if the failovers key in the DCS does not decode.\n"
        << "# TYPE pgwarden_failovers_key_invalid gauge\npgwarden_failovers_key_invalid{" << labels << "} 1\n";
      return o.str();
    }
    log = std::move(*decoded);
  }
  o << "# HELP pgwarden_failovers_total Leader changes recorded in the failovers key, per kind.\n"
    << "# TYPE pgwarden_failovers_total counter\n";
  for (const char* kind : {kKindFailover, kKindSwitchover, kKindManualFailover}) {
    auto it = log.totals.find(kind);
    o << "pgwarden_failovers_total{" << labels << ",kind=\"" << kind << "\"} "
      << (it == log.totals.end() ? 0 : it->second) << "\n";
  }
  if (log.records.empty()) return o.str();
  const FailoverRecord& last = log.records.back();
  if (last.downtime_s) {
    o << "# HELP pgwarden_last_failover_downtime_seconds From the old leader's last lease renewal (or release) to "
         "the end of the new leader's promotion, for the newest recorded leader change.\n"
      << "# TYPE pgwarden_last_failover_downtime_seconds gauge\n"
      << "pgwarden_last_failover_downtime_seconds{" << labels << ",kind=\"" << last.kind << "\"} " << *last.downtime_s
      << "\n";
  }
  if (last.bytes_possibly_lost) {
    o << "# HELP pgwarden_last_failover_bytes_possibly_lost WAL bytes the old leader had published beyond the new "
         "timeline's start, for the newest recorded leader change.\n"
      << "# TYPE pgwarden_last_failover_bytes_possibly_lost gauge\n"
      << "pgwarden_last_failover_bytes_possibly_lost{" << labels << ",kind=\"" << last.kind << "\"} "
      << *last.bytes_possibly_lost << "\n";
  }
  return o.str();
}

}  // namespace pgw::api
