// The DCS key decoders: BuildClusterView over keys whose values are anything a member (or anyone with write access
// to etcd) could store, then every accessor the HA loop and pgwardenctl use on the result.
// The `failovers` key goes through its decoder (an error, never a crash), and what decodes must survive a round
// trip, the bound, the rejoin update and `history -v`. Every value also goes through each typed key decoder
// (dcs/key_values.h), which must not throw and must read back what it encodes.
// Input: NUL-separated "relative key", "value" pairs under /service/demo/.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ctl/ctl.h"
#include "dcs/failovers.h"
#include "dcs/key_values.h"
#include "dcs/keys.h"
#include "ha/decide.h"
#include "ha/failover_facts.h"

namespace {

// Each decoder on any value: total, and what it encodes decodes to the same.
void DecodeEveryWay(const std::string& value) {
  pgw::SyncState s = pgw::DecodeSync(value);
  for (const auto& n : s.members) {
    if (n.empty() || n.find(',') != std::string::npos) __builtin_trap();
  }
  if (pgw::DecodeSync(pgw::EncodeSync(s.leader, s.members)).members != s.members) __builtin_trap();
  pgw::FailoverKey f = pgw::DecodeFailover(value);
  if (f.request && f.request->leader.empty() && f.request->member.empty()) __builtin_trap();
  if (auto t = pgw::DecodeFailsafe(value)) {
    if (pgw::DecodeFailsafe(pgw::EncodeFailsafe(*t)) != t) __builtin_trap();
  }
  pgw::StatusKey st = pgw::DecodeStatus(value);
  if (st.optime) {
    pgw::StatusKey back = pgw::DecodeStatus(pgw::EncodeStatus(*st.optime, st.slots));
    if (back.optime != st.optime || back.slots != st.slots) __builtin_trap();
  }
  (void)pgw::DecodeLeaderOptime(value);
  (void)pgw::DecodeHistory(nlohmann::json::parse(value, nullptr, false));
}

}  // namespace

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
  for (size_t i = 1; i < parts.size(); i += 2) DecodeEveryWay(parts[i]);
  (void)pgw::ha::SyncStandbys(v, pgw::ha::SyncLeader(v));
  (void)pgw::ha::FailsafeMembers(v);
  (void)pgw::ctl::HistoryTable(v.history);
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
