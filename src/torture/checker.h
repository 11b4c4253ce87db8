// The torture checker: pure functions from what the writers saw (acknowledged rows, each with the server that
// acknowledged it and when) and what the table holds afterwards to a verdict: rows lost, rows stored twice, and
// servers that accepted writes at the same time (split brain). No I/O, no clock: times are given in microseconds
// of one monotonic clock.
//
// Windows. An insert committed at some instant between sending it and receiving its acknowledgement, so a server
// certainly accepted writes from the acknowledgement of its first insert to the sending of its last one (its
// "certain window"; empty when that is a single insert, or inserts sent before the first one came back). Two
// servers split the brain when their certain windows overlap, or when one of them committed an insert whose whole
// [sent, acknowledged] interval lies inside the other's certain window. Client-side latency can only hide a split
// brain this way, never invent one: windows that merely touch, or overlap by less than the round trip, pass.
//
// A server is one primary incarnation: system identifier, timeline and address. A promotion starts a new timeline,
// so a node that was primary, replica, and primary again counts as two servers, whose windows must not overlap.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pgw::torture {

using Micros = int64_t;

struct ServerId {
  std::string sysid;        // pg_control_system().system_identifier
  int timeline = 0;         // the timeline the insert was written on
  std::string address;      // "host:port" as the server sees itself (inet_server_addr, inet_server_port)
  std::string Key() const;  // "127.0.0.1:5432 tl 3 sysid 7...": stable, readable, unique per incarnation
  bool operator==(const ServerId&) const = default;
};

struct Ack {
  int64_t id = 0;
  int writer = 0;
  ServerId server;
  Micros sent = 0;   // when the INSERT was sent
  Micros acked = 0;  // when its acknowledgement arrived
};

struct Window {
  ServerId server;
  size_t acks = 0;
  Micros first_sent = 0, first_acked = 0, last_sent = 0, last_acked = 0;
  // The certain window is [first_acked, last_sent]; empty when last_sent <= first_acked.
  bool HasCertain() const { return last_sent > first_acked; }
};

struct SplitBrain {
  std::string a, b;         // ServerId::Key() of the two servers
  Micros from = 0, to = 0;  // an interval in which both certainly accepted writes
};

struct Verdict {
  std::vector<int64_t> lost;        // acknowledged, not in the table (ascending)
  std::vector<int64_t> duplicates;  // in the table more than once (ascending; each id once)
  std::vector<SplitBrain> split_brain;
  std::vector<Window> windows;  // one per server, by first acknowledgement
};

// Per-server windows, ordered by first acknowledgement.
std::vector<Window> Windows(const std::vector<Ack>& acks);
// Every pair of servers whose writes certainly overlapped (see above), once per pair.
std::vector<SplitBrain> Overlaps(const std::vector<Ack>& acks);
// `table_ids`: every id the table holds in the range the writers used, once per row (duplicates repeat).
Verdict Check(const std::vector<Ack>& acks, const std::vector<int64_t>& table_ids);

// The longest stretch in [from, to] without an acknowledgement (counting from `from` and up to `to`).
Micros LongestGap(const std::vector<Ack>& acks, Micros from, Micros to);
// Whether writes flow at `now`: acknowledgements after `since`, and none of the last `span` (which must lie after
// `since`) without one for more than `max_gap`. A single late acknowledgement (an orphaned backend finishing its
// insert after its postmaster died) does not count as writes resuming.
bool Flowing(const std::vector<Ack>& acks, Micros since, Micros now, Micros span, Micros max_gap);

struct Spread {
  double median = 0, p95 = 0, max = 0;
};
// Median, 95th percentile (nearest rank) and maximum; zeros for no values.
Spread Summarize(std::vector<double> values);

}  // namespace pgw::torture
