#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "common/config.h"
#include "dcs/keys.h"

namespace pgw::testing {

// A member on 127.0.0.1 with PostgreSQL on `port` and its REST API on port + 1000, as the unit tests lay clusters out.
inline Member MakeMember(const std::string& name, int port, const std::string& role, const std::string& state) {
  Member m;
  m.name = name;
  m.conn_url = "postgres://127.0.0.1:" + std::to_string(port) + "/postgres";
  m.conn = HostPort{"127.0.0.1", port};
  m.api_url = "http://127.0.0.1:" + std::to_string(port + 1000) + "/patroni";
  m.role = role;
  m.state = state;
  return m;
}

// pg0 leads (port 5432) at WAL position `leader_pos`; pg1 (5433) and pg2 (5434) stream, `pg1_behind` and `pg2_behind`
// bytes behind it (xlog_location). Revision 10.
inline ClusterView LeaderAndTwoReplicas(int64_t leader_pos, int64_t pg1_behind, int64_t pg2_behind) {
  ClusterView v;
  v.revision = 10;
  v.leader = LeaderKey{"pg0", 1, 5, 5};
  v.members["pg0"] = MakeMember("pg0", 5432, "primary", "running");
  v.members["pg1"] = MakeMember("pg1", 5433, "replica", "streaming");
  v.members["pg2"] = MakeMember("pg2", 5434, "replica", "streaming");
  v.members["pg0"].xlog_location = leader_pos;
  v.members["pg1"].xlog_location = leader_pos - pg1_behind;
  v.members["pg2"].xlog_location = leader_pos - pg2_behind;
  return v;
}

inline const char* kGoodConfig = R"(
scope: demo
name: pg0
restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
etcd3:
  hosts: 127.0.0.1:2379,127.0.0.2:2379
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    postgresql:
      use_slots: true
      parameters: {max_connections: 200}
  initdb:
  - encoding: UTF8
  - data-checksums
postgresql:
  listen: 0.0.0.0:5432
  connect_address: 127.0.0.1:5432
  data_dir: /var/lib/postgresql/15/main
  pgpass: /tmp/pgpass0
  authentication:
    superuser: {username: postgres, password: secret}
    replication: {username: replicator, password: rep-pass}
  parameters:
    max_connections: 10
    work_mem: 8MB
tags:
  clonefrom: true
  custom: abc
)";

inline LoadResult Load(const std::string& yaml, std::map<std::string, std::string> env = {}) {
  LoadOptions o;
  o.env = std::move(env);
  o.check_bin_dir = false;
  return LoadConfigText(yaml, o);
}

// One line each, for failure messages.
inline std::string Lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}
inline std::string Errors(const LoadResult& r) { return Lines(r.errors); }

// Whether an error contains `needle`.
inline bool HasError(const LoadResult& r, const std::string& needle) {
  return std::any_of(r.errors.begin(), r.errors.end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

inline std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

}  // namespace pgw::testing
