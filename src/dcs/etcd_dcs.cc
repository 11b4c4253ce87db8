#include "dcs/etcd_dcs.h"

#include <algorithm>

namespace pgw {

etcd::ClientOptions EtcdClientOptions(const Config& cfg, Duration timeout) {
  etcd::ClientOptions o;
  o.endpoints = cfg.etcd3.hosts;
  o.protocol = cfg.etcd3.protocol;
  o.username = cfg.etcd3.username;
  o.password = cfg.etcd3.password;
  o.cacert = cfg.etcd3.cacert;
  o.cert = cfg.etcd3.cert;
  o.key = cfg.etcd3.key;
  o.request_timeout = timeout;
  return o;
}

namespace {
class EtcdLeaseApi final : public LeaseApi {
 public:
  explicit EtcdLeaseApi(etcd::Client& c) : c_(c) {}
  Result<int64_t> Grant(int ttl_seconds) override { return c_.LeaseGrant(ttl_seconds); }
  Result<int64_t> KeepAlive(int64_t id) override { return c_.LeaseKeepAlive(id); }
  Status Revoke(int64_t id) override { return c_.LeaseRevoke(id); }

 private:
  etcd::Client& c_;
};

}  // namespace

EtcdDcs::EtcdDcs(const Config& cfg, const Clock& clock, Logger& log, std::function<void()> on_change)
    : prefix_(cfg.KeyPrefix()),
      name_(cfg.name),
      clock_(clock),
      log_(log),
      opts_(EtcdClientOptions(cfg, Duration(2000))) {
  // The HA loop's writes fail fast when etcd hangs, so that a cycle never sits out the demotion deadline.
  etcd::ClientOptions writes = opts_;
  writes.request_timeout = Duration(1000);
  client_ = std::make_unique<etcd::Client>(writes, log_);
  lease_client_ = std::make_unique<etcd::Client>(opts_, log_);
  api_client_ = std::make_unique<etcd::Client>(opts_, log_);
  lease_api_ = std::make_unique<EtcdLeaseApi>(*lease_client_);
  keeper_state_ = std::make_unique<LeaseKeeper>(*lease_api_, clock_, log_);
  cache_ = std::make_unique<WatchCache>(opts_, prefix_, log_, std::move(on_change));
}

EtcdDcs::~EtcdDcs() { Stop(); }

void EtcdDcs::Start(int ttl_seconds) {
  SetTtl(ttl_seconds).ok();  // no lease yet: only sets the ttl of the first grant
  cache_->Start();
  keeper_ = std::thread([this] { KeeperLoop(); });
}

void EtcdDcs::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (keeper_.joinable()) keeper_.join();
  if (cache_) cache_->Stop();
}

Status EtcdDcs::SetTtl(int ttl_seconds) {
  Status s;
  {
    std::lock_guard<std::mutex> g(grant_mu_);
    if (keeper_state_->SetTtl(ttl_seconds)) {
      // A lease's TTL is fixed at grant time: new lease first, keys onto it, then the old one goes.
      bool leader_moved = false;
      s = keeper_state_->Rotate([&](int64_t, int64_t to) { return MoveKeys(to, &leader_moved); });
      std::function<void(int64_t, MonoTime, int)> cb;
      {
        std::lock_guard<std::mutex> l(mu_);
        cb = on_lease_moved_;
      }
      // After a failed move the leader key may be on either lease: fence by the earlier deadline (Deadline()
      // is the minimum while a move is pending), reported under the pending lease so that renewals of the old
      // one alone do not extend it.
      int64_t fence_lease = s.ok() ? keeper_state_->Id() : keeper_state_->PendingId();
      if (cb && fence_lease != 0 && (leader_moved || !s.ok())) cb(fence_lease, keeper_state_->Deadline(), ttl_seconds);
      if (!s.ok()) log_.Warn("changing the lease ttl to " + std::to_string(ttl_seconds) + ": " + s.message());
    }
    // A keepalive must not hang longer than a renewal period, or one slow answer would cost a retry_timeout.
    lease_client_->SetRequestTimeout(std::clamp(keeper_state_->Period(), Duration(250), Duration(2000)));
  }
  return s;
}

