// The etcd v3 client against a real etcd.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "dcs/etcd_client.h"
#include "dcs/watch_cache.h"
#include "helpers.h"

namespace pgw::itest {
namespace {

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("etcd");
    auto ports = FreePorts(2);
    ASSERT_TRUE(ports.ok());
    port_ = (*ports)[0];
    peer_port_ = (*ports)[1];
    client_ = std::make_unique<etcd::Client>(Options({HostPort{"127.0.0.1", port_}}), log_);
    StartEtcd();
  }
  // Starts etcd on the fixture's ports and data directory (again, after StopEtcd: same member, same data).
  void StartEtcd() {
    std::string cu = "http://127.0.0.1:" + std::to_string(port_);
    std::string pu = "http://127.0.0.1:" + std::to_string(peer_port_);
    ProcessOptions o;
    o.run_as = Unprivileged();
    auto pid = StartDetached({"etcd", "--name", "t", "--data-dir", dir_->path + "/etcd", "--listen-client-urls", cu,
                              "--advertise-client-urls", cu, "--listen-peer-urls", pu, "--initial-advertise-peer-urls",
                              pu, "--initial-cluster", "t=" + pu},
                             dir_->path + "/etcd.log", o);
    ASSERT_TRUE(pid.ok()) << pid.status().message();
    pid_ = *pid;
    ASSERT_TRUE(WaitFor([&] { return client_->Get("x").ok(); }, std::chrono::seconds(20)));
  }
  void StopEtcd() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    EXPECT_TRUE(WaitFor([&] { return Reap(pid_); }, std::chrono::seconds(10)));
    pid_ = 0;
  }
  void TearDown() override { StopEtcd(); }
  etcd::ClientOptions Options(std::vector<HostPort> eps) {
    etcd::ClientOptions o;
    o.endpoints = std::move(eps);
    o.request_timeout = Duration(1000);
    return o;
  }

  Logger log_{stderr};
  std::unique_ptr<TempDir> dir_;
  int port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = 0;
  std::unique_ptr<etcd::Client> client_;
};

TEST_F(EtcdClientTest, LeaseGrantKeepAliveRevokeDeletesAttachedKeys) {
  auto lease = client_->LeaseGrant(10);
  ASSERT_TRUE(lease.ok()) << lease.status().message();
  ASSERT_TRUE(client_->Put("/t/members/a", "{}", *lease).ok());
  auto ttl = client_->LeaseKeepAlive(*lease);
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(*ttl, 10);
  ASSERT_TRUE(client_->LeaseRevoke(*lease).ok());
  EXPECT_TRUE(client_->Get("/t/members/a")->kvs.empty());
  EXPECT_EQ(client_->LeaseKeepAlive(*lease).status().code(), Code::kNotFound);
}

TEST_F(EtcdClientTest, CreateOnlyAndCompareAndSwap) {
  using etcd::Compare;
  using etcd::Op;
  Compare create{"/t/leader", Compare::Target::kCreate, Compare::Result::kEqual, 0, ""};
  auto first = client_->Txn({create}, {Op{Op::Type::kPut, "/t/leader", "a", 0, ""}});
  auto second = client_->Txn({create}, {Op{Op::Type::kPut, "/t/leader", "b", 0, ""}});
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->succeeded);
  EXPECT_FALSE(second->succeeded);
  auto kv = client_->Get("/t/leader");
  EXPECT_EQ(kv->kvs[0].value, "a");
  int64_t mod = kv->kvs[0].mod_revision;
  auto stale = client_->Txn({{"/t/leader", Compare::Target::kMod, Compare::Result::kEqual, mod - 1, ""}},
                            {Op{Op::Type::kPut, "/t/leader", "c", 0, ""}});
  EXPECT_FALSE(stale->succeeded);
  auto fresh = client_->Txn({{"/t/leader", Compare::Target::kMod, Compare::Result::kEqual, mod, ""}},
                            {Op{Op::Type::kPut, "/t/leader", "c", 0, ""}});
  EXPECT_TRUE(fresh->succeeded);
  auto by_value = client_->Txn({{"/t/leader", Compare::Target::kValue, Compare::Result::kEqual, 0, "zzz"}},
                               {Op{Op::Type::kDelete, "/t/leader", "", 0, ""}});
  EXPECT_FALSE(by_value->succeeded);
  EXPECT_EQ(client_->Get("/t/leader")->kvs[0].value, "c");
}

