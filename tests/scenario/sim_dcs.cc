// SimDcs (sim_dcs.h): EtcdDcs over the model etcd.
#include "sim_dcs.h"

#include <algorithm>

namespace pgw::sim {

Result<int64_t> SimLeaseApi::Grant(int ttl_seconds) {
  if (!w_.EtcdReachable(n_)) return Unavailable("etcd unreachable");
  return w_.etcd().Grant(ttl_seconds, w_.now_ms());
}

Result<int64_t> SimLeaseApi::KeepAlive(int64_t id) {
  if (!w_.EtcdReachable(n_)) return Unavailable("etcd unreachable");
  return w_.etcd().KeepAlive(id, w_.now_ms());
}

Status SimLeaseApi::Revoke(int64_t id) {
  if (!w_.EtcdReachable(n_)) return Unavailable("etcd unreachable");
  w_.etcd().Revoke(id, w_.now_ms());
  return Status::Ok();
}

SimDcs::SimDcs(World& w, SimNode& n) : w_(w), n_(n), lease_api_(w, n), keeper_(lease_api_, n.clock, w.quiet_log()) {}

void SimDcs::Start(int ttl_seconds) { (void)SetTtl(ttl_seconds); }

Duration SimDcs::KeeperTurn() {
  // EtcdDcs::KeeperLoop
  LeaseKeeper::Outcome o = keeper_.Renew();
  retry_soon_ = o == LeaseKeeper::Outcome::kFailed;
  if (o == LeaseKeeper::Outcome::kRenewed && on_renewed_) {
    int64_t pending = keeper_.PendingId();
    on_renewed_(pending != 0 ? pending : keeper_.Id(), keeper_.Deadline());
  }
  if (o == LeaseKeeper::Outcome::kExpired) {
    Status s = EnsureLease();
    if (s.ok() && !last_member_json_.empty()) s = TouchMember(last_member_json_);
  }
  Duration wait = keeper_.Period();
  if (retry_soon_) wait = std::max(Duration(100), wait / 4);
  return wait;
}

Status SimDcs::SetTtl(int ttl_seconds) {
  // EtcdDcs::SetTtl: a lease's ttl is fixed at grant time: new lease first, keys onto it, then the old one goes.
  if (!keeper_.SetTtl(ttl_seconds)) return Status::Ok();
  bool leader_moved = false;
  Status s = keeper_.Rotate([&](int64_t, int64_t to) { return MoveKeys(to, &leader_moved); });
  int64_t fence_lease = s.ok() ? keeper_.Id() : keeper_.PendingId();
  if (on_lease_moved_ && fence_lease != 0 && (leader_moved || !s.ok()))
    on_lease_moved_(fence_lease, keeper_.Deadline(), ttl_seconds);
  if (!s.ok()) w_.Trace(n_.name, "changing the lease ttl to " + std::to_string(ttl_seconds) + ": " + s.message());
  return s;
}

Status SimDcs::MoveKeys(int64_t to, bool* leader_moved) {
  if (!Reachable()) return Unreachable("moving keys to the new lease");
  bool ours = w_.etcd().Get("leader") == std::optional<std::string>(n_.name);
  if (!last_member_json_.empty()) {
    Status p = w_.etcd().Put("members/" + n_.name, last_member_json_, to, w_.now_ms());
    if (!p.ok()) return p.Context("moving keys to the new lease");
  }
  if (ours) {
    Status p = w_.etcd().Put("leader", n_.name, to, w_.now_ms());
    if (!p.ok()) return p.Context("moving keys to the new lease");
  }
  *leader_moved = ours;
  w_.AfterWrite(n_);
  return Status::Ok();
}

// --- reads ------------------------------------------------------------------------------------------------------

Result<ClusterView> SimDcs::Cluster() {
  if (!n_.view_ready) return Unavailable("no view of etcd yet");
  return BuildClusterView(w_.etcd().prefix(), *n_.view, n_.view_revision);
}

std::shared_ptr<const ClusterView> SimDcs::ClusterSnapshot() {
  auto v = Cluster();
  if (!v.ok()) return nullptr;
  return std::make_shared<const ClusterView>(std::move(*v));
}

std::string SimDcs::WakeSignature() const {
  std::string sig;
  if (!n_.view) return sig;
  for (const char* k : {"leader", "config", "initialize", "failover"}) {
    auto it = n_.view->find(w_.etcd().prefix() + k);
    sig += it == n_.view->end() ? "-" : it->second.value + "@" + std::to_string(it->second.mod_revision);
    sig += "|";
  }
  return sig;
}

Result<ClusterView> SimDcs::FreshCluster() {
  // A quorum read; the watch view when it holds what the read returned (a watch lagging by up to 200 ms catches
  // up during EtcdDcs's wait), else the read itself, and the watch moves to another endpoint (in the model: off the
  // stale one).
  if (!Reachable()) return Cluster();
  const auto& latest = w_.etcd().Latest();
  auto covers = [&] {
    if (!n_.view_ready || !n_.view) return false;
    if (n_.view_revision >= latest.revision) return true;
    if (n_.view->size() != latest.kvs->size()) return false;
    for (const auto& [k, kv] : *latest.kvs) {
      auto it = n_.view->find(k);
      if (it == n_.view->end() || it->second.mod_revision != kv.mod_revision) return false;
    }
    return true;
  };
  if (covers()) return Cluster();
  if (n_.view_ready && !n_.f.stale && n_.f.lag_ms <= 200) {
    return BuildClusterView(w_.etcd().prefix(), *latest.kvs, latest.revision);
  }
  w_.Trace(n_.name, "etcd watch view is behind a quorum read: deciding on the read, moving the watch");
  n_.f.stale = false;
  return BuildClusterView(w_.etcd().prefix(), *latest.kvs, latest.revision);
}

// --- writes -----------------------------------------------------------------------------------------------------

Status SimDcs::AttemptInitialize(const std::string& value) {
  if (!Reachable()) return Unreachable("initialize race");
  auto r = w_.etcd().CreateOnly("initialize", value, 0, w_.now_ms());
  if (!r.ok()) return r.status().Context("initialize race");
  if (!*r) return Status(Code::kAlreadyExists, "initialize race: key exists already");
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::SetInitialize(const std::string& sysid, const std::string& expected) {
  if (!Reachable()) return Unreachable("writing initialize");
  auto r = w_.etcd().PutIfValue("initialize", expected, sysid, 0, w_.now_ms());
  if (!r.ok()) return r.status().Context("writing initialize");
  if (!*r) return Conflict("initialize was changed by someone else");
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::CancelInitialize() { return DeleteKey("initialize"); }

Status SimDcs::AttemptLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  if (!Reachable()) return Unreachable("leader race");
  auto r = w_.etcd().CreateOnly("leader", n_.name, keeper_.Id(), w_.now_ms());
  if (!r.ok()) return r.status().Context("leader race");
  if (!*r) return Status(Code::kAlreadyExists, "leader race: key exists already");
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::RefreshLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  if (!Reachable()) return Unreachable("refreshing leader key");
  auto r = w_.etcd().PutIfValue("leader", n_.name, n_.name, keeper_.Id(), w_.now_ms());
  if (!r.ok()) return r.status().Context("refreshing leader key");
  if (!*r) return Conflict("leader key is not ours");
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::DeleteLeader() {
  if (!Reachable()) return Unreachable("deleting leader key");
  if (!w_.etcd().DeleteIfValue("leader", n_.name, w_.now_ms())) return Conflict("leader key is not ours");
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::TouchMember(const std::string& json) {
  PGW_RETURN_IF_ERROR(EnsureLease());
  if (!Reachable()) return Unreachable("writing member key");
  int64_t lease = keeper_.Id();
  Status s = w_.etcd().Put("members/" + n_.name, json, lease, w_.now_ms());
  if (!s.ok()) {
    // The lease vanished under us: re-grant next time.
    if (s.code() == Code::kNotFound) keeper_.Forget(lease);
    return s.Context("writing member key");
  }
  last_member_json_ = json;
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::PutKey(const std::string& rel, const std::string& json, bool await) {
  if (!Reachable()) return Unreachable("writing " + rel);
  PGW_RETURN_IF_ERROR(w_.etcd().Put(rel, json, 0, w_.now_ms()).Context("writing " + rel));
  if (await) w_.AfterWrite(n_);
  return Status::Ok();
}

// EtcdDcs waits for its own write in the watch after these, not after status and history.
Status SimDcs::WriteStatus(const std::string& json) { return PutKey("status", json, false); }
Status SimDcs::WriteHistory(const std::string& json) { return PutKey("history", json, false); }
Status SimDcs::WriteFailsafe(const std::string& json) { return PutKey("failsafe", json, true); }
Status SimDcs::ApiSetFailover(const std::string& json) { return PutKey("failover", json, true); }

Status SimDcs::InitializeConfig(const std::string& json) {
  if (!Reachable()) return Unreachable("seeding config");
  auto r = w_.etcd().CreateOnly("config", json, 0, w_.now_ms());
  if (!r.ok()) return r.status().Context("seeding config");
  if (*r) w_.AfterWrite(n_);
  return Status::Ok();  // someone seeded it: theirs stands
}

Status SimDcs::DeleteKey(const std::string& rel) {
  if (!Reachable()) return Unreachable("removing " + rel);
  w_.etcd().Delete(rel, w_.now_ms());
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::WriteSync(const std::string& json, int64_t expect_mod) {
  if (!Reachable()) return Unreachable("writing sync");
  if (n_.f.sync_conflicts || !w_.etcd().PutIfMod("sync", expect_mod, json, w_.now_ms()))
    return Conflict("synchronous replication state was updated by somebody else");
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::ApiWriteConfig(const std::string& json, int64_t expect_mod) {
  if (!Reachable()) return Unreachable("writing config");
  if (expect_mod == 0) return PutKey("config", json, true);
  if (!w_.etcd().PutIfMod("config", expect_mod, json, w_.now_ms())) return Conflict("config was modified concurrently");
  w_.AfterWrite(n_);
  return Status::Ok();
}

Status SimDcs::UpdateFailovers(
    const std::optional<std::string>& seen, int64_t seen_mod,
    const std::function<std::optional<std::string>(const std::optional<std::string>&)>& change, int attempts) {
  for (int i = 0; i < attempts; ++i) {
    if (!Reachable()) return Unreachable(i > 0 ? "reading failovers" : "writing failovers");
    // The first try on what the view showed, then on fresh reads.
    std::optional<std::string> current = seen;
    int64_t mod = seen ? seen_mod : 0;
    if (i > 0) {
      const auto& kvs = w_.etcd().kvs();
      auto it = kvs.find(w_.etcd().prefix() + "failovers");
      current = it == kvs.end() ? std::nullopt : std::optional<std::string>(it->second.value);
      mod = it == kvs.end() ? 0 : it->second.mod_revision;
    }
    std::optional<std::string> next = change(current);
    if (!next) return Status::Ok();
    if (w_.etcd().PutIfMod("failovers", mod, *next, w_.now_ms())) {
      w_.AfterWrite(n_);
      return Status::Ok();
    }
  }
  return Conflict("failovers: lost " + std::to_string(attempts) + " compare-and-swap races in a row");
}

}  // namespace pgw::sim
