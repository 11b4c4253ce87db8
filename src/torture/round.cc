#include "torture/round.h"

#include <algorithm>

namespace pgw::torture {

namespace {

std::string Seconds(Duration d) { return std::to_string(d.count() / 1000) + " s"; }

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "; ") + s;
  return out.empty() ? "no error seen" : out;
}

}  // namespace

RoundResult RunRound(int number, const std::string& fault_name, Fault& fault, Cluster& cluster, const RoundConfig& cfg,
                     int64_t first_id, const std::atomic<bool>& interrupted) {
  RoundResult r;
  r.round = number;
  r.fault = fault_name;
  r.first_id = r.last_id = first_id;
  if (Status h = cluster.WaitHealthy(cfg.heal_timeout); !h.ok()) {
    r.errors.push_back("not healthy before the fault: " + h.message());
    return r;
  }
  auto before = cluster.PrimaryDsn();
  if (!before.ok()) {
    r.errors.push_back("no primary before the fault: " + before.status().message());
    return r;
  }
  r.synchronous = cfg.synchronous || WaitsForStandby(*before);
  const Micros span = cfg.settle.count() * 1000;
  const Micros max_gap = std::max<Micros>(250000, cfg.writers.interval.count() * 10000);
  auto flowing = [&](const Writers& w, Micros since, Micros span_us) {
    return Flowing(w.Acks(), since, NowMicros(), span_us, max_gap);
  };
  Writers writers(cfg.writers, first_id);
  Micros started = NowMicros();
  writers.Start();
  auto steady = [&] { return interrupted || flowing(writers, started, cfg.steady.count() * 1000); };
  if (!WaitFor(steady, cfg.steady + Duration(15000), kTorturePoll)) {
    writers.Stop();
    r.errors.push_back("the writers could not write steadily before the fault: " + Joined(writers.RecentErrors()));
    return r;
  }
  r.fault_at = NowMicros();
  Status injected = interrupted ? Status::Ok() : fault.Inject();
  if (!injected.ok()) r.errors.push_back("injecting " + fault_name + ": " + injected.message());
  auto recover = [&] {
    if (Status s = fault.Recover(); !s.ok()) r.errors.push_back("recovering from " + fault_name + ": " + s.message());
  };
  std::optional<Duration> hold = fault.Hold();
  if (hold && injected.ok()) {
    WaitFor([&] { return interrupted.load(); }, *hold, kTorturePoll);
    recover();
  }
  bool resumed =
      WaitFor([&] { return interrupted || flowing(writers, r.fault_at, span); }, cfg.resume_timeout, kTorturePoll);
  if (!hold || !injected.ok()) recover();
  if (interrupted) {
    r.errors.push_back("interrupted");
  } else if (!resumed) {
    r.errors.push_back("writes did not resume within " + Seconds(cfg.resume_timeout) + " after " +
                       (hold ? "the fault's hold" : "the fault") + ": " + Joined(writers.RecentErrors()));
  }
  // The cluster heals under the same load (a former primary rejoining must not take writes either).
  if (!interrupted) {
    if (Status h = cluster.WaitHealthy(cfg.heal_timeout); !h.ok()) r.errors.push_back("not healed: " + h.message());
  }
  writers.Stop();
  Micros stopped = NowMicros();
  std::vector<Ack> acks = writers.Acks();
  r.acked = acks.size();
  r.failed_writes = writers.failures();
  r.write_errors = writers.RecentErrors();
  r.last_id = writers.next_id() - 1;
  r.downtime_s = static_cast<double>(LongestGap(acks, r.fault_at, stopped)) / 1e6;
  auto after = cluster.PrimaryDsn();
  if (!after.ok()) {
    r.errors.push_back("no primary to verify on: " + after.status().message());
    r.split_brain = Overlaps(acks);
    r.windows = Windows(acks);
    return r;
  }
  if (fault.ExpectsSameLeader() && *after != *before) r.errors.push_back("the leader changed during " + fault_name);
  auto ids = TableIds(*after, cfg.writers.table, r.first_id, r.last_id);
  if (!ids.ok()) {
    r.errors.push_back("reading the table on the primary: " + ids.status().message());
    r.split_brain = Overlaps(acks);
    r.windows = Windows(acks);
    return r;
  }
  Verdict v = Check(acks, *ids);
  r.lost = std::move(v.lost);
  r.duplicates = std::move(v.duplicates);
  r.split_brain = std::move(v.split_brain);
  r.windows = std::move(v.windows);
  return r;
}

}  // namespace pgw::torture
