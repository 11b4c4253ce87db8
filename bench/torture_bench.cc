// Failover torture: fault rounds under a stream of numbered inserts, with synchronous_mode on and off. Each round
// injects one fault (see kFaults), waits until writes resume, then checks that every acknowledged row is on the
// primary and that the client never saw writes accepted by the old primary after the new one (no split brain),
// and waits until the cluster has healed (one leader, every replica streaming through its slot) within a stated
// bound. A round that does not heal is a failure; its agent logs are kept.
//
//   torture_bench [--rounds N] [--dir DIR] [--only-sync] [--faults a,b,...]
//     N rounds per mode, faults in rotation (default 20, all faults)
#include <dirent.h>

#include "bench_util.h"

namespace pgw {
namespace {

// kill-postmaster / kill-agent / kill-both (agent, fence supervisor and postmaster): SIGKILL on the leader.
// sigstop-agent: the leader's agent frozen for two ttls. stop-etcd: etcd frozen for two ttls.
// cut-primary: the leader alone loses etcd for three ttls (every node reaches etcd through its own forwarder, and
// the leader's is frozen: a one-sided partition; PostgreSQL replication and clients are untouched).
// freeze-postgres: every process of the leader's PostgreSQL SIGSTOPped for three ttls (an I/O stall).
// ttl-change: the dynamic ttl raised by 3 s and set back, live, through PATCH /config (nothing may fail over).
// lagging-sync (synchronous mode only): the asynchronous standby's PostgreSQL is frozen, the synchronous standby is
// killed so that the frozen one becomes the replacement, then the primary is killed: the frozen standby must not
// be promoted without the rows the killed one acknowledged.
const std::vector<std::string> kFaults = {"kill-postmaster", "kill-agent", "kill-both",       "sigstop-agent",
                                          "stop-etcd",       "cut-primary", "freeze-postgres", "ttl-change",
                                          "lagging-sync"};
// How long a round may take to heal (one leader, every replica streaming) after writes resumed.
constexpr int kHealBoundSeconds = 120;

struct Tally {
  int rounds = 0;
  size_t acked = 0, lost = 0;
  int split_brain = 0;
  int failed = 0;  // rounds that did not resume writes or did not heal within the bound
  std::vector<Duration> gaps;
  std::vector<std::string> errors;
};

// The postmaster of a node and every process whose parent it is (backends, walsender, walreceiver...).
std::vector<pid_t> PostgresProcesses(Sandbox& sb, const std::string& node) {
  std::vector<pid_t> out;
  auto pm = sb.PostmasterPid(node);
  if (!pm) return out;
  out.push_back(*pm);
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
    if (pid <= 0) continue;
    auto stat = ReadFile("/proc/" + std::string(e->d_name) + "/stat");
    if (!stat.ok()) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat->c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == *pm) out.push_back(pid);
  }
  closedir(d);
  return out;
}

void SignalAll(const std::vector<pid_t>& pids, int sig) {
  for (pid_t p : pids) kill(p, sig);
}

// The agent, its fence supervisors and its postmaster, SIGKILLed together (a machine dying).
void KillNode(Sandbox& sb, const std::string& node) {
  const SandboxNode* n = sb.Node(node);
  auto pm = sb.PostmasterPid(node);
  for (pid_t p : FenceSupervisorsOf(n->data_dir)) kill(p, SIGKILL);
  kill(n->pid, SIGKILL);
  if (pm) kill(*pm, SIGKILL);
}

Status PatchConfig(Sandbox& sb, const std::string& node, const Json& patch) {
  HttpClient http;
  HttpRequest req;
  req.method = "PATCH";
  req.url = "http://127.0.0.1:" + std::to_string(sb.Node(node)->api_port) + "/config";
  req.body = patch.dump();
  req.headers["Content-Type"] = "application/json";
  req.timeout = Duration(10000);
  auto r = http.Do(req);
  if (!r.ok()) return r.status();
  if (r->status != 200) return Unavailable("PATCH /config answered " + std::to_string(r->status) + ": " + r->body);
  return Status::Ok();
}

// The member GET /sync answers 200 on: the published synchronous standby ("" when none).
std::string PublishedSyncStandby(Sandbox& sb) {
  HttpClient http;
  for (const auto& n : sb.nodes()) {
    HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(n.api_port) + "/sync";
    req.timeout = Duration(1000);
    auto r = http.Do(req);
    if (r.ok() && r->status == 200) return n.name;
  }
  return "";
}

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

