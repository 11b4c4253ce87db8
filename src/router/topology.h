// What the router knows about the cluster: an immutable snapshot built from the scope's keys in etcd, and the pure
// routing functions that pick a server for a new client connection. No I/O here.
//
// Snapshots are shared between threads as std::shared_ptr<const Topology>: the topology thread builds a new one
// on every change; workers keep the one they last received.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/hostport.h"
#include "dcs/keys.h"

namespace pgw::router {

struct ServerInfo {
  std::string name;              // member name
  std::optional<HostPort> addr;  // from conn_url; nullopt when it does not parse
  std::string role;              // as the member key says: primary, replica, standby_leader, ...
  std::string state;             // running, streaming, starting, stopped, ...
  std::optional<int64_t> xlog_location;
  std::optional<int64_t> replay_lsn;  // a standby's replayed position, when its member key has it
  // Behind the leader's position, when both are known: from replay_lsn when published (what a read there sees),
  // else from xlog_location (the larger of received and replayed).
  std::optional<int64_t> lag_bytes;
  // Behind the leader in time, when known: how long ago the router first saw the leader past this member's position
  // (LeaderPositionHistory; set by the topology watcher, not by BuildTopology). An estimate at the resolution of the
  // member keys' updates (one agent loop): a replica that keeps up may show up to about one loop_wait.
  std::optional<Duration> lag_time;
  bool noloadbalance = false;  // tag: never a read target
  bool leader = false;         // holds the leader key
};

struct Topology {
  // Increases with every snapshot the topology thread publishes.
  uint64_t generation = 0;
  int64_t revision = 0;
  bool dcs_ready = false;             // a first full read of the scope succeeded
  std::optional<std::string> leader;  // the leader key's value
  std::vector<ServerInfo> servers;    // by name
  // The leader's WAL position (its xlog_location or status.optime, the larger), which lag is measured from.
  std::optional<int64_t> leader_position;
  int ttl_seconds = 30;  // the `config` key's ttl (Patroni's default 30)
  // Monotonic time of the last successful read of etcd (a quorum read or a watch event).
  MonoTime fresh_at{};
  // Increases each time the write target (leader name or its address) changes; with the time it changed.
  uint64_t leader_epoch = 0;
  MonoTime leader_changed_at{};

  const ServerInfo* Find(const std::string& name) const;
  const ServerInfo* Leader() const;
};

// The topology of a cluster view, without the fields the watcher sets (generation, freshness, leader epoch).
// Lag is the leader's xlog_location (or status.optime, whichever is larger) minus the member's replay_lsn (Patroni
// 4.1+ and pgwarden agents publish it), or minus its xlog_location when it has none: a replica with replay paused
// keeps receiving WAL, so only replay_lsn shows it falling behind.
Topology BuildTopology(const ClusterView& view);

// Whether the write target of `b` differs from that of `a` (leader name or address).
bool WriteTargetChanged(const Topology& a, const Topology& b);

struct RouteDecision {
  const ServerInfo* server = nullptr;  // nullptr: nothing routable now
  std::string reason;                  // why not (or why this one), for logs and for the client's error
};

// The server for a new read-write connection: the member holding the leader key, provided etcd has been read
// within the ttl (otherwise another member may lead by now). `excluded` are servers the caller failed to reach
// moments ago.
RouteDecision RouteWrite(const Topology& t, MonoTime now, const std::set<std::string>& excluded = {});

// When the router saw the leader's WAL position advance: (first time seen, position), oldest first, for the time
// lag of replicas (ServerInfo::lag_time). Bounded (kMaxEntries, the oldest dropped: a replica older than the history
// gets its age as a lower bound). Forgotten when the leader changes or its position goes backwards. Not thread-safe:
// the topology thread owns it.
class LeaderPositionHistory {
 public:
  static constexpr size_t kMaxEntries = 4096;
  // Records the leader's position seen at `now` (nothing when `leader` or `position` is unknown).
  void Observe(const std::optional<std::string>& leader, std::optional<int64_t> position, MonoTime now);
  // How far behind in time a member at `position` is: 0 when at or past the latest position seen, else now minus
  // when the leader was first seen past it; nullopt when no leader position has been seen.
  std::optional<Duration> Behind(int64_t position, MonoTime now) const;
  size_t size() const { return entries_.size(); }

 private:
  std::string leader_;
  std::vector<std::pair<MonoTime, int64_t>> entries_;
};

// Sets lag_time on the members of `t` (all but the leader) whose position is known, from `history` after it observed
// `t`'s leader position at `now`.
void AddLagTimes(Topology* t, LeaderPositionHistory* history, MonoTime now);

struct ReadPolicy {
  int64_t max_lag_bytes = 1 << 20;
  bool fallback_to_primary = false;
  // Hysteresis: a replica that left the read pool for lag (more than max_lag_bytes behind) returns only once it is at
  // most this far behind, so that one hovering around the threshold does not flap in and out. < 0: half of
  // max_lag_bytes. Never above max_lag_bytes.
  int64_t return_lag_bytes = -1;
  // Time threshold, applied where a replica's lag_time is known; 0: off. A replica held out returns once at most half
  // of it behind (and under the byte mark).
  Duration max_lag_time = Duration(0);

  int64_t ReturnLag() const;
  Duration ReturnLagTime() const { return max_lag_time / 2; }
};

// The replicas held out of the read pool for lag, given the set before this topology: a replica enters when its lag
// is above max_lag_bytes (or, with max_lag_time set and its lag_time known, above that) and leaves when its lag is
// known and at most ReturnLag() (and its lag_time, when known, at most ReturnLagTime()). A replica whose lag cannot be
// measured now (no position reported, or no leader position) keeps its state, so that it must be seen caught up
// before it returns; members no longer in the topology are dropped, and so is the leader (whose member key may trail
// the /status optime it is measured against by a loop). The caller keeps the set from one topology to
// the next (and recomputes it when the policy changes).
std::set<std::string> NextLagging(const Topology& t, const ReadPolicy& policy, const std::set<std::string>& lagging);

// The server for a new read-only connection: among running replicas (not the leader) with a known lag under the
// threshold (or no known leader position to compare with), not held out for lag (`lagging`, see NextLagging) and
// without the noloadbalance tag, the one with the fewest outstanding connections (`outstanding(name)`; ties by
// name). The leader only when no replica qualifies and the policy allows it.
RouteDecision RouteRead(const Topology& t, const ReadPolicy& policy, const std::set<std::string>& lagging,
                        const std::function<int64_t(const std::string&)>& outstanding,
                        const std::set<std::string>& excluded = {});

// Why the replica `s` is not a read target under `policy` and `lagging` (RouteRead's rules, without load or
// exclusions), or nullopt when it qualifies.
std::optional<std::string> ReplicaRefusal(const Topology& t, const ServerInfo& s, const ReadPolicy& policy,
                                          const std::set<std::string>& lagging);

// Whether a read-only session linked to `server` may stay there in topology `t`: nullopt when it may, else why it
// must be closed (the server left the read pool: removed, no longer running, behind the lag threshold or not yet
// back under the return mark, tagged noloadbalance, or promoted while the primary is not a read fallback). A
// session on the primary through the fallback stays while it leads and the fallback is allowed.
std::optional<std::string> ReadEvictionReason(const Topology& t, const std::string& server, const ReadPolicy& policy,
                                              const std::set<std::string>& lagging);

}  // namespace pgw::router
