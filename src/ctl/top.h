// pgwardenctl top (also `check --watch`): a live terminal view of one cluster, redrawn every second.
//
// Three parts, as check.h: a Sampler (top_sample.cc) asks etcd and every member's PostgreSQL (kept sessions, each
// call bounded) and records plain facts in a Sample; a Model (top_model.cc) keeps the last samples and derives rows
// from them, with rates and a short lag history, as a pure function of the samples; Render (top_render.cc) draws a
// frame as text, with ANSI colour when asked. The terminal loop (raw keys, q / Ctrl-C, redraw in place, window size)
// is cmd_top.cc.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/status.h"
#include "dcs/key_values.h"

namespace pgw::ctl {
class Session;
namespace top {

// What `top` is asked to do (its command-line options).
struct TopOptions {
  Duration interval = Duration(1000);        // --interval SECONDS (0.2 .. 60)
  int iterations = 0;                        // --iterations N: stop after N frames (0: until q or Ctrl-C)
  int64_t max_lag_bytes = 10 * 1024 * 1024;  // --max-lag-bytes: red at or above, yellow from half
  double max_lag_seconds = 5;                // --max-lag-seconds
  Duration timeout = Duration(1000);         // --timeout: each connection attempt; a query waits at most 1 s more
  std::string dbname = "postgres";
};
// Parses top's options (and check's threshold options, which `check --watch` passes on) out of `args`; anything
// else is an error naming the option.
Result<TopOptions> ParseTopOptions(const std::vector<std::string>& args);

// One member as seen at one instant.
struct MemberSample {
  std::string name;
  std::string role;      // from its member key: primary, replica, standby_leader...
  std::string state;     // from its member key: running, streaming, stopped...
  bool has_key = true;   // false: named by the leader key only
  std::string pg_error;  // "" : PostgreSQL answered
  bool in_recovery = false;
  int timeline = 0;
  int64_t lsn = 0;       // primary: pg_current_wal_lsn; replica: pg_last_wal_replay_lsn
  int64_t xacts = -1;    // committed + rolled back transactions over all databases since the stats reset; -1: unknown
  std::string receiver;  // pg_stat_wal_receiver.status ("" : none)
  // From the leader's pg_stat_replication, by application_name (the member's name).
  std::optional<double> replay_lag_s;
  std::string sync_state;
};

// Patroni's history entry: [timeline, lsn, reason, timestamp, new leader].
struct Sample {
  MonoTime at{};
  std::string wall;        // local time of day, "HH:MM:SS"
  std::string etcd_error;  // "" : the cluster's keys were read
  std::string leader;      // "" : no leader key
  bool paused = false;
  bool sync_mode = false;
  std::vector<MemberSample> members;  // by name
  std::vector<HistoryLine> history;   // oldest first (the `history` key, decoded by dcs/key_values.h)
};

enum class Level { kOk, kWarn, kBad };

struct Row {
  std::string name, role, state;
  int timeline = 0;
  bool leader = false;
  std::optional<int64_t> lag_bytes;  // replicas: the leader's position minus this member's replay position
  std::optional<double> lag_s;       // replicas: replay_lag as the leader reports it (0 when caught up)
  std::vector<int64_t> lag_history;  // lag_bytes of the last samples, oldest first (unknown samples left out)
  std::optional<double> tps;         // transactions per second since the previous sample
  std::optional<double> wal_rate;    // leader: WAL bytes per second since the previous sample
  Level level = Level::kOk;
  std::string note;  // why the row is not kOk ("PostgreSQL: ...", "not streaming", ...)
};

struct Summary {
  std::optional<double> write_tps, wal_rate, read_tps;  // leader tps and WAL rate; replicas' tps summed
  int replicas = 0;
};

class Model {
 public:
  explicit Model(size_t keep = 30) : keep_(keep) {}
  void Add(Sample s);
  const Sample* Latest() const { return samples_.empty() ? nullptr : &samples_.back(); }
  std::vector<Row> Rows(const TopOptions& o) const;
  Summary Totals(const std::vector<Row>& rows) const;

 private:
  size_t keep_;
  std::deque<Sample> samples_;
};

// One frame, lines separated by '\n', each at most `width` columns (0: no limit). `colour`: ANSI colours.
std::string Render(const Model& m, const TopOptions& o, const std::string& scope, int width, bool colour);
// A byte count for humans: "0 B", "812 kB", "16.0 MB".
std::string HumanBytes(double bytes);
// A sparkline of `v` scaled to [0, full]: one block character (U+2581..U+2588) per value.
std::string Sparkline(const std::vector<int64_t>& v, int64_t full);

// ---- I/O (top_sample.cc) ----

class Sampler {
 public:
  Sampler(Session& session, const Config& target, const TopOptions& o);
  ~Sampler();
  Sample Take();

 private:
  struct Conn;
  Session& session_;
  const Config& target_;
  TopOptions opts_;
  std::map<std::string, std::unique_ptr<Conn>> conns_;  // kept sessions, by member name
};

}  // namespace top
}  // namespace pgw::ctl
