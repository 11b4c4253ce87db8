// SimPgControl: the PgControl interface (pg/pg_control.h) over the simulator's model PostgreSQL (ModelPg, the
// World's Pg* operations in sim_pg.cc), as PgController (pg/controller.cc) behaves over a real instance: a frozen
// postmaster answers no query (reloads and promotions time out), synchronous_standby_names set for the next start
// or applied with a reload, the client gate's marker file, the shutdown checkpoint in pg_control. Calls that take
// time in the real controller (initdb, a promotion) suspend the HA loop through `sleep` (the agent's fiber) while
// the world goes on. What the model cannot do (custom bootstrap, logical slot copies, restores without a leader,
// standby clusters) answers NotModelled (kInternal).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pg/pg_control.h"
#include "sim_world.h"

namespace pgw::sim {

// What the model leaves out, said as such.
inline Status NotModelled(const std::string& what) { return Internal(what + " is not modelled by the simulator"); }

class SimPgControl final : public PgControl {
 public:
  // `sleep(d)`: the HA loop waits d of the node's clock.
  SimPgControl(World& w, SimNode& n, std::function<void(Duration)> sleep) : w_(w), n_(n), sleep_(std::move(sleep)) {}

  void SetDynamicConfig(const DynamicConfig& /*dyn*/) override {}
  void SetConfig(std::shared_ptr<const Config> /*cfg*/) override {}
  void SetSyncNames(std::optional<std::string> v) override { sync_names_ = std::move(v); }
  std::optional<std::string> SyncNames() const override { return sync_names_; }
  Status ApplySyncNames(const std::string& v, const std::optional<Upstream>& upstream) override;

  LocalView Observe() override { return w_.Observe(n_); }
  LocalView::Data InspectDataDir(std::string* problem) const override;

  Result<std::string> Bootstrap() override;
  Status CreateRoles() override;
  Status Clone(const HostPort& source) override;
  Status CreateReplica(const std::optional<HostPort>& source, const std::vector<std::string>& methods) override;
  Result<std::string> BootstrapCustom() override { return NotModelled("custom bootstrap"); }
  Status FinishCustomBootstrap() override { return NotModelled("custom bootstrap"); }
  Status WriteConfiguration(const std::optional<Upstream>& /*upstream*/) override { return Status::Ok(); }
  Status Start(const std::optional<Upstream>& upstream, bool standby) override;
  Status Stop(StopMode mode) override;
  Status Promote() override;
  Status Follow(const Upstream& upstream) override;
  Status Reload(const std::optional<Upstream>& upstream) override;
  // The simulated PostgreSQL has no configuration files: nothing to rewrite.
  Result<bool> ReloadIfChanged(const std::optional<Upstream>& /*upstream*/) override { return false; }
  Status DropSlots(const std::vector<std::string>& drop) override;
  Status CreateSlots(const std::vector<SlotSpec>& create) override;
  Status AdvanceSlots(const std::map<std::string, int64_t>& to, const std::vector<SlotState>& local) override;
  Status CopyLogicalSlots(const HostPort& /*leader*/, const std::vector<SlotSpec>& /*slots*/,
                          const Upstream& /*upstream*/) override {
    return NotModelled("copying logical slots");
  }
  Status Rewind(const HostPort& source) override { return w_.PgRewind(n_, source); }
  Status Checkpoint() override;
  Result<ControlData> ReadControlData() override;
  int64_t ShutdownCheckpointLsn() override;
  Status WipeDataDir() override;
  Status CloseGate() override;
  Status OpenGate() override;

 private:
  // A query to the running postmaster: fails when it is not running or frozen (the client times out).
  Status Reachable(const char* what) const;
  // Whether a member key in etcd names the member this slot is for.
  bool MemberKeyForSlot(const std::string& slot) const;

  World& w_;
  SimNode& n_;
  std::function<void(Duration)> sleep_;
  std::optional<std::string> sync_names_;  // PgController::sync_names_: written at the next start or reload
};

}  // namespace pgw::sim
