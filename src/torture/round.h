// One torture round: writers steady, the fault, writes resuming (the downtime), recovery, the cluster healthy
// again, then the table on the current primary checked against every acknowledgement (torture/checker.h).
// Every wait is bounded; whatever the round froze or killed is recovered before it returns, even on an error.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "torture/checker.h"
#include "torture/cluster.h"
#include "torture/faults.h"
#include "torture/writers.h"

namespace pgw::torture {

struct RoundConfig {
  WriterOptions writers;            // dsn and table filled in
  Duration steady{2000};            // writes flowing this long before the fault
  Duration resume_timeout{120000};  // from the fault (or the end of its hold) until writes flow again
  Duration heal_timeout{120000};    // from then until the cluster is healthy
  Duration settle{1000};            // writes flowing this long, after the fault, count as resumed
  bool synchronous = false;         // count lost rows as failures even when the primary waits for no standby
};

struct RoundResult {
  int round = 0;
  std::string fault;
  bool synchronous = false;  // the primary waited for a standby when the round began (or RoundConfig said so)
  double downtime_s = 0;     // the longest stretch without an acknowledged write, from the fault to the end
  size_t acked = 0;
  uint64_t failed_writes = 0;  // attempts that were refused, lost their connection, or timed out
  int64_t first_id = 0, last_id = 0;
  std::vector<int64_t> lost, duplicates;
  std::vector<SplitBrain> split_brain;
  std::vector<Window> windows;
  Micros fault_at = 0;                    // the time base of `windows` in reports
  std::vector<std::string> errors;        // the round itself went wrong: fault, resumption, health, verification
  std::vector<std::string> write_errors;  // the writers' last distinct failures

  // A verdict against the cluster: split brain, duplicates, or lost rows in synchronous mode.
  bool Violation() const { return !split_brain.empty() || !duplicates.empty() || (synchronous && !lost.empty()); }
};

RoundResult RunRound(int number, const std::string& fault_name, Fault& fault, Cluster& cluster, const RoundConfig& cfg,
                     int64_t first_id, const std::atomic<bool>& interrupted);

}  // namespace pgw::torture
