#include "sim_model.h"

#include <algorithm>

namespace pgw::sim {

void ModelEtcd::Commit(int64_t now_ms) {
  ++rev_;
  auto snap = std::make_shared<const KvMap>(kvs_);
  if (!history_.empty() && history_.back().at_ms == now_ms) {
    history_.back() = Snapshot{now_ms, rev_, snap};
  } else {
    history_.push_back(Snapshot{now_ms, rev_, snap});
  }
  // A bounded history: lags and stale views longer than this see the oldest kept snapshot.
  if (history_.size() > 4096) history_.erase(history_.begin(), history_.begin() + 1024);
}

const ModelEtcd::Snapshot& ModelEtcd::At(int64_t at_ms) const {
  auto it = std::upper_bound(history_.begin(), history_.end(), at_ms,
                             [](int64_t t, const Snapshot& s) { return t < s.at_ms; });
  if (it == history_.begin()) return history_.front();
  return *(it - 1);
}

int64_t ModelEtcd::Grant(int ttl_s, int64_t now_ms) {
  int64_t id = next_lease_++;
  leases_[id] = Lease{ttl_s, now_ms + int64_t{ttl_s} * 1000};
  return id;
}

Result<int64_t> ModelEtcd::KeepAlive(int64_t id, int64_t now_ms) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return NotFound("lease not found");
  it->second.expires_ms = now_ms + int64_t{it->second.ttl_s} * 1000;
  return int64_t{it->second.ttl_s};
}

void ModelEtcd::Revoke(int64_t id, int64_t now_ms) {
  if (leases_.erase(id) == 0) return;
  bool changed = false;
  for (auto it = kvs_.begin(); it != kvs_.end();) {
    if (it->second.lease == id) {
      it = kvs_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) Commit(now_ms);
}

void ModelEtcd::Expire(int64_t now_ms) {
  std::vector<int64_t> gone;
  for (const auto& [id, l] : leases_) {
    if (l.expires_ms <= now_ms) gone.push_back(id);
  }
  for (int64_t id : gone) Revoke(id, now_ms);
}

void ModelEtcd::PutRaw(const std::string& key, const std::string& value, int64_t lease) {
  auto& kv = kvs_[key];
  if (kv.key.empty()) {
    kv.key = key;
    kv.create_revision = rev_ + 1;
    kv.version = 0;
  }
  kv.value = value;
  kv.mod_revision = rev_ + 1;
  kv.version += 1;
  kv.lease = lease;
}

Result<bool> ModelEtcd::CreateOnly(const std::string& rel, const std::string& value, int64_t lease, int64_t now_ms) {
  if (lease != 0 && !LeaseAlive(lease)) return NotFound("requested lease not found");
  if (kvs_.count(prefix_ + rel)) return false;
  PutRaw(prefix_ + rel, value, lease);
  Commit(now_ms);
  return true;
}

Result<bool> ModelEtcd::PutIfValue(const std::string& rel, const std::string& expect, const std::string& value,
                                   int64_t lease, int64_t now_ms) {
  if (lease != 0 && !LeaseAlive(lease)) return NotFound("requested lease not found");
  auto it = kvs_.find(prefix_ + rel);
  if (it == kvs_.end() || it->second.value != expect) return false;
  PutRaw(prefix_ + rel, value, lease);
  Commit(now_ms);
  return true;
}

bool ModelEtcd::DeleteIfValue(const std::string& rel, const std::string& expect, int64_t now_ms) {
  auto it = kvs_.find(prefix_ + rel);
  if (it == kvs_.end() || it->second.value != expect) return false;
  kvs_.erase(it);
  Commit(now_ms);
  return true;
}

bool ModelEtcd::PutIfMod(const std::string& rel, int64_t expect_mod, const std::string& value, int64_t now_ms) {
  auto it = kvs_.find(prefix_ + rel);
  int64_t mod = it == kvs_.end() ? 0 : it->second.mod_revision;
  if (expect_mod == 0 ? it != kvs_.end() : mod != expect_mod) return false;
  PutRaw(prefix_ + rel, value, 0);
  Commit(now_ms);
  return true;
}

Status ModelEtcd::Put(const std::string& rel, const std::string& value, int64_t lease, int64_t now_ms) {
  if (lease != 0 && !LeaseAlive(lease)) return NotFound("requested lease not found");
  PutRaw(prefix_ + rel, value, lease);
  Commit(now_ms);
  return Status::Ok();
}

void ModelEtcd::Delete(const std::string& rel, int64_t now_ms) {
  if (kvs_.erase(prefix_ + rel)) Commit(now_ms);
}

std::optional<std::string> ModelEtcd::Get(const std::string& rel) const {
  auto it = kvs_.find(prefix_ + rel);
  if (it == kvs_.end()) return std::nullopt;
  return it->second.value;
}

size_t CommonPrefix(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  size_t n = std::min(a.size(), b.size());
  while (n > 0 && a[n - 1] != b[n - 1]) --n;
  return n;
}

SyncSpec ParseSyncNames(const std::string& s) {
  SyncSpec spec;
  if (s.empty()) return spec;
  if (s == "*") {
    spec.any = true;
    spec.count = 1;
    return spec;
  }
  size_t p = 0;
  spec.count = 1;
  auto paren = s.find('(');
  if (paren != std::string::npos) {
    spec.count = std::atoi(s.substr(0, paren).c_str());
    p = paren + 1;
  }
  while (true) {
    auto q = s.find('"', p);
    if (q == std::string::npos) break;
    auto e = s.find('"', q + 1);
    if (e == std::string::npos) break;
    spec.names.push_back(s.substr(q + 1, e - q - 1));
    p = e + 1;
  }
  if (spec.names.empty() && paren == std::string::npos) spec.names.push_back(s);
  return spec;
}

}  // namespace pgw::sim
