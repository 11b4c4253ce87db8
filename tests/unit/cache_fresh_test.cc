// The proof that a watch cache is fresh from a fingerprint of the prefix (count and highest mod_revision, read
// through the quorum) instead of a full read: each way the store can differ from the cache is caught.
#include <gtest/gtest.h>

#include "dcs/etcd_dcs.h"

namespace pgw {
namespace {

WatchCache::Snapshot Snap(int64_t revision, const std::map<std::string, int64_t>& mods) {
  auto kvs = std::make_shared<std::map<std::string, etcd::KeyValue>>();
  for (const auto& [k, m] : mods) {
    etcd::KeyValue kv;
    kv.key = k;
    kv.mod_revision = m;
    (*kvs)[k] = kv;
  }
  return WatchCache::Snapshot{true, revision, kvs};
}

etcd::PrefixFingerprint Fp(int64_t revision, int64_t count, int64_t max_mod) { return {revision, count, max_mod}; }

TEST(CacheMatchesTest, AQuietPrefixBehindTheStoreRevisionIsFresh) {
  // Other prefixes moved the store to revision 90; nothing under ours changed since 40.
  EXPECT_TRUE(CacheMatches(Snap(40, {{"/a/leader", 40}, {"/a/members/pg0", 12}}), Fp(90, 2, 40)));
  EXPECT_TRUE(CacheMatches(Snap(90, {{"/a/leader", 40}}), Fp(90, 5, 77)));  // it applied that revision
}

TEST(CacheMatchesTest, EveryDifferenceIsCaught) {
  auto snap = Snap(40, {{"/a/leader", 40}, {"/a/members/pg0", 12}});
  EXPECT_FALSE(CacheMatches(snap, Fp(90, 2, 85)));  // a key changed (or one deleted and another put) since
  EXPECT_FALSE(CacheMatches(snap, Fp(90, 3, 85)));  // a key added
  EXPECT_FALSE(CacheMatches(snap, Fp(90, 1, 40)));  // pg0's key expired with its lease
  EXPECT_FALSE(CacheMatches(snap, Fp(90, 1, 12)));  // the leader key expired
  EXPECT_FALSE(CacheMatches(snap, Fp(90, 0, 0)));   // everything gone
  EXPECT_FALSE(CacheMatches(WatchCache::Snapshot{}, Fp(1, 0, 0)));  // no first read yet
}

}  // namespace
}  // namespace pgw
