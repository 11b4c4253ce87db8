// Shared helpers for integration tests: real etcd, real PostgreSQL, real processes on loopback.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "common/fs.h"
#include "common/process.h"
#include "ctl/sandbox.h"
#include "pg/libpq.h"

namespace pgw::itest {

inline std::string PgwardenBin() { return std::string(PGW_BIN_DIR) + "/pgwarden"; }

// A fresh directory the unprivileged user can use; removed by the caller (TempDir's destructor).
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag) {
    char tmpl[256];
    std::snprintf(tmpl, sizeof tmpl, "/tmp/pgw-it-%s-XXXXXX", tag.c_str());
    path = mkdtemp(tmpl);
    chmod(path.c_str(), 0755);
    if (geteuid() == 0) {
      auto u = LookupUser("postgres");
      if (u.ok() && chown(path.c_str(), u->uid, u->gid) != 0) ADD_FAILURE() << "chown " << path;
    }
  }
  ~TempDir() { RemoveAll(path).ok(); }
};

inline std::optional<RunAs> Unprivileged() {
  if (geteuid() != 0) return std::nullopt;
  auto u = LookupUser("postgres");
  return u.ok() ? std::optional<RunAs>(*u) : std::nullopt;
}

// Polls `cond` every 100 ms until it holds or `timeout` passes.
inline bool WaitFor(std::chrono::milliseconds timeout, const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

// Runs one SQL statement on a node; returns the first column of the first row ("" on error, with `err` set).
inline std::string Sql(const std::string& conninfo, const std::string& sql, std::string* err = nullptr) {
  PgConnection c;
  Status s = c.Connect(conninfo, Duration(5000));
  if (!s.ok()) {
    if (err) *err = s.message();
    return "";
  }
  auto r = c.Query(sql);
  if (!r.ok()) {
    if (err) *err = r.status().message();
    return "";
  }
  if (r->empty() || r->front().empty() || !r->front()[0]) return "";
  return *r->front()[0];
}

inline std::string Etcdctl(const std::string& endpoint, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"etcdctl", "--endpoints=http://" + endpoint};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions o;
  o.env_set["ETCDCTL_API"] = "3";
  o.timeout = Duration(10000);
  auto r = Run(argv, o);
  return r.ok() ? r->output : "";
}

}  // namespace pgw::itest
