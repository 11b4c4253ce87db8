#include "sim_world.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "sim_agent.h"

namespace pgw::sim {

double NodeClock::WallSeconds() const { return 1.8e9 + static_cast<double>(world_.now_ms()) / 1000.0; }

std::string FormatMs(int64_t ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
  return b;
}

SimNode::SimNode(World& w, int i, std::string n) : name(std::move(n)), index(i), clock(w) {}

namespace {
bool JsonBool(const Json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

std::string NodeYaml(const std::string& name, const HostPort& pg, const HostPort& api, const Json& dcs,
                     const Json& tags, const Json& extra_pg) {
  Json pgj = {{"listen", pg.ToString()},
              {"connect_address", pg.ToString()},
              {"data_dir", "/sim/" + name},
              {"pre_promote", "sim-pre-promote"},  // SimIo: fails while the node's veto-promote fault is on
              {"authentication",
               {{"superuser", {{"username", "postgres"}, {"password", "x"}}},
                {"replication", {{"username", "replicator"}, {"password", "x"}}}}}};
  for (const auto& [k, v] : extra_pg.items()) pgj[k] = v;
  Json j = {{"scope", "sim"},
            {"name", name},
            {"restapi", {{"listen", api.ToString()}, {"connect_address", api.ToString()}}},
            {"etcd3", {{"hosts", "10.0.0.100:2379"}}},
            {"bootstrap", {{"dcs", dcs}}},
            {"postgresql", pgj},
            {"tags", tags}};
  return j.dump();  // JSON is YAML
}
}  // namespace

World::World(WorldOptions opts)
    : opts_(std::move(opts)),
      etcd_("/service/sim/"),
      rng_(opts_.seed),
      devnull_(std::fopen("/dev/null", "w")),
      quiet_(devnull_ ? devnull_ : stderr, LogLevel::kCritical) {
  for (size_t i = 0; i < opts_.nodes.size(); ++i) {
    auto n = std::make_unique<SimNode>(*this, static_cast<int>(i), opts_.nodes[i]);
    Json tags = opts_.tags.count(n->name) ? opts_.tags[n->name] : Json::object();
    Json extra = opts_.postgresql.count(n->name) ? opts_.postgresql[n->name] : Json::object();
    LoadOptions lo;
    lo.check_bin_dir = false;
    auto r = LoadConfigText(NodeYaml(n->name, n->pg_address(), n->api_address(), opts_.bootstrap_dcs, tags, extra), lo);
    if (!r.errors.empty()) {
      Violation("configuration of " + n->name + ": " + r.errors[0]);
      LoadOptions lo2;
      lo2.check_bin_dir = false;
      r = LoadConfigText(
          NodeYaml(n->name, n->pg_address(), n->api_address(), Json::object(), Json::object(), Json::object()), lo2);
    }
    n->cfg = r.config;
    nodes_.push_back(std::move(n));
  }
}

World::~World() {
  for (auto& n : nodes_) n->agent.reset();
  if (devnull_) std::fclose(devnull_);
}

SimNode* World::Find(const std::string& name) {
  for (auto& n : nodes_) {
    if (n->name == name) return n.get();
  }
  return nullptr;
}

SimNode* World::ByAddress(const HostPort& hp) {
  for (auto& n : nodes_) {
    if (n->pg_address().host == hp.host) return n.get();
  }
  return nullptr;
}

void World::StartAgent(SimNode& n) {
  n.agent.reset();
  n.f.agent_dead = false;
  n.f.agent_frozen = false;
  n.view_ready = false;
  n.view_revision = 0;
  n.agent = std::make_unique<SimAgent>(*this, n);
}

bool World::EtcdReachable(const SimNode& n) const { return !n.f.etcd_cut && !n.f.paused && !n.f.agent_dead; }

bool World::Link(const SimNode& a, const SimNode& b) const {
  return !a.f.paused && !b.f.paused && !a.f.peers_cut.count(b.name) && !b.f.peers_cut.count(a.name);
}

void World::AfterWrite(SimNode& n) {
  // EtcdDcs::AwaitCache waits (up to 2 s) until the watch shows our own write; the time spent waiting is not
  // modelled. A stale watch never shows it; a longer lag makes the wait time out.
  if (n.f.stale || n.f.lag_ms > 2000) return;
  const auto& s = etcd_.Latest();
  n.view = s.kvs;
  n.view_revision = s.revision;
  n.view_ready = true;
}

std::string World::Stamp() const { return "[" + FormatMs(now_ms_) + "]"; }

void World::Trace(const std::string& who, const std::string& line) {
  trace_.push_back(Stamp() + " " + who + ": " + line);
}

void World::Violation(const std::string& what) {
  if (!reported_.insert(what).second) return;
  violations_.push_back(Stamp() + " " + what);
  trace_.push_back(Stamp() + " VIOLATION: " + what);
}

bool World::SyncModeNow() const {
  auto c = etcd_.Get("config");
  if (!c) return JsonBool(opts_.bootstrap_dcs, "synchronous_mode");
  Json j = Json::parse(*c, nullptr, false);
  return JsonBool(j, "synchronous_mode");
}

void World::SetConfig(const Json& patch) {
  auto c = etcd_.Get("config");
  Json j = c ? Json::parse(*c, nullptr, false) : opts_.bootstrap_dcs;
  if (!j.is_object()) j = Json::object();
  j.merge_patch(patch);
  (void)etcd_.Put("config", j.dump(), 0, now_ms_);
  if (!SyncModeNow()) acked_sync_.clear();
}

std::string World::LeaderName() const {
  auto l = etcd_.Get("leader");
  return l ? *l : "";
}

// --- time --------------------------------------------------------------------------------------------------

void World::Tick() {
  now_ms_ += opts_.tick_ms;
  for (auto& n : nodes_) {
    if (!n->f.paused) n->clock.mono_ms += opts_.tick_ms;
  }
  etcd_.Expire(now_ms_);
  for (auto& n : nodes_) {
    if (!n->f.paused && n->pg.promote_done_ms >= 0 && n->clock.mono_ms >= n->pg.promote_done_ms) FinishPromotion(*n);
  }
  if (writes) {
    for (auto& n : nodes_) {
      if (!n->f.paused && n->pg.Writable()) ClientWrite(*n);
    }
  }
  Replicate();
  Acknowledge();
  std::vector<SimNode*> order;
  for (auto& n : nodes_) order.push_back(n.get());
  std::shuffle(order.begin(), order.end(), rng_);
  for (SimNode* n : order) {
    if (n->f.paused) continue;
    // The fence supervisor (a separate process: it outlives a frozen or dead agent).
    if (n->sup.armed && n->clock.Now() >= n->sup.fence_at && n->pg.running && !n->pg.in_recovery) {
      n->sup.armed = false;
      PgCrash(*n, "fenced: PostgreSQL killed at the lease deadline minus the margin");
    }
    bool agent_runs = n->agent && !n->f.agent_dead && !n->f.agent_frozen;
    if (agent_runs && !n->f.etcd_cut && !n->f.stale) {
      const auto& snap = etcd_.At(now_ms_ - n->f.lag_ms);
      if (!n->view_ready || snap.revision > n->view_revision) {
        auto sig = [&](const std::shared_ptr<const KvMap>& kv) {
          std::string s;
          if (!kv) return s;
          for (const char* k : {"leader", "config", "initialize", "failover"}) {
            auto it = kv->find(etcd_.prefix() + k);
            s += it == kv->end() ? "-" : it->second.value + "@" + std::to_string(it->second.mod_revision);
            s += "|";
          }
          return s;
        };
        if (n->view_ready && sig(n->view) != sig(snap.kvs)) n->agent->Wake();
        n->view = snap.kvs;
        n->view_revision = snap.revision;
        n->view_ready = true;
      }
    }
    if (agent_runs) n->agent->Tick();
  }
  Replicate();
  Acknowledge();
  CheckInvariants();
}

void World::RunFor(int64_t ms) {
  int64_t end = now_ms_ + ms;
  while (now_ms_ < end) Tick();
}

bool World::RunUntil(const std::function<bool()>& pred, int64_t ms) {
  int64_t end = now_ms_ + ms;
  while (true) {
    if (pred()) return true;
    if (now_ms_ >= end) return false;
    Tick();
  }
}

// --- replication, commits, invariants ----------------------------------------------------------------------------

SimNode* World::StreamingFrom(const SimNode& r) {
  if (!r.pg.running || !r.pg.in_recovery || r.pg.frozen || r.f.paused || !r.pg.upstream) return nullptr;
  SimNode* p = ByAddress(r.pg.upstream->address);
  if (p == nullptr || p == &r || !p->pg.running || p->pg.frozen || p->f.paused || !Link(r, *p)) return nullptr;
  if (p->pg.sysid != r.pg.sysid || !IsPrefix(r.pg.wal, p->pg.wal)) return nullptr;
  return p;
}

void World::Replicate() {
  // Upstreams first: a cascade catches up in a few passes.
  for (int pass = 0; pass < 3; ++pass) {
    for (auto& n : nodes_) {
      if (n->pg.stalled) continue;
      SimNode* p = StreamingFrom(*n);
      if (p == nullptr) continue;
      if (n->pg.wal.size() < p->pg.wal.size()) {
        n->pg.wal.insert(n->pg.wal.end(), p->pg.wal.begin() + static_cast<long>(n->pg.wal.size()), p->pg.wal.end());
      }
      n->pg.timeline = std::max(n->pg.timeline, p->pg.timeline);
    }
  }
}

void World::ClientWrite(SimNode& p) {
  uint64_t id = next_record_++;
  p.pg.wal.push_back(id);
  p.pg.pending.emplace_back(p.pg.wal.size() - 1, id);
}

void World::Acknowledge() {
  for (auto& n : nodes_) {
    ModelPg& pg = n->pg;
    if (pg.pending.empty() || !pg.running || pg.in_recovery || pg.frozen) continue;
    SyncSpec spec = ParseSyncNames(pg.sync_names);
    if (!spec.any && spec.names.empty()) {
      acked_count_ += pg.pending.size();
      pg.pending.clear();
      continue;
    }
    std::vector<size_t> flushed;
    for (auto& r : nodes_) {
      if (r.get() == n.get() || StreamingFrom(*r) != n.get()) continue;
      if (!spec.any && std::find(spec.names.begin(), spec.names.end(), r->name) == spec.names.end()) continue;
      flushed.push_back(r->pg.wal.size());
    }
    std::sort(flushed.rbegin(), flushed.rend());
    if (static_cast<int>(flushed.size()) < spec.count || spec.count <= 0) continue;
    size_t upto = flushed[static_cast<size_t>(spec.count) - 1];
    auto it = pg.pending.begin();
    while (it != pg.pending.end() && it->first < upto) {
      acked_sync_.push_back(*it);
      ++acked_count_;
      it = pg.pending.erase(it);
    }
  }
}

void World::CheckNoLostCommits(SimNode& n, const char* how) {
  size_t lost = 0;
  size_t first = 0;
  for (const auto& [pos, id] : acked_sync_) {
    if (n.pg.wal.size() > pos && n.pg.wal[pos] == id) continue;
    if (lost++ == 0) first = pos;
  }
  if (lost > 0) {
    Violation(n.name + " " + how + " without " + std::to_string(lost) +
              " commit(s) acknowledged in synchronous mode (first at " + FormatLsn(Lsn(first + 1)) + ")");
  }
}

void World::CheckInvariants() {
  std::vector<std::string> writable;
  bool sync = SyncModeNow();
  bool strict = false;
  int64_t ttl_ms = 30000, loop_ms = 10000;
  if (auto c = etcd_.Get("config")) {
    Json j = Json::parse(*c, nullptr, false);
    strict = JsonBool(j, "synchronous_mode_strict");
    if (j.is_object() && j.contains("ttl") && j["ttl"].is_number()) ttl_ms = j["ttl"].get<int64_t>() * 1000;
    if (j.is_object() && j.contains("loop_wait") && j["loop_wait"].is_number()) {
      loop_ms = j["loop_wait"].get<int64_t>() * 1000;
    }
  }
  // Streaming bookkeeping for the non-strict grace: a synchronous candidate is a standby with a live agent and no
  // nofailover/nosync tag (ha::SyncCandidates); it counts as seen by the primary's agent once it has streamed for
  // two loops (its member key says running, the primary's next cycle observes it).
  for (auto& r : nodes_) {
    SimNode* up = StreamingFrom(*r);
    if (up != r->streaming_to) {
      r->streaming_to = up;
      r->streaming_since_ms = now_ms_;
    }
    bool candidate = r->agent && !r->f.agent_dead && !r->f.agent_frozen && !r->f.paused &&
                     !r->cfg->tags.NeverPromote() && !r->cfg->tags.nosync;
    if (up != nullptr && candidate && now_ms_ - r->streaming_since_ms >= 2 * loop_ms + 100) {
      up->candidate_seen_ms = now_ms_;
    }
  }
  for (auto& n : nodes_) {
    ModelPg& pg = n->pg;
    if (!n->f.paused && pg.Writable()) writable.push_back(n->name);
    if (pg.crash_unacked == 0) continue;
    // The client gate: commits nobody acknowledged (crash in synchronous mode) may be served only once another
    // node holds them.
    bool held = !sync || pg.wal.size() < pg.crash_unacked;
    for (auto& r : nodes_) {
      if (r.get() == n.get()) continue;
      if (StreamingFrom(*r) == n.get() && r->pg.wal.size() >= pg.crash_unacked) held = true;
      if (StreamingFrom(*n) == r.get()) held = true;  // it follows a leader that has its WAL
    }
    if (held) {
      pg.crash_unacked = 0;
      continue;
    }
    if (n->f.paused || !pg.Writable()) continue;  // still behind the gate
    // The gate opened with the commits on this node alone. Without synchronous_mode_strict that is allowed once no
    // synchronous candidate streamed for a ttl (docs/synchronous.md); the agent sees a candidate at most a loop
    // after it streamed. Judged at the moment it opens: a standby that connects later changes nothing.
    bool recent = n->candidate_seen_ms >= 0 && now_ms_ - n->candidate_seen_ms < ttl_ms - loop_ms - 100;
    if (strict || recent) {
      Violation(n->name +
                " serves clients after a crash in synchronous mode before a standby has its WAL "
                "(client gate bypassed" +
                std::string(strict ? ", synchronous_mode_strict" : "") +
                (recent ? ", a synchronous candidate streamed " + std::to_string(now_ms_ - n->candidate_seen_ms) +
                              " ms before"
                        : "") +
                ")");
    }
    pg.crash_unacked = 0;
  }
  if (writable.size() > 1) {
    std::string list;
    for (const auto& w : writable) list += (list.empty() ? "" : ", ") + w;
    Violation("more than one writable primary: " + list);
  }
}

bool World::Healthy(std::string* why) {
  auto fail = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  std::string leader = LeaderName();
  SimNode* l = Find(leader);
  if (l == nullptr) return fail("no leader key");
  if (!l->pg.Writable()) return fail("leader " + leader + " is not a writable primary");
  for (auto& n : nodes_) {
    if (n.get() == l || !n->agent || n->f.agent_dead || n->f.paused || n->f.agent_frozen || n->pg.frozen) continue;
    if (!n->pg.running || !n->pg.in_recovery) return fail(n->name + " is not running as a replica");
    if (StreamingFrom(*n) == nullptr) return fail(n->name + " does not stream");
    if (!IsPrefix(n->pg.wal, l->pg.wal)) return fail(n->name + " has WAL the leader lacks");
  }
  return true;
}

}  // namespace pgw::sim