// Injects `fault`; returns the pids to SIGCONT after the freeze (empty when nothing was frozen) and which node's
// agent must be started again afterwards.
struct Injected {
  std::vector<pid_t> frozen;
  Duration freeze_for{0};
  std::vector<std::string> restart;  // agents killed, started again once writes resumed
  bool pm_killed = false;            // the leader's postmaster was killed (orphaned backends may still answer)
  bool expect_same_leader = false;   // ttl-change: a leader change is a failure
  Forwarder* link = nullptr;         // cut-primary: the leader's etcd link, frozen for freeze_for
};

Result<Injected> Inject(Bench& b, const std::string& fault, const std::string& leader) {
  Sandbox& sb = b.sandbox();
  const SandboxNode* n = sb.Node(leader);
  int ttl = b.system().ttl;
  Injected in;
  if (fault == "kill-postmaster") {
    if (auto pm = sb.PostmasterPid(leader)) kill(*pm, SIGKILL);
    in.pm_killed = true;
  } else if (fault == "kill-agent") {
    kill(n->pid, SIGKILL);
    in.restart = {leader};
  } else if (fault == "kill-both") {
    KillNode(sb, leader);
    in.restart = {leader};
    in.pm_killed = true;
  } else if (fault == "sigstop-agent") {
    in.frozen = {n->pid};
    in.freeze_for = Duration(ttl * 2000);
  } else if (fault == "stop-etcd") {
    in.frozen = {sb.EtcdPid()};
    in.freeze_for = Duration(ttl * 2000);
  } else if (fault == "cut-primary") {
    // The primary alone loses etcd (a black-holed link: connections stay open, nothing arrives) while it and its
    // replicas keep talking to each other and to clients. It must stop serving writes before its lease ends and a
    // replica takes over; when the link returns it rejoins as a replica.
    in.link = b.EtcdLink(leader);
    if (in.link == nullptr) return Unavailable("cut-primary needs the etcd link forwarders");
    in.link->SetMode(Forwarder::Mode::kFreeze);
    in.freeze_for = Duration(ttl * 3000);
    return in;
  } else if (fault == "freeze-postgres") {
    in.frozen = PostgresProcesses(sb, leader);
    in.freeze_for = Duration(ttl * 3000);
  } else if (fault == "ttl-change") {
    in.expect_same_leader = true;
    PGW_RETURN_IF_ERROR(PatchConfig(sb, leader, Json{{"ttl", ttl + 3}}));
    WaitUntil(Duration(ttl * 2000), [] { return false; });  // a few lease periods at the new ttl, under load
    PGW_RETURN_IF_ERROR(PatchConfig(sb, leader, Json{{"ttl", ttl}}));
    WaitUntil(Duration(ttl * 2000), [] { return false; });
    return in;
  } else if (fault == "lagging-sync") {
    std::string sync = PublishedSyncStandby(sb), async;
    for (const auto& m : sb.nodes()) {
      if (m.name != leader && m.name != sync) async = m.name;
    }
    if (sync.empty() || async.empty()) return Unavailable("lagging-sync needs a synchronous and an async standby");
    std::vector<pid_t> lagging = PostgresProcesses(sb, async);
    SignalAll(lagging, SIGSTOP);
    WaitUntil(Duration(1000), [] { return false; });  // acknowledged commits the frozen standby lacks
    KillNode(sb, sync);
    // The primary replaces the dead standby with the frozen one in synchronous_standby_names; give it a loop to
    // (wrongly) publish it before the primary dies too.
    WaitUntil(Duration(5000), [&] {
      return Query(sb.Conninfo(leader), "SHOW synchronous_standby_names").find(async) != std::string::npos;
    });
    WaitUntil(Duration(b.system().loop_wait * 1500), [] { return false; });
    KillNode(sb, leader);
    SignalAll(lagging, SIGCONT);
    in.restart = {sync, leader};
    in.pm_killed = true;
    return in;
  } else {
    return InvalidArgument("unknown fault " + fault);
  }
  SignalAll(in.frozen, SIGSTOP);
  return in;
}

