// Router benchmark: what pgwarden-router costs next to connecting directly and next to HAProxy (TCP mode, checking
// each node's /primary, Patroni's documented setup), on one 3-node sandbox cluster in one run:
//   - pgbench select-only (-S) and TPC-B-like, at 1, 16 and 64 clients by default, each cell run directly against
//     the primary, through the router's write port and through HAProxy's write port, in that order, one after the
//     other; printed as transactions per second, the ratio to direct, and the latency each adds per transaction
//     (pgbench's average latency minus direct's), and each proxy's CPU time per transaction (user + system, all its
//     threads: what forwarding costs, whatever else the machine runs); --repeat N runs the three N times over,
//     interleaved, and prints medians;
//   - a crash-failover row: the leader's machine is killed (agent, fence supervisor, postmaster) while three write
//     probes run, one through the router, one on a libpq multi-host connection string
//     (target_session_attrs=read-write) and one through HAProxy; the longest stretch without an acknowledged write
//     each saw, and acknowledged writes the new primary does not have.
// Every cell is bounded (--seconds each). The figures depend on how busy the machine is: the load average at the
// start is printed with them.
//
//   router_bench [--seconds N] [--clients 1,16,64] [--scale N] [--workers N] [--repeat N] [--router-arg ARG]...
//                [--dir DIR] [--no-haproxy]
//                [--no-failover] [--no-tpcb] [--keep]
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "bench_util.h"

