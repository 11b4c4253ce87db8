// A write probe: inserts numbered rows through one connection string, as fast as `interval` allows, and records
// every acknowledged insert with the time it was acknowledged and the server port that acknowledged it.
// Used by the failover tests and benchmarks: the longest gap between acknowledgements is the write-unavailable
// window, and every acknowledged id must be found on the new primary afterwards (nothing acknowledged is lost).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

struct ProbeAck {
  int64_t id = 0;
  MonoTime at{};
  int server_port = 0;
};

class WriteProbe {
 public:
  // Ids are first_id, first_id+1, ... so that several probes can share a table.
  WriteProbe(std::string conninfo, std::string table, int64_t first_id, Duration interval = Duration(10));
  ~WriteProbe();

  // CREATE TABLE IF NOT EXISTS <table> (id bigint primary key, port int).
  static Status CreateTable(const std::string& conninfo, const std::string& table);

  void Start();
  void Stop();
  std::vector<ProbeAck> Acks() const;
  uint64_t attempts() const { return attempts_.load(); }
  uint64_t failures() const { return failures_.load(); }
  // The longest stretch without an acknowledgement inside [from, to] (counting from `from` and up to `to`).
  static Duration LongestGap(const std::vector<ProbeAck>& acks, MonoTime from, MonoTime to);
  // Acknowledged ids that `conninfo`'s table does not hold (empty = nothing lost).
  static Result<std::vector<int64_t>> Missing(const std::string& conninfo, const std::string& table,
                                              const std::vector<ProbeAck>& acks);

 private:
  void Loop();

  std::string conninfo_, table_;
  int64_t next_id_;
  Duration interval_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> attempts_{0}, failures_{0};
  mutable std::mutex mu_;
  std::vector<ProbeAck> acks_;
  std::thread thread_;
};

}  // namespace pgw
