// The simulated cluster's environment: a model etcd and a model PostgreSQL (docs/testing.md). Pure data and
// rules, no threads, no sockets, no real time: the world (sim_world.h) moves the clock and calls these.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "dcs/etcd_codec.h"
#include "pg/conf.h"

namespace pgw::sim {

using KvMap = std::map<std::string, etcd::KeyValue>;

// etcd as one linearizable store: revisions, leases with a ttl counted on the global clock, create-only and
// compare-and-swap writes, and a history of snapshots so that a node's watch can lag behind or freeze.
class ModelEtcd {
 public:
  struct Snapshot {
    int64_t at_ms;
    int64_t revision;
    std::shared_ptr<const KvMap> kvs;
  };

  explicit ModelEtcd(std::string prefix) : prefix_(std::move(prefix)) { Commit(0); }
  const std::string& prefix() const { return prefix_; }
  int64_t revision() const { return rev_; }
  const KvMap& kvs() const { return kvs_; }

  int64_t Grant(int ttl_s, int64_t now_ms);
  // The lease's ttl, or kNotFound when it expired or was revoked.
  Result<int64_t> KeepAlive(int64_t id, int64_t now_ms);
  void Revoke(int64_t id, int64_t now_ms);
  bool LeaseAlive(int64_t id) const { return leases_.count(id) != 0; }
  // Expires the leases whose ttl ran out, with the keys attached to them.
  void Expire(int64_t now_ms);

  // Writes; `rel` is relative to the prefix. Each returns whether the comparison held (the write happened).
  Result<bool> CreateOnly(const std::string& rel, const std::string& value, int64_t lease, int64_t now_ms);
  Result<bool> PutIfValue(const std::string& rel, const std::string& expect, const std::string& value, int64_t lease,
                          int64_t now_ms);
  bool DeleteIfValue(const std::string& rel, const std::string& expect, int64_t now_ms);
  // expect_mod 0: only when absent.
  bool PutIfMod(const std::string& rel, int64_t expect_mod, const std::string& value, int64_t now_ms);
  Status Put(const std::string& rel, const std::string& value, int64_t lease, int64_t now_ms);
  void Delete(const std::string& rel, int64_t now_ms);
  std::optional<std::string> Get(const std::string& rel) const;

  // The store as it was at `at_ms` (the last snapshot taken at or before it).
  const Snapshot& At(int64_t at_ms) const;
  const Snapshot& Latest() const { return history_.back(); }

 private:
  struct Lease {
    int ttl_s;
    int64_t expires_ms;
  };
  void Commit(int64_t now_ms);
  void PutRaw(const std::string& key, const std::string& value, int64_t lease);

  std::string prefix_;
  int64_t rev_ = 1;
  KvMap kvs_;
  std::map<int64_t, Lease> leases_;
  int64_t next_lease_ = 7000;
  std::vector<Snapshot> history_;
};

// WAL positions: record i (0-based) ends at Lsn(i + 1).
constexpr int64_t kLsnBase = 0x3000000;
constexpr int64_t kRecordBytes = 1000;
inline int64_t Lsn(size_t records) { return kLsnBase + static_cast<int64_t>(records) * kRecordBytes; }

// One PostgreSQL data directory and postmaster. WAL is a list of globally unique record ids: a record is written
// once, on one node, after that node's previous record, so two WALs share a prefix exactly when they hold the same
// record at the shorter one's last position (IsPrefix is O(1)).
struct ModelPg {
  bool has_data = false;
  std::string sysid;
  bool running = false;
  bool in_recovery = false;
  int timeline = 0;
  std::vector<uint64_t> wal;
  // pg_wal/<timeline>.history of the current timeline: one line per switch ("1\t0/3001000\tno recovery ...").
  std::string history;
  std::string cluster_state;  // pg_control state as pg_controldata prints it
  bool backup_label = false;
  std::optional<Upstream> upstream;
  std::string sync_names;
  std::vector<std::string> slots;
  bool gate_marker = false;  // the client gate's marker file
  bool gated = false;        // running as primary behind the gate
  int64_t gate_lsn = 0;
  // Records up to this count may hold commits nobody acknowledged: the node crashed as a primary in synchronous
  // mode. Cleared once another node has them (the client-gate invariant).
  size_t crash_unacked = 0;
  int64_t promote_done_ms = -1;  // node clock: a slow promotion in progress completes then
  bool frozen = false;           // SIGSTOPped postmaster
  bool stalled = false;          // WAL receiver connected but receiving nothing

  // Commits waiting for a synchronous standby: (position, record id).
  std::vector<std::pair<size_t, uint64_t>> pending;

  bool Writable() const { return running && !in_recovery && !gated && !frozen && promote_done_ms < 0; }
};

inline bool IsPrefix(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  if (a.empty()) return true;
  return b.size() >= a.size() && b[a.size() - 1] == a.back();
}
size_t CommonPrefix(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b);

// synchronous_standby_names as RenderSyncNames writes it: the names and how many must confirm. "*": any standby.
struct SyncSpec {
  bool any = false;
  int count = 0;
  std::vector<std::string> names;
};
SyncSpec ParseSyncNames(const std::string& s);

}  // namespace pgw::sim
