// GET /failovers and the failover lines of GET /metrics, from the `failovers` key (dcs/failovers.h). Pure: the
// agent passes its cached view; nothing here calls etcd.
#pragma once

#include <string>

#include "common/config.h"
#include "dcs/keys.h"
#include "net/http_server.h"

namespace pgw::api {

// 200 with {"totals": {kind: n}, "records": [...]} (both empty when the key does not exist yet); 503 without a
// view of the DCS; 500 with the decoder's reason when the key holds something that is not a record list.
HttpServerResponse FailoversResponse(const ClusterView* c);

// Prometheus lines: pgwarden_failovers_total{kind} for every kind (a counter: the key keeps totals beyond its
// bounded list), and for the newest record pgwarden_last_failover_downtime_seconds and
// pgwarden_last_failover_bytes_possibly_lost (absent while unknown). A key that does not decode gives only
// pgwarden_failovers_key_invalid 1.
std::string FailoverMetricsText(const Config& cfg, const ClusterView* c);

}  // namespace pgw::api
