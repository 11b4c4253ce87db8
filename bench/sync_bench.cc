// The cost of synchronous replication: pgbench (TPC-B-like, scale 5, 4 clients, 15 s) against the primary of a
// 3-node cluster with synchronous_mode off, on and strict, in the same run.
//
//   sync_bench [--seconds N] [--dir DIR]
#include <regex>

#include "bench_util.h"
#include "common/config.h"

namespace pgw {
namespace {

struct Result2 {
  double tps = 0, latency_ms = 0;
  std::string error;
};

int Main(int argc, char** argv) {
  int seconds = 15;
  std::string dir = "/tmp/pgwarden-sync-bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) seconds = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: sync_bench [--seconds N] [--dir DIR]\n");
      return 2;
    }
  }
  if (seconds < 1 || seconds > 600) {
    std::fprintf(stderr, "sync_bench: --seconds must be between 1 and 600\n");
    return 2;
  }
  Logger log(stderr, LogLevel::kWarning);
  std::string bin = SelfDir() + "/../apps/pgwarden";
  std::string pgbin = FindPostgresBinDir(ProcessEnvironment());
  std::vector<System> modes = {
      {"synchronous_mode off", bin, 5, 1, 2, ""},
      {"synchronous_mode on", bin, 5, 1, 2, "    synchronous_mode: true\n"},
      {"synchronous_mode strict", bin, 5, 1, 2, "    synchronous_mode: true\n    synchronous_mode_strict: true\n"}};
  std::vector<std::pair<std::string, Result2>> out;
  int idx = 0;
  for (const auto& m : modes) {
    Result2 r;
    std::string sdir = dir + "/" + std::to_string(idx++);
    RemoveAll(sdir).ok();
    Bench b(m, sdir, log);
    Status s = b.Start();
    std::string leader = s.ok() ? b.Leader() : "";
    if (s.ok() && m.extra_dcs.find("synchronous_mode: true") != std::string::npos) {
      // Wait until a synchronous standby is in place, so the run measures synchronous commits.
      if (!WaitUntil(Duration(30000), [&] {
            return Query(b.sandbox().Conninfo(leader),
                         "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "1";
          })) {
        s = Unavailable("no synchronous standby appeared");
      }
    }
    if (s.ok()) {
      const SandboxNode* n = b.sandbox().Node(leader);
      ProcessOptions o;
      o.env_set["PGPASSWORD"] = Sandbox::kSuperuserPassword;
      o.timeout = Duration(600000);
      std::vector<std::string> conn = {"-h", "127.0.0.1", "-p", std::to_string(n->pg_port), "-U", "postgres"};
      std::vector<std::string> init = {pgbin + "/pgbench", "-i", "-s", "5", "-q"};
      init.insert(init.end(), conn.begin(), conn.end());
      init.push_back("postgres");
      auto i = Run(init, o);
      if (!i.ok() || !i->Success()) {
        s = Internal("pgbench -i failed: " + (i.ok() ? i->output : i.status().message()));
      } else {
        std::vector<std::string> run = {pgbin + "/pgbench", "-c", "4", "-j", "2", "-T", std::to_string(seconds)};
        run.insert(run.end(), conn.begin(), conn.end());
        run.push_back("postgres");
        auto p = Run(run, o);
        if (!p.ok() || !p->Success()) {
          s = Internal("pgbench failed: " + (p.ok() ? p->output : p.status().message()));
        } else {
          std::smatch mt;
          if (std::regex_search(p->output, mt, std::regex("latency average = ([0-9.]+) ms"))) {
            r.latency_ms = std::stod(mt[1]);
          }
          if (std::regex_search(p->output, mt, std::regex("tps = ([0-9.]+)"))) r.tps = std::stod(mt[1]);
        }
      }
    }
    if (!s.ok()) r.error = s.message();
    b.Stop(!s.ok());
    out.emplace_back(m.label, r);
    std::fprintf(stderr, "%s: %.0f tps, %.2f ms\n", m.label.c_str(), r.tps, r.latency_ms);
  }
  std::printf("\npgbench TPC-B-like, scale 5, 4 clients, %d s, against the primary\n", seconds);
  std::printf("%-26s %10s %14s %12s\n", "mode", "tps", "latency (ms)", "tps ratio");
  double base = out.empty() ? 0 : out[0].second.tps;
  bool ok = true;
  for (const auto& [label, r] : out) {
    if (!r.error.empty()) {
      std::printf("%-26s error: %s\n", label.c_str(), r.error.c_str());
      ok = false;
      continue;
    }
    std::printf("%-26s %10.0f %14.2f %11.2fx\n", label.c_str(), r.tps, r.latency_ms, base > 0 ? r.tps / base : 0);
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