namespace pgw {
namespace {

struct Options {
  int seconds = 10;
  std::vector<int> clients = {1, 16, 64};
  int scale = 10;
  int workers = 0;  // router workers; 0: the number of cores
  // Rounds per cell: direct, router and HAProxy run one after the other, `repeat` times over; each column shows the
  // median (a compile burst on a shared machine hits one round, not one column).
  int repeat = 1;
  std::vector<std::string> router_args;  // --router-arg, repeatable: passed to pgwarden-router as they are
  std::string dir = "/tmp/pgwarden-router-bench";
  bool haproxy = true, failover = true, tpcb = true, keep = false;
};

struct Cell {
  double tps = 0;
  double latency_ms = 0;
  double cpu_us_per_tx = -1;  // the proxy's CPU time (user + system, all threads) per transaction; < 0: not measured
  std::string error;
};

// User + system CPU time of process `pid` (all its threads), in microseconds; -1 when unreadable.
double CpuUs(pid_t pid) {
  if (pid <= 0) return -1;
  auto t = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!t.ok()) return -1;
  size_t close_paren = t->rfind(')');  // the command name may hold spaces
  if (close_paren == std::string::npos) return -1;
  std::istringstream in(t->substr(close_paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  // Fields 3.. after the name: state is 3, utime 14, stime 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) stime = std::atof(field.c_str());
  }
  return (utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The median of each column over rounds (tps, latency and CPU each on their own); the first error wins.
Cell Median(const std::vector<Cell>& rounds) {
  Cell out;
  std::vector<double> tps, lat, cpu;
  for (const Cell& c : rounds) {
    if (!c.error.empty()) return c;
    tps.push_back(c.tps);
    lat.push_back(c.latency_ms);
    if (c.cpu_us_per_tx >= 0) cpu.push_back(c.cpu_us_per_tx);
  }
  auto med = [](std::vector<double> v) {
    if (v.empty()) return -1.0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  out.tps = med(tps);
  out.latency_ms = med(lat);
  out.cpu_us_per_tx = med(cpu);
  return out;
}

std::string PgbenchBin() {
  for (const char* p : {"/usr/lib/postgresql/15/bin/pgbench", "/usr/bin/pgbench"}) {
    if (PathExists(p)) return p;
  }
  return "pgbench";
}

ProcessOptions PgEnv(Duration timeout) {
  ProcessOptions o;
  o.env_set["PGPASSWORD"] = Sandbox::kSuperuserPassword;
  o.env_set["PGCONNECT_TIMEOUT"] = "10";
  o.timeout = timeout;
  return o;
}

// One pgbench run against 127.0.0.1:port; tps excludes the initial connections.
Cell Pgbench(int port, bool select_only, int clients, int seconds) {
  int threads = std::max(1, std::min<int>(clients, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN))));
  std::vector<std::string> argv = {PgbenchBin(),
                                   "-h",
                                   "127.0.0.1",
                                   "-p",
                                   std::to_string(port),
                                   "-U",
                                   "postgres",
                                   "-n",
                                   "-c",
                                   std::to_string(clients),
                                   "-j",
                                   std::to_string(threads),
                                   "-T",
                                   std::to_string(seconds)};
  if (select_only) argv.push_back("-S");
  argv.push_back("postgres");
  Cell c;
  auto r = Run(argv, PgEnv(Duration((seconds + 60) * 1000)));
  if (!r.ok() || !r->Success()) {
    c.error = r.ok() ? r->Describe() + ": " + r->output.substr(r->output.size() > 300 ? r->output.size() - 300 : 0)
                     : r.status().message();
    return c;
  }
  std::smatch m;
  static const std::regex kTps(R"(tps = ([0-9.]+) \(without initial connection time\))");
  static const std::regex kLat(R"(latency average = ([0-9.]+) ms)");
  if (std::regex_search(r->output, m, kTps)) c.tps = std::stod(m[1]);
  if (std::regex_search(r->output, m, kLat)) c.latency_ms = std::stod(m[1]);
  if (c.tps <= 0) c.error = "no tps in pgbench's output: " + r->output.substr(0, 300);
  return c;
}

std::string LoadAverage() {
  auto t = ReadFile("/proc/loadavg");
  if (!t.ok()) return "?";
  std::istringstream in(*t);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// pgwarden-router as its own process on free ports, reading the sandbox's etcd.
class RouterProcess {
 public:
  Status Start(const std::string& bin, const Sandbox& sb, const std::string& dir, int workers,
               const std::vector<std::string>& extra) {
    auto ports = FreePorts(3);
    if (!ports.ok()) return ports.status();
    write_port_ = (*ports)[0];
    admin_port_ = (*ports)[2];
    std::vector<std::string> argv = {bin,
                                     "--dcs-url",
                                     "http://" + sb.EtcdEndpoint(),
                                     "--scope",
                                     "bench",
                                     "--listen-write",
                                     "127.0.0.1:" + std::to_string(write_port_),
                                     "--listen-read",
                                     "127.0.0.1:" + std::to_string((*ports)[1]),
                                     "--listen-admin",
                                     "127.0.0.1:" + std::to_string(admin_port_),
                                     "--log-level",
                                     "WARNING"};
    if (workers > 0) argv.insert(argv.end(), {"--workers", std::to_string(workers)});
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto pid = StartDetached(argv, dir + "/router.log");
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    return Status::Ok();
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    if (!WaitFor([&] { return Reap(pid_); }, Duration(5000), kBenchPoll)) {
      kill(pid_, SIGKILL);
      WaitFor([&] { return Reap(pid_); }, Duration(5000), kBenchPoll);
    }
    pid_ = 0;
  }
  ~RouterProcess() { Stop(); }
  int write_port() const { return write_port_; }
  pid_t pid() const { return pid_; }
  Json Stats() const {
    HttpClient http;
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(admin_port_) + "/stats";
    auto r = http.Do(req);
    if (!r.ok() || r->status != 200) return Json();
    return Json::parse(r->body, nullptr, false);
  }

 private:
  pid_t pid_ = 0;
  int write_port_ = 0, admin_port_ = 0;
};

struct Gap {
  std::string label;
  Duration gap{0};
  size_t lost = 0;
  std::string error;
};

// Kills the leader's machine while one write probe per connection string runs; the longest gap each saw.
std::vector<Gap> CrashGaps(Bench& b, const std::vector<std::pair<std::string, std::string>>& targets) {
  std::vector<Gap> out;
  std::string leader = b.Leader();
  if (leader.empty()) return {{"", Duration(0), 0, "no writable leader before the crash"}};
  std::vector<std::unique_ptr<WriteProbe>> probes;
  int64_t base = 1000000000;
  for (size_t i = 0; i < targets.size(); ++i) {
    probes.push_back(
        std::make_unique<WriteProbe>(targets[i].second, "bench", base * static_cast<int64_t>(i + 1), Duration(10)));
    probes.back()->Start();
  }
  bool ready = WaitFor(
      [&] {
        for (auto& p : probes) {
          if (p->Acks().size() < 20) return false;
        }
        return true;
      },
      Duration(30000), kBenchPoll);
  if (!ready) {
    for (auto& p : probes) p->Stop();
    return {{"", Duration(0), 0, "a probe could not write before the crash"}};
  }
  Sandbox& sb = b.sandbox();
  const SandboxNode* n = sb.Node(leader);
  int old_port = n->pg_port;
  auto pm = sb.PostmasterPid(leader);
  MonoTime crash = Now();
  kill(n->pid, SIGKILL);
  for (pid_t p : FenceSupervisorsOf(n->data_dir)) kill(p, SIGKILL);
  if (pm) kill(*pm, SIGKILL);
  sb.SignalNode(leader, SIGKILL, true, Duration(10000)).ok();
  WaitFor(
      [&] {
        for (auto& p : probes) {
          auto acks = p->Acks();
          if (acks.empty() || acks.back().at <= crash || acks.back().server_port == old_port) return false;
        }
        return true;
      },
      Duration(120000), kBenchPoll);
  std::this_thread::sleep_for(Duration(1000));
  for (auto& p : probes) p->Stop();
  std::string fresh = b.Leader();
  for (size_t i = 0; i < targets.size(); ++i) {
    Gap g;
    g.label = targets[i].first;
    auto acks = probes[i]->Acks();
    if (acks.empty() || acks.back().at <= crash || acks.back().server_port == old_port) {
      g.error = "writes did not resume within 120 s";
    } else {
      g.gap = WriteProbe::LongestGap(acks, crash - Duration(1000), acks.back().at);
      auto missing = WriteProbe::Missing(sb.Conninfo(fresh), "bench", acks);
      if (missing.ok())
        g.lost = missing->size();
      else
        g.error = missing.status().message();
    }
    out.push_back(g);
  }
  return out;
}

std::string Ratio(const Cell& c, const Cell& direct) {
  if (!c.error.empty()) return "error";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%9.0f (%.2fx)", c.tps, c.tps / std::max(direct.tps, 1e-9));
  return buf;
}

std::string Cpu(const Cell& c) {
  if (!c.error.empty() || c.cpu_us_per_tx < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f us", c.cpu_us_per_tx);
  return buf;
}

std::string Added(const Cell& c, const Cell& direct) {
  if (!c.error.empty() || !direct.error.empty()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.0f us", (c.latency_ms - direct.latency_ms) * 1000.0);
  return buf;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has = i + 1 < argc;
    if (a == "--seconds" && has)
      o->seconds = std::atoi(argv[++i]);
    else if (a == "--scale" && has)
      o->scale = std::atoi(argv[++i]);
    else if (a == "--workers" && has)
      o->workers = std::atoi(argv[++i]);
    else if (a == "--repeat" && has)
      o->repeat = std::atoi(argv[++i]);
    else if (a == "--router-arg" && has)
      o->router_args.push_back(argv[++i]);
    else if (a == "--dir" && has)
      o->dir = argv[++i];
    else if (a == "--clients" && has) {
      o->clients.clear();
      std::stringstream in(argv[++i]);
      std::string item;
      while (std::getline(in, item, ',')) o->clients.push_back(std::atoi(item.c_str()));
    } else if (a == "--no-haproxy")
      o->haproxy = false;
    else if (a == "--no-failover")
      o->failover = false;
    else if (a == "--no-tpcb")
      o->tpcb = false;
    else if (a == "--keep")
      o->keep = true;
    else
      return false;
  }
  if (o->seconds < 1 || o->seconds > 3600 || o->scale < 1 || o->scale > 1000 || o->workers < 0 || o->repeat < 1 ||
      o->repeat > 20) {
    return false;
  }
  for (int c : o->clients) {
    if (c < 1 || c > 150) return false;
  }
  return !o->clients.empty();
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: router_bench [--seconds N] [--clients 1,16,64] [--scale N] [--workers N] [--repeat N] "
                 "[--router-arg ARG]... [--dir DIR] [--no-haproxy] [--no-failover] [--no-tpcb] [--keep]\n(clients "
                 "1..150 each, repeat 1..20)\n");
    return 2;
  }
  o.haproxy = o.haproxy && PathExists("/usr/sbin/haproxy");
  Logger log(stderr, LogLevel::kWarning);
  RemoveAll(o.dir).ok();
  std::string load_before = LoadAverage();
  // Room for the largest cell's clients plus the probes and the agents' own connections.
  int max_clients = *std::max_element(o.clients.begin(), o.clients.end());
  System sys{"pgwarden", SelfDir() + "/../apps/pgwarden", 5, 1, 2, ""};
  sys.max_connections = std::max(50, max_clients + 30);
  Bench b(sys, o.dir, log);
  Status s = b.Start();
  RouterProcess router;
  int haproxy_port = 0;
  std::string leader;
  if (s.ok()) {
    leader = b.Leader();
    if (leader.empty()) s = Unavailable("no writable leader");
  }
  if (s.ok()) {
    auto init = Run({PgbenchBin(), "-i", "-q", "-s", std::to_string(o.scale), "-h", "127.0.0.1", "-p",
                     std::to_string(b.sandbox().Node(leader)->pg_port), "-U", "postgres", "postgres"},
                    PgEnv(Duration(600000)));
    if (!init.ok() || !init->Success()) {
      s = Unavailable("pgbench -i: " + (init.ok() ? init->output : init.status().message()));
    }
  }
  if (s.ok()) s = router.Start(SelfDir() + "/../apps/pgwarden-router", b.sandbox(), o.dir, o.workers, o.router_args);
  if (s.ok() && !WaitFor([&] { return Query(b.ConninfoVia(router.write_port()), "SELECT pg_is_in_recovery()") == "f"; },
                         Duration(30000), kBenchPoll)) {
    s = Unavailable("the router never reached the leader");
  }
  if (s.ok() && o.haproxy) {
    auto port = b.StartHaproxy(1000);
    if (!port.ok())
      s = port.status();
    else
      haproxy_port = *port;
    auto answers = [&] { return Query(b.ConninfoVia(haproxy_port), "SELECT 1") == "1"; };
    if (s.ok() && !WaitFor(answers, Duration(30000), kBenchPoll)) {
      s = Unavailable("HAProxy never routed to the leader");
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "router_bench: %s\n", s.message().c_str());
    router.Stop();
    b.Stop(true);
    return 1;
  }

  int cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  int direct_port = b.sandbox().Node(leader)->pg_port;
  std::printf("pgbench, %d s per cell%s, scale %d, %d cores, router workers %d; load average at the start: %s\n",
              o.seconds,
              o.repeat > 1 ? (", median of " + std::to_string(o.repeat) + " interleaved rounds").c_str() : "", o.scale,
              cores, o.workers > 0 ? o.workers : cores, load_before.c_str());
  std::printf("%-12s %7s %10s %18s %10s %10s %18s %10s %10s\n", "workload", "clients", "direct tps", "router tps (x)",
              "router +lat", "router cpu", "HAProxy tps (x)", "HAProxy +lat", "HAProxy cpu");
  bool failed = false;
  std::vector<bool> workloads = {true};
  if (o.tpcb) workloads.push_back(false);
  for (bool select_only : workloads) {
    for (int c : o.clients) {
      // A proxy's cell with its CPU time per transaction (the proxy serves nothing else meanwhile).
      auto through = [&](int port, pid_t pid) {
        double before = CpuUs(pid);
        Cell x = Pgbench(port, select_only, c, o.seconds);
        double after = CpuUs(pid);
        if (x.error.empty() && before >= 0 && after >= before && x.tps > 0) {
          x.cpu_us_per_tx = (after - before) / (x.tps * o.seconds);
        }
        return x;
      };
      std::vector<Cell> directs, routers, haproxies;
      for (int round = 0; round < o.repeat; ++round) {
        directs.push_back(Pgbench(direct_port, select_only, c, o.seconds));
        routers.push_back(through(router.write_port(), router.pid()));
        if (o.haproxy) haproxies.push_back(through(haproxy_port, b.haproxy_pid()));
      }
      Cell direct = Median(directs);
      Cell via_router = Median(routers);
      Cell via_haproxy;
      if (o.haproxy)
        via_haproxy = Median(haproxies);
      else
        via_haproxy.error = "not run";
      for (const Cell* x : {&direct, &via_router, &via_haproxy}) {
        if (!x->error.empty() && x->error != "not run") {
          std::fprintf(stderr, "pgbench: %s\n", x->error.c_str());
          failed = true;
        }
      }
      char dt[32];
      std::snprintf(dt, sizeof dt, "%10.0f", direct.tps);
      std::printf("%-12s %7d %10s %18s %10s %10s %18s %10s %10s\n", select_only ? "select-only" : "tpc-b", c,
                  direct.error.empty() ? dt : "error", Ratio(via_router, direct).c_str(),
                  Added(via_router, direct).c_str(), Cpu(via_router).c_str(),
                  o.haproxy ? Ratio(via_haproxy, direct).c_str() : "-",
                  o.haproxy ? Added(via_haproxy, direct).c_str() : "-", o.haproxy ? Cpu(via_haproxy).c_str() : "-");
      std::fflush(stdout);
    }
  }

  if (o.failover) {
    std::vector<std::pair<std::string, std::string>> targets = {
        {"through pgwarden-router", b.ConninfoVia(router.write_port())}, {"libpq multi-host client", b.multi()}};
    if (o.haproxy) targets.push_back({"through HAProxy (1 s checks)", b.ConninfoVia(haproxy_port)});
    auto gaps = CrashGaps(b, targets);
    std::printf("\nCrash-failover (the leader's machine killed; ttl 5, loop_wait 1): longest write gap\n");
    for (const auto& g : gaps) {
      if (!g.error.empty()) {
        std::printf("  %-30s error: %s\n", g.label.c_str(), g.error.c_str());
        failed = true;
        continue;
      }
      std::printf("  %-30s %6lld ms   lost %zu\n", g.label.c_str(), static_cast<long long>(g.gap.count()), g.lost);
    }
    Json st = router.Stats();
    if (st.is_object() && st["topology"].is_object() && !st["topology"]["reroute_ms"].is_null()) {
      std::printf("  router: first connection on the new leader %s ms after the leader key changed\n",
                  st["topology"]["reroute_ms"].dump().c_str());
    }
  }
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  router.Stop();
  b.Stop(o.keep || failed);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
