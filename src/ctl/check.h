// pgwardenctl check: validates the whole stack (etcd, the leader and its lease, every member's agent, PostgreSQL and
// replication, synchronous mode, the router) and reports a list of named checks, each about one subject (an etcd
// endpoint, a member, the router) with a verdict and its reason.
//
// Two halves: Gather (check_gather.cc) does the I/O, every call bounded by a deadline, and records what it saw as
// plain facts; Evaluate (check_eval.cc) is a pure function from those facts to verdicts, so every check is tested
// with fabricated facts. Rendering (the table and `-f json`) is check_render.cc.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/hostport.h"
#include "dcs/keys.h"

namespace pgw::ctl::check {

enum class Verdict { kPass, kWarn, kFail };
const char* VerdictName(Verdict v);  // "pass", "warn", "fail"

struct CheckResult {
  std::string check;    // e.g. "replica.lag"
  std::string subject;  // the member, etcd endpoint or router address it is about
  Verdict verdict = Verdict::kPass;
  std::string reason;
};
inline CheckResult Pass(std::string check, std::string subject, std::string reason) {
  return {std::move(check), std::move(subject), Verdict::kPass, std::move(reason)};
}
inline CheckResult Fail(std::string check, std::string subject, std::string reason) {
  return {std::move(check), std::move(subject), Verdict::kFail, std::move(reason)};
}

// What `check` is asked to do (its command-line options).
struct CheckOptions {
  int64_t max_lag_bytes = 10 * 1024 * 1024;
  double max_lag_seconds = 5;
  bool canary = true;  // --no-canary: write nothing
  Duration canary_timeout = Duration(10000);
  Duration timeout = Duration(3000);  // each network call (connect, query, HTTP request)
  std::string dbname = "postgres";    // --dbname
  std::string username;               // --username; "" : postgresql.authentication.superuser
  std::optional<HostPort> router_write, router_read, router_admin;
  int router_read_samples = 0;  // 0 : twice the number of replicas, at least 2
};

// A size in bytes: "10MB", "512kB", "1048576", "2GB", "100B" (powers of 1024, PostgreSQL's units); nullopt when
// malformed, negative or past int64. Shared with top (top.h), so that check and check --watch read the
// thresholds alike.
std::optional<int64_t> ParseBytes(const std::string& s);
// Seconds, fractions allowed, at most a day; 0 only when `allow_zero`.
std::optional<double> ParseSeconds(const std::string& s, bool allow_zero);

// Parses check's own options out of `args` (the arguments after the verb, the cluster name removed); anything else is
// an error naming the option.
Result<CheckOptions> ParseCheckOptions(const std::vector<std::string>& args);

// ---- facts ----

struct EtcdEndpointFacts {
  std::string endpoint;  // "127.0.0.1:2379"
  std::string error;     // "" : maintenance/status answered
  uint64_t member_id = 0, leader_id = 0;
  int64_t raft_term = 0;
  std::vector<std::string> alarms;  // errors reported by the member ("NOSPACE", ...)
  bool is_learner = false;
  std::string read_error;  // "" : a linearizable (quorum) read through this endpoint succeeded
};

struct EtcdFacts {
  std::vector<EtcdEndpointFacts> endpoints;
  int cluster_members = 0;  // voting members in the member list (0: unknown)
};

// The leader key's lease as etcd reports it.
struct LeaseFacts {
  bool asked = false;
  int64_t ttl = -1;  // remaining seconds; -1 : expired or unknown
  std::string error;
};

struct ReplicationRow {  // pg_stat_replication
  int pid = 0;
  std::string application_name, state, sync_state;
  std::optional<int64_t> replay_lsn;
  std::optional<double> replay_lag_s;  // NULL : caught up (idle)
};

struct SlotRow {  // pg_replication_slots
  std::string name, type;
  bool active = false;
  int active_pid = 0;
};

// One PostgreSQL server, asked directly.
struct PgFacts {
  std::string error;  // "" : connected and answered
  bool in_recovery = false;
  int timeline = 0;             // primary: the WAL insert timeline; replica: the timeline it receives/replays
  int64_t lsn = 0;              // primary: pg_current_wal_lsn; replica: pg_last_wal_replay_lsn
  std::string identity;         // "port/postmaster start time": tells servers apart behind a router
  std::string receiver_status;  // pg_stat_wal_receiver.status ("" : no receiver)
  std::string receiver_slot;
  std::vector<ReplicationRow> replication;
  std::vector<SlotRow> slots;
};

// Facts of a server that could not be asked.
inline PgFacts PgUnanswered(std::string error) {
  PgFacts f;
  f.error = std::move(error);
  return f;
}

struct MemberFacts {
  std::string name;
  std::string api_error;  // "" : GET /patroni answered 200
  Json patroni = Json::object();
  std::string config_error;    // "" : GET /config answered
  std::optional<Json> config;  // the configuration as this member's agent holds it
  PgFacts pg;
  // The canary: nullopt when not looked for on this member (the leader, --no-canary, no write).
  std::optional<bool> canary_seen;
  double canary_seconds = 0;
  std::string canary_error;
};

struct RouterFacts {
  std::string write_addr, read_addr, admin_addr;  // "" : not checked
  PgFacts write;                                  // through the write port
  std::vector<PgFacts> reads;                     // one per connection through the read port
  int admin_status = 0;                           // GET /health
  std::string admin_error;
};

struct Facts {
  std::string scope;
  ClusterView cluster;
  EtcdFacts etcd;
  LeaseFacts lease;
  std::map<std::string, MemberFacts> members;  // by name; every member key, plus the leader's name
  bool canary_tried = false;
  std::string canary_write_error;  // "" : written on the leader
  RouterFacts router;
};

// SQL expressions shared by check and top: the server's WAL position (current on a primary, replayed on a
// replica, as bytes since 0/0) and its timeline (the one a replica receives, else its last checkpoint's).
inline constexpr const char* kLsnSql =
    "CASE WHEN pg_is_in_recovery() THEN COALESCE(pg_last_wal_replay_lsn() - '0/0', 0) "
    "ELSE pg_current_wal_lsn() - '0/0' END";
inline constexpr const char* kTimelineSql =
    "CASE WHEN pg_is_in_recovery() THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver), "
    "(SELECT timeline_id FROM pg_control_checkpoint())) "
    "ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END";

// ---- evaluation (pure) ----

// Every check, in a fixed order: etcd, leader, members, replication, lag, canary, synchronous mode, router.
std::vector<CheckResult> Evaluate(const Facts& f, const CheckOptions& o);

// Single groups, for tests.
std::vector<CheckResult> EvaluateEtcd(const EtcdFacts& e);
std::vector<CheckResult> EvaluateLeader(const Facts& f);
std::vector<CheckResult> EvaluateMembers(const Facts& f);
std::vector<CheckResult> EvaluateReplication(const Facts& f, const CheckOptions& o);
std::vector<CheckResult> EvaluateSync(const Facts& f);
std::vector<CheckResult> EvaluateRouter(const Facts& f);

// The member a replica should stream from: its replicatefrom member when that is another member, else the leader
// ("" : no leader).
std::string UpstreamOf(const ClusterView& c, const std::string& member);
// The first line of a message, without tabs or trailing blanks (libpq adds a hint on a second line): reasons stay
// one table row.
std::string FirstLine(const std::string& s);
// The first path at which two JSON values differ ("" : equal), e.g. "postgresql.parameters.max_connections".
std::string FirstDifference(const Json& a, const Json& b, const std::string& path = "");

// ---- output ----

std::string RenderTable(const std::string& scope, const std::vector<CheckResult>& results);
Json RenderJson(const std::string& scope, const std::vector<CheckResult>& results);
// 1 when any check failed, else 0.
int ExitCode(const std::vector<CheckResult>& results);

}  // namespace pgw::ctl::check

namespace pgw::ctl {
class Session;
namespace check {

// ---- I/O (check_gather.cc) ----

// A libpq connection string to the server at `hp` as postgresql.authentication.superuser (password and SSL options
// included), or as `username` when given.
std::string SuperuserConnInfo(const Config& target, const HostPort& hp, const std::string& dbname,
                              const std::string& username, const std::string& application_name);

// Asks etcd, every member's agent and PostgreSQL, writes the canary (unless o.canary is false) and asks the router.
// Members are asked in parallel; every call is bounded by o.timeout, the canary by o.canary_timeout.
Facts Gather(Session& session, const Config& target, const ClusterView& cluster, const std::string& scope,
             const CheckOptions& o);

}  // namespace check
}  // namespace pgw::ctl
