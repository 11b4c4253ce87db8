// pgwardenctl top: one sample of the cluster. The keys are read from etcd; every member's PostgreSQL is asked over a
// session kept from one sample to the next (a new login every second would cost the servers more than the view is
// worth), all members at once, each call bounded by --timeout.
#include <time.h>

#include <thread>

#include "ctl/check.h"
#include "ctl/session.h"
#include "ctl/top.h"
#include "pg/libpq.h"

namespace pgw::ctl::top {

struct Sampler::Conn {
  std::string conninfo;
  PgConnection pg;
};

Sampler::Sampler(Session& session, const Config& target, const TopOptions& o)
    : session_(session), target_(target), opts_(o) {}

Sampler::~Sampler() = default;

namespace {

std::string WallClock() {
  time_t t = time(nullptr);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[16];
  strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

int64_t Int(const std::optional<std::string>& v, int64_t dflt) {
  if (!v || v->empty()) return dflt;
  return std::atoll(v->c_str());
}

// Asks one server; closes the session on any failure so that the next sample logs in again.
void Ask(PgConnection& c, const std::string& conninfo, Duration timeout, bool leader, MemberSample* m,
         std::vector<pgw::Row>* senders) {
  if (!c.connected()) {
    Status s = c.Connect(conninfo, timeout);
    if (!s.ok()) {
      m->pg_error = s.message();
      return;
    }
  }
  auto r = c.Query(std::string("SELECT pg_is_in_recovery(), ") + check::kLsnSql + ", " + check::kTimelineSql +
                   ", COALESCE((SELECT status FROM pg_stat_wal_receiver), ''), "
                   "(SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database)");
  if (!r.ok() || r->empty() || r->front().size() < 5) {
    m->pg_error = r.ok() ? "no answer" : r.status().message();
    c.Close();
    return;
  }
  const pgw::Row& row = r->front();
  m->in_recovery = row[0].value_or("") == "t";
  m->lsn = Int(row[1], 0);
  m->timeline = static_cast<int>(Int(row[2], 0));
  m->receiver = row[3].value_or("");
  m->xacts = Int(row[4], -1);
  if (!leader || m->in_recovery) return;
  auto s = c.Query(
      "SELECT application_name, COALESCE(sync_state, ''), EXTRACT(epoch FROM replay_lag) "
      "FROM pg_stat_replication");
  if (s.ok()) *senders = std::move(*s);
}

}  // namespace

Sample Sampler::Take() {
  Sample s;
  s.wall = WallClock();
  auto view = session_.Cluster();
  if (!view.ok()) {
    s.etcd_error = view.status().message();
    s.at = RealClock().Now();
    return s;
  }
  const ClusterView& c = *view;
  if (c.leader) s.leader = c.leader->name;
  std::vector<std::string> problems;
  DynamicConfig d = DynamicConfig::FromJson(c.config ? *c.config : Json::object(), "config", &problems);
  s.paused = d.pause;
  s.sync_mode = d.synchronous_mode;
  for (const auto& [name, m] : c.members) {
    MemberSample ms;
    ms.name = name;
    ms.role = m.role;
    ms.state = m.state;
    s.members.push_back(ms);
  }
  if (!s.leader.empty() && !c.FindMember(s.leader)) {
    MemberSample ms;
    ms.name = s.leader;
    ms.has_key = false;
    ms.pg_error = "no member key, so no address";
    s.members.push_back(ms);
  }
  s.history = c.history;
  // Sessions of members that left the cluster are closed.
  for (auto it = conns_.begin(); it != conns_.end();) {
    it = c.FindMember(it->first) ? std::next(it) : conns_.erase(it);
  }
  std::vector<pgw::Row> senders;
  std::vector<std::thread> threads;
  for (auto& ms : s.members) {
    const Member* m = c.FindMember(ms.name);
    if (!m) continue;
    if (!m->conn) {
      ms.pg_error = "no PostgreSQL address in the member key";
      continue;
    }
    std::string conninfo = check::SuperuserConnInfo(target_, *m->conn, opts_.dbname, "", "pgwardenctl top");
    auto& conn = conns_[ms.name];
    if (!conn || conn->conninfo != conninfo) {
      conn = std::make_unique<Conn>();
      conn->conninfo = conninfo;
    }
    bool leader = ms.name == s.leader;
    threads.emplace_back([&ms, &conn = *conn, leader, &senders, timeout = opts_.timeout] {
      Ask(conn.pg, conn.conninfo, timeout, leader, &ms, &senders);
    });
  }
  for (auto& t : threads) t.join();
  s.at = RealClock().Now();
  for (const pgw::Row& row : senders) {
    if (row.size() < 3 || !row[0]) continue;
    for (auto& ms : s.members) {
      if (ms.name != *row[0]) continue;
      ms.sync_state = row[1].value_or("");
      ms.replay_lag_s = row[2] ? std::optional<double>(std::atof(row[2]->c_str())) : std::nullopt;
    }
  }
  return s;
}

}  // namespace pgw::ctl::top