void EtcdDcs::SetRetryTimeout(Duration retry_timeout) {
  if (keeper_state_->retry_timeout() == retry_timeout) return;  // called every cycle: no lock unless it changed
  {
    std::lock_guard<std::mutex> g(grant_mu_);
    keeper_state_->SetRetryTimeout(retry_timeout);
    lease_client_->SetRequestTimeout(std::clamp(keeper_state_->Period(), Duration(250), Duration(2000)));
  }
}

Status EtcdDcs::MoveKeys(int64_t to, bool* leader_moved) {
  std::string member_json;
  {
    std::lock_guard<std::mutex> l(mu_);
    member_json = last_member_json_;
  }
  std::vector<etcd::Op> both, member;
  if (!member_json.empty()) member.push_back(etcd::Op{etcd::Op::Type::kPut, MemberKey(), member_json, to, ""});
  both = member;
  both.push_back(etcd::Op{etcd::Op::Type::kPut, Key(keys::kLeader), name_, to, ""});
  etcd::Compare ours{Key(keys::kLeader), etcd::Compare::Target::kValue, etcd::Compare::Result::kEqual, 0, name_};
  auto r = client_->Txn({ours}, both, member);
  if (!r.ok()) return r.status().Context("moving keys to the new lease");
  *leader_moved = r->succeeded;
  AwaitCache(r->revision);
  return Status::Ok();
}

void EtcdDcs::SetOnLeaseMoved(std::function<void(int64_t, MonoTime, int)> f) {
  std::lock_guard<std::mutex> l(mu_);
  on_lease_moved_ = std::move(f);
}

MonoTime EtcdDcs::LeaseDeadline() const { return keeper_state_->Deadline(); }

void EtcdDcs::RevokeLease() {
  std::lock_guard<std::mutex> g(grant_mu_);
  keeper_state_->Revoke();
}

std::string EtcdDcs::WakeSignature() const {
  auto snap = cache_->Get();
  std::string sig;
  for (const char* k : {keys::kLeader, keys::kConfig, keys::kInitialize, keys::kFailover}) {
    auto it = snap.kvs->find(prefix_ + k);
    sig += it == snap.kvs->end() ? "-" : it->second.value + "@" + std::to_string(it->second.mod_revision);
    sig += "|";
  }
  return sig;
}

Status EtcdDcs::EnsureLease() {
  Status s;
  {
    std::lock_guard<std::mutex> g(grant_mu_);
    s = keeper_state_->Ensure();
  }
  return s;
}

void EtcdDcs::KeeperLoop() {
  std::unique_lock<std::mutex> l(mu_);
  bool retry_soon = false;
  while (!stop_) {
    // After a failed keepalive, try again after a quarter period rather than a whole one: with short leases a
    // single lost answer must not age the lease past retry_timeout.
    Duration wait = keeper_state_->Period();
    if (retry_soon) wait = std::max(Duration(100), wait / 4);
    // Only Stop() notifies cv_: a wait with a predicate keeps its deadline through any notification, so waking
    // the keeper for a grant or a ttl change (as the HA loop's every cycle did) cost a wake-up and moved nothing.
    // A new Period() takes effect from the next wait.
    cv_.wait_for(l, wait, [&] { return stop_; });
    if (stop_) break;
    l.unlock();
    LeaseKeeper::Outcome o;
    {
      std::lock_guard<std::mutex> g(grant_mu_);
      o = keeper_state_->Renew();
    }
    retry_soon = o == LeaseKeeper::Outcome::kFailed;
    if (o == LeaseKeeper::Outcome::kRenewed) {
      std::function<void(int64_t, MonoTime)> cb;
      {
        std::lock_guard<std::mutex> ml(mu_);
        cb = on_renewed_;
      }
      // While a ttl change is unfinished the fencer follows the pending lease (see SetTtl).
      int64_t pending = keeper_state_->PendingId();
      if (cb) cb(pending != 0 ? pending : keeper_state_->Id(), keeper_state_->Deadline());
    }
    if (o == LeaseKeeper::Outcome::kExpired) {
      // Keys attached to the lease are gone, including `leader` if we held it; the HA loop sees that through
      // the watch. Put our member key back under a new lease.
      std::string member_json;
      {
        std::lock_guard<std::mutex> ml(mu_);
        member_json = last_member_json_;
      }
      Status s = EnsureLease();
      if (s.ok() && !member_json.empty()) s = TouchMember(member_json);
      if (!s.ok()) log_.Warn("re-registering member after lease loss: " + s.message());
    }
    l.lock();
  }
}

