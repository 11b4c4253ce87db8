// pgwardenctl check: the verdicts on etcd, the leader, the members and the router (pure functions of the facts).
// Replication, lag, the canary and synchronous mode are check_replication.cc.
#include <algorithm>
#include <cinttypes>
#include <set>

#include "ctl/check.h"
#include "ha/decide.h"

namespace pgw::ctl::check {

namespace {

std::string Hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "%" PRIx64, v);
  return b;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

const MemberFacts* FactsOf(const Facts& f, const std::string& name) {
  auto it = f.members.find(name);
  return it == f.members.end() ? nullptr : &it->second;
}

// j[key] when it is a string ("" otherwise); j[key] is true. Never throw on an unexpected shape.
std::string StrField(const Json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
bool TrueAt(const Json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

// The member whose PostgreSQL has this identity ("" : none of them).
std::string MemberWithIdentity(const Facts& f, const std::string& identity) {
  if (identity.empty()) return "";
  for (const auto& [name, m] : f.members) {
    if (m.pg.error.empty() && m.pg.identity == identity) return name;
  }
  return "";
}

}  // namespace

std::string FirstLine(const std::string& s) {
  std::string out = s.substr(0, s.find('\n'));
  for (char& c : out) {
    if (c == '\t' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kWarn: return "warn";
    case Verdict::kFail: return "fail";
  }
  return "fail";
}

std::vector<CheckResult> EvaluateEtcd(const EtcdFacts& e) {
  std::vector<CheckResult> out;
  std::set<uint64_t> leaders;
  int healthy = 0;
  for (const auto& ep : e.endpoints) {
    const std::string& s = ep.endpoint;
    if (!ep.error.empty()) {
      out.push_back(Fail("etcd.endpoint", s, "unreachable: " + ep.error));
      continue;
    }
    if (ep.leader_id != 0) leaders.insert(ep.leader_id);
    if (!ep.alarms.empty()) {
      out.push_back(Fail("etcd.endpoint", s, "alarms raised: " + Join(ep.alarms)));
    } else if (ep.leader_id == 0) {
      out.push_back(Fail("etcd.endpoint", s, "member " + Hex(ep.member_id) + " knows no raft leader"));
    } else if (!ep.read_error.empty()) {
      out.push_back(Fail("etcd.endpoint", s, "a quorum read failed: " + ep.read_error));
    } else if (ep.is_learner) {
      out.push_back({"etcd.endpoint", s, Verdict::kWarn, "a learner (not voting)"});
      ++healthy;
    } else {
      ++healthy;
      out.push_back(Pass("etcd.endpoint", s,
                         "healthy, member " + Hex(ep.member_id) + ", raft leader " + Hex(ep.leader_id) + ", term " +
                             std::to_string(ep.raft_term)));
    }
  }
  const int n = static_cast<int>(e.endpoints.size());
  const std::string counts =
      std::to_string(healthy) + " of " + std::to_string(n) + " endpoints healthy" +
      (e.cluster_members > 0 ? ", " + std::to_string(e.cluster_members) + " voting members" : "");
  if (healthy == 0) {
    out.push_back(Fail("etcd.quorum", "etcd", "no endpoint reads through a raft quorum (" + counts + ")"));
  } else if (leaders.size() > 1) {
    std::vector<std::string> ids;
    ids.reserve(leaders.size());
    for (uint64_t l : leaders) ids.push_back(Hex(l));
    out.push_back(Fail("etcd.quorum", "etcd", "endpoints disagree on the raft leader: " + Join(ids)));
  } else if (e.cluster_members > 0 && n >= e.cluster_members && healthy < e.cluster_members / 2 + 1) {
    out.push_back(Fail("etcd.quorum", "etcd", "fewer healthy members than a quorum (" + counts + ")"));
  } else {
    out.push_back(Pass("etcd.quorum", "etcd", "in quorum, raft leader " + Hex(*leaders.begin()) + " (" + counts + ")"));
  }
  return out;
}

std::vector<CheckResult> EvaluateLeader(const Facts& f) {
  std::vector<CheckResult> out;
  const ClusterView& c = f.cluster;
  std::vector<std::string> primaries;
  for (const auto& [name, m] : f.members) {
    if (m.pg.error.empty() && !m.pg.in_recovery) primaries.push_back(name);
  }
  if (!c.leader) {
    out.push_back(Fail("leader.unique", "cluster",
                       "no member holds the leader key" +
                           (primaries.empty() ? std::string() : "; running as primary: " + Join(primaries))));
    return out;
  }
  const std::string& leader = c.leader->name;
  const bool standby_cluster = ha::IsStandbyCluster(c);
  const MemberFacts* lf = FactsOf(f, leader);
  std::vector<std::string> others;
  for (const auto& p : primaries) {
    if (p != leader) others.push_back(p);
  }
  if (!c.FindMember(leader)) {
    out.push_back(Fail("leader.unique", leader, "holds the leader key but has no member key"));
  } else if (!others.empty()) {
    out.push_back(Fail("leader.unique", leader,
                       "more than one primary: " + Join(others) + " also run" + (others.size() == 1 ? "s" : "") +
                           " outside recovery"));
  } else if (!lf || !lf->pg.error.empty()) {
    out.push_back(
        Fail("leader.unique", leader,
             "holds the leader key but its PostgreSQL does not answer" + (lf ? ": " + lf->pg.error : std::string())));
  } else if (lf->pg.in_recovery && !standby_cluster) {
    out.push_back(Fail("leader.unique", leader, "holds the leader key but its PostgreSQL is in recovery"));
  } else {
    out.push_back(Pass("leader.unique", leader,
                       standby_cluster ? "the only standby leader" : "the only primary, holding the leader key"));
  }
  if (c.leader->lease == 0) {
    out.push_back(Fail("leader.lease", leader, "the leader key is not attached to a lease"));
  } else if (!f.lease.error.empty()) {
    out.push_back(
        Fail("leader.lease", leader,
             "lease " + Hex(static_cast<uint64_t>(c.leader->lease)) + " could not be read: " + f.lease.error));
  } else if (!f.lease.asked || f.lease.ttl <= 0) {
    out.push_back(Fail("leader.lease", leader, "lease " + Hex(static_cast<uint64_t>(c.leader->lease)) + " expired"));
  } else {
    out.push_back(Pass("leader.lease", leader, "lease live, " + std::to_string(f.lease.ttl) + " s left"));
  }
  return out;
}

std::vector<CheckResult> EvaluateMembers(const Facts& f) {
  std::vector<CheckResult> out;
  const ClusterView& c = f.cluster;
  for (const auto& [name, m] : f.members) {
    const Member* key = c.FindMember(name);
    // running: the member key says so and PostgreSQL answers.
    if (!key) {
      out.push_back(Fail("member.running", name, "no member key in etcd (agent down for longer than ttl?)"));
    } else if (!key->IsRunning()) {
      out.push_back(Fail("member.running", name, "the agent reports state '" + key->state + "'"));
    } else if (!m.pg.error.empty()) {
      out.push_back(Fail("member.running", name, "PostgreSQL does not answer: " + m.pg.error));
    } else {
      out.push_back(Pass("member.running", name, "state " + key->state + ", PostgreSQL answers"));
    }
    // api: GET /patroni answers.
    if (!m.api_error.empty()) {
      out.push_back(Fail("member.api", name, "REST API: " + m.api_error));
    } else {
      std::string state = StrField(m.patroni, "state");
      out.push_back(Pass("member.api", name, "GET /patroni answered" + (state.empty() ? "" : ", state " + state)));
    }
    // config: the agent holds etcd's config key.
    if (!m.config_error.empty() || !m.config) {
      out.push_back(Fail("member.config", name,
                         "GET /config: " + (m.config_error.empty() ? std::string("no answer") : m.config_error)));
    } else if (!c.config) {
      out.push_back(Fail("member.config", name, "etcd holds no config key"));
    } else if (std::string d = FirstDifference(*c.config, *m.config); !d.empty()) {
      out.push_back(Fail("member.config", name, "differs from etcd's config key at " + d));
    } else if (TrueAt(m.patroni, "pending_restart")) {
      out.push_back({"member.config", name, Verdict::kWarn,
                     "same as etcd's config key, but PostgreSQL must restart to apply it (pending_restart)"});
    } else {
      out.push_back(Pass("member.config", name, "same as etcd's config key"));
    }
  }
  return out;
}

std::vector<CheckResult> EvaluateRouter(const Facts& f) {
  std::vector<CheckResult> out;
  const RouterFacts& r = f.router;
  const std::string leader = f.cluster.leader ? f.cluster.leader->name : "";
  const MemberFacts* lf = leader.empty() ? nullptr : FactsOf(f, leader);
  const std::string leader_identity = lf && lf->pg.error.empty() ? lf->pg.identity : "";
  if (!r.write_addr.empty()) {
    const PgFacts& w = r.write;
    std::string who = MemberWithIdentity(f, w.identity);
    if (!w.error.empty()) {
      out.push_back(Fail("router.write", r.write_addr, "cannot query through the write port: " + w.error));
    } else if (w.in_recovery) {
      out.push_back(Fail("router.write", r.write_addr,
                         "reaches a server in recovery" + (who.empty() ? std::string() : " (" + who + ")")));
    } else if (leader_identity.empty()) {
      out.push_back(Fail("router.write", r.write_addr, "reaches a primary, but the leader could not be asked"));
    } else if (w.identity != leader_identity) {
      out.push_back(Fail("router.write", r.write_addr,
                         "reaches " + (who.empty() ? "server " + w.identity : who) + ", not the leader " + leader));
    } else {
      out.push_back(Pass("router.write", r.write_addr, "reaches the leader " + leader + ", writable"));
    }
  }
  if (!r.read_addr.empty()) {
    std::set<std::string> reached;
    std::string problem;
    int answered = 0;
    for (const PgFacts& p : r.reads) {
      if (!p.error.empty()) {
        if (problem.empty()) problem = "a connection through the read port failed: " + p.error;
        continue;
      }
      ++answered;
      std::string who = MemberWithIdentity(f, p.identity);
      if (!p.in_recovery || (!leader_identity.empty() && p.identity == leader_identity)) {
        problem = "a read connection reached the primary" + (who.empty() ? std::string() : " " + who);
        break;
      }
      reached.insert(who.empty() ? "server " + p.identity : who);
    }
    if (!problem.empty()) {
      out.push_back(Fail("router.read", r.read_addr, problem));
    } else if (answered == 0) {
      out.push_back(Fail("router.read", r.read_addr, "no connection was made through the read port"));
    } else {
      out.push_back(Pass("router.read", r.read_addr,
                         std::to_string(answered) + " connections, all on replicas: " +
                             Join(std::vector<std::string>(reached.begin(), reached.end()))));
    }
  }
  if (!r.admin_addr.empty()) {
    if (!r.admin_error.empty()) {
      out.push_back(Fail("router.admin", r.admin_addr, "GET /health: " + r.admin_error));
    } else if (r.admin_status != 200) {
      out.push_back(Fail("router.admin", r.admin_addr,
                         "GET /health answered " + std::to_string(r.admin_status) + " (etcd not fresh)"));
    } else {
      out.push_back(Pass("router.admin", r.admin_addr, "GET /health answered 200"));
    }
  }
  return out;
}

std::string FirstDifference(const Json& a, const Json& b, const std::string& path) {
  const std::string here = path.empty() ? "(top)" : path;
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      std::string sub = path.empty() ? k : path + "." + k;
      if (!a.contains(k) || !b.contains(k)) return sub;
      std::string d = FirstDifference(a.at(k), b.at(k), sub);
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>() ? "" : here;
  return a == b ? "" : here;
}

std::string UpstreamOf(const ClusterView& c, const std::string& member) {
  const Member* m = c.FindMember(member);
  if (m) {
    std::string from = m->ReplicateFrom();
    if (!from.empty() && from != member && c.FindMember(from) && (!c.leader || from != c.leader->name)) return from;
  }
  return c.leader ? c.leader->name : "";
}

std::vector<CheckResult> Evaluate(const Facts& f, const CheckOptions& o) {
  std::vector<CheckResult> out = EvaluateEtcd(f.etcd);
  for (auto* group : {&EvaluateLeader, &EvaluateMembers}) {
    auto r = (*group)(f);
    out.insert(out.end(), r.begin(), r.end());
  }
  auto repl = EvaluateReplication(f, o);
  out.insert(out.end(), repl.begin(), repl.end());
  for (auto* group : {&EvaluateSync, &EvaluateRouter}) {
    auto r = (*group)(f);
    out.insert(out.end(), r.begin(), r.end());
  }
  for (auto& r : out) r.reason = FirstLine(r.reason);
  return out;
}

}  // namespace pgw::ctl::check
