// Spurious leader changes under load: how short can the ttl be before a busy machine makes a healthy leader lose
// its lease? For each timing profile, one 3-node sandbox on this machine; pgbench pins both cores against the
// leader (TPC-B-like, then select-only, as many clients as it takes), while a watcher polls every member's
// GET /patroni every 100 ms and counts leader changes (a new leader name or a new timeline). No fault is injected:
// every change counted is spurious.
//
//   stability_bench [--seconds N] [--clients C] [--profiles 3,2] [--dir DIR]
//     N seconds per workload per profile (default 300), C pgbench clients (default 16), ttl values to try
//     (loop_wait 1, retry_timeout 1; 0.5 at ttl 2, as loop_wait + 2 * retry_timeout <= ttl requires)
#include <atomic>
#include <regex>

#include "bench_util.h"
#include "common/config.h"

namespace pgw {
namespace {

struct Observation {
  int leader_changes = 0;
  int timeline_changes = 0;
  std::vector<std::string> events;
};

// Polls every member's GET /patroni until `stop`; records who reports itself primary and on which timeline.
void Watch(Sandbox& sb, std::atomic<bool>& stop, Observation* obs) {
  HttpClient http;
  std::string leader;
  int timeline = 0;
  MonoTime start = Now();
  while (!stop) {
    for (const auto& n : sb.nodes()) {
      HttpRequest req;
      req.url = "http://127.0.0.1:" + std::to_string(n.api_port) + "/patroni";
      req.timeout = Duration(1000);
      auto r = http.Do(req);
      if (!r.ok() || r->status != 200) continue;
      Json j = Json::parse(r->body, nullptr, false);
      if (!j.is_object() || j.value("role", "") != "primary") continue;
      int tl = j.value("timeline", 0);
      double at = static_cast<double>((Now() - start).count()) / 1000.0;
      if (!leader.empty() && n.name != leader) {
        ++obs->leader_changes;
        obs->events.push_back(std::to_string(at) + " s: leader " + leader + " -> " + n.name);
      }
      if (timeline != 0 && tl > timeline) {
        ++obs->timeline_changes;
        obs->events.push_back(std::to_string(at) + " s: timeline " + std::to_string(timeline) + " -> " +
                              std::to_string(tl));
      }
      leader = n.name;
      if (tl > timeline) timeline = tl;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

struct Sample {
  std::string workload;
  double tps = 0;
  Observation obs;
};

int Main(int argc, char** argv) {
  int seconds = 300, clients = 16;
  std::vector<int> ttls = {3, 2};
  std::string dir = "/tmp/pgwarden-stability-bench";
  auto usage = [] {
    std::fprintf(stderr, "usage: stability_bench [--seconds N] [--clients C] [--profiles 3,2] [--dir DIR]\n");
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atoi(argv[++i]);
    } else if (a == "--clients" && i + 1 < argc) {
      clients = std::atoi(argv[++i]);
    } else if (a == "--profiles" && i + 1 < argc) {
      ttls = ParseIntList(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else {
      return usage();
    }
  }
  bool bad_ttl = ttls.empty();
  for (int t : ttls) bad_ttl = bad_ttl || t < 2 || t > 60;
  if (seconds < 5 || seconds > 3600 || clients < 1 || clients > 200 || bad_ttl) {
    std::fprintf(stderr, "stability_bench: --seconds 5..3600, --clients 1..200, --profiles ttl values 2..60\n");
    return 2;
  }
  Logger log(stderr, LogLevel::kWarning);
  std::string bin = SelfDir() + "/../apps/pgwarden";
  std::string pgbin = FindPostgresBinDir(ProcessEnvironment());
  std::vector<std::pair<int, std::vector<Sample>>> results;
  std::string failure;
  for (int ttl : ttls) {
    std::string sdir = dir + "/ttl" + std::to_string(ttl);
    RemoveAll(sdir).ok();
    double retry = ttl >= 3 ? 1 : 0.5;
    Bench b({"pgwarden ttl " + std::to_string(ttl), bin, ttl, 1, retry, ""}, sdir, log);
    Status s = b.Start();
    std::string leader = s.ok() ? b.Leader() : "";
    if (s.ok() && leader.empty()) s = Unavailable("no leader");
    ProcessOptions o;
    o.env_set["PGPASSWORD"] = Sandbox::kSuperuserPassword;
    o.timeout = Duration((seconds + 120) * 1000);
    std::vector<std::string> conn;
    if (s.ok()) {
      conn = {"-h", "127.0.0.1", "-p", std::to_string(b.sandbox().Node(leader)->pg_port), "-U", "postgres"};
      std::vector<std::string> init = {pgbin + "/pgbench", "-i", "-s", "10", "-q"};
      init.insert(init.end(), conn.begin(), conn.end());
      init.push_back("postgres");
      auto i = Run(init, o);
      if (!i.ok() || !i->Success()) s = Internal("pgbench -i failed: " + (i.ok() ? i->output : i.status().message()));
    }
    std::vector<Sample> samples;
    for (const std::string workload : {"tpcb", "select-only"}) {
      if (!s.ok()) break;
      Sample smp;
      smp.workload = workload;
      std::atomic<bool> stop{false};
      std::thread watcher([&] { Watch(b.sandbox(), stop, &smp.obs); });
      std::vector<std::string> run = {pgbin + "/pgbench",     "-c", std::to_string(clients), "-j", "2", "-T",
                                      std::to_string(seconds)};
      if (workload == "select-only") run.push_back("-S");
      run.insert(run.end(), conn.begin(), conn.end());
      run.push_back("postgres");
      auto p = Run(run, o);
      stop = true;
      watcher.join();
      // pgbench fails when its server goes away: that is itself a leader change, already counted by the watcher.
      std::smatch mt;
      if (p.ok() && std::regex_search(p->output, mt, std::regex("tps = ([0-9.]+)"))) smp.tps = std::stod(mt[1]);
      std::fprintf(stderr, "ttl %d, %s: %.0f tps, %d leader changes, %d timeline changes\n", ttl, workload.c_str(),
                   smp.tps, smp.obs.leader_changes, smp.obs.timeline_changes);
      for (const auto& e : smp.obs.events) std::fprintf(stderr, "  %s\n", e.c_str());
      samples.push_back(smp);
    }
    bool spurious = false;
    for (const auto& x : samples) spurious = spurious || x.obs.leader_changes + x.obs.timeline_changes > 0;
    b.Stop(!s.ok() || spurious);
    if (!s.ok()) failure += "ttl " + std::to_string(ttl) + ": " + s.message() + "\n";
    results.emplace_back(ttl, samples);
  }
  std::printf(
      "\nSpurious leader changes under CPU-saturating pgbench (%d clients, %d s per workload; loop_wait 1, "
      "retry_timeout 1, 0.5 at ttl 2)\n",
      clients, seconds);
  std::printf("%-8s %-12s %10s %16s %18s\n", "ttl", "workload", "tps", "leader changes", "timeline changes");
  for (const auto& [ttl, samples] : results) {
    for (const auto& x : samples) {
      std::printf("%-8d %-12s %10.0f %16d %18d\n", ttl, x.workload.c_str(), x.tps, x.obs.leader_changes,
                  x.obs.timeline_changes);
    }
  }
  if (!failure.empty()) std::printf("errors:\n%s", failure.c_str());
  return failure.empty() ? 0 : 1;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
