// The cluster under torture, as a round sees it: wait until healthy, reach the current primary. Two kinds: a
// sandbox (testkit/sandbox.h: started by the torture run itself, or one already running in a directory), whose
// faults are built in (torture/faults.h), and any other cluster reached through a DSN, whose health is a user
// command.
//
// Not thread-safe: one controlling thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "common/wait.h"
#include "testkit/forwarder.h"
#include "testkit/sandbox.h"

namespace pgw::torture {

class Cluster {
 public:
  virtual ~Cluster() = default;
  // Until healthy (one primary, every replica streaming; or the health command exits 0), or timeout.
  virtual Status WaitHealthy(Duration timeout) = 0;
  // A connection string that reaches the current primary, checked to be out of recovery.
  virtual Result<std::string> PrimaryDsn() = 0;
  // The DSN the writers use when --dsn is not given ("" when there is none).
  virtual std::string DefaultDsn() const = 0;
};

// A sandbox: loaded from a directory, or started (and, at the end, stopped) by this run.
class SandboxCluster final : public Cluster {
 public:
  // Loads the sandbox in `dir`; Stop() leaves it running.
  static Result<std::unique_ptr<SandboxCluster>> Load(const std::string& dir);
  // Starts a three-node sandbox in `spec.dir` whose agents reach etcd through forwarders (so that one node alone
  // can be cut off: partition-primary), and waits until it is healthy. Stop() takes it down.
  static Result<std::unique_ptr<SandboxCluster>> Start(SandboxSpec spec, Logger& log);
  ~SandboxCluster() override;

  Status WaitHealthy(Duration timeout) override;
  Result<std::string> PrimaryDsn() override;
  std::string DefaultDsn() const override;

  // The member whose REST API reports the primary role and whose PostgreSQL is out of recovery ("" : none).
  std::string Leader() const;
  // ttl from the dynamic configuration (GET /config), 30 when no node answers.
  int Ttl() const;
  // synchronous_mode in the dynamic configuration.
  bool SynchronousMode() const;
  Sandbox& sandbox() { return *sb_; }
  // The forwarder between `node` and etcd, or nullptr (a loaded sandbox has none).
  Forwarder* EtcdLink(const std::string& node);
  bool started_here() const { return started_here_; }
  // A started sandbox is taken down (its directory kept when `keep`); a loaded one is left running.
  Status Stop(bool keep);

 private:
  SandboxCluster() = default;
  Result<std::string> ConfigJson() const;

  std::vector<std::unique_ptr<Forwarder>> links_;  // declared first: outlives the agents that use them
  std::unique_ptr<Sandbox> sb_;
  bool started_here_ = false;
  bool stopped_ = false;
};

// Any other cluster: writers and verification go through `dsn` (which must reach the primary for writes: the
// router's write port, or a libpq multi-host string with target_session_attrs=read-write).
class DsnCluster final : public Cluster {
 public:
  // `health`: an argv run until it exits 0 (each run bounded); empty: healthy once `dsn` reaches a primary.
  DsnCluster(std::string dsn, std::vector<std::string> health) : dsn_(std::move(dsn)), health_(std::move(health)) {}
  Status WaitHealthy(Duration timeout) override;
  Result<std::string> PrimaryDsn() override;
  std::string DefaultDsn() const override { return dsn_; }

 private:
  std::string dsn_;
  std::vector<std::string> health_;
};

// Ok when `dsn` reaches a PostgreSQL that is out of recovery.
Status ReachesPrimary(const std::string& dsn);
// synchronous_standby_names on the server `dsn` reaches is not empty (the primary waits for a standby).
bool WaitsForStandby(const std::string& dsn);
// How often the torture tool's waits (common/wait.h) look again: finer than the default, since a round's timing
// (writes resuming after a fault) is what it reports.
inline constexpr Duration kTorturePoll{50};

}  // namespace pgw::torture
