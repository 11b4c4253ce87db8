// pgwarden's record of every leader change, kept in /<namespace>/<scope>/failovers beside Patroni's `history`
// (which stays exactly Patroni's list of timeline switches). Pure: JSON in, typed records out, and back.
//
// The key holds one JSON object:
//   {"totals": {"failover": 3, "switchover": 5},      every record ever appended, per kind (never decreases)
//    "records": [ {record}, ... ]}                     the newest kMaxFailoverRecords, oldest first
// The totals live beside the bounded list so that /metrics can export monotonic counters even after the oldest
// records were dropped. Writers update the key with compare-and-swap on its mod_revision (EtcdDcs::UpdateFailovers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace pgw {

// The kinds a record can have.
inline constexpr const char* kKindFailover = "failover";               // the leader key expired (crash, hang, cut off)
inline constexpr const char* kKindSwitchover = "switchover";           // planned: the failover key named the leader
inline constexpr const char* kKindManualFailover = "manual_failover";  // the failover key named only a candidate

// The rejoin outcomes the old leader fills in when it runs again as a replica of the cluster.
inline constexpr const char* kRejoinRewound = "rewound";    // pg_rewind reconciled its timeline
inline constexpr const char* kRejoinRecloned = "recloned";  // its data directory was removed and cloned again
inline constexpr const char* kRejoinRejoined = "rejoined";  // it came back without either (clean handover)

struct FailoverRecord {
  std::string kind;
  int timeline = 0;        // the new leader's timeline after the promotion
  std::string old_leader;  // "" when the new leader could not tell
  std::string new_leader;
  // ISO 8601 times ("" when unknown). old_lease_renewed_at: the latest moment the old leader's lease is known to
  // have been renewed (an expired lease: when etcd dropped the key minus the ttl; a released key: the release).
  std::string old_lease_renewed_at;
  std::string acquired_at;                     // the new leader took the key
  std::string promoted_at;                     // pg_promote() returned on the new leader
  std::optional<int64_t> old_leader_lsn;       // the old leader's last published WAL position
  int64_t new_leader_start_lsn = 0;            // where the new timeline begins (its .history switch point)
  std::optional<int64_t> bytes_possibly_lost;  // max(0, old_leader_lsn - new_leader_start_lsn)
  std::optional<double> downtime_s;            // promoted_at - old_lease_renewed_at
  std::string rejoin;                          // "" until the old leader reports: kRejoinRewound / Recloned / Rejoined
  std::string rejoined_at;
};

struct FailoverLog {
  std::map<std::string, int64_t> totals;
  std::vector<FailoverRecord> records;  // oldest first
};

inline constexpr size_t kMaxFailoverRecords = 50;

// kInvalidArgument naming the first problem (not JSON, a field of the wrong type, an unknown kind, ...). Unknown
// fields are ignored (a newer writer may add some). Totals are raised to at least what the records show.
Result<FailoverLog> DecodeFailoverLog(const std::string& json);
std::string EncodeFailoverLog(const FailoverLog& log);
nlohmann::json FailoverRecordJson(const FailoverRecord& r);
nlohmann::json FailoverLogJson(const FailoverLog& log);

// Appends `r` (dropping the oldest beyond `max`) and counts it. False, and nothing changes, when a record of the
// same promotion (timeline and new leader) is there already: a retried write must not count twice.
bool AppendFailover(FailoverLog* log, FailoverRecord r, size_t max = kMaxFailoverRecords);
// Whether the newest record naming `name` as old leader still waits for its rejoin outcome, and names `leader` (the
// leader now) as its new leader: a record of an earlier episode is never filled in with what happened later (the
// record of the change that just happened may not be written yet when the old leader is back).
bool NeedsRejoin(const FailoverLog& log, const std::string& name, const std::string& leader);
// Fills the rejoin outcome of that record; false when there is none to fill.
bool SetRejoin(FailoverLog* log, const std::string& name, const std::string& leader, const std::string& outcome,
               const std::string& at);

}  // namespace pgw
