// Shared helpers for integration tests: real etcd, real PostgreSQL, real processes on loopback.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/process.h"
#include "common/wait.h"
#include "net/http_client.h"
#include "pg/libpq.h"
#include "testkit/sandbox.h"

namespace pgw::itest {

inline std::string PgwardenBin() { return std::string(PGW_BIN_DIR) + "/pgwarden"; }
inline std::string PgwardenctlBin() { return std::string(PGW_BIN_DIR) + "/pgwardenctl"; }

// What a command printed (stdout and stderr) and its exit code (-1, with the reason as text, when it did not run).
struct CmdOut {
  int code = -1;
  std::string text;
};
inline CmdOut RunCmd(const std::vector<std::string>& argv, const ProcessOptions& o) {
  auto r = Run(argv, o);
  if (!r.ok()) return CmdOut{-1, r.status().message()};
  return CmdOut{r->exit_code, r->output};
}

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

// A self-signed certificate (RSA, valid two days, subjectAltName IP:127.0.0.1) for `cn`, the key mode 0600, both
// files owned by the unprivileged user when the tests run as root.
// With a `key_password`, the key is written encrypted with it.
inline Status MakeSelfSignedCert(const std::string& key, const std::string& crt, const std::string& cn = "127.0.0.1",
                                 const std::string& key_password = "") {
  std::vector<std::string> argv{"openssl", "req", "-x509", "-newkey", "rsa:2048", "-days", "2", "-subj", "/CN=" + cn};
  argv.insert(argv.end(), {"-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", crt});
  if (key_password.empty()) {
    argv.push_back("-nodes");
  } else {
    argv.insert(argv.end(), {"-passout", "pass:" + key_password});
  }
  auto gen = Run(argv);
  if (!gen.ok()) return gen.status();
  if (!gen->Success()) return Internal("openssl req: " + gen->output);
  if (chmod(key.c_str(), 0600) != 0) return IoError("chmod " + key);
  auto u = LookupUser("postgres");
  if (geteuid() == 0 && u.ok()) {
    for (const std::string& f : {key, crt}) {
      if (chown(f.c_str(), u->uid, u->gid) != 0) return IoError("chown " + f);
    }
  }
  return Status::Ok();
}

// Status code and body of a request to a node's REST API (0 and the error when it did not answer).
inline std::pair<int, std::string> RestCall(const SandboxNode& n, const std::string& method, const std::string& path,
                                            const std::string& body = "") {
  HttpClient http;
  HttpRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(n.api_port) + path;
  req.body = body;
  if (!body.empty()) req.headers["Content-Type"] = "application/json";
  req.timeout = Duration(5000);
  auto r = http.Do(req);
  if (!r.ok()) return {0, r.status().message()};
  return {static_cast<int>(r->status), r->body};
}

// Every member of `sb` but `leader`, in the sandbox's order.
inline std::vector<std::string> ReplicasOf(const Sandbox& sb, const std::string& leader) {
  std::vector<std::string> out;
  for (const auto& n : sb.nodes()) {
    if (n.name != leader) out.push_back(n.name);
  }
  return out;
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

// An agent log with runs of lines that differ only in their timestamp (the first 24 characters) collapsed into the
// first one plus a count, so that a failure's cause is not pushed out of the printed tail by a repeating loop line.
inline std::string CollapseRepeats(const std::string& text) {
  std::string out, prev_msg;
  int repeats = 0;
  size_t start = 0;
  auto flush = [&] {
    if (repeats > 0) out += "    ... repeated " + std::to_string(repeats) + " more times\n";
    repeats = 0;
  };
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    std::string msg = line.size() > 24 ? line.substr(24) : line;
    if (!prev_msg.empty() && msg == prev_msg) {
      ++repeats;
    } else {
      flush();
      out += line + "\n";
      prev_msg = msg;
    }
    start = end + 1;
  }
  flush();
  return out;
}

// One sandbox cluster per test (etcd + agents + PostgreSQL under a fresh directory), taken down in TearDown even
// when the test failed, with the tail of every agent's log printed then.
class ClusterFixture : public ::testing::Test {
 protected:
  explicit ClusterFixture(std::string scope) : scope_(std::move(scope)) {}

  // Directory for the test's own files (created on first use; the sandbox lives under it in sb/).
  const std::string& Dir() {
    if (!dir_) dir_ = std::make_unique<TempDir>(scope_);
    return dir_->path;
  }
  // Starts `nodes` nodes; `tweak` adjusts the spec (timing, extra YAML, tags). Waits until every node is healthy
  // unless `wait_healthy` is false.
  void StartCluster(int nodes, const std::function<void(SandboxSpec&)>& tweak = nullptr, bool wait_healthy = true) {
    SandboxSpec spec;
    spec.dir = Dir() + "/sb";
    spec.nodes = nodes;
    spec.scope = scope_;
    spec.pgwarden_bin = PgwardenBin();
    if (tweak) tweak(spec);
    auto sb = Sandbox::Up(spec, log_);
    ASSERT_TRUE(sb.ok()) << sb.status().message();
    sb_ = std::make_unique<Sandbox>(std::move(*sb));
    if (wait_healthy) {
      Status h = sb_->WaitHealthy(Duration(180000));
      ASSERT_TRUE(h.ok()) << h.message();
    }
  }
  // The fast timing profile of the failover tests: ttl 5, loop_wait 1, retry_timeout 2.
  static void FastTiming(SandboxSpec& spec) {
    spec.ttl = 5;
    spec.loop_wait = 1;
    spec.retry_timeout = 2;
  }
  void TearDown() override {
    if (!sb_) return;
    if (HasFailure()) PrintLogTails(*sb_, "");
    Status s = sb_->Down(false);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  // The last 12000 characters of each node's agent log, repeated lines collapsed; `label` prefixes the node name.
  static void PrintLogTails(const Sandbox& sb, const std::string& label) {
    for (const auto& n : sb.nodes()) {
      auto text = ReadFile(n.log_path);
      if (!text.ok()) continue;
      std::string log = CollapseRepeats(*text);
      std::string tail = log.size() > 12000 ? log.substr(log.size() - 12000) : log;
      std::fprintf(stderr, "---- %s%s (tail, repeated lines collapsed) ----\n%s\n", label.c_str(), n.name.c_str(),
                   tail.c_str());
    }
  }
  // The value of /service/<scope>/<key> in etcd ("" when absent).
  std::string Key(const std::string& key) {
    std::string out = Etcdctl(sb_->EtcdEndpoint(), {"get", "--print-value-only", "/service/" + scope_ + "/" + key});
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  std::string LeaderKey() { return Key("leader"); }
  // The whole machine of `name` dies: agent, its fence supervisor and PostgreSQL, all SIGKILLed.
  void KillMachine(const std::string& name) {
    const SandboxNode* n = sb_->Node(name);
    ASSERT_NE(n, nullptr) << name;
    auto pm = sb_->PostmasterPid(name);
    ASSERT_TRUE(pm.has_value()) << name << " runs no PostgreSQL";
    auto sups = FenceSupervisorsOf(n->data_dir);
    ASSERT_FALSE(sups.empty()) << "the agent of " << name << " runs no fence supervisor";
    kill(n->pid, SIGKILL);
    for (pid_t s : sups) kill(s, SIGKILL);
    kill(*pm, SIGKILL);
    ASSERT_TRUE(sb_->SignalNode(name, SIGKILL, true, Duration(10000)).ok());
  }

  std::string scope_;
  Logger log_{stderr};
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Sandbox> sb_;
};

}  // namespace pgw::itest
