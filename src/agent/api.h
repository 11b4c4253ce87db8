// The pure parts of the REST API (reference §1): cluster JSON, merge-patch of the dynamic configuration,
// validation of switchover/failover requests, health-check codes beyond the basic ones, Prometheus metrics and
// access control. No I/O: the agent feeds them its cached state, so they are unit-tested with hand-built views.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/status_json.h"
#include "common/config.h"
#include "dcs/keys.h"
#include "ha/decide.h"
#include "net/http_server.h"

namespace pgw::api {

// Plain-text answers go out as text/html, as Patroni sends them.
HttpServerResponse Text(int code, std::string body);
HttpServerResponse JsonBody(int code, const Json& j);

// Whether `sync` names `name` among its synchronous standbys (a comma list with synchronous_node_count >= 2).
bool IsSyncStandby(const ClusterView* c, const std::string& name);

// GET /cluster.
Json ClusterJson(const Config& cfg, const ClusterView& c, bool paused);

// PATCH /config as Patroni patches (its patch_config): null removes a key, an object merges into an object, any
// other value replaces; a new key takes the value as given (nulls inside included); a scalar whose text equals the
// stored one's (30 and "30") leaves the stored value. `changed` tells whether anything changed.
Json MergePatch(Json target, const Json& patch, bool* changed = nullptr);

// POST /switchover and /failover, first stage (no I/O). `action` is "switchover" or "failover".
struct SwitchoverPlan {
  int code = 0;  // non-zero: refuse with this code and message
  std::string message;
  std::string leader;  // current leader (may be empty for a failover without leader)
  std::string candidate;
  std::optional<double> scheduled_at;
  std::vector<std::string> to_check;  // members whose failover_limitation must be checked (GET /patroni)
  Json key;                           // the /failover key to write when accepted
};
SwitchoverPlan PlanSwitchover(const std::string& action, const Json& body, const ClusterView& c, bool paused,
                              double wall_now);
// Second stage: given the statuses of `to_check`, the refusal (412 ...) or "" when a candidate is fit.
std::string CandidateProblem(const std::string& action, const std::vector<ha::PeerStatus>& statuses);

// Health-check code of any GET path (0: not a health check, the caller answers 503 as Patroni's generic handler).
struct HealthInputs {
  const Config* cfg = nullptr;
  const NodeState* state = nullptr;
  const ClusterView* cluster = nullptr;  // may be null (no view yet)
  bool loop_alive = true;                // the HA loop ran recently (liveness)
};
int HealthCode(const HealthInputs& in, const std::string& path, const std::string& query);

// GET /metrics: Patroni's metric names (label scope and name) plus pgwarden's own.
struct Counters {
  uint64_t lease_renewals = 0, lease_failures = 0, cycles = 0, promotions = 0, demotions = 0, fences = 0;
  double last_cycle_seconds = 0, last_promotion_seconds = 0, lease_remaining_seconds = 0;
  std::array<uint64_t, ha::kReasonCount> decisions{};          // decisions taken, by reason code (ha/reason.h)
  std::vector<ha::PgStateMachine::Transition> pg_transitions;  // moves of PostgreSQL's state (ha/pg_state.h)
};
std::string MetricsText(const Config& cfg, const NodeState& s, const ClusterView* c, const Counters& k, bool paused,
                        bool failsafe_enabled);

// Access control for unsafe methods (POST/PUT/PATCH/DELETE), in Patroni's order: restapi.allowlist (plus the
// members' API hosts with allowlist_include_members) -> 403, client certificate when verify_client is set -> 403,
// restapi.authentication (Basic) -> 401. Returns the response to send when refused.
// Allowlist entries without a '/' and the members' API hosts may be host names, as in Patroni: they match the
// addresses `lookup` gives for them (none when it is null; agent/api_handlers.cc passes a net::HostAddressCache).
using AddressLookup = std::function<std::vector<std::string>(const std::string& host)>;
std::optional<HttpServerResponse> CheckAccess(const Config& cfg, const HttpServerRequest& req,
                                              const ClusterView* cluster = nullptr,
                                              const AddressLookup& lookup = nullptr);
// Whether the peer address `ip` matches an allowlist entry: an IPv4 or IPv6 address or network (a.b.c.d/n,
// x:y::/n), compared as addresses (an IPv4-mapped peer ::ffff:a.b.c.d matches IPv4 entries), or "localhost".
bool IpAllowed(const std::string& ip, const std::string& entry);

// POST /failsafe: only a member of this cluster may vouch for itself as the running primary (a replica that accepts
// stops racing for the leader key for ttl). `body` is the parsed request; `failsafe_key` is the `failsafe` key as
// last seen (nullopt when absent or not an object); `cluster` may be null. The sender must be listed in the key or,
// when there is no key, have a member key, and must not claim to be `self`. Returns the refusal (400 / 403 / 503) or
// nullopt.
std::optional<HttpServerResponse> CheckFailsafeSender(const Json& body,
                                                      const std::optional<FailsafeTopology>& failsafe_key,
                                                      const ClusterView* cluster, const std::string& self);

// GET /failsafe: the `failsafe` key ({name: api_url}) as last seen, 502 when failsafe mode is off or there is no
// such key (Patroni answers 502 unless the key holds an object).
HttpServerResponse FailsafeListing(bool failsafe_mode, const std::optional<FailsafeTopology>& failsafe_key);

// `failsafe_mode_is_active` in the status JSON and /metrics, as Patroni reports it, from the agent's clocks (all
// on the monotonic clock): a primary is on failsafe while its lease is unrenewed for longer than `suspect_after`
// and the members' confirmations still cover it; a replica while a primary's POST /failsafe vouched for it within
// ttl (`vouched_until`).
struct FailsafeClock {
  bool enabled = false;  // failsafe_mode in the dynamic configuration
  bool primary = false;  // PostgreSQL runs as primary here
  MonoTime now{}, last_renewal{}, confirmed_until{}, vouched_until{};
  Duration suspect_after{};
};
bool FailsafeActive(const FailsafeClock& f);

// GET /liveness: whether the HA loop ran recently enough. The loop must have ended a cycle within loop_wait plus
// ttl (a primary) or twice ttl (a replica) of now; always alive while paused or before the first cycle ended.
struct LoopClock {
  bool paused = false;
  bool primary = false;
  int64_t ttl_s = 30, loop_wait_s = 10;
  std::optional<MonoTime> last_cycle_end;  // nullopt: no cycle ended yet
  MonoTime now{};
};
bool LoopAlive(const LoopClock& l);

// Query string parameter (undecoded value), or nullopt.
std::optional<std::string> QueryParam(const std::string& query, const std::string& key);

}  // namespace pgw::api
