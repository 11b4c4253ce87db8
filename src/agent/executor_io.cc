// The executor's real Io (agent/executor.h): scripts through the CallbackRunner, the timeline history file of the
// data directory, libpq sessions to the switchover candidates.
#include <thread>

#include "agent/executor.h"
#include "common/fs.h"
#include "pg/controller.h"
#include "pg/libpq.h"

namespace pgw {

namespace {

class RealCandidates final : public Executor::Io::Candidates {
 public:
  RealCandidates(const Clock& clock, std::vector<std::unique_ptr<PgConnection>> conns)
      : clock_(clock), conns_(std::move(conns)) {}

  bool AwaitReceived(int64_t lsn, MonoTime give_up, const std::function<bool()>& stopping) override {
    bool confirmed = false;
    while (!confirmed && !conns_.empty() && clock_.Now() < give_up && !stopping()) {
      for (auto& c : conns_) {
        auto r = c->Query("SELECT COALESCE(pg_last_wal_receive_lsn(), '0/0') - '0/0'");
        if (r.ok() && !r->empty() && std::atoll(r->front()[0].value_or("0").c_str()) > lsn) confirmed = true;
      }
      if (!confirmed) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return confirmed;
  }

 private:
  const Clock& clock_;
  std::vector<std::unique_ptr<PgConnection>> conns_;
};

class RealIo final : public Executor::Io {
 public:
  RealIo(const ConfigCell& cfg, const Clock& clock, Logger& log, CallbackRunner& callbacks)
      : cfg_(cfg), clock_(clock), log_(log), callbacks_(callbacks) {}

  void FireCallback(const std::string& command_line, const std::string& action, const std::string& role,
                    const std::string& scope) override {
    callbacks_.Fire(command_line, action, role, scope);
  }

  bool RunPrePromote(const std::string& command_line, Duration timeout) override {
    return callbacks_.RunSync(command_line, "pre_promote", timeout);
  }

  Result<std::string> ReadTimelineHistory(int timeline) override {
    char name[32];
    std::snprintf(name, sizeof name, "%08X.history", timeline);
    return ReadFile(cfg_->postgresql.data_dir + "/pg_wal/" + name);
  }

  std::unique_ptr<Candidates> ConnectCandidates(const ClusterView& view,
                                                const std::vector<std::string>& names) override {
    std::vector<std::unique_ptr<PgConnection>> conns;
    for (const auto& n : names) {
      const Member* m = view.FindMember(n);
      if (m == nullptr || !m->conn) continue;
      auto c = std::make_unique<PgConnection>();
      Status cs = c->Connect(SuperuserConninfo(*cfg_, m->conn->host, m->conn->port), Duration(1000));
      if (cs.ok())
        conns.push_back(std::move(c));
      else
        log_.Warn("manual failover: cannot query " + n + ": " + cs.message());
    }
    return std::make_unique<RealCandidates>(clock_, std::move(conns));
  }

 private:
  const ConfigCell& cfg_;
  const Clock& clock_;
  Logger& log_;
  CallbackRunner& callbacks_;
};

}  // namespace

std::unique_ptr<Executor::Io> MakeExecutorIo(const ConfigCell& cfg, const Clock& clock, Logger& log,
                                             CallbackRunner& callbacks) {
  return std::make_unique<RealIo>(cfg, clock, log, callbacks);
}

}  // namespace pgw
