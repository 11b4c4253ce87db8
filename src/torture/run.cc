#include <signal.h>

#include <atomic>
#include <thread>

#include "common/fs.h"
#include "torture/report.h"
#include "torture/torture.h"

namespace pgw::torture {

namespace {

// SIGINT and SIGTERM, blocked in every thread of the run (the writers inherit the mask), are taken by one thread
// that sets `interrupted`; the previous mask is restored when the run ends.
class SignalWatch {
 public:
  explicit SignalWatch(std::atomic<bool>& interrupted) : interrupted_(interrupted) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      timespec tick{0, 100 * 1000 * 1000};
      while (!done_) {
        if (sigtimedwait(&set_, nullptr, &tick) > 0) interrupted_ = true;
      }
    });
  }
  ~SignalWatch() {
    done_ = true;
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  std::atomic<bool>& interrupted_;
  std::atomic<bool> done_{false};
  sigset_t set_{}, old_{};
  std::thread thread_;
};

struct Target {
  std::unique_ptr<SandboxCluster> sandbox;  // when --sandbox
  std::unique_ptr<DsnCluster> dsn_cluster;  // otherwise
  Cluster* cluster = nullptr;
};

Result<Target> OpenCluster(const Options& o, const RunEnv& env, Logger& log) {
  Target t;
  if (o.sandbox_dir.empty()) {
    t.dsn_cluster = std::make_unique<DsnCluster>(o.dsn, o.health_cmd);
    t.cluster = t.dsn_cluster.get();
    return t;
  }
  if (PathExists(o.sandbox_dir + "/sandbox.json")) {
    auto c = SandboxCluster::Load(o.sandbox_dir);
    if (!c.ok()) return c.status();
    t.sandbox = std::move(*c);
  } else {
    SandboxSpec spec;
    spec.dir = o.sandbox_dir;
    spec.scope = "torture";
    spec.pgwarden_bin = env.pgwarden_bin;
    spec.ttl = 5;
    spec.loop_wait = 1;
    spec.retry_timeout = 2;
    if (o.sync) spec.extra_dcs = "    synchronous_mode: true\n";
    std::fprintf(env.err, "starting a sandbox in %s...\n", o.sandbox_dir.c_str());
    auto c = SandboxCluster::Start(spec, log);
    if (!c.ok()) return c.status();
    t.sandbox = std::move(*c);
  }
  t.cluster = t.sandbox.get();
  return t;
}

}  // namespace

int Run(const Options& o, const RunEnv& env, std::vector<RoundResult>* out_rounds) {
  std::atomic<bool> interrupted{false};
  SignalWatch watch(interrupted);
  Logger log(env.err, LogLevel::kWarning);
  auto target = OpenCluster(o, env, log);
  if (!target.ok()) {
    std::fprintf(env.err, "pgwardenctl torture: %s\n", target.status().message().c_str());
    return 3;
  }
  Cluster& cluster = *target->cluster;
  RoundConfig cfg;
  cfg.writers.dsn = o.dsn.empty() ? cluster.DefaultDsn() : o.dsn;
  cfg.writers.table = o.table;
  cfg.writers.writers = o.writers;
  cfg.writers.interval = o.interval;
  cfg.writers.reconnect_every = o.reconnect_every;
  cfg.steady = o.steady;
  cfg.resume_timeout = o.resume_timeout;
  cfg.heal_timeout = o.heal_timeout;
  cfg.synchronous = o.sync;
  std::vector<RoundResult> rounds;
  Status ready = cluster.WaitHealthy(o.heal_timeout);
  auto first = ready.ok() ? cluster.PrimaryDsn() : Result<std::string>(ready);
  Status table = first.ok() ? CreateTable(*first, o.table) : first.status();
  auto next_id = table.ok() ? NextFreeId(*first, o.table) : Result<int64_t>(table);
  if (!next_id.ok()) {
    std::fprintf(env.err, "pgwardenctl torture: before the first round: %s\n", next_id.status().message().c_str());
  }
  int64_t id = next_id.ok() ? *next_id : 0;
  for (int n = 1; next_id.ok() && n <= o.rounds && !interrupted; ++n) {
    std::string name = o.faults.empty() ? "fault-cmd" : o.faults[static_cast<size_t>(n - 1) % o.faults.size()];
    std::unique_ptr<Fault> fault;
    if (o.faults.empty()) {
      fault = MakeCommandFault(o.fault_cmd, o.recover_cmd, o.hold, o.command_timeout);
    } else {
      auto f = MakeSandboxFault(name, *target->sandbox, o.hold);
      if (!f.ok()) {
        std::fprintf(env.err, "pgwardenctl torture: %s\n", f.status().message().c_str());
        break;
      }
      fault = std::move(*f);
    }
    std::fprintf(env.err, "round %d: %s...\n", n, name.c_str());
    RoundResult r = RunRound(n, name, *fault, cluster, cfg, id, interrupted);
    fault.reset();  // recovers whatever the round left (it already did, unless interrupted)
    id = std::max(id, r.last_id + 1);
    std::fprintf(env.out, "%s\n", RoundText(r).c_str());
    std::fflush(env.out);
    rounds.push_back(std::move(r));
    if (!rounds.back().errors.empty() && rounds.back().acked == 0) {
      std::fprintf(env.err, "pgwardenctl torture: round %d could not start; stopping\n", n);
      break;
    }
  }
  if (!rounds.empty()) std::fprintf(env.out, "%s", SummaryText(rounds).c_str());
  if (!o.json_path.empty()) {
    Status w = WriteFileAtomic(o.json_path, ReportJson(rounds).dump(2) + "\n", 0644);
    if (!w.ok())
      std::fprintf(env.err, "pgwardenctl torture: writing %s: %s\n", o.json_path.c_str(), w.message().c_str());
  }
  bool violation = false, errors = !next_id.ok() || rounds.empty();
  for (const auto& r : rounds) {
    violation = violation || r.Violation();
    errors = errors || !r.errors.empty();
  }
  if (target->sandbox && target->sandbox->started_here()) {
    bool keep = o.keep || violation || errors;
    Status s = target->sandbox->Stop(keep);
    if (!s.ok()) std::fprintf(env.err, "pgwardenctl torture: stopping the sandbox: %s\n", s.message().c_str());
    if (keep) std::fprintf(env.err, "the sandbox's directory is kept: %s\n", o.sandbox_dir.c_str());
  }
  if (out_rounds) *out_rounds = rounds;
  return violation ? 1 : errors ? 3 : 0;
}

int Main(const std::vector<std::string>& args, const RunEnv& env) {
  auto o = ParseOptions(args);
  if (!o.ok()) {
    std::fprintf(env.err, "pgwardenctl torture: %s\n", o.status().message().c_str());
    return 2;
  }
  if (o->help) {
    std::fprintf(env.out, "%s", TortureUsage().c_str());
    return 0;
  }
  return Run(*o, env);
}

}  // namespace pgw::torture