TEST_F(EtcdClientTest, PrefixReadsStayInsideThePrefix) {
  ASSERT_TRUE(client_->Put("/service/a/x", "1").ok());
  ASSERT_TRUE(client_->Put("/service/a/y", "2").ok());
  ASSERT_TRUE(client_->Put("/service/ab/z", "3").ok());
  auto r = client_->GetPrefix("/service/a/");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs.size(), 2u);
  ASSERT_TRUE(client_->DeletePrefix("/service/a/").ok());
  EXPECT_EQ(client_->GetPrefix("/service/")->kvs.size(), 1u);
}

TEST_F(EtcdClientTest, FingerprintCountsThePrefixAndNamesItsLatestModification) {
  auto none = client_->Fingerprint("/service/f/");
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_EQ(none->count, 0);
  EXPECT_EQ(none->max_mod_revision, 0);
  auto x = client_->Put("/service/f/x", "1");
  auto y = client_->Put("/service/f/y", "2");
  ASSERT_TRUE(x.ok() && y.ok());
  ASSERT_TRUE(client_->Put("/service/fg/z", "3").ok());  // outside the prefix, and later
  auto f = client_->Fingerprint("/service/f/");
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->count, 2);
  EXPECT_EQ(f->max_mod_revision, *y);
  EXPECT_GT(f->revision, *y);
  auto x2 = client_->Put("/service/f/x", "changed");  // a change moves the highest mod_revision
  ASSERT_TRUE(x2.ok());
  EXPECT_EQ(client_->Fingerprint("/service/f/")->max_mod_revision, *x2);
  ASSERT_TRUE(client_->Delete("/service/f/y").ok());  // a deletion changes the count
  auto g = client_->Fingerprint("/service/f/");
  EXPECT_EQ(g->count, 1);
  EXPECT_EQ(g->max_mod_revision, *x2);
}

TEST_F(EtcdClientTest, FailsOverToTheNextEndpointAndTimesOut) {
  auto dead = FreePort();
  ASSERT_TRUE(dead.ok());
  etcd::Client two(Options({HostPort{"127.0.0.1", *dead}, HostPort{"127.0.0.1", port_}}), log_);
  EXPECT_TRUE(two.Put("/t/k", "v").ok());
  EXPECT_EQ(two.CurrentEndpoint(), "http://127.0.0.1:" + std::to_string(port_));
  etcd::Client none(Options({HostPort{"127.0.0.1", *dead}}), log_);
  auto start = std::chrono::steady_clock::now();
  auto r = none.Get("/t/k");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

// on_change runs on the cache thread after the revision is published, so a waiter on WaitForRevision can see the
// revision before the callback ran: the count is awaited, never read at once. The callback is made slow on purpose so
// that reading it at once would fail every time, not once in a hundred CI runs (CI failed so on 2026-12-07).
TEST_F(EtcdClientTest, WatchCacheFollowsChangesInsideItsPrefix) {
  std::atomic<int> changes{0};
  WatchCache cache(Options({HostPort{"127.0.0.1", port_}}), "/w/", log_, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ++changes;
  });
  cache.Start();
  auto rev = client_->Put("/w/a", "1");
  ASSERT_TRUE(rev.ok());
  ASSERT_TRUE(cache.WaitForRevision(*rev, Duration(5000)));
  ASSERT_TRUE(client_->Put("/other", "x").ok());  // outside the prefix
  auto del = client_->Delete("/w/a");
  auto rev2 = client_->Put("/w/b", "2");
  ASSERT_TRUE(cache.WaitForRevision(*rev2, Duration(5000)));
  auto snap = cache.Get();
  EXPECT_EQ(snap.kvs->count("/w/a"), 0u);
  EXPECT_EQ(snap.kvs->at("/w/b").value, "2");
  EXPECT_EQ(snap.kvs->count("/other"), 0u);
  EXPECT_TRUE(del.ok());
  // At least the full read and the batch with the deletion and /w/b (etcd may send both events in one message).
  EXPECT_TRUE(WaitFor([&] { return changes.load() >= 2; }, Duration(5000))) << changes.load() << " changes";
  cache.Stop();
}

