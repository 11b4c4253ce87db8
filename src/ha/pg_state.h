// PostgreSQL's state as the member key and the REST API report it (Patroni's words: "running", "starting",
// "creating replica", ...), kept by one transition function that counts every move with its cause, for /metrics
// (pgwarden_pg_state_transitions_total{from,to,cause}). The agent and the simulator's executor both keep their
// node's state in a PgStateMachine, so the state a member publishes follows the same rules in both.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace pgw::ha {

enum class PgState : uint8_t {
  kStopped,
  kStarting,
  kRunning,
  kRestarting,
  kCreatingReplica,
  kInitializing,     // initdb of a new cluster
  kCustomBootstrap,  // bootstrap.method runs its script
};
inline constexpr size_t kPgStateCount = 7;
// Patroni's word for the state ("creating replica").
const char* PgStateName(PgState s);

// Why the state moved.
enum class PgCause : uint8_t {
  kObserved,   // what the cycle's observation of PostgreSQL showed (postmaster up or down, answering or not)
  kBootstrap,  // a new cluster is initialised, or a standby cluster's leader cloned
  kClone,      // a replica is created from the leader (or a backup)
  kStart,      // the agent starts PostgreSQL
  kStop,       // the agent stops PostgreSQL (demotion, shutdown, rewind)
  kRestart,    // a requested restart
  kFailed,     // the operation in progress failed
};
inline constexpr size_t kPgCauseCount = 7;
const char* PgCauseName(PgCause c);

class PgStateMachine {
 public:
  struct Transition {
    PgState from, to;
    PgCause cause;
    uint64_t count;
  };

  PgState state() const { return state_.load(std::memory_order_relaxed); }
  const char* name() const { return PgStateName(state()); }
  // Moves to `to` because of `cause`; a move to the same state is not one and is not counted. From one thread (the
  // HA loop); state() and Counted() may be read from others.
  void Move(PgState to, PgCause cause);
  // What an observation implies: a running postmaster is "running" when it answered the cycle's queries, else
  // "starting"; a stopped one is "stopped", except while a replica is being created or a cluster initialised (the
  // postmaster is not up yet during those).
  void Observe(bool running, bool query_ok);

  uint64_t Count(PgState from, PgState to, PgCause cause) const;
  // Every move counted so far (count > 0), in a stable order.
  std::vector<Transition> Counted() const;

 private:
  static size_t Index(PgState from, PgState to, PgCause cause);

  std::atomic<PgState> state_{PgState::kStopped};
  std::array<std::atomic<uint64_t>, kPgStateCount * kPgStateCount * kPgCauseCount> counts_{};
};

}  // namespace pgw::ha