Result<ClusterView> EtcdDcs::Cluster() {
  auto view = ClusterSnapshot();
  if (!view) return Unavailable("no view of etcd yet (" + client_->CurrentEndpoint() + ")");
  return *view;
}

std::shared_ptr<const ClusterView> EtcdDcs::ClusterSnapshot() {
  auto snap = cache_->Get();
  if (!snap.ready) return nullptr;
  // Built once per change of the cache, not once per call: the HA loop and every health check of a load balancer
  // ask for it, and decoding every member's JSON each time was most of an idle agent's work.
  std::lock_guard<std::mutex> l(view_mu_);
  if (!view_ || view_kvs_ != snap.kvs || view_revision_ != snap.revision) {
    view_ = std::make_shared<const ClusterView>(BuildClusterView(prefix_, *snap.kvs, snap.revision));
    view_kvs_ = snap.kvs;
    view_revision_ = snap.revision;
  }
  return view_;
}

namespace {
// Whether the cache holds at least what a quorum read at `revision` returned: it applied that revision, or its
// keys and their modification revisions are the same (a quiet prefix: the cache's revision stays behind the
// store's while nothing under it changes).
bool CacheCovers(const WatchCache::Snapshot& snap, const etcd::RangeResponse& read) {
  if (!snap.ready) return false;
  if (snap.revision >= read.revision) return true;
  if (snap.kvs->size() != read.kvs.size()) return false;
  for (const auto& kv : read.kvs) {
    auto it = snap.kvs->find(kv.key);
    if (it == snap.kvs->end() || it->second.mod_revision != kv.mod_revision) return false;
  }
  return true;
}
}  // namespace

// The same proof from a fingerprint (count and highest mod_revision) instead of every key. A key put after the
// cache's revision would carry a mod_revision above every one the cache holds; so when the highest mod_revisions
// are equal, every key the store has is in the cache, unchanged, and equal counts leave no key the cache holds that
// the store deleted.
bool CacheMatches(const WatchCache::Snapshot& snap, const etcd::PrefixFingerprint& f) {
  if (!snap.ready) return false;
  if (snap.revision >= f.revision) return true;
  if (static_cast<int64_t>(snap.kvs->size()) != f.count) return false;
  int64_t max_mod = 0;
  for (const auto& [key, kv] : *snap.kvs) max_mod = std::max(max_mod, kv.mod_revision);
  return max_mod == f.max_mod_revision;
}

Result<ClusterView> EtcdDcs::FreshCluster() {
  // A quorum read of the prefix's fingerprint (a few hundred bytes) proves an unchanged cache fresh; only when it
  // does not match is the whole prefix read, as before.
  auto fp = client_->Fingerprint(prefix_);
  if (!fp.ok()) return Cluster();
  if (CacheMatches(cache_->Get(), *fp)) return Cluster();
  cache_->WaitForRevision(fp->revision, Duration(200));
  if (CacheMatches(cache_->Get(), *fp)) return Cluster();
  auto read = client_->GetPrefix(prefix_);
  if (!read.ok()) return Cluster();
  cache_->WaitForRevision(read->revision, Duration(50));
  auto snap = cache_->Get();
  if (CacheCovers(snap, *read)) return Cluster();
  log_.Warn("etcd watch view is behind a quorum read (watch at revision " + std::to_string(snap.revision) +
            ", etcd at " + std::to_string(read->revision) + "): deciding on the read, moving the watch");
  cache_->Reconnect();
  std::map<std::string, etcd::KeyValue> kvs;
  for (auto& kv : read->kvs) kvs[kv.key] = std::move(kv);
  return BuildClusterView(prefix_, kvs, read->revision);
}

int EtcdDcs::watch_reconnects() const { return cache_->reconnects(); }

// A failed txn answers the store's revision, which the cache of a quiet prefix never reaches: a timeout here is
// no proof of a stuck watch (FreshCluster, at the next cycle, is the check).
void EtcdDcs::AwaitCache(int64_t revision) { cache_->WaitForRevision(revision, Duration(2000)); }

