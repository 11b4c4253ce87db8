#include "dcs/etcd_dcs.h"

namespace pgw {

namespace {
etcd::ClientOptions ClientOptionsFrom(const Config& cfg, Duration timeout) {
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
}  // namespace

EtcdDcs::EtcdDcs(const Config& cfg, const Clock& clock, Logger& log, std::function<void()> on_change)
    : prefix_(cfg.KeyPrefix()), name_(cfg.name), clock_(clock), log_(log),
      opts_(ClientOptionsFrom(cfg, Duration(2000))) {
  client_ = std::make_unique<etcd::Client>(opts_, log_);
  lease_client_ = std::make_unique<etcd::Client>(opts_, log_);
  cache_ = std::make_unique<WatchCache>(opts_, prefix_, log_, std::move(on_change));
}

EtcdDcs::~EtcdDcs() { Stop(); }

void EtcdDcs::Start(int ttl_seconds) {
  ttl_ = ttl_seconds;
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

void EtcdDcs::SetTtl(int ttl_seconds) {
  if (ttl_.exchange(ttl_seconds) != ttl_seconds) {
    // A lease's TTL is fixed at grant time: take a new lease on the next EnsureLease (Patroni does the same).
    std::lock_guard<std::mutex> l(mu_);
    lease_id_ = 0;
  }
  cv_.notify_all();
}

MonoTime EtcdDcs::LeaseDeadline() const {
  std::lock_guard<std::mutex> l(mu_);
  return lease_deadline_;
}

void EtcdDcs::RevokeLease() {
  int64_t id = lease_id_.exchange(0);
  if (id == 0) return;
  Status s = lease_client_->LeaseRevoke(id);
  if (!s.ok()) log_.Warn("could not revoke lease: " + s.message());
}

std::string EtcdDcs::WakeSignature() const {
  auto snap = cache_->Get();
  std::string sig;
  for (const char* k : {keys::kLeader, keys::kConfig, keys::kInitialize}) {
    auto it = snap.kvs->find(prefix_ + k);
    sig += it == snap.kvs->end() ? "-" : it->second.value + "@" + std::to_string(it->second.mod_revision);
    sig += "|";
  }
  return sig;
}

Status EtcdDcs::EnsureLease() {
  std::lock_guard<std::mutex> g(grant_mu_);
  if (lease_id_.load() != 0) return Status::Ok();
  MonoTime sent = clock_.Now();
  auto id = lease_client_->LeaseGrant(ttl_.load());
  if (!id.ok()) return id.status().Context("granting an etcd lease");
  {
    std::lock_guard<std::mutex> l(mu_);
    lease_id_ = *id;
    lease_deadline_ = sent + Duration(ttl_.load() * 1000);
  }
  cv_.notify_all();
  return Status::Ok();
}

void EtcdDcs::KeeperLoop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    // Renew a few times per TTL so that one lost keepalive never costs the lease.
    Duration period(std::max(200, ttl_.load() * 1000 / 4));
    cv_.wait_for(l, period, [&] { return stop_; });
    if (stop_) break;
    int64_t id = lease_id_.load();
    if (id == 0) continue;
    l.unlock();
    MonoTime sent = clock_.Now();
    auto ttl = lease_client_->LeaseKeepAlive(id);
    std::string member_json;
    l.lock();
    if (ttl.ok()) {
      lease_deadline_ = sent + Duration(*ttl * 1000);
    } else if (ttl.status().code() == Code::kNotFound) {
      // The lease expired (etcd unreachable for longer than the TTL, or revoked). Keys attached to it are gone,
      // including `leader` if we held it; the HA loop sees that. Put our member key back under a new lease.
      log_.Warn("etcd lease " + std::to_string(id) + " expired; granting a new one");
      if (lease_id_.load() == id) lease_id_ = 0;
      member_json = last_member_json_;
    } else {
      log_.Warn("lease keepalive failed: " + ttl.status().message());
    }
    if (!member_json.empty()) {
      l.unlock();
      Status s = EnsureLease();
      if (s.ok()) s = TouchMember(member_json);
      if (!s.ok()) log_.Warn("re-registering member after lease loss: " + s.message());
      l.lock();
    }
  }
}

Result<ClusterView> EtcdDcs::Cluster() {
  auto snap = cache_->Get();
  if (!snap.ready) return Unavailable("no view of etcd yet (" + client_->CurrentEndpoint() + ")");
  return BuildClusterView(prefix_, *snap.kvs, snap.revision);
}

void EtcdDcs::AwaitCache(int64_t revision) { cache_->WaitForRevision(revision, Duration(2000)); }

Status EtcdDcs::CreateOnly(const std::string& key, const std::string& value, int64_t lease, const char* what) {
  etcd::Compare c{key, etcd::Compare::Target::kCreate, etcd::Compare::Result::kEqual, 0, ""};
  etcd::Op put{etcd::Op::Type::kPut, key, value, lease, ""};
  auto r = client_->Txn({c}, {put});
  if (!r.ok()) return r.status().Context(what);
  AwaitCache(r->revision);
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
  AwaitCache(r->revision);
  if (!r->succeeded) return Conflict("initialize was changed by someone else");
  return Status::Ok();
}

Status EtcdDcs::CancelInitialize() {
  auto r = client_->Delete(Key(keys::kInitialize));
  if (!r.ok()) return r.status().Context("removing initialize");
  AwaitCache(*r);
  return Status::Ok();
}

Status EtcdDcs::AttemptLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  return CreateOnly(Key(keys::kLeader), name_, lease_id_.load(), "leader race");
}

Status EtcdDcs::RefreshLeader() {
  PGW_RETURN_IF_ERROR(EnsureLease());
  std::string key = Key(keys::kLeader);
  etcd::Compare c{key, etcd::Compare::Target::kValue, etcd::Compare::Result::kEqual, 0, name_};
  auto r = client_->Txn({c}, {etcd::Op{etcd::Op::Type::kPut, key, name_, lease_id_.load(), ""}});
  if (!r.ok()) return r.status().Context("refreshing leader key");
  AwaitCache(r->revision);
  if (!r->succeeded) return Conflict("leader key is not ours");
  return Status::Ok();
}

Status EtcdDcs::DeleteLeader() {
  std::string key = Key(keys::kLeader);
  etcd::Compare c{key, etcd::Compare::Target::kValue, etcd::Compare::Result::kEqual, 0, name_};
  auto r = client_->Txn({c}, {etcd::Op{etcd::Op::Type::kDelete, key, "", 0, ""}});
  if (!r.ok()) return r.status().Context("deleting leader key");
  AwaitCache(r->revision);
  if (!r->succeeded) return Conflict("leader key is not ours");
  return Status::Ok();
}

Status EtcdDcs::TouchMember(const std::string& json) {
  PGW_RETURN_IF_ERROR(EnsureLease());
  auto r = client_->Put(MemberKey(), json, lease_id_.load());
  if (!r.ok()) {
    if (r.status().code() == Code::kNotFound) lease_id_ = 0;  // lease vanished under us: re-grant next time
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

Status EtcdDcs::WriteHistory(const std::string& json) {
  auto r = client_->Put(Key(keys::kHistory), json);
  if (!r.ok()) return r.status().Context("writing history");
  return Status::Ok();
}

}  // namespace pgw
