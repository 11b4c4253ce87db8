// The cost of synchronous replication: pgbench (TPC-B-like, scale 5, 4 clients) against the primary of one
// 3-node cluster, switched between synchronous_mode off, on and strict through PATCH /config, the modes in
// rotation so that drift of the machine affects each alike; medians and ratios against "off".
//
//   sync_bench [--seconds N] [--repeats R] [--dir DIR]     (defaults: 15 s, 3 runs per mode)
#include <regex>

#include "bench_util.h"
#include "common/config.h"

namespace pgw {
namespace {

struct Sample {
  double tps = 0, latency_ms = 0;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Mode {
  std::string label;
  std::string patch;  // PATCH /config body
  bool sync;
};

// Switches the cluster's mode through PATCH /config on the leader and waits until PostgreSQL runs it.
Status SwitchMode(Bench& b, const std::string& leader, const Mode& m) {
  const SandboxNode* n = b.sandbox().Node(leader);
  HttpClient http;
  HttpRequest req;
  req.method = "PATCH";
  req.url = "http://127.0.0.1:" + std::to_string(n->api_port) + "/config";
  req.body = m.patch;
  req.headers["Content-Type"] = "application/json";
  auto r = http.Do(req);
  if (!r.ok()) return r.status().Context("PATCH /config");
  if (r->status != 200) return Internal("PATCH /config answered " + std::to_string(r->status) + ": " + r->body);
  std::string conn = b.sandbox().Conninfo(leader);
  bool ok = WaitFor(
      [&] {
        if (!m.sync) return Query(conn, "SHOW synchronous_standby_names").empty();
        return Query(conn, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "1";
      },
      Duration(60000), kBenchPoll);
  return ok ? Status::Ok() : Timeout("the cluster did not reach \"" + m.label + "\" within 60 s");
}

int Main(int argc, char** argv) {
  int seconds = 15, repeats = 3;
  std::string dir = "/tmp/pgwarden-sync-bench";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc)
      seconds = std::atoi(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc)
      repeats = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else {
      std::fprintf(stderr, "usage: sync_bench [--seconds N] [--repeats R] [--dir DIR]\n");
      return 2;
    }
  }
  if (seconds < 1 || seconds > 600 || repeats < 1 || repeats > 20) {
    std::fprintf(stderr, "sync_bench: --seconds must be between 1 and 600, --repeats between 1 and 20\n");
    return 2;
  }
  Logger log(stderr, LogLevel::kWarning);
  std::string bin = SelfDir() + "/../apps/pgwarden";
  std::string pgbin = FindPostgresBinDir(ProcessEnvironment());
  const std::vector<Mode> modes = {
      {"synchronous_mode off", R"({"synchronous_mode": false, "synchronous_mode_strict": false})", false},
      {"synchronous_mode on", R"({"synchronous_mode": true, "synchronous_mode_strict": false})", true},
      {"synchronous_mode strict", R"({"synchronous_mode": true, "synchronous_mode_strict": true})", true}};
  RemoveAll(dir).ok();
  Bench b({"pgwarden", bin, 5, 1, 2, ""}, dir, log);
  Status s = b.Start();
  std::string leader = s.ok() ? b.Leader() : "";
  if (s.ok() && leader.empty()) s = Unavailable("no leader");
  std::vector<std::string> conn;
  ProcessOptions o;
  o.env_set["PGPASSWORD"] = Sandbox::kSuperuserPassword;
  o.timeout = Duration(600000);
  if (s.ok()) {
    conn = {"-h", "127.0.0.1", "-p", std::to_string(b.sandbox().Node(leader)->pg_port), "-U", "postgres"};
    std::vector<std::string> init = {pgbin + "/pgbench", "-i", "-s", "5", "-q"};
    init.insert(init.end(), conn.begin(), conn.end());
    init.push_back("postgres");
    auto i = Run(init, o);
    if (!i.ok() || !i->Success()) s = Internal("pgbench -i failed: " + (i.ok() ? i->output : i.status().message()));
  }
  // Modes in rotation, `repeats` times, so that drift of the machine affects every mode alike.
  std::map<std::string, std::vector<Sample>> samples;
  for (int rep = 0; s.ok() && rep < repeats; ++rep) {
    for (const auto& m : modes) {
      s = SwitchMode(b, leader, m);
      if (!s.ok()) break;
      std::vector<std::string> run = {pgbin + "/pgbench", "-c", "4", "-j", "2", "-T", std::to_string(seconds)};
      run.insert(run.end(), conn.begin(), conn.end());
      run.push_back("postgres");
      auto p = Run(run, o);
      if (!p.ok() || !p->Success()) {
        s = Internal("pgbench failed: " + (p.ok() ? p->output : p.status().message()));
        break;
      }
      Sample smp;
      std::smatch mt;
      if (std::regex_search(p->output, mt, std::regex("latency average = ([0-9.]+) ms"))) {
        smp.latency_ms = std::stod(mt[1]);
      }
      if (std::regex_search(p->output, mt, std::regex("tps = ([0-9.]+)"))) smp.tps = std::stod(mt[1]);
      samples[m.label].push_back(smp);
      std::fprintf(stderr, "round %d, %s: %.0f tps, %.2f ms\n", rep + 1, m.label.c_str(), smp.tps, smp.latency_ms);
    }
  }
  b.Stop(!s.ok());
  if (!s.ok()) {
    std::printf("sync_bench: %s\n", s.message().c_str());
    return 1;
  }
  std::printf(
      "\npgbench TPC-B-like, scale 5, 4 clients, %d s per run, %d runs per mode in rotation, one 3-node "
      "cluster; medians\n",
      seconds, repeats);
  std::printf("%-26s %10s %14s %12s %16s\n", "mode", "tps", "latency (ms)", "tps ratio", "latency ratio");
  auto med = [&](const std::string& label, bool tps) {
    std::vector<double> v;
    for (const auto& x : samples[label]) v.push_back(tps ? x.tps : x.latency_ms);
    return Median(v);
  };
  double base_tps = med(modes[0].label, true), base_lat = med(modes[0].label, false);
  for (const auto& m : modes) {
    double tps = med(m.label, true), lat = med(m.label, false);
    std::printf("%-26s %10.0f %14.2f %11.2fx %15.2fx\n", m.label.c_str(), tps, lat, base_tps > 0 ? tps / base_tps : 0,
                base_lat > 0 ? lat / base_lat : 0);
  }
  return 0;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