Status EtcdDcs::CreateOnly(const std::string& key, const std::string& value, int64_t lease, const char* what) {
  etcd::Compare c{key, etcd::Compare::Target::kCreate, etcd::Compare::Result::kEqual, 0, ""};
  etcd::Op put{etcd::Op::Type::kPut, key, value, lease, ""};
  auto r = client_->Txn({c}, {put});
  if (!r.ok()) return r.status().Context(what);
  if (r->succeeded) AwaitCache(r->revision);  // a failed txn wrote nothing to wait for
  if (!r->succeeded) return Status(Code::kAlreadyExists, std::string(what) + ": key exists already");
  return Status::Ok();
}

Status EtcdDcs::AttemptInitialize(const std::string& value) {
  return CreateOnly(Key(keys::kInitialize), value, 0, "initialize race");
}

Status EtcdDcs::SetInitialize(const std::string& sysid, const std::string& expected) {
  std::string key = Key(keys::kInitialize);
  etcd::Compare c{key, etcd::Compare::Target::kValue, etcd::Compare::Result::kEqual, 0, expected};
  auto r = client_->Txn({c}, {etcd::Op{etcd::Op::Type::kPut, key, sysid, 0, ""}});
  if (!r.ok()) return r.status().Context("writing initialize");
  if (r->succeeded) AwaitCache(r->revision);  // a failed txn wrote nothing to wait for
  if (!r->succeeded) return Conflict("initialize was changed by someone else");
  return Status::Ok();
}

Status EtcdDcs::DeleteKey(etcd::Client& client, const char* rel, const char* what) {
  auto r = client.Delete(Key(rel));
  if (!r.ok()) return r.status().Context(std::string("removing ") + what);
  AwaitCache(*r);
  return Status::Ok();
}

Status EtcdDcs::CancelInitialize() { return DeleteKey(*client_, keys::kInitialize, "initialize"); }

Status EtcdDcs::AttemptLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  return CreateOnly(Key(keys::kLeader), name_, keeper_state_->Id(), "leader race");
}

Status EtcdDcs::RefreshLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  std::string key = Key(keys::kLeader);
  etcd::Compare c{key, etcd::Compare::Target::kValue, etcd::Compare::Result::kEqual, 0, name_};
  auto r = client_->Txn({c}, {etcd::Op{etcd::Op::Type::kPut, key, name_, keeper_state_->Id(), ""}});
  if (!r.ok()) return r.status().Context("refreshing leader key");
  if (r->succeeded) AwaitCache(r->revision);  // a failed txn wrote nothing to wait for
  if (!r->succeeded) return Conflict("leader key is not ours");
  return Status::Ok();
}

Status EtcdDcs::DeleteLeader() {
  std::string key = Key(keys::kLeader);
  etcd::Compare c{key, etcd::Compare::Target::kValue, etcd::Compare::Result::kEqual, 0, name_};
  auto r = client_->Txn({c}, {etcd::Op{etcd::Op::Type::kDelete, key, "", 0, ""}});
  if (!r.ok()) return r.status().Context("deleting leader key");
  if (r->succeeded) AwaitCache(r->revision);  // a failed txn wrote nothing to wait for
  if (!r->succeeded) return Conflict("leader key is not ours");
  return Status::Ok();
}

Status EtcdDcs::TouchMember(const std::string& json) {
  PGW_RETURN_IF_ERROR(EnsureLease());
  int64_t lease = keeper_state_->Id();
  auto r = client_->Put(MemberKey(), json, lease);
  if (!r.ok()) {
    // The lease vanished under us: re-grant next time.
    if (r.status().code() == Code::kNotFound) keeper_state_->Forget(lease);
    return r.status().Context("writing member key");
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    last_member_json_ = json;
  }
  AwaitCache(*r);
  return Status::Ok();
}

Status EtcdDcs::WriteStatus(const std::string& json) {
  auto r = client_->Put(Key(keys::kStatus), json);
  if (!r.ok()) return r.status().Context("writing status");
  return Status::Ok();
}

Status EtcdDcs::InitializeConfig(const std::string& json) {
  Status s = CreateOnly(Key(keys::kConfig), json, 0, "seeding config");
  if (s.code() == Code::kAlreadyExists) return Status::Ok();  // someone seeded it: theirs stands
  return s;
}

void EtcdDcs::SetOnRenewed(std::function<void(int64_t, MonoTime)> f) {
  std::lock_guard<std::mutex> l(mu_);
  on_renewed_ = std::move(f);
}

