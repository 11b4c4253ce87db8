// The simulated cluster: N nodes, each running the real decision core (ha::Decide), the real executor and the
// real lease keeper inside a thin model of the agent's HA loop (sim_agent.h), over a model etcd and model
// PostgreSQL (sim_model.h) reached through in-memory Dcs and PgControl (sim_dcs.h, sim_pg_control.h), on one
// manual clock. One seed drives everything; the same seed gives the same history, byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "pg/controller.h"
#include "sim_model.h"

namespace pgw::sim {

class SimAgent;
class World;

// A node's CLOCK_MONOTONIC: stands still while the machine is paused.
class NodeClock final : public Clock {
 public:
  explicit NodeClock(const World& w) : world_(w) {}
  MonoTime Now() const override { return MonoTime(Duration(1000000 + mono_ms)); }
  double WallSeconds() const override;
  int64_t mono_ms = 0;

 private:
  const World& world_;
};

struct Faults {
  bool etcd_cut = false;      // no etcd traffic at all (leases, writes, watch)
  bool stale = false;         // the watch serves a frozen view; leases and writes still work
  int64_t lag_ms = 0;         // the watch delivers events this late
  bool agent_frozen = false;  // SIGSTOP of the agent (its fence supervisor still runs)
  bool agent_dead = false;    // agent process gone (its fence supervisor still runs)
  bool paused = false;        // the whole machine (VM pause): nothing runs, the node's clock stands still
  int64_t promote_delay_ms = 0;
  int64_t initdb_ms = 0;  // initdb takes this long (PostgreSQL not running meanwhile)
  bool pre_promote_fails = false;
  bool sync_conflicts = false;      // every compare-and-swap of the `sync` key fails (somebody else changed it)
  bool watchdog_fails = false;      // arming the fence fails (watchdog.mode required, the device cannot be used)
  bool reinit_requested = false;    // POST /reinitialize was accepted; the agent's next cycle takes it
  bool restart_requested = false;   // POST /restart was accepted; pending until a restart begins (RestartStarting)
  std::set<std::string> peers_cut;  // no traffic to these members (REST and replication)
};

// The fence supervisor process: kills PostgreSQL at fence_at (node clock) while armed.
struct Supervisor {
  bool armed = false;
  MonoTime fence_at{};
};

struct SimNode {
  SimNode(World& w, int index, std::string name);
  std::string name;
  int index;
  std::shared_ptr<const Config> cfg;
  NodeClock clock;
  ModelPg pg;
  Faults f;
  Supervisor sup;
  std::unique_ptr<SimAgent> agent;
  // The node's watch cache.
  std::shared_ptr<const KvMap> view;
  int64_t view_revision = 0;
  bool view_ready = false;
  // Invariant bookkeeping (World::CheckInvariants): since when this node streams from `streaming_to`, and, on a
  // primary, the last time a synchronous candidate had been streaming from it long enough for its agent to see it.
  const SimNode* streaming_to = nullptr;
  int64_t streaming_since_ms = 0;
  int64_t candidate_seen_ms = -1;
  HostPort pg_address() const { return HostPort{"10.0.0." + std::to_string(index + 1), 5432}; }
  HostPort api_address() const { return HostPort{"10.0.0." + std::to_string(index + 1), 8008}; }
};

struct WorldOptions {
  std::vector<std::string> nodes;
  Json bootstrap_dcs = Json::object();     // bootstrap.dcs of every node
  std::map<std::string, Json> tags;        // per node
  std::map<std::string, Json> postgresql;  // extra postgresql.* keys per node
  uint64_t seed = 1;
  int64_t tick_ms = 50;
};

class World {
 public:
  explicit World(WorldOptions opts);
  ~World();

  // --- time ---
  int64_t now_ms() const { return now_ms_; }
  void Tick();
  void RunFor(int64_t ms);
  // Runs until pred holds (checked after each tick) or `ms` passed; returns whether it held.
  bool RunUntil(const std::function<bool()>& pred, int64_t ms);

  // --- nodes ---
  std::vector<std::unique_ptr<SimNode>>& nodes() { return nodes_; }
  SimNode* Find(const std::string& name);
  SimNode* ByAddress(const HostPort& hp);
  void StartAgent(SimNode& n);
  ModelEtcd& etcd() { return etcd_; }
  std::mt19937_64& rng() { return rng_; }

  // --- what an agent may reach ---
  bool EtcdReachable(const SimNode& n) const;
  bool Link(const SimNode& a, const SimNode& b) const;  // REST and replication between two machines
  // Refreshes n's watch cache after its own write (the real one waits for it: AwaitCache).
  void AfterWrite(SimNode& n);

  // --- PostgreSQL operations (the model controller) ---
  Status PgStart(SimNode& n, const std::optional<Upstream>& up, bool standby);
  Status PgStop(SimNode& n, bool fast);
  void PgCrash(SimNode& n, const std::string& why);  // immediate, also when frozen (SIGKILL)
  Status PgPromote(SimNode& n);
  Status PgRewind(SimNode& n, const HostPort& source);
  Status PgClone(SimNode& n, const HostPort& source);
  Result<std::string> PgBootstrap(SimNode& n);
  void PgWipe(SimNode& n);
  LocalView Observe(const SimNode& n);
  // The node streams from its upstream now: connected (link up, both running and not frozen, WAL a prefix).
  SimNode* StreamingFrom(const SimNode& replica);

  // --- clients ---
  bool writes = true;
  void ClientWrite(SimNode& primary);
  void SetConfig(const Json& patch);  // like edit-config: merges into the config key

  // --- trace and invariants ---
  void Trace(const std::string& who, const std::string& line);
  const std::vector<std::string>& trace() const { return trace_; }
  void Violation(const std::string& what);
  const std::vector<std::string>& violations() const { return violations_; }
  std::string Stamp() const;
  // Every node's agent alive: one writable primary holding the leader key, every other node streaming from it.
  bool Healthy(std::string* why = nullptr);
  std::string LeaderName() const;
  bool SyncModeNow() const;
  Logger& quiet_log() { return quiet_; }
  // Commits acknowledged after a synchronous standby flushed them: (position, record id).
  const std::vector<std::pair<size_t, uint64_t>>& acked_sync() const { return acked_sync_; }
  uint64_t acked() const { return acked_count_; }

 private:
  void Replicate();
  void Acknowledge();
  void CheckInvariants();
  void FinishPromotion(SimNode& n);
  void CheckNoLostCommits(SimNode& n, const char* how);

  WorldOptions opts_;
  int64_t now_ms_ = 0;
  ModelEtcd etcd_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::mt19937_64 rng_;
  uint64_t next_record_ = 1;
  int max_timeline_ = 1;
  std::vector<std::string> trace_;
  std::vector<std::string> violations_;
  std::set<std::string> reported_;
  std::vector<std::pair<size_t, uint64_t>> acked_sync_;
  uint64_t acked_count_ = 0;
  FILE* devnull_;
  Logger quiet_;
};

std::string FormatMs(int64_t ms);

}  // namespace pgw::sim
