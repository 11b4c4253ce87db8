// What a new leader knows about the leader change it just made, gathered without any extra I/O: the leader key as
// its views showed it cycle after cycle (LeaderTrail), and the facts of its own promotion. Pure; the agent feeds it
// and writes the record (agent/executor_records.cc).
#pragma once

#include <optional>
#include <string>

#include "dcs/failovers.h"
#include "dcs/keys.h"

namespace pgw::ha {

// One leader as this agent saw it hold the key.
struct LeaderSighting {
  std::string name;
  std::optional<int64_t> xlog;  // its member key's xlog_location, as last seen
  double seen_at = 0;           // wall seconds: last view that showed it holding the key
  double gone_at = 0;           // wall seconds: first view without it (0: it still holds the key)
};

// The last two leaders this agent saw. Observe every view the HA loop decides on (the loop wakes at once on a
// change of the leader key, so gone_at is within a cycle's latency of the key's removal).
class LeaderTrail {
 public:
  void Observe(const ClusterView& v, double wall_now);
  const std::optional<LeaderSighting>& current() const { return current_; }
  const std::optional<LeaderSighting>& previous() const { return previous_; }

 private:
  std::optional<LeaderSighting> current_, previous_;
};

struct PromotionFacts {
  std::string new_leader;
  int timeline = 0;        // after the promotion
  int64_t start_lsn = 0;   // the switch point of the new timeline
  double acquired_at = 0;  // wall seconds
  double promoted_at = 0;
  int ttl = 30;  // the lease ttl in force (an expired lease was last renewed ttl before it went)
};

// The record of the promotion `f`, from the trail and the view the promotion was decided on (its `failover` key
// tells the kind; its `status` the old leader's last WAL position).
FailoverRecord BuildFailoverRecord(const LeaderTrail& trail, const ClusterView& view, const PromotionFacts& f);

}  // namespace pgw::ha
