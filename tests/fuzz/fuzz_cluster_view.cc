// The DCS key decoders: BuildClusterView over keys whose values are anything a member (or anyone with write access
// to etcd) could store, then every accessor the HA loop and pgwardenctl use on the result.
// The `failovers` key goes through its decoder (an error, never a crash), and what decodes must survive a round
// trip, the bound, the rejoin update and `history -v`.
// Input: NUL-separated "relative key", "value" pairs under /service/demo/.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ctl/ctl.h"
#include "dcs/failovers.h"
#include "dcs/keys.h"
#include "ha/failover_facts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  size_t p = 0;
  while (p <= in.size()) {
    size_t z = in.find('\0', p);
    parts.push_back(in.substr(p, z == std::string::npos ? std::string::npos : z - p));
    if (z == std::string::npos) break;
    p = z + 1;
  }
  const std::string prefix = "/service/demo/";
  std::map<std::string, pgw::etcd::KeyValue> kvs;
  for (size_t i = 0; i + 1 < parts.size(); i += 2) {
    pgw::etcd::KeyValue kv;
    kv.key = prefix + parts[i];
    kv.value = parts[i + 1];
    kv.mod_revision = static_cast<int64_t>(i + 1);
    kvs[kv.key] = kv;
  }
  pgw::ClusterView v = pgw::BuildClusterView(prefix, kvs, 7);
  for (const auto& [name, m] : v.members) {
    (void)m.NoFailover();
    (void)m.CloneFrom();
    (void)m.ReplicateFrom();
    (void)m.IsRunning();
    (void)m.IsPrimaryRole();
  }
  (void)v.LeaderMember();
  (void)pgw::ctl::TopologyOrder(v);
  (void)pgw::ctl::HistoryVerbose(v);
  pgw::ha::LeaderTrail trail;
  trail.Observe(v, 100.0);
  pgw::ha::PromotionFacts facts;
  facts.new_leader = "pg9";
  facts.timeline = 9;
  (void)pgw::ha::BuildFailoverRecord(trail, v, facts);
  if (v.failovers) {
    auto log = pgw::DecodeFailoverLog(*v.failovers);
    if (log.ok()) {
      std::string once = pgw::EncodeFailoverLog(*log);
      auto again = pgw::DecodeFailoverLog(once);
      if (!again.ok() || pgw::EncodeFailoverLog(*again) != once) __builtin_trap();
      for (const auto& r : log->records) {
        pgw::FailoverLog copy = *log;
        (void)pgw::SetRejoin(&copy, r.old_leader, r.new_leader, pgw::kRejoinRewound, "now");
      }
      pgw::FailoverRecord r;
      r.kind = pgw::kKindFailover;
      r.new_leader = "pg9";
      r.timeline = 1 << 30;
      pgw::AppendFailover(&*log, r, 3);
      if (log->records.size() > 3) __builtin_trap();
    }
  }
  return 0;
}
