// Failover benchmark: how long writes are unavailable when the leader's machine dies, measured by a client that
// writes through a libpq multi-host connection string (target_session_attrs=read-write), and how many
// acknowledged rows the new primary does not have (asynchronous replication can lose some).
//
// Runs pgwarden with its fast profile and with Patroni's timing, and, as the baseline, the real Patroni from
// Debian's `patroni` package when it is installed, started on the very same configuration files. Each system
// gets a fresh sandbox; every round crash-kills the current leader (agent, fence supervisor, postmaster), waits
// for writes to resume, then restarts the dead node and waits until it streams again.
//
//   failover_bench [--rounds N] [--profiles 2,3,5] [--dir DIR] [--no-patroni] [--keep]
//
// --profiles picks the pgwarden timing profiles (ttl values 2, 3, 5); --keep leaves every sandbox's logs in DIR.
#include "bench_util.h"

namespace pgw {
namespace {

int Main(int argc, char** argv) {
  int rounds = 3;
  std::string dir = "/tmp/pgwarden-failover-bench";
  bool patroni = true;
  bool keep = false;
  std::vector<int> profiles = {2, 3, 5};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc)
      rounds = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--no-patroni")
      patroni = false;
    else if (a == "--keep")
      keep = true;
    else if (a == "--profiles" && i + 1 < argc) {
      profiles = ParseIntList(argv[++i]);
      for (int ttl : profiles) {
        if (ttl != 2 && ttl != 3 && ttl != 5) {
          std::fprintf(stderr, "failover_bench: --profiles takes ttl values among 2, 3 and 5\n");
          return 2;
        }
      }
    } else {
      std::fprintf(stderr,
                   "usage: failover_bench [--rounds N] [--profiles 2,3,5] [--dir DIR] [--no-patroni] [--keep]\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 50) {
    std::fprintf(stderr, "failover_bench: --rounds must be between 1 and 50\n");
    return 2;
  }
  Logger log(stderr, LogLevel::kWarning);
  std::string pgwarden = SelfDir() + "/../apps/pgwarden";
  const std::vector<System> all = {{"pgwarden fastest (ttl 2, loop 1, retry 0.5)", pgwarden, 2, 1, 0.5, ""},
                                   {"pgwarden fast (ttl 3, loop 1, retry 1)", pgwarden, 3, 1, 1, ""},
                                   {"pgwarden (ttl 5, loop 1, retry 2)", pgwarden, 5, 1, 2, ""}};
  std::vector<System> systems;
  for (const auto& sys : all) {
    if (std::find(profiles.begin(), profiles.end(), sys.ttl) != profiles.end()) systems.push_back(sys);
  }
  if (patroni && PathExists("/usr/bin/patroni")) {
    systems.push_back({"Patroni baseline (ttl 5, loop 1, retry 2)", "/usr/bin/patroni", 5, 1, 2, ""});
  } else if (patroni) {
    std::fprintf(stderr, "note: /usr/bin/patroni not found (apt-get install patroni): no Patroni baseline\n");
  }
  struct Summary {
    std::string label;
    std::vector<Round> rounds;
    MemKb mem;
    std::string error;
  };
  std::vector<Summary> out;
  int sys_index = 0;
  for (const auto& sys : systems) {
    Summary sum;
    sum.label = sys.label;
    std::string sdir = dir + "/" + std::to_string(sys_index++);
    RemoveAll(sdir).ok();
    Bench b(sys, sdir, log);
    Status s = b.Start();
    if (!s.ok()) {
      sum.error = s.message();
    } else {
      sum.mem = b.AgentMemory();
      for (int r = 0; r < rounds; ++r) {
        auto res = b.CrashRound(int64_t{r + 1} * 10000000);
        if (!res.ok()) {
          sum.error = res.status().message();
          break;
        }
        std::fprintf(stderr, "%s round %d (killed at %s): %lld ms without writes, %zu of %zu acknowledged rows lost\n",
                     sys.label.c_str(), r + 1, res->crash_at.c_str(), static_cast<long long>(res->gap.count()),
                     res->lost, res->acked);
        sum.rounds.push_back(*res);
      }
    }
    b.Stop(keep || !sum.error.empty());
    out.push_back(sum);
  }
  auto median = [](std::vector<Round> v) {
    std::sort(v.begin(), v.end(), [](const Round& a, const Round& b) { return a.gap < b.gap; });
    return v.empty() ? Duration(0) : v[v.size() / 2].gap;
  };
  std::printf("\nCrash failover (leader machine killed), writes through a libpq multi-host connection string\n");
  std::printf("%-45s %8s %8s %6s %11s %13s\n", "system", "median", "max", "lost", "agent RSS", "agent private");
  for (const auto& s : out) {
    if (!s.error.empty()) {
      std::printf("%-45s error: %s\n", s.label.c_str(), s.error.c_str());
      continue;
    }
    Duration mx(0);
    size_t lost = 0;
    for (const auto& r : s.rounds) {
      mx = std::max(mx, r.gap);
      lost += r.lost;
    }
    std::printf("%-45s %6lldms %6lldms %6zu %8ld kB %10ld kB\n", s.label.c_str(),
                static_cast<long long>(median(s.rounds).count()), static_cast<long long>(mx.count()), lost, s.mem.rss,
                s.mem.private_kb);
  }
  // Ratios against the Patroni baseline (the last system, when it ran), for each pgwarden profile.
  const bool has_base = systems.back().binary == "/usr/bin/patroni";
  const Summary& b = out.back();
  if (has_base && b.error.empty() && !b.rounds.empty()) {
    double base = static_cast<double>(median(b.rounds).count());
    for (size_t i = 0; i + 1 < out.size(); ++i) {
      if (!out[i].error.empty() || out[i].rounds.empty()) continue;
      std::printf("%s: %.2fx the baseline's write-unavailable window, %.2fx its agent RSS, %.2fx its private memory\n",
                  out[i].label.c_str(), static_cast<double>(median(out[i].rounds).count()) / base,
                  static_cast<double>(out[i].mem.rss) / static_cast<double>(std::max(1L, b.mem.rss)),
                  static_cast<double>(out[i].mem.private_kb) / static_cast<double>(std::max(1L, b.mem.private_kb)));
    }
  }
  bool ok = std::all_of(out.begin(), out.end(), [](const Summary& s) { return s.error.empty(); });
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
