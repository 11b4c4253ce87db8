// Shared by the benchmarks: a sandbox cluster of pgwarden or of the real Patroni (same configuration files), a
// write probe through a libpq multi-host connection string, crash and switchover rounds.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fs.h"
#include "common/process.h"
#include "common/wait.h"
#include "net/http_client.h"
#include "pg/libpq.h"
#include "testkit/forwarder.h"
#include "testkit/probe.h"
#include "testkit/sandbox.h"

namespace pgw {

using Json = nlohmann::json;

inline MonoTime Now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

// How often the benchmarks' waits (common/wait.h) look again.
inline constexpr Duration kBenchPoll{50};

// Local wall-clock time as the agents' logs print it ("HH:MM:SS,mmm"), to line a round up with those logs.
inline std::string WallClockMillis() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  localtime_r(&tv.tv_sec, &t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d,%03ld", t.tm_hour, t.tm_min, t.tm_sec,
                static_cast<long>(tv.tv_usec / 1000));
  return buf;
}

// "2,3,5" -> {2, 3, 5} (a --profiles argument; an empty item or a word gives 0, which callers refuse).
inline std::vector<int> ParseIntList(const std::string& list) {
  std::vector<int> out;
  for (size_t p = 0; p <= list.size();) {
    size_t c = list.find(',', p);
    if (c == std::string::npos) c = list.size();
    out.push_back(std::atoi(list.substr(p, c - p).c_str()));
    p = c + 1;
  }
  return out;
}

inline std::string Query(const std::string& conninfo, const std::string& sql) {
  PgConnection c;
  if (!c.Connect(conninfo, Duration(3000)).ok()) return "";
  auto r = c.Query(sql);
  if (!r.ok() || r->empty() || !r->front()[0]) return "";
  return *r->front()[0];
}

struct System {
  std::string label;
  std::string binary;
  int ttl, loop_wait;
  double retry_timeout;
  std::string extra_dcs;  // YAML lines under bootstrap.dcs (4-space indent)
  // Each node reaches etcd only through its own Forwarder (Bench::EtcdLink), so that one node alone can be cut off.
  bool etcd_links = false;
  int max_connections = 50;
};

struct Round {
  Duration gap{0};
  Duration gap_start{0};  // when the longest gap began, from the fault (or the switchover request)
  size_t lost = 0;
  size_t acked = 0;
  std::string crash_at;  // CrashRound: wall-clock time of the kill, as the agents' logs print it
};

// Memory of a process: resident set (shared library pages included) and private pages (what the process costs
// beyond libraries other processes map too), from /proc/PID/smaps_rollup.
struct MemKb {
  long rss = 0;
  long private_kb = 0;
};

inline MemKb ProcessMemory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  MemKb m;
  while (std::getline(in, line)) {
    if (line.rfind("Rss:", 0) == 0) m.rss = std::atol(line.c_str() + 4);
    if (line.rfind("Private_Clean:", 0) == 0) m.private_kb += std::atol(line.c_str() + 14);
    if (line.rfind("Private_Dirty:", 0) == 0) m.private_kb += std::atol(line.c_str() + 14);
  }
  return m;
}

class Bench {
 public:
  Bench(System sys, std::string dir, Logger& log) : sys_(std::move(sys)), dir_(std::move(dir)), log_(log) {}

  Status Start() {
    SandboxSpec spec;
    spec.dir = dir_;
    spec.nodes = 3;
    spec.scope = "bench";
    spec.pgwarden_bin = sys_.binary;
    spec.ttl = sys_.ttl;
    spec.loop_wait = sys_.loop_wait;
    spec.retry_timeout = sys_.retry_timeout;
    spec.extra_dcs = sys_.extra_dcs;
    spec.max_connections = sys_.max_connections;
    if (sys_.etcd_links) {
      for (int i = 0; i < spec.nodes; ++i) {
        links_.push_back(std::make_unique<Forwarder>());
        if (links_.back()->port() <= 0) return Unavailable("cannot listen for an etcd link forwarder");
        spec.node_etcd_hosts.push_back(links_.back()->address());
      }
    }
    auto sb = Sandbox::Up(spec, log_);
    if (!sb.ok()) return sb.status();
    sb_ = std::make_unique<Sandbox>(std::move(*sb));
    for (auto& l : links_) l->SetTarget(sb_->EtcdEndpoint());
    PGW_RETURN_IF_ERROR(sb_->WaitHealthy(Duration(180000)));
    std::string hosts, ports;
    for (const auto& n : sb_->nodes()) {
      hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1");
      ports += (ports.empty() ? "" : ",") + std::to_string(n.pg_port);
    }
    multi_ = "host=" + hosts + " port=" + ports + " user=postgres password=" + Sandbox::kSuperuserPassword +
             " dbname=postgres target_session_attrs=read-write";
    return WriteProbe::CreateTable(multi_, "bench");
  }

