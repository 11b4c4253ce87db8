// Typed values of Patroni's permanent keys (`sync`, `failover`, `failsafe`, `status`, `history`), each decoded once,
// where the cluster view is built (dcs/keys.h), so that every reader sees the same facts.
//
// Each decoder reads what Patroni's dcs/__init__.py and dcs/etcd3.py read (SyncState.from_node, Failover.from_node,
// TimelineHistory.from_node, the status and failsafe keys in _cluster_from_nodes). They are pure, total and never
// throw: a value Patroni could not use decodes to "absent" or "empty", as Patroni treats an unparsable key.
// Reference: ../shared/reference/patroni.md §2.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgw {

// `sync`: {"leader": name, "sync_standby": "a,b" | "a" | null[, "quorum": n]} (SyncState.from_node).
struct SyncState {
  std::string leader;                // "" when the key names no leader (Patroni's is_empty)
  std::vector<std::string> members;  // sync_standby split on ',', each trimmed, empty names dropped, key order
  std::optional<int64_t> quorum;     // Patroni 4's quorum commit mode; absent in older keys

  // Whether `name` is the leader or one of the members (SyncState.matches).
  bool Matches(const std::string& name) const;
  bool operator==(const SyncState&) const = default;
};
SyncState DecodeSync(std::string_view value);
SyncState DecodeSync(const nlohmann::json& value);
inline SyncState DecodeSync(const std::string& value) { return DecodeSync(std::string_view(value)); }
// {"leader": leader, "sync_standby": "a,b"} (null when there are no members), as Patroni writes the key.
std::string EncodeSync(const std::string& leader, const std::vector<std::string>& members);

// `failover`: {"leader": current, "member": candidate, "scheduled_at": iso8601} (Failover.from_node), or the legacy
// plain text "leader:candidate".
struct FailoverRequest {
  std::string leader;                  // the leader a switchover is from; "" for a failover
  std::string member;                  // the candidate ("member"; pgwarden also reads "candidate"); "" for any
  std::optional<double> scheduled_at;  // wall seconds
  bool operator==(const FailoverRequest&) const = default;
};
// The key as it exists: `request` is absent when the value asks for nothing Patroni would act on (names neither a
// leader nor a candidate, is not an object, or has a scheduled_at that is not a time); the leader then deletes it.
struct FailoverKey {
  std::optional<FailoverRequest> request;
  nlohmann::json raw;  // the value as JSON (null when it is not JSON), for the leader's rewrite of the key
};
FailoverKey DecodeFailover(std::string_view value);
FailoverKey DecodeFailover(const nlohmann::json& value);
inline FailoverKey DecodeFailover(const std::string& value) { return DecodeFailover(std::string_view(value)); }

// `failsafe`: {name: api_url}, written by the leader in failsafe mode. A value that is not an object decodes to
// nullopt (Patroni: "discard failsafe_mode if the /failsafe key contains garbage"); an api_url that is not a string
// reads as "" (no such member can be reached).
using FailsafeTopology = std::map<std::string, std::string>;
std::optional<FailsafeTopology> DecodeFailsafe(std::string_view value);
std::optional<FailsafeTopology> DecodeFailsafe(const nlohmann::json& value);
inline std::optional<FailsafeTopology> DecodeFailsafe(const std::string& value) {
  return DecodeFailsafe(std::string_view(value));
}
std::string EncodeFailsafe(const FailsafeTopology& t);

// `status`: {"optime": lsn, "slots": {name: lsn}}. Positions are read as Python's int() reads them: integers, or
// decimal strings; anything else is absent (optime) or left out (a slot).
struct StatusKey {
  std::optional<int64_t> optime;
  std::map<std::string, int64_t> slots;
  bool operator==(const StatusKey&) const = default;
};
StatusKey DecodeStatus(std::string_view value);
// The legacy `optime/leader` key: a decimal LSN.
std::optional<int64_t> DecodeLeaderOptime(std::string_view value);

// `history`: [[timeline, lsn, reason, timestamp, new_leader], ...] (TimelineHistory.from_node; lines written before
// Patroni 1.6 have 3 or 4 fields). A line whose timeline is not an integer is left out.
struct HistoryLine {
  int64_t timeline = 0;
  std::optional<int64_t> lsn;
  std::string reason;
  std::string timestamp;   // "" when absent
  std::string new_leader;  // "" when absent
  bool operator==(const HistoryLine&) const = default;
};
std::vector<HistoryLine> DecodeHistory(const nlohmann::json& lines);

// A JSON value read as Python's int() reads an LSN: integer, or a decimal string (surrounding spaces allowed).
std::optional<int64_t> PyIntValue(const nlohmann::json& v);

}  // namespace pgw