Status Round(Bench& b, const std::string& fault, int64_t first_id, Tally* t, const std::string& log_path) {
  Sandbox& sb = b.sandbox();
  std::string leader = b.Leader();
  if (leader.empty()) return Unavailable("no leader before the round");
  bool sync_mode = b.system().extra_dcs.find("synchronous_mode: true") != std::string::npos;
  if (fault == "lagging-sync" && !sync_mode) return Status::Ok();  // only meaningful in synchronous mode
  if (sync_mode && !WaitUntil(Duration(60000), [&] { return !PublishedSyncStandby(sb).empty(); })) {
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
  auto pm = sb.PostmasterPid(leader);
  MonoTime fault_at = Now();
  auto injected = Inject(b, fault, leader);
  if (!injected.ok()) {
    probe.Stop();
    return injected.status();
  }
  MonoTime injected_at = Now();  // ttl-change and lagging-sync take a while to inject
  if (!injected->frozen.empty() || injected->link != nullptr) {
    WaitUntil(injected->freeze_for, [] { return false; });
    SignalAll(injected->frozen, SIGCONT);
    if (injected->link != nullptr) injected->link->SetMode(Forwarder::Mode::kPass);
  }
  std::string failure;
  if (!injected->restart.empty()) {
    // Killed nodes come back 5 s after the fault, as a restarted machine would.
    WaitUntil(Duration(5000), [] { return false; });
    for (const auto& r : injected->restart) {
      sb.SignalNode(r, SIGKILL, true, Duration(5000)).ok();
      if (Status st = sb.StartNode(r); !st.ok()) failure = "restarting " + r + ": " + st.message();
    }
  }
  // Writes have resumed when an ack arrives after the fault from a PostgreSQL that can legitimately serve: after
  // a postmaster kill, backends left running by the dead postmaster may still acknowledge an in-flight insert, so
  // only a new postmaster (another node, or a restart in place) counts. After a freeze, only acks after the thaw.
  MonoTime thaw = std::max(injected_at, fault_at + injected->freeze_for);
  std::optional<MonoTime> restarted_at;
  bool resumed = WaitUntil(Duration(90000), [&] {
    if (injected->pm_killed && !restarted_at) {
      auto now_pm = sb.PostmasterPid(leader);
      if (now_pm && pm && *now_pm != *pm) restarted_at = Now();
    }
    auto acks = probe.Acks();
    if (acks.empty() || acks.back().at <= thaw) return false;
    if (!injected->pm_killed) return true;
    return acks.back().server_port != n->pg_port || (restarted_at && acks.back().at > *restarted_at);
  });
  MonoTime settled = Now();
  WaitUntil(Duration(1000), [&] { return Now() - settled >= Duration(1000); });
  probe.Stop();
  MonoTime stopped_at = Now();
  if (!resumed && failure.empty()) failure = "writes did not resume within the bound after " + fault;
  Status healed = sb.WaitHealthy(Duration(kHealBoundSeconds * 1000));
  if (!healed.ok() && failure.empty()) {
    failure = "not healed within " + std::to_string(kHealBoundSeconds) + " s: " + healed.message();
  }
  SaveRoundLogs(sb, offsets, log_path);
  auto acks = probe.Acks();
  std::string now_leader;
  WaitUntil(Duration(60000), [&] { return !(now_leader = b.Leader()).empty(); });
  if (failure.empty() && injected->expect_same_leader && now_leader != leader) {
    failure = "the leader changed (" + leader + " -> " + now_leader + ") on a live ttl change";
  }
  ++t->rounds;
  t->acked += acks.size();
  if (!now_leader.empty() && !acks.empty()) {
    auto missing = WriteProbe::Missing(sb.Conninfo(now_leader), "bench", acks);
    if (!missing.ok()) return missing.status();
    t->lost += missing->size();
    t->split_brain += SplitBrainViolations(acks);
    t->gaps.push_back(WriteProbe::LongestGap(acks, fault_at, stopped_at));
    std::fprintf(stderr, "  %-16s %6lld ms without writes, %zu/%zu acknowledged rows lost, leader %s -> %s%s\n",
                 fault.c_str(), static_cast<long long>(t->gaps.back().count()), missing->size(), acks.size(),
                 leader.c_str(), now_leader.c_str(), failure.empty() ? "" : " FAILED");
  }
  if (!failure.empty()) {
    ++t->failed;
    t->errors.push_back(failure + " (logs: " + log_path + ")");
    std::fprintf(stderr, "  %-16s FAILED: %s\n", fault.c_str(), failure.c_str());
    if (now_leader.empty()) return Unavailable("no leader after a failed round: " + failure);
  }
  return Status::Ok();
}

int Main(int argc, char** argv) {
  int rounds = 20;
  std::string dir = "/tmp/pgwarden-torture-bench";
  bool only_sync = false;
  std::vector<std::string> faults = kFaults;
  auto usage = [] {
    std::fprintf(stderr, "usage: torture_bench [--rounds N] [--dir DIR] [--only-sync] [--faults a,b,...]\n");
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--only-sync") {
      only_sync = true;
    } else if (a == "--faults" && i + 1 < argc) {
      faults.clear();
      std::string list = argv[++i];
      for (size_t p = 0; p <= list.size();) {
        size_t c = list.find(',', p);
        std::string f = list.substr(p, c == std::string::npos ? std::string::npos : c - p);
        if (std::find(kFaults.begin(), kFaults.end(), f) == kFaults.end()) {
          std::fprintf(stderr, "torture_bench: unknown fault '%s'\n", f.c_str());
          return usage();
        }
        faults.push_back(f);
        if (c == std::string::npos) break;
        p = c + 1;
      }
    } else {
      return usage();
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
  for (auto& m : modes) m.etcd_links = true;
  std::vector<std::pair<std::string, std::map<std::string, Tally>>> results;
  int idx = 0;
  RemoveAll(dir + "/rounds").ok();
  if (Status m = MakeDirs(dir + "/rounds", 0755); !m.ok()) {
    std::fprintf(stderr, "torture_bench: %s\n", m.message().c_str());
    return 1;
  }
  std::string aborted;
  for (const auto& m : modes) {
    std::fprintf(stderr, "%s:\n", m.label.c_str());
    std::string sdir = dir + "/" + std::to_string(idx++);
    RemoveAll(sdir).ok();
    Bench b(m, sdir, log);
    std::map<std::string, Tally> tallies;
    Status s = b.Start();
    for (int r = 0; s.ok() && r < rounds; ++r) {
      const std::string& fault = faults[static_cast<size_t>(r) % faults.size()];
      s = Round(b, fault, int64_t{r + 1} * 10000000, &tallies[fault],
                dir + "/rounds/" + std::to_string(idx - 1) + "-" + std::to_string(r + 1) + "-" + fault + ".log");
    }
    if (!s.ok()) aborted += m.label + ": " + s.message() + "\n";
    bool any_failed = !s.ok();
    for (const auto& [f, t] : tallies) any_failed = any_failed || t.failed > 0;
    b.Stop(any_failed);
    results.emplace_back(m.label, tallies);
  }
  std::printf("\nFault rounds under numbered inserts (ttl 5, loop_wait 1, retry_timeout 2; heal bound %d s)\n",
              kHealBoundSeconds);
  std::printf("%-22s %-16s %6s %7s %9s %6s %12s %11s %11s\n", "mode", "fault", "rounds", "failed", "acked", "lost",
              "split brain", "median gap", "max gap");
  bool ok = aborted.empty();
  for (const auto& [label, tallies] : results) {
    for (const auto& [fault, t] : tallies) {
      if (t.rounds == 0) continue;
      auto gaps = t.gaps;
      std::sort(gaps.begin(), gaps.end());
      std::printf("%-22s %-16s %6d %7d %9zu %6zu %12d %9lldms %9lldms\n", label.c_str(), fault.c_str(), t.rounds,
                  t.failed, t.acked, t.lost, t.split_brain,
                  static_cast<long long>(gaps.empty() ? 0 : gaps[gaps.size() / 2].count()),
                  static_cast<long long>(gaps.empty() ? 0 : gaps.back().count()));
      for (const auto& e : t.errors) std::printf("    failed round: %s\n", e.c_str());
      ok = ok && t.failed == 0 && t.split_brain == 0 && (label.find(" on") == std::string::npos || t.lost == 0);
    }
  }
  if (!aborted.empty()) std::printf("aborted:\n%s", aborted.c_str());
  std::printf("\nagent logs of every round (from the fault until healed): %s/rounds/\n", dir.c_str());
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
