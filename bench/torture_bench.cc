// Failover torture: crash rounds under a stream of numbered inserts, with synchronous_mode on and off. Each round
// injects one fault into the current leader (SIGKILL of the postmaster, of the agent, of both with its fence
// supervisor, SIGSTOP of the agent, or etcd frozen), waits until writes resume, then checks that every
// acknowledged row is on the primary and that the client never saw writes accepted by the old primary after the
// new one (no split brain), and restores the cluster before the next round.
//
//   torture_bench [--rounds N] [--dir DIR] [--only-sync]   (N rounds per mode, faults in rotation; default 20)
#include "bench_util.h"

namespace pgw {
namespace {

const std::vector<std::string> kFaults = {"kill-postmaster", "kill-agent", "kill-both", "sigstop-agent",
                                          "stop-etcd"};

struct Tally {
  int rounds = 0;
  size_t acked = 0, lost = 0;
  int split_brain = 0;
  std::vector<Duration> gaps;
  std::string error;
};

// Acks in time order: once the client wrote through a new server, an older server must never acknowledge again.
int SplitBrainViolations(const std::vector<ProbeAck>& acks) {
  std::vector<int> order;
  int violations = 0;
  for (const auto& a : acks) {
    if (!order.empty() && order.back() == a.server_port) continue;
    if (std::find(order.begin(), order.end(), a.server_port) != order.end()) ++violations;
    order.push_back(a.server_port);
  }
  return violations;
}

// Whether some member answers 200 on GET /sync: a synchronous standby is published in the `sync` key.
bool SyncStandbyPublished(Sandbox& sb) {
  HttpClient http;
  for (const auto& n : sb.nodes()) {
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(n.api_port) + "/sync";
    auto r = http.Do(req);
    if (r.ok() && r->status == 200) return true;
  }
  return false;
}

// Every node's agent log written since `offsets` were taken, into `path` (so that a slow round can be explained).
std::map<std::string, size_t> LogOffsets(Sandbox& sb) {
  std::map<std::string, size_t> out;
  for (const auto& n : sb.nodes()) {
    auto text = ReadFile(n.log_path);
    out[n.name] = text.ok() ? text->size() : 0;
  }
  return out;
}

void SaveRoundLogs(Sandbox& sb, const std::map<std::string, size_t>& offsets, const std::string& path) {
  std::string out;
  for (const auto& n : sb.nodes()) {
    auto text = ReadFile(n.log_path);
    if (!text.ok()) continue;
    auto it = offsets.find(n.name);
    size_t from = it == offsets.end() || it->second > text->size() ? 0 : it->second;
    out += "==== " + n.name + " ====\n" + text->substr(from) + "\n";
  }
  WriteFileAtomic(path, out, 0644).ok();
}

Status Round(Bench& b, const std::string& fault, int64_t first_id, Tally* t, const std::string& log_path) {
  Sandbox& sb = b.sandbox();
  std::string leader = b.Leader();
  if (leader.empty()) return Unavailable("no leader before the round");
  if (b.system().extra_dcs.find("synchronous_mode: true") != std::string::npos &&
      !WaitUntil(Duration(60000), [&] { return SyncStandbyPublished(sb); })) {
    // Without a published synchronous standby the leader runs alone (non-strict): the guarantee does not apply.
    return Unavailable("no synchronous standby published within 60 s before " + fault);
  }
  const SandboxNode* n = sb.Node(leader);
  WriteProbe probe(b.multi(), "bench", first_id, Duration(5));
  probe.Start();
  if (!WaitUntil(Duration(15000), [&] { return probe.Acks().size() >= 50; })) {
    probe.Stop();
    return Unavailable("the probe could not write before the fault");
  }
  auto offsets = LogOffsets(sb);
  MonoTime fault_at = Now();
  auto pm = sb.PostmasterPid(leader);
  bool restart_agent = false;
  if (fault == "kill-postmaster") {
    if (pm) kill(*pm, SIGKILL);
  } else if (fault == "kill-agent") {
    kill(n->pid, SIGKILL);
    restart_agent = true;
  } else if (fault == "kill-both") {
    for (pid_t p : FenceSupervisorsOf(n->data_dir)) kill(p, SIGKILL);
    kill(n->pid, SIGKILL);
    if (pm) kill(*pm, SIGKILL);
    restart_agent = true;
  } else if (fault == "sigstop-agent") {
    kill(n->pid, SIGSTOP);
  } else if (fault == "stop-etcd") {
    kill(sb.EtcdPid(), SIGSTOP);
  }
  int ttl = b.system().ttl;
  if (fault == "stop-etcd" || fault == "sigstop-agent") {
    // etcd, or the leader's agent, stays frozen for two TTLs: long enough for the fence and a failover.
    WaitUntil(Duration(ttl * 2000), [&] { return false; });
    kill(fault == "stop-etcd" ? sb.EtcdPid() : n->pid, SIGCONT);
  }
  // Writes have resumed when an ack arrives after the fault from a PostgreSQL that can legitimately serve: after
  // a postmaster kill, backends left running by the dead postmaster may still acknowledge an in-flight insert, so
  // only a new postmaster (another node, or a restart in place) counts.
  bool pm_killed = fault == "kill-postmaster" || fault == "kill-both";
  bool frozen = fault == "stop-etcd" || fault == "sigstop-agent";
  std::optional<MonoTime> restarted_at;
  bool resumed = WaitUntil(Duration(90000), [&] {
    if (pm_killed && !restarted_at) {
      auto now_pm = sb.PostmasterPid(leader);
      if (now_pm && pm && *now_pm != *pm) restarted_at = Now();
    }
    auto acks = probe.Acks();
    if (acks.empty() || acks.back().at <= fault_at + Duration(frozen ? ttl * 2000 : 0)) return false;
    if (!pm_killed) return true;
    return acks.back().server_port != n->pg_port || (restarted_at && acks.back().at > *restarted_at);
  });
  MonoTime settled = Now();
  WaitUntil(Duration(1000), [&] { return Now() - settled >= Duration(1000); });
  probe.Stop();
  if (restart_agent) {
    sb.SignalNode(leader, SIGKILL, true, Duration(5000)).ok();
    PGW_RETURN_IF_ERROR(sb.StartNode(leader));
  }
  SaveRoundLogs(sb, offsets, log_path);
  if (!resumed) return Timeout("writes did not resume within 90 s after " + fault);
  auto acks = probe.Acks();
  std::string now_leader;
  WaitUntil(Duration(60000), [&] { return !(now_leader = b.Leader()).empty(); });
  auto missing = WriteProbe::Missing(sb.Conninfo(now_leader), "bench", acks);
  if (!missing.ok()) return missing.status();
  ++t->rounds;
  t->acked += acks.size();
  t->lost += missing->size();
  t->split_brain += SplitBrainViolations(acks);
  t->gaps.push_back(WriteProbe::LongestGap(acks, fault_at, acks.back().at));
  std::fprintf(stderr, "  %-16s %6lld ms without writes, %zu/%zu acknowledged rows lost, leader %s -> %s\n",
               fault.c_str(), static_cast<long long>(t->gaps.back().count()), missing->size(), acks.size(),
               leader.c_str(), now_leader.c_str());
  return sb.WaitHealthy(Duration(180000)).Context("the cluster did not recover after " + fault);
}

int Main(int argc, char** argv) {
  int rounds = 20;
  std::string dir = "/tmp/pgwarden-torture-bench";
  bool only_sync = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--only-sync") only_sync = true;
    else {
      std::fprintf(stderr, "usage: torture_bench [--rounds N] [--dir DIR] [--only-sync]\n");
      return 2;
    }
  }
  if (rounds < 1 || rounds > 200) {
    std::fprintf(stderr, "torture_bench: --rounds must be between 1 and 200\n");
    return 2;
  }
  Logger log(stderr, LogLevel::kWarning);
  std::string bin = SelfDir() + "/../apps/pgwarden";
  std::vector<System> modes = {{"synchronous_mode on", bin, 5, 1, 2, "    synchronous_mode: true\n"}};
  if (!only_sync) modes.push_back({"synchronous_mode off", bin, 5, 1, 2, ""});
  std::vector<std::pair<std::string, std::map<std::string, Tally>>> results;
  int idx = 0;
  RemoveAll(dir + "/rounds").ok();
  if (Status m = MakeDirs(dir + "/rounds", 0755); !m.ok()) {
    std::fprintf(stderr, "torture_bench: %s\n", m.message().c_str());
    return 1;
  }
  for (const auto& m : modes) {
    std::fprintf(stderr, "%s:\n", m.label.c_str());
    std::string sdir = dir + "/" + std::to_string(idx++);
    RemoveAll(sdir).ok();
    Bench b(m, sdir, log);
    std::map<std::string, Tally> tallies;
    Status s = b.Start();
    for (int r = 0; s.ok() && r < rounds; ++r) {
      const std::string& fault = kFaults[static_cast<size_t>(r) % kFaults.size()];
      s = Round(b, fault, int64_t{r + 1} * 10000000, &tallies[fault],
                dir + "/rounds/" + std::to_string(idx - 1) + "-" + std::to_string(r + 1) + "-" + fault + ".log");
    }
    if (!s.ok()) tallies["error"].error = s.message();
    b.Stop(!s.ok());
    results.emplace_back(m.label, tallies);
  }
  std::printf("\nCrash rounds under numbered inserts (ttl 5, loop_wait 1, retry_timeout 2)\n");
  std::printf("%-22s %-16s %6s %9s %6s %12s %14s\n", "mode", "fault", "rounds", "acked", "lost", "split brain",
              "median gap");
  bool ok = true;
  for (const auto& [label, tallies] : results) {
    for (const auto& [fault, t] : tallies) {
      if (!t.error.empty()) {
        std::printf("%-22s error: %s\n", label.c_str(), t.error.c_str());
        ok = false;
        continue;
      }
      auto gaps = t.gaps;
      std::sort(gaps.begin(), gaps.end());
      std::printf("%-22s %-16s %6d %9zu %6zu %12d %12lldms\n", label.c_str(), fault.c_str(), t.rounds, t.acked,
                  t.lost, t.split_brain, static_cast<long long>(gaps.empty() ? 0 : gaps[gaps.size() / 2].count()));
    }
  }
  std::printf("\nagent logs of every round (from the fault on): %s/rounds/\n", dir.c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
