// Patroni's DCS key layout under /<namespace>/<scope>/ and the JSON of each key (reference §2). Pure functions:
// a ClusterView is built from a map of raw key-values, so it is the same whether it came from a watch cache or a
// test fixture.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/hostport.h"
#include "common/slot_name.h"  // SlotNameFromMemberName, which names members' slots
#include "dcs/etcd_codec.h"
#include "dcs/key_values.h"

namespace pgw {

using Json = nlohmann::json;

namespace keys {
inline constexpr const char* kInitialize = "initialize";
inline constexpr const char* kConfig = "config";
inline constexpr const char* kLeader = "leader";
inline constexpr const char* kMembers = "members/";
inline constexpr const char* kStatus = "status";
inline constexpr const char* kHistory = "history";
inline constexpr const char* kFailover = "failover";
inline constexpr const char* kSync = "sync";
inline constexpr const char* kFailsafe = "failsafe";
// pgwarden's own: the record of every leader change (dcs/failovers.h); Patroni ignores it.
inline constexpr const char* kFailovers = "failovers";
}  // namespace keys

struct Member {
  std::string name;
  std::string conn_url;
  std::string api_url;
  std::string state;
  std::string role;
  std::string version;
  std::optional<int64_t> xlog_location;
  // A standby's replayed position (Patroni 4.1+ and pgwarden publish it; xlog_location is the larger of received and
  // replayed, so it does not show a replica whose replay is paused or slow while WAL still streams in).
  std::optional<int64_t> replay_lsn;
  std::optional<int> timeline;
  Json tags = Json::object();
  Json raw = Json::object();
  int64_t lease = 0;
  int64_t mod_revision = 0;
  // host/port parsed from conn_url (postgres://host:port/db), when it parses.
  std::optional<HostPort> conn;

  bool NoFailover() const;
  // Boolean tags are read as Patroni reads them (Python truth value: "yes" and 1 count); never throw.
  bool CloneFrom() const;
  // Load balancers (and the router's read port) leave such a member out.
  bool NoLoadBalance() const;
  std::string ReplicateFrom() const;
  bool IsRunning() const { return state == "running" || state == "streaming"; }
  bool IsPrimaryRole() const { return role == "primary" || role == "master"; }
};

struct LeaderKey {
  std::string name;
  int64_t lease = 0;
  int64_t mod_revision = 0;
  int64_t create_revision = 0;
};

// One consistent snapshot of a scope's keys.
struct ClusterView {
  int64_t revision = 0;
  std::optional<std::string> initialize;  // present (possibly "") when the key exists
  int64_t initialize_mod_revision = 0;
  std::optional<Json> config;
  int64_t config_mod_revision = 0;
  std::optional<LeaderKey> leader;
  std::map<std::string, Member> members;
  // The leader's last known WAL position: status.optime, or the legacy optime/leader key when there is no status.
  std::optional<int64_t> last_lsn;
  StatusKey status;
  std::vector<HistoryLine> history;
  Json history_raw = Json::array();  // the key's lines as stored, for GET /history and for appending to them
  // Patroni's Cluster.timeline: the last `history` line's timeline + 1; 1 when the key holds exactly "[]"; 0 when
  // there is no key or its last line does not parse (check_timeline then compares against 0: no member is behind).
  int64_t timeline = 0;
  // Present whenever the key exists (its request absent when it asks for nothing): the leader deletes what it
  // cannot use.
  std::optional<FailoverKey> failover;
  int64_t failover_mod_revision = 0;
  // Present whenever the key exists, empty when it does not decode: a leader writes it with compare-and-swap on
  // sync_mod_revision (0 only when there is no key) and deletes it outside synchronous mode.
  std::optional<SyncState> sync;
  int64_t sync_mod_revision = 0;
  std::optional<FailsafeTopology> failsafe;  // maintained by the leader in failsafe mode; absent when not an object
  std::optional<std::string> failovers;      // the raw `failovers` key: decoded where used (dcs/failovers.h)
  int64_t failovers_mod_revision = 0;

  const Member* FindMember(const std::string& name) const;
  const Member* LeaderMember() const;
  bool HasLeader() const { return leader.has_value(); }
};

// Builds a view from the keys under `prefix` (keys in `kvs` are full etcd keys). Malformed JSON in a member key
// yields a member with only its name (Patroni does the same), never an error.
ClusterView BuildClusterView(const std::string& prefix, const std::map<std::string, etcd::KeyValue>& kvs,
                             int64_t revision);

// Member key JSON as Patroni writes it (compact, Patroni's field order).
struct MemberData {
  std::string conn_url, api_url, state, role, version;
  std::optional<int64_t> xlog_location;
  // Standbys only, as Patroni 4.1 writes them: pg_last_wal_replay_lsn() and pg_last_wal_receive_lsn() as integers.
  std::optional<int64_t> replay_lsn, receive_lsn;
  std::optional<int> timeline;
  std::string replication_state;  // "streaming" / "in archive recovery" for replicas
  Json tags = Json::object();
  bool pending_restart = false;
  bool pause = false;      // maintenance mode as this member sees it (patronictl pause --wait reads it)
  Json scheduled_restart;  // {"schedule": iso8601} when a restart is scheduled
  // pgwarden's own fields (Patroni ignores unknown ones): "synchronous": "alone" | "waiting" on a leader in
  // synchronous mode without a synchronous standby; "client_gate": "closed" while the gate of a crash restart is
  // closed (docs/synchronous.md).
  std::string synchronous;
  bool client_gate_closed = false;
};
std::string EncodeMember(const MemberData& m);

// status key: {"optime": lsn} plus, when there are any, the leader's permanent slots {"slots": {name: lsn}}
std::string EncodeStatus(int64_t optime, const std::map<std::string, int64_t>& slots = {});

// postgres://host:port/postgres
std::string ConnUrl(const HostPort& hp);
std::optional<HostPort> ParseConnUrl(const std::string& url);
// http://host:port/patroni
std::string ApiUrl(const HostPort& hp, bool tls = false);

}  // namespace pgw
