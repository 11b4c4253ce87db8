// pgwardenctl check: the gathering half. Asks etcd (each endpoint on its own), the leader key's lease, every member's
// agent (GET /patroni, GET /config) and PostgreSQL (as the superuser of the configuration), writes the canary row on
// the leader and waits for it on the replicas, and connects through the router. Members and etcd endpoints are asked
// in parallel, and every call is bounded (CheckOptions::timeout; the canary by canary_timeout): nothing here hangs.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <thread>

#include "ctl/check.h"
#include "ctl/session.h"
#include "dcs/etcd_client.h"
#include "dcs/etcd_dcs.h"
#include "ha/decide.h"
#include "pg/libpq.h"

namespace pgw::ctl::check {

std::string SuperuserConnInfo(const Config& target, const HostPort& hp, const std::string& dbname,
                              const std::string& username, const std::string& application_name) {
  const PgUser& su = target.postgresql.superuser;
  std::vector<std::pair<std::string, std::string>> kv = {{"host", hp.host},
                                                         {"port", std::to_string(hp.port)},
                                                         {"dbname", dbname},
                                                         {"user", !username.empty()      ? username
                                                                  : !su.username.empty() ? su.username
                                                                                         : "postgres"},
                                                         {"application_name", application_name}};
  if (!su.password.empty() && (username.empty() || username == su.username)) kv.emplace_back("password", su.password);
  for (const auto& [k, v] : su.options) kv.emplace_back(k, v);
  return ConnInfo(kv);
}

namespace {

MonoTime Now() { return RealClock().Now(); }

int64_t Int(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return 0;
  const Json& v = j.at(key);
  if (v.is_number()) return v.get<int64_t>();
  if (v.is_string()) return std::strtoll(v.get<std::string>().c_str(), nullptr, 10);
  return 0;
}

bool True(const Json& j, const char* key) {
  auto it = j.is_object() ? j.find(key) : j.end();
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

uint64_t Uint(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return 0;
  const Json& v = j.at(key);
  if (v.is_number()) return v.get<uint64_t>();
  if (v.is_string()) return std::strtoull(v.get<std::string>().c_str(), nullptr, 10);
  return 0;
}

// Runs fn(i) for i in [0, n) on n threads and waits for all of them.
template <typename F>
void Parallel(size_t n, F fn) {
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) threads.emplace_back([&fn, i] { fn(i); });
  for (auto& t : threads) t.join();
}

EtcdEndpointFacts AskEndpoint(const Config& target, const HostPort& ep, const std::string& prefix, Duration timeout,
                              int* members) {
  EtcdEndpointFacts f;
  f.endpoint = ep.ToString();
  Logger quiet(stderr, LogLevel::kCritical);
  etcd::ClientOptions opts = EtcdClientOptions(target, timeout);
  opts.endpoints = {ep};
  etcd::Client client(opts, quiet);
  auto st = client.Raw("/v3/maintenance/status", Json::object());
  if (!st.ok()) {
    f.error = st.status().message();
    return f;
  }
  f.member_id = st->contains("header") ? Uint(st->at("header"), "member_id") : 0;
  f.leader_id = Uint(*st, "leader");
  f.raft_term = Int(*st, "raftTerm");
  f.is_learner = True(*st, "isLearner");
  if (st->contains("errors") && st->at("errors").is_array()) {
    for (const auto& e : st->at("errors")) f.alarms.push_back(e.is_string() ? e.get<std::string>() : e.dump());
  }
  // A linearizable read goes through the raft leader: it fails on a member cut off from the quorum.
  auto read = client.Get(prefix + keys::kLeader);
  if (!read.ok()) f.read_error = read.status().message();
  auto list = client.Raw("/v3/cluster/member/list", Json::object());
  if (list.ok() && list->contains("members") && list->at("members").is_array()) {
    int voting = 0;
    for (const auto& m : list->at("members")) voting += True(m, "isLearner") ? 0 : 1;
    *members = voting;
  }
  return f;
}

std::string MemberConnInfo(const Config& target, const HostPort& hp, const CheckOptions& o) {
  return SuperuserConnInfo(target, hp, o.dbname, o.username, "pgwardenctl check");
}

// The identity of the server behind `c` (in_recovery, identity): enough to tell servers apart through a router.
Status AskIdentity(PgConnection& c, PgFacts* f) {
  auto r = c.Query("SELECT pg_is_in_recovery(), inet_server_port()::text || '/' || pg_postmaster_start_time()::text");
  if (!r.ok()) return r.status();
  if (r->empty() || r->front().size() < 2) return Unavailable("no answer");
  f->in_recovery = r->front()[0].value_or("") == "t";
  f->identity = r->front()[1].value_or("");
  return Status::Ok();
}

Status AskServer(PgConnection& c, PgFacts* f) {
  PGW_RETURN_IF_ERROR(AskIdentity(c, f));
  auto pos = c.Query(std::string("SELECT ") + kLsnSql + ", " + kTimelineSql + ", " +
                     "COALESCE((SELECT status FROM pg_stat_wal_receiver), ''), "
                     "COALESCE((SELECT slot_name FROM pg_stat_wal_receiver), '')");
  if (!pos.ok()) return pos.status();
  if (pos->empty() || pos->front().size() < 4) return Unavailable("no answer");
  const Row& p = pos->front();
  f->lsn = std::atoll(p[0].value_or("0").c_str());
  f->timeline = std::atoi(p[1].value_or("0").c_str());
  f->receiver_status = p[2].value_or("");
  f->receiver_slot = p[3].value_or("");
  auto repl = c.Query(
      "SELECT pid, application_name, COALESCE(state, ''), COALESCE(sync_state, ''), replay_lsn - '0/0', "
      "EXTRACT(epoch FROM replay_lag) FROM pg_stat_replication");
  if (!repl.ok()) return repl.status();
  for (const Row& row : *repl) {
    ReplicationRow r;
    r.pid = std::atoi(row[0].value_or("0").c_str());
    r.application_name = row[1].value_or("");
    r.state = row[2].value_or("");
    r.sync_state = row[3].value_or("");
    if (row[4]) r.replay_lsn = std::atoll(row[4]->c_str());
    if (row[5]) r.replay_lag_s = std::atof(row[5]->c_str());
    f->replication.push_back(r);
  }
  auto slots = c.Query("SELECT slot_name, slot_type, active, COALESCE(active_pid, 0) FROM pg_replication_slots");
  if (!slots.ok()) return slots.status();
  for (const Row& row : *slots) {
    f->slots.push_back({row[0].value_or(""), row[1].value_or(""), row[2].value_or("") == "t",
                        std::atoi(row[3].value_or("0").c_str())});
  }
  return Status::Ok();
}

PgFacts AskPg(const std::string& conninfo, Duration timeout, bool full) {
  PgFacts f;
  PgConnection c;
  Status s = c.Connect(conninfo, timeout);
  if (s.ok()) s = full ? AskServer(c, &f) : AskIdentity(c, &f);
  if (!s.ok()) f.error = s.message();
  return f;
}

MemberFacts AskMember(Session& session, const Config& target, const ClusterView& c, const std::string& name,
                      const CheckOptions& o) {
  MemberFacts f;
  f.name = name;
  const Member* m = c.FindMember(name);
  if (!m) {
    f.api_error = f.config_error = f.pg.error = "no member key in etcd";
    return f;
  }
  auto p = session.Api(*m, "GET", "/patroni", nullptr, o.timeout);
  if (!p.ok()) {
    f.api_error = p.status().message();
  } else if (p->status != 200) {
    f.api_error = "GET /patroni answered " + std::to_string(p->status);
  } else {
    Json j = Json::parse(p->body, nullptr, false);
    if (j.is_discarded())
      f.api_error = "GET /patroni answered something that is not JSON";
    else
      f.patroni = j;
  }
  auto cfg = session.Api(*m, "GET", "/config", nullptr, o.timeout);
  if (!cfg.ok()) {
    f.config_error = cfg.status().message();
  } else if (cfg->status != 200) {
    f.config_error = "answered " + std::to_string(cfg->status) + " (" + cfg->body.substr(0, 80) + ")";
  } else {
    Json j = Json::parse(cfg->body, nullptr, false);
    if (j.is_discarded())
      f.config_error = "the answer is not JSON";
    else
      f.config = j;
  }
  if (!m->conn)
    f.pg.error = "no PostgreSQL address in the member key";
  else
    f.pg = AskPg(MemberConnInfo(target, *m->conn, o), o.timeout, true);
  return f;
}

std::string CanaryToken() {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch());
  return std::to_string(getpid()) + "-" + std::to_string(ns.count());
}

// Writes the canary row on the leader: one row (id 1) of pgwarden.check_canary, overwritten by every run. Local
// commit only, so that a synchronous mode without a standby cannot hold the write.
Status WriteCanary(const std::string& conninfo, const std::string& token, Duration timeout) {
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(conninfo, timeout));
  for (const char* sql :
       {"SET synchronous_commit = local", "SET client_min_messages = warning", "CREATE SCHEMA IF NOT EXISTS pgwarden",
        "CREATE TABLE IF NOT EXISTS pgwarden.check_canary (id int PRIMARY KEY, token text NOT NULL, "
        "written_at timestamptz NOT NULL DEFAULT now())"}) {
    auto r = c.Query(sql);
    if (!r.ok()) return r.status();
  }
  auto r = c.Query(
      "INSERT INTO pgwarden.check_canary (id, token, written_at) VALUES (1, $1, now()) "
      "ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token, written_at = EXCLUDED.written_at",
      {token});
  return r.ok() ? Status::Ok() : r.status();
}