// The watch survives an etcd restart (same port, same data): it reconnects and resumes from the revision after
// the last one it applied, so events written while it was disconnected arrive without a full re-read.
TEST_F(EtcdClientTest, WatchCacheResumesFromItsRevisionAfterEtcdRestarts) {
  std::atomic<int> changes{0};
  WatchCache cache(Options({HostPort{"127.0.0.1", port_}}), "/w/", log_, [&] { ++changes; });
  cache.Start();
  auto rev = client_->Put("/w/a", "1");
  ASSERT_TRUE(rev.ok());
  ASSERT_TRUE(cache.WaitForRevision(*rev, Duration(5000)));
  ASSERT_EQ(cache.resyncs(), 1);

  StopEtcd();
  StartEtcd();
  // Written right after the restart, before or while the watch reconnects: the resumed watch must replay them.
  auto r2 = client_->Put("/w/b", "2");
  auto r3 = client_->Delete("/w/a");
  auto r4 = client_->Put("/w/c", "3");
  ASSERT_TRUE(r2.ok() && r3.ok() && r4.ok());
  EXPECT_GT(*r2, *rev);  // revisions continue across the restart: the resume point is still valid
  ASSERT_TRUE(cache.WaitForRevision(*r4, Duration(10000)));
  auto snap = cache.Get();
  EXPECT_EQ(snap.kvs->count("/w/a"), 0u);
  EXPECT_EQ(snap.kvs->at("/w/b").value, "2");
  EXPECT_EQ(snap.kvs->at("/w/c").value, "3");
  EXPECT_EQ(cache.resyncs(), 1) << "the watch re-read everything instead of resuming from its revision";
  cache.Stop();
}

// etcd authentication as Patroni's client does it (dcs/etcd3.py). Credentials against an etcd without
// authentication enabled are accepted (etcd answers "authentication is not enabled"; before, every call failed
// with "etcd authentication as 'root' failed"); once authentication is enabled the same client takes a token; a
// token etcd forgot in a restart (simple tokens live in its memory) is replaced within the call that found it
// stale; a client without credentials, or with a wrong password, gets an error that says so.
TEST_F(EtcdClientTest, CredentialsWorkWithAndWithoutEtcdAuthentication) {
  auto creds = [&](const std::string& password) {
    auto o = Options({HostPort{"127.0.0.1", port_}});
    o.username = "root";
    o.password = password;
    return o;
  };
  etcd::Client authed(creds("pw"), log_);
  auto r = authed.Put("/auth/a", "1");
  ASSERT_TRUE(r.ok()) << "credentials against an etcd without authentication: " << r.status().message();
  ASSERT_TRUE(authed.Get("/auth/a").ok());

  std::string ep = "http://127.0.0.1:" + std::to_string(port_);
  for (const auto& argv :
       std::vector<std::vector<std::string>>{{"etcdctl", "--endpoints", ep, "user", "add", "root:pw"},
                                             {"etcdctl", "--endpoints", ep, "user", "grant-role", "root", "root"},
                                             {"etcdctl", "--endpoints", ep, "auth", "enable"}}) {
    auto run = pgw::Run(argv);
    ASSERT_TRUE(run.ok() && run->Success()) << argv[3] << ": " << (run.ok() ? run->output : run.status().message());
  }
  // The client that found authentication off takes a token now that etcd asks for one.
  r = authed.Put("/auth/b", "2");
  ASSERT_TRUE(r.ok()) << "after auth enable: " << r.status().message();

  auto anonymous = client_->Get("/auth/b");
  ASSERT_FALSE(anonymous.ok());
  EXPECT_NE(anonymous.status().message().find("etcd3.username"), std::string::npos) << anonymous.status().message();
  etcd::Client wrong(creds("nope"), log_);
  auto w = wrong.Get("/auth/b");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("authentication as 'root' failed"), std::string::npos) << w.status().message();

  // A watch with credentials follows changes, also across a restart in which etcd forgets every token (its
  // stream is then cancelled with "invalid auth token").
  WatchCache cache(creds("pw"), "/auth/", log_, [] {});
  cache.Start();
  auto c1 = authed.Put("/auth/c", "3");
  ASSERT_TRUE(c1.ok()) << c1.status().message();
  ASSERT_TRUE(cache.WaitForRevision(*c1, Duration(5000))) << "the watch with credentials saw nothing";

  // etcd restarts and forgets every token: the first call after it succeeds all the same.
  client_ = std::make_unique<etcd::Client>(creds("pw"), log_);  // StartEtcd waits with client_
  StopEtcd();
  StartEtcd();
  auto after = authed.Get("/auth/b");
  ASSERT_TRUE(after.ok()) << "the stale token was not replaced: " << after.status().message();
  EXPECT_EQ(after->kvs.size(), 1u);
  auto c2 = authed.Put("/auth/d", "4");
  ASSERT_TRUE(c2.ok()) << c2.status().message();
  EXPECT_TRUE(cache.WaitForRevision(*c2, Duration(10000))) << "the watch did not come back after the restart";
  EXPECT_EQ(cache.Get().kvs->count("/auth/d"), 1u);
  cache.Stop();
}

}  // namespace
}  // namespace pgw::itest
