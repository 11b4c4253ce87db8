// Idle cost: CPU and memory of each node's agent in a healthy, idle 3-node cluster while HAProxy health-checks
// every node's REST API twice a second (a write port checked on /primary, a read port on /replica), as a
// Patroni + HAProxy deployment runs it. pgwarden, then the real Patroni on the same configuration files.
//
// CPU is read from /proc/PID/stat (user + system time of every thread, in clock ticks) over the measuring
// window; for pgwarden the fence supervisor process is counted with its agent.
//
//   idle_bench [--seconds N] [--dir DIR] [--no-patroni] [--ttl S]
#include <unistd.h>

#include "bench_util.h"
#include "common/config.h"

namespace pgw {
namespace {

// utime + stime of a process (all its threads, live or exited), in clock ticks; -1 when it is gone.
long CpuTicks(pid_t pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text.ok()) return -1;
  size_t close = text->rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return -1;
  std::vector<std::string> f;
  size_t at = close + 2;
  while (at < text->size() && f.size() < 15) {
    size_t sp = text->find(' ', at);
    if (sp == std::string::npos) sp = text->size();
    f.push_back(text->substr(at, sp - at));
    at = sp + 1;
  }
  if (f.size() < 13) return -1;
  // After the name: state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15).
  return std::atol(f[11].c_str()) + std::atol(f[12].c_str());
}

std::vector<pid_t> AgentPids(const SandboxNode& n) {
  std::vector<pid_t> pids = FenceSupervisorsOf(n.data_dir);
  pids.push_back(n.pid);
  return pids;
}

struct Result_ {
  std::string label;
  double core_percent = 0;  // per agent, averaged over the nodes
  double max_core_percent = 0;
  MemKb mem;
  std::string error;
};

Result_ Measure(const System& sys, const std::string& dir, int seconds, Logger& log) {
  Result_ r;
  r.label = sys.label;
  RemoveAll(dir).ok();
  Bench b(sys, dir, log);
  Status s = b.Start();
  if (s.ok()) {
    auto port = b.StartHaproxy(500, /*with_read_port=*/true);
    if (!port.ok()) s = port.status();
  }
  if (!s.ok()) {
    r.error = s.message();
    b.Stop(true);
    return r;
  }
  // Let the start-up work (basebackups, first checkpoints, HAProxy's first checks) settle.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  std::vector<std::vector<pid_t>> pids;
  std::vector<long> before;
  for (const auto& n : b.sandbox().nodes()) {
    pids.push_back(AgentPids(n));
    long t = 0;
    for (pid_t p : pids.back()) t += std::max(0L, CpuTicks(p));
    before.push_back(t);
  }
  MonoTime start = Now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double wall = static_cast<double>((Now() - start).count()) / 1000.0;
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (size_t i = 0; i < pids.size(); ++i) {
    long t = 0;
    for (pid_t p : pids[i]) {
      long c = CpuTicks(p);
      if (c < 0) r.error = "an agent process exited during the measurement";
      t += std::max(0L, c);
    }
    double pct = 100.0 * static_cast<double>(t - before[i]) / hz / wall;
    total += pct;
    r.max_core_percent = std::max(r.max_core_percent, pct);
  }
  r.core_percent = total / static_cast<double>(pids.size());
  r.mem = b.AgentMemory();
  b.Stop(!r.error.empty());
  return r;
}

int Main(int argc, char** argv) {
  int seconds = 120;
  int ttl = 3;
  std::string dir = "/tmp/pgwarden-idle-bench";
  bool patroni = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc)
      seconds = std::atoi(argv[++i]);
    else if (a == "--ttl" && i + 1 < argc)
      ttl = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--no-patroni")
      patroni = false;
    else {
      std::fprintf(stderr, "usage: idle_bench [--seconds N] [--dir DIR] [--no-patroni] [--ttl S]\n");
      return 2;
    }
  }
  if (seconds < 10 || seconds > 3600 || ttl < 3 || ttl > 60) {
    std::fprintf(stderr, "idle_bench: --seconds must be 10-3600, --ttl 3-60\n");
    return 2;
  }
  Logger log(stderr, LogLevel::kWarning);
  double retry = ttl >= 5 ? 2 : ttl >= 3 ? 1 : 0.5;
  std::string timing = "ttl " + std::to_string(ttl) + ", loop 1, retry " + FormatSeconds(retry);
  std::vector<System> systems = {{"pgwarden (" + timing + ")", SelfDir() + "/../apps/pgwarden", ttl, 1, retry, ""}};
  if (patroni && PathExists("/usr/bin/patroni")) {
    systems.push_back({"Patroni baseline (" + timing + ")", "/usr/bin/patroni", ttl, 1, retry, ""});
  } else if (patroni) {
    std::fprintf(stderr, "note: /usr/bin/patroni not found (apt-get install patroni): no Patroni baseline\n");
  }
  std::vector<Result_> out;
  for (size_t i = 0; i < systems.size(); ++i) {
    out.push_back(Measure(systems[i], dir + "/" + std::to_string(i), seconds, log));
  }
  std::printf("\nIdle cost per agent, %d s, HAProxy checking /primary and /replica on every node every 500 ms\n",
              seconds);
  std::printf("%-40s %12s %12s %11s %13s\n", "system", "CPU (core)", "max node", "agent RSS", "agent private");
  for (const auto& r : out) {
    if (!r.error.empty()) {
      std::printf("%-40s error: %s\n", r.label.c_str(), r.error.c_str());
      continue;
    }
    std::printf("%-40s %11.3f%% %11.3f%% %8ld kB %10ld kB\n", r.label.c_str(), r.core_percent, r.max_core_percent,
                r.mem.rss, r.mem.private_kb);
  }
  if (out.size() == 2 && out[0].error.empty() && out[1].error.empty() && out[1].core_percent > 0) {
    std::printf("pgwarden: %.2fx the baseline's CPU, %.2fx its private memory\n",
                out[0].core_percent / out[1].core_percent,
                static_cast<double>(out[0].mem.private_kb) / static_cast<double>(std::max(1L, out[1].mem.private_kb)));
  }
  bool ok = std::all_of(out.begin(), out.end(), [](const Result_& r) { return r.error.empty(); });
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