// Polls a replica until it reads `token` or `deadline` passes.
void AwaitCanary(const std::string& conninfo, const std::string& token, MonoTime started, MonoTime deadline,
                 Duration timeout, MemberFacts* f) {
  PgConnection c;
  f->canary_seen = false;
  while (true) {
    MonoTime now = Now();
    if (now >= deadline) return;
    Duration left = std::chrono::duration_cast<Duration>(deadline - now);
    if (!c.connected()) {
      Status s = c.Connect(conninfo, std::min(timeout, std::max(left, Duration(1000))));
      if (!s.ok()) f->canary_error = s.message();
    }
    if (c.connected()) {
      auto r = c.Query("SELECT token FROM pgwarden.check_canary WHERE id = 1");
      if (r.ok() && !r->empty() && r->front()[0].value_or("") == token) {
        f->canary_seen = true;
        f->canary_seconds = static_cast<double>((Now() - started).count()) / 1000.0;
        f->canary_error.clear();
        return;
      }
      f->canary_error = r.ok() ? "an older canary row is there" : r.status().message();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Canary(const Config& target, const CheckOptions& o, Facts* facts) {
  const ClusterView& c = facts->cluster;
  if (!o.canary || !c.leader || ha::IsStandbyCluster(c)) return;
  auto lit = facts->members.find(c.leader->name);
  const Member* lm = c.FindMember(c.leader->name);
  if (lit == facts->members.end() || !lm || !lm->conn || !lit->second.pg.error.empty() || lit->second.pg.in_recovery) {
    return;  // leader.unique fails already: there is no primary to write on
  }
  facts->canary_tried = true;
  const std::string token = CanaryToken();
  MonoTime started = Now();
  Status w = WriteCanary(MemberConnInfo(target, *lm->conn, o), token, o.timeout);
  if (!w.ok()) {
    facts->canary_write_error = w.message();
    return;
  }
  std::vector<MemberFacts*> replicas;
  for (auto& [name, m] : facts->members) {
    if (name != c.leader->name) replicas.push_back(&m);
  }
  MonoTime deadline = started + o.canary_timeout;
  Parallel(replicas.size(), [&](size_t i) {
    MemberFacts* m = replicas[i];
    const Member* key = c.FindMember(m->name);
    if (!key || !key->conn) {
      m->canary_seen = false;
      m->canary_error = "no PostgreSQL address in the member key";
      return;
    }
    AwaitCanary(MemberConnInfo(target, *key->conn, o), token, started, deadline, o.timeout, m);
  });
}

void Router(const Config& target, const CheckOptions& o, Facts* facts) {
  RouterFacts& r = facts->router;
  if (o.router_write) {
    r.write_addr = o.router_write->ToString();
    r.write = AskPg(MemberConnInfo(target, *o.router_write, o), o.timeout, false);
  }
  if (o.router_read) {
    r.read_addr = o.router_read->ToString();
    int replicas = std::max<int>(0, static_cast<int>(facts->members.size()) - 1);
    int samples = o.router_read_samples > 0 ? o.router_read_samples : std::max(2, 2 * replicas);
    // One after the other: the router sends each new connection to the replica with the fewest, so they spread.
    std::vector<std::unique_ptr<PgConnection>> open;
    for (int i = 0; i < samples; ++i) {
      PgFacts f;
      auto c = std::make_unique<PgConnection>();
      Status s = c->Connect(MemberConnInfo(target, *o.router_read, o), o.timeout);
      if (s.ok()) s = AskIdentity(*c, &f);
      if (!s.ok()) f.error = s.message();
      r.reads.push_back(f);
      open.push_back(std::move(c));  // kept open until all are made, so that they spread over the replicas
    }
  }
  if (o.router_admin) {
    r.admin_addr = o.router_admin->ToString();
    HttpRequest req;
    req.url = "http://" + r.admin_addr + "/health";
    req.timeout = o.timeout;
    HttpClient http;
    auto resp = http.Do(req);
    if (resp.ok())
      r.admin_status = static_cast<int>(resp->status);
    else
      r.admin_error = resp.status().message();
  }
}

}  // namespace

Facts Gather(Session& session, const Config& target, const ClusterView& cluster, const std::string& scope,
             const CheckOptions& o) {
  Facts facts;
  facts.scope = scope;
  facts.cluster = cluster;
  const auto& hosts = target.etcd3.hosts;
  std::vector<int> voting(hosts.size(), 0);
  facts.etcd.endpoints.resize(hosts.size());
  Parallel(hosts.size(), [&](size_t i) {
    facts.etcd.endpoints[i] = AskEndpoint(target, hosts[i], session.Prefix(), o.timeout, &voting[i]);
  });
  for (int v : voting) facts.etcd.cluster_members = std::max(facts.etcd.cluster_members, v);

  if (cluster.leader && cluster.leader->lease != 0) {
    facts.lease.asked = true;
    auto ttl = session.etcd().Raw("/v3/lease/timetolive", etcd::EncodeLeaseId(cluster.leader->lease));
    if (ttl.ok())
      facts.lease.ttl = Int(*ttl, "TTL");
    else
      facts.lease.error = ttl.status().message();
  }

  std::vector<std::string> names;
  for (const auto& [name, m] : cluster.members) names.push_back(name);
  if (cluster.leader && !cluster.FindMember(cluster.leader->name)) names.push_back(cluster.leader->name);
  std::vector<MemberFacts> members(names.size());
  Parallel(names.size(), [&](size_t i) { members[i] = AskMember(session, target, cluster, names[i], o); });
  for (auto& m : members) facts.members[m.name] = std::move(m);

  Canary(target, o, &facts);
  Router(target, o, &facts);
  return facts;
}

}  // namespace pgw::ctl::check