  Sandbox& sandbox() { return *sb_; }
  // The forwarder between `node` and etcd (System::etcd_links), or nullptr.
  Forwarder* EtcdLink(const std::string& node) {
    for (size_t i = 0; i < links_.size() && sb_; ++i) {
      if (sb_->nodes()[i].name == node) return links_[i].get();
    }
    return nullptr;
  }
  const std::string& multi() const { return multi_; }
  const System& system() const { return sys_; }

  // Keeps the directory (logs) when the run failed.
  void Stop(bool keep) {
    StopHaproxy();
    if (sb_) {
      Status s = sb_->Down(!keep);
      if (keep) std::fprintf(stderr, "logs kept in %s\n", dir_.c_str());
      if (!s.ok()) log_.Warn(s.message());
    }
  }

  std::string Leader() {
    for (const auto& n : sb_->nodes()) {
      if (Query(sb_->Conninfo(n.name), "SELECT pg_is_in_recovery()") == "f") return n.name;
    }
    return "";
  }

  // Per node, averaged: the agent plus its fence supervisor process (pgwarden), or the Patroni process.
  MemKb AgentMemory() {
    MemKb total;
    for (const auto& n : sb_->nodes()) {
      std::vector<pid_t> pids = FenceSupervisorsOf(n.data_dir);
      pids.push_back(n.pid);
      for (pid_t p : pids) {
        MemKb m = ProcessMemory(p);
        total.rss += m.rss;
        total.private_kb += m.private_kb;
      }
    }
    long nodes = std::max<long>(1, static_cast<long>(sb_->nodes().size()));
    return {total.rss / nodes, total.private_kb / nodes};
  }

  Result<Round> CrashRound(int64_t first_id) {
    std::string leader = Leader();
    if (leader.empty()) return Unavailable("no writable leader before the round");
    WriteProbe probe(multi_, "bench", first_id, Duration(10));
    probe.Start();
    if (!WaitFor([&] { return probe.Acks().size() >= 20; }, Duration(10000), kBenchPoll)) {
      probe.Stop();
      return Unavailable("the probe could not write before the crash");
    }
    const SandboxNode* n = sb_->Node(leader);
    auto pm = sb_->PostmasterPid(leader);
    MonoTime crash = Now();
    std::string crash_at = WallClockMillis();
    kill(n->pid, SIGKILL);
    for (pid_t p : FenceSupervisorsOf(n->data_dir)) kill(p, SIGKILL);
    if (pm) kill(*pm, SIGKILL);
    Status s = sb_->SignalNode(leader, SIGKILL, true, Duration(10000));
    int old_port = n->pg_port;
    bool resumed = WaitFor(
        [&] {
          auto acks = probe.Acks();
          return !acks.empty() && acks.back().at > crash && acks.back().server_port != old_port;
        },
        Duration(120000), kBenchPoll);
    // One more second of writes on the new primary, so the gap is measured between real acknowledgements.
    std::this_thread::sleep_for(Duration(1000));
    probe.Stop();
    if (!resumed) return Timeout("writes did not resume within 120 s");
    auto acks = probe.Acks();
    Round r;
    r.acked = acks.size();
    r.gap = WriteProbe::LongestGap(acks, crash - Duration(1000), acks.back().at);
    r.crash_at = crash_at;
    std::string fresh = Leader();
    auto missing = WriteProbe::Missing(sb_->Conninfo(fresh), "bench", acks);
    if (!missing.ok()) return missing.status();
    r.lost = missing->size();
    // Bring the dead node back and wait until it streams again before the next round.
    PGW_RETURN_IF_ERROR(sb_->StartNode(leader));
    Status h = sb_->WaitHealthy(Duration(180000));
    if (!h.ok()) return h.Context(leader + " did not rejoin");
    return r;
  }

