// Switchover benchmark: the write-unavailable window of a planned switchover (POST /switchover leader ->
// candidate) under a steady write load, seen by a client on a libpq multi-host connection string and by a client
// going through HAProxy with 1 s /primary checks. The baseline is the real Patroni from Debian's `patroni`
// package, started on the same configuration files in the same run.
//
//   switchover_bench [--rounds N] [--dir DIR] [--no-patroni] [--no-haproxy] [--no-candidate] [--keep]
// --keep: leave the sandboxes (agent and PostgreSQL logs) in DIR.
// --no-candidate: the request names no candidate (the leader chooses one, as `switchover --force` does).
#include "bench_util.h"

namespace pgw {
namespace {

Duration Median(std::vector<Duration> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? Duration(0) : v[v.size() / 2];
}

int Main(int argc, char** argv) {
  int rounds = 3;
  std::string dir = "/tmp/pgwarden-switchover-bench";
  bool patroni = true, haproxy = true, name_candidate = true, keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--no-patroni")
      patroni = false;
    else if (a == "--no-haproxy")
      haproxy = false;
    else if (a == "--no-candidate")
      name_candidate = false;
    else if (a == "--keep")
      keep = true;
    else {
      std::fprintf(
          stderr,
          "usage: switchover_bench [--rounds N] [--dir DIR] [--no-patroni] [--no-haproxy] [--no-candidate] [--keep]\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 50) {
    std::fprintf(stderr, "switchover_bench: --rounds must be between 1 and 50\n");
    return 2;
  }
  haproxy = haproxy && PathExists("/usr/sbin/haproxy");
  Logger log(stderr, LogLevel::kWarning);
  std::vector<System> systems = {{"pgwarden", SelfDir() + "/../apps/pgwarden", 5, 1, 2, ""}};
  if (patroni && PathExists("/usr/bin/patroni"))
    systems.push_back({"Patroni baseline", "/usr/bin/patroni", 5, 1, 2, ""});
  struct Row {
    std::string label;
    std::vector<Duration> multi, via_haproxy;
    size_t lost = 0;
    std::string error;
  };
  std::vector<Row> rows;
  int idx = 0;
  for (const auto& sys : systems) {
    Row row;
    row.label = sys.label;
    std::string sdir = dir + "/" + std::to_string(idx++);
    RemoveAll(sdir).ok();
    Bench b(sys, sdir, log);
    Status s = b.Start();
    int64_t id = 1;
    for (int r = 0; s.ok() && r < rounds; ++r) {
      auto res = b.SwitchoverRound((id++) * 10000000, "", name_candidate);
      if (!res.ok()) {
        s = res.status();
        break;
      }
      row.multi.push_back(res->gap);
      row.lost += res->lost;
      std::fprintf(stderr, "%s multi-host round %d: %lld ms without writes, from %lld ms after the request\n",
                   sys.label.c_str(), r + 1, static_cast<long long>(res->gap.count()),
                   static_cast<long long>(res->gap_start.count()));
    }
    if (s.ok() && haproxy) {
      auto port = b.StartHaproxy(1000);
      if (!port.ok()) s = port.status();
      // Let HAProxy's checks settle on the current leader first.
      auto answers = [&] { return Query(b.ConninfoVia(*port), "SELECT 1") == "1"; };
      if (s.ok() && !WaitFor(answers, Duration(30000), kBenchPoll)) {
        s = Unavailable("HAProxy never routed to the leader");
      }
      for (int r = 0; s.ok() && r < rounds; ++r) {
        auto res = b.SwitchoverRound((id++) * 10000000, b.ConninfoVia(*port), name_candidate);
        if (!res.ok()) {
          s = res.status();
          break;
        }
        row.via_haproxy.push_back(res->gap);
        row.lost += res->lost;
        std::fprintf(stderr, "%s HAProxy round %d: %lld ms without writes\n", sys.label.c_str(), r + 1,
                     static_cast<long long>(res->gap.count()));
      }
    }
    if (!s.ok()) row.error = s.message();
    b.Stop(keep || !row.error.empty());
    rows.push_back(row);
  }
  std::printf("\nPlanned switchover under a steady write load (median of %d rounds)\n", rounds);
  std::printf("%-20s %18s %22s %6s\n", "system", "multi-host client", "HAProxy (1 s checks)", "lost");
  for (const auto& r : rows) {
    if (!r.error.empty()) {
      std::printf("%-20s error: %s\n", r.label.c_str(), r.error.c_str());
      continue;
    }
    std::printf("%-20s %16lldms %20lldms %6zu\n", r.label.c_str(), static_cast<long long>(Median(r.multi).count()),
                static_cast<long long>(Median(r.via_haproxy).count()), r.lost);
  }
  if (rows.size() >= 2 && rows[0].error.empty() && rows[1].error.empty() && !rows[1].multi.empty()) {
    std::printf("pgwarden: %.2fx the baseline's window for the multi-host client",
                static_cast<double>(Median(rows[0].multi).count()) /
                    static_cast<double>(std::max<int64_t>(1, Median(rows[1].multi).count())));
    if (!rows[1].via_haproxy.empty()) {
      std::printf(", %.2fx through HAProxy",
                  static_cast<double>(Median(rows[0].via_haproxy).count()) /
                      static_cast<double>(std::max<int64_t>(1, Median(rows[1].via_haproxy).count())));
    }
    std::printf("\n");
  }
  for (const auto& r : rows) {
    if (!r.error.empty()) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