Status EtcdDcs::DeleteFailover() { return DeleteKey(*client_, keys::kFailover, "failover"); }

Status EtcdDcs::DeleteSync() { return DeleteKey(*client_, keys::kSync, "sync"); }

Status EtcdDcs::WriteSync(const std::string& json, int64_t expect_mod) {
  std::string key = Key(keys::kSync);
  etcd::Compare c{key, expect_mod == 0 ? etcd::Compare::Target::kCreate : etcd::Compare::Target::kMod,
                  etcd::Compare::Result::kEqual, expect_mod, ""};
  auto r = client_->Txn({c}, {etcd::Op{etcd::Op::Type::kPut, key, json, 0, ""}});
  if (!r.ok()) return r.status().Context("writing sync");
  if (r->succeeded) AwaitCache(r->revision);  // a failed txn wrote nothing to wait for
  if (!r->succeeded) return Conflict("synchronous replication state was updated by somebody else");
  return Status::Ok();
}

Status EtcdDcs::ApiSetFailover(const std::string& json) {
  std::lock_guard<std::mutex> l(api_mu_);
  auto r = api_client_->Put(Key(keys::kFailover), json);
  if (!r.ok()) return r.status().Context("writing failover");
  AwaitCache(*r);
  return Status::Ok();
}

Status EtcdDcs::ApiDeleteFailover() {
  std::lock_guard<std::mutex> l(api_mu_);
  return DeleteKey(*api_client_, keys::kFailover, "failover");
}

Status EtcdDcs::ApiWriteConfig(const std::string& json, int64_t expect_mod) {
  std::lock_guard<std::mutex> l(api_mu_);
  std::string key = Key(keys::kConfig);
  if (expect_mod == 0) {
    auto r = api_client_->Put(key, json);
    if (!r.ok()) return r.status().Context("writing config");
    AwaitCache(*r);
    return Status::Ok();
  }
  etcd::Compare c{key, etcd::Compare::Target::kMod, etcd::Compare::Result::kEqual, expect_mod, ""};
  auto r = api_client_->Txn({c}, {etcd::Op{etcd::Op::Type::kPut, key, json, 0, ""}});
  if (!r.ok()) return r.status().Context("writing config");
  if (r->succeeded) AwaitCache(r->revision);  // a failed txn wrote nothing to wait for
  if (!r->succeeded) return Conflict("config was modified concurrently");
  return Status::Ok();
}

Status EtcdDcs::WriteFailsafe(const std::string& json) {
  auto r = client_->Put(Key(keys::kFailsafe), json);
  if (!r.ok()) return r.status().Context("writing failsafe");
  AwaitCache(*r);
  return Status::Ok();
}

Status EtcdDcs::WriteHistory(const std::string& json) {
  auto r = client_->Put(Key(keys::kHistory), json);
  if (!r.ok()) return r.status().Context("writing history");
  return Status::Ok();
}

Status EtcdDcs::UpdateFailovers(
    const std::optional<std::string>& seen, int64_t seen_mod,
    const std::function<std::optional<std::string>(const std::optional<std::string>&)>& change, int attempts) {
  std::string key = Key(keys::kFailovers);
  std::optional<std::string> current = seen;
  int64_t mod = seen ? seen_mod : 0;
  for (int i = 0; i < attempts; ++i) {
    if (i > 0) {
      auto r = client_->Get(key);
      if (!r.ok()) return r.status().Context("reading failovers");
      current.reset();
      mod = 0;
      if (!r->kvs.empty()) {
        current = r->kvs.front().value;
        mod = r->kvs.front().mod_revision;
      }
    }
    std::optional<std::string> next = change(current);
    if (!next) return Status::Ok();
    etcd::Compare c{key, mod == 0 ? etcd::Compare::Target::kCreate : etcd::Compare::Target::kMod,
                    etcd::Compare::Result::kEqual, mod, ""};
    auto r = client_->Txn({c}, {etcd::Op{etcd::Op::Type::kPut, key, *next, 0, ""}});
    if (!r.ok()) return r.status().Context("writing failovers");
    if (r->succeeded) {
      AwaitCache(r->revision);
      return Status::Ok();
    }
  }
  return Conflict("failovers: lost " + std::to_string(attempts) + " compare-and-swap races in a row");
}

}  // namespace pgw