  // A planned switchover (POST /switchover to the leader) under a steady write load through `conninfo` (the
  // multi-host string when empty). Returns the longest stretch without an acknowledged write.
  // name_candidate false: POST /switchover names only the leader (`switchover --force` without a candidate).
  Result<Round> SwitchoverRound(int64_t first_id, const std::string& conninfo = "", bool name_candidate = true) {
    std::string leader = Leader();
    if (leader.empty()) return Unavailable("no writable leader before the round");
    std::string cand;
    for (const auto& n : sb_->nodes()) {
      if (n.name != leader && cand.empty()) cand = n.name;
    }
    WriteProbe probe(conninfo.empty() ? multi_ : conninfo, "bench", first_id, Duration(10));
    probe.Start();
    if (!WaitFor([&] { return probe.Acks().size() >= 20; }, Duration(15000), kBenchPoll)) {
      probe.Stop();
      return Unavailable("the probe could not write before the switchover");
    }
    const SandboxNode* n = sb_->Node(leader);
    int old_port = n->pg_port;
    MonoTime begin = Now();
    HttpClient http;
    HttpRequest req;
    req.method = "POST";
    req.url = "http://127.0.0.1:" + std::to_string(n->api_port) + "/switchover";
    req.body = name_candidate ? Json{{"leader", leader}, {"candidate", cand}}.dump() : Json{{"leader", leader}}.dump();
    req.headers["Content-Type"] = "application/json";
    req.timeout = Duration(60000);
    auto resp = http.Do(req);
    bool resumed = WaitFor(
        [&] {
          auto acks = probe.Acks();
          return !acks.empty() && acks.back().at > begin && acks.back().server_port != old_port;
        },
        Duration(60000), kBenchPoll);
    std::this_thread::sleep_for(Duration(1000));
    probe.Stop();
    if (!resp.ok() || resp->status != 200) {
      return Unavailable("switchover refused: " + (resp.ok() ? resp->body : resp.status().message()));
    }
    if (!resumed) return Timeout("writes did not resume on the new leader within 60 s");
    auto acks = probe.Acks();
    Round r;
    r.acked = acks.size();
    r.gap = WriteProbe::LongestGap(acks, begin, acks.back().at);
    MonoTime prev = begin;
    for (const auto& a : acks) {
      if (a.at < begin) continue;
      if (a.at - prev == r.gap) r.gap_start = std::chrono::duration_cast<Duration>(prev - begin);
      prev = a.at;
    }
    if (!name_candidate) {
      cand = Leader();
      if (cand.empty()) return Unavailable("no writable leader after the switchover");
    }
    auto missing = WriteProbe::Missing(sb_->Conninfo(cand), "bench", acks);
    if (!missing.ok()) return missing.status();
    r.lost = missing->size();
    Status h = sb_->WaitHealthy(Duration(120000));
    if (!h.ok()) return h.Context("the cluster did not settle after the switchover");
    return r;
  }

  // Starts HAProxy with a write port checked on /primary (`inter` ms, default fall/rise), and with_read_port a
  // read port checked on /replica (Patroni's documented HAProxy setup); returns the write port.
  Result<int> StartHaproxy(int inter_ms, bool with_read_port = false) {
    auto ports = FreePorts(2);
    if (!ports.ok()) return ports.status();
    std::string cfg =
        "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 1s\n  timeout client 60s\n"
        "  timeout server 60s\n";
    for (int side = 0; side < (with_read_port ? 2 : 1); ++side) {
      cfg += std::string("listen ") + (side == 0 ? "primary" : "replicas") +
             "\n  bind 127.0.0.1:" + std::to_string((*ports)[side]) + "\n  option httpchk GET " +
             (side == 0 ? "/primary" : "/replica") + "\n  http-check expect status 200\n  default-server inter " +
             std::to_string(inter_ms) + "ms on-marked-down shutdown-sessions\n";
      for (const auto& n : sb_->nodes()) {
        cfg += "  server " + n.name + " 127.0.0.1:" + std::to_string(n.pg_port) + " check port " +
               std::to_string(n.api_port) + "\n";
      }
    }
    auto port = std::optional<int>((*ports)[0]);
    PGW_RETURN_IF_ERROR(WriteFileAtomic(dir_ + "/haproxy.cfg", cfg, 0644));
    auto pid = StartDetached({"/usr/sbin/haproxy", "-db", "-f", dir_ + "/haproxy.cfg"}, dir_ + "/haproxy.log");
    if (!pid.ok()) return pid.status();
    haproxy_pid_ = *pid;
    return *port;
  }
  std::string ConninfoVia(int port) const {
    return "host=127.0.0.1 port=" + std::to_string(port) +
           " user=postgres password=" + std::string(Sandbox::kSuperuserPassword) + " dbname=postgres";
  }
  pid_t haproxy_pid() const { return haproxy_pid_; }
  void StopHaproxy() {
    if (haproxy_pid_ <= 0) return;
    kill(haproxy_pid_, SIGTERM);
    WaitFor([&] { return Reap(haproxy_pid_); }, Duration(5000), kBenchPoll);
    haproxy_pid_ = 0;
  }

 private:
  pid_t haproxy_pid_ = 0;
  System sys_;
  std::string dir_;
  Logger& log_;
  std::vector<std::unique_ptr<Forwarder>> links_;  // declared first: outlives the sandbox's agents
  std::unique_ptr<Sandbox> sb_;
  std::string multi_;
};

inline std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string p(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return p.substr(0, p.rfind('/'));
}

}  // namespace pgw
