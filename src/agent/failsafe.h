// Failsafe mode (Patroni's failsafe_mode): while etcd cannot be reached, a primary keeps running only as long as
// every member listed in the `failsafe` key promises, through POST /failsafe, not to race for the leader key for a
// ttl; each round of promises extends the fence. This class holds both sides of that exchange:
//  - asking (a primary): a thread that, while this node is an armed primary whose keepalives go unanswered, asks
//    the members (Confirm) and extends the fence when all of them promised; the HA loop asks too when the core
//    wants a confirmation (kCheckFailsafe, through Check), and never waits for the thread.
//  - promising (a replica): a POST /failsafe accepted (Vouch) and the hold-back of a restarted agent that may have
//    promised before its restart (HoldBackAfterRestart). The core reads both as Inputs::failsafe_primary_until.
//
// It depends on the peers (PeerClient), the clock and the hooks below, nothing else of the agent.
// Threads: its own (Start, RequestStop, Stop); Configure, SetMembers, HoldBackAfterRestart and Check from the HA
// loop; Notify, Vouch and the accessors from any thread (the REST API reads them).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/config_reload.h"
#include "agent/peers.h"
#include "common/clock.h"
#include "common/log.h"
#include "dcs/keys.h"

namespace pgw {

class Failsafe {
 public:
  struct Hooks {
    std::function<bool()> armed;               // this node runs as a primary under an armed fence (Fencer::armed)
    std::function<MonoTime()> lease_deadline;  // of our lease (Dcs::LeaseDeadline): deadline - ttl = last renewal
    // Why this primary must not ask for promises now, "" when it may: a primary whose PostgreSQL hangs must not
    // keep the cluster through its peers' promises (the PostgreSQL health gate, agent/pg_health.h).
    std::function<std::string()> withhold;
    std::function<void(MonoTime)> extend_fence;  // every member promised not to race until then (Fencer::ExtendUntil)
  };

  // `cfg` (name, addresses and REST credentials sent with POST /failsafe) and `peers` must outlive this object.
  Failsafe(const ConfigCell& cfg, const Clock& clock, Logger& log, PeerClient& peers, Hooks hooks);
  ~Failsafe();
  Failsafe(const Failsafe&) = delete;
  Failsafe& operator=(const Failsafe&) = delete;

  // The asking thread. RequestStop ends it soon without waiting; Stop ends it and joins.
  void Start();
  void RequestStop();
  void Stop();
  // The fence or the mode may have changed: the thread, asleep while there is nothing to watch, looks again.
  void Notify();

  // HA loop, every cycle: failsafe_mode and ttl of the dynamic configuration, and the `failsafe` key as seen.
  void Configure(bool enabled, int ttl_s);
  void SetMembers(std::optional<FailsafeTopology> members);
  // HA loop, every cycle (acts once, in the first cycle with failsafe mode on): the promise a replica gives lives
  // in memory, so an agent started at `started_at` and listed in the failsafe key keeps it for a ttl from its start.
  void HoldBackAfterRestart(const ClusterView& view, MonoTime started_at);
  // HA loop (kCheckFailsafe): whether the members' promises cover us beyond `margin` from now, asking them now
  // when they do not.
  bool Check(Duration margin);
  // POST /failsafe to every member now; on success extends the fence. Any thread.
  bool Confirm();
  // Whether the thread asks now (it looks every 100 ms): failsafe mode is on, this node is an armed primary, a
  // keepalive went unanswered (ha::LeaseSuspect's rule, with `ttl_s`), and the promises run out within 3/4 ttl.
  // The simulator's model of the thread calls it every tick.
  bool Due(int ttl_s) const;
  bool Due() const { return Due(ttl_s_.load()); }

  // POST /failsafe accepted from a primary: stay out of races for a ttl from now. Any thread.
  void Vouch();

  // Any thread.
  bool Enabled() const { return enabled_.load(); }
  std::optional<FailsafeTopology> Members() const;
  MonoTime ConfirmedUntil() const { return MonoTime(Duration(confirmed_until_ms_.load())); }
  // Until when a primary vouched for itself (or this agent's restart holds it back): no race before.
  MonoTime VouchedUntil() const { return MonoTime(Duration(primary_until_ms_.load())); }
  // VouchedUntil comes from this agent's start, not from a POST /failsafe (only the core's message differs).
  bool RestartHold() const { return primary_until_ms_.load() == restart_hold_until_ms_; }

 private:
  void Loop();

  const ConfigCell& cfg_;
  const Clock& clock_;
  Logger& log_;
  PeerClient& peers_;
  Hooks hooks_;

  std::atomic<bool> enabled_{false};
  std::atomic<int> ttl_s_{30};
  std::atomic<bool> withheld_{false};           // logged once per episode
  std::atomic<int64_t> primary_until_ms_{0};    // MonoTime ms: a primary vouched for itself via POST /failsafe
  std::atomic<int64_t> confirmed_until_ms_{0};  // MonoTime ms: members' promise not to race covers us
  bool restart_checked_ = false;                // HA loop only
  int64_t restart_hold_until_ms_ = -1;          // MonoTime ms of the hold HoldBackAfterRestart set
  mutable std::mutex members_mu_;               // guards members_
  std::optional<FailsafeTopology> members_;     // the `failsafe` key as last seen
  std::mutex mu_;                               // guards the thread's sleep
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pgw
