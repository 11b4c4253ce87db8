// `pgwardenctl history -v`: Patroni's history table, then pgwarden's record of every leader change.
#include <cstdio>

#include "common/clock.h"
#include "ctl/ctl.h"
#include "pg/controller.h"

namespace pgw::ctl {
namespace {

// "2026-01-01T10:00:05.012345+00:00" -> "2026-01-01 10:00:05.012" (UTC, as the records are written).
std::string ShortTime(const std::string& iso) {
  if (iso.size() < 23) return iso;
  std::string t = iso.substr(0, 23);
  t[10] = ' ';
  return t;
}

// `iso` relative to `base`, in seconds with a sign ("-5.012 s"); "" when either is unknown.
std::string Offset(const std::string& iso, const std::string& base) {
  bool zone = false;
  auto a = ParseIsoTimestamp(iso, &zone);
  auto b = ParseIsoTimestamp(base, &zone);
  if (iso.empty() || base.empty() || !a || !b) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.3f s", *a - *b);
  return buf;
}

std::string Seconds(const std::optional<double>& s) {
  if (!s) return "unknown";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", *s);
  return buf;
}

}  // namespace

std::string FailoverTable(const FailoverLog& log) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : log.records) {
    std::string rejoin = r.rejoin.empty() ? "not yet" : r.rejoin + " " + Offset(r.rejoined_at, r.promoted_at);
    rows.push_back({std::to_string(r.timeline), r.kind, r.old_leader.empty() ? "unknown" : r.old_leader, r.new_leader,
                    ShortTime(r.acquired_at), Offset(r.old_lease_renewed_at, r.acquired_at),
                    Offset(r.promoted_at, r.acquired_at), Seconds(r.downtime_s),
                    r.old_leader_lsn ? FormatLsn(*r.old_leader_lsn) : "unknown", FormatLsn(r.new_leader_start_lsn),
                    r.bytes_possibly_lost ? std::to_string(*r.bytes_possibly_lost) : "unknown", rejoin});
  }
  std::string totals;
  for (const auto& [kind, n] : log.totals) totals += (totals.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  std::string out =
      Table({"TL", "Kind", "Old Leader", "New Leader", "Key Taken (UTC)", "Lease Renewed", "Promoted", "Downtime",
             "Old LSN", "New TL Start", "Lost Bytes", "Old Leader Rejoined"},
            rows, {true, false, false, false, false, true, true, true, true, true, true, false}, "Leader changes");
  out += "Totals: " + (totals.empty() ? std::string("none") : totals) +
         ". Lease Renewed and Promoted are relative to Key Taken; Lost Bytes is the old leader's last published WAL "
         "position past the new timeline's start.\n";
  return out;
}

std::string HistoryVerbose(const ClusterView& c) {
  std::string out = HistoryTable(c.history);
  FailoverLog log;
  if (c.failovers) {
    auto decoded = DecodeFailoverLog(*c.failovers);
    if (!decoded.ok()) return out + "Leader changes: cannot be shown: " + decoded.status().message() + "\n";
    log = std::move(*decoded);
  }
  return out + FailoverTable(log);
}

}  // namespace pgw::ctl
