#include "ha/pg_state.h"

namespace pgw::ha {

const char* PgStateName(PgState s) {
  switch (s) {
    case PgState::kStopped: return "stopped";
    case PgState::kStarting: return "starting";
    case PgState::kRunning: return "running";
    case PgState::kRestarting: return "restarting";
    case PgState::kCreatingReplica: return "creating replica";
    case PgState::kInitializing: return "initializing new cluster";
    case PgState::kCustomBootstrap: return "running custom bootstrap script";
  }
  return "unknown";
}

const char* PgCauseName(PgCause c) {
  switch (c) {
    case PgCause::kObserved: return "observed";
    case PgCause::kBootstrap: return "bootstrap";
    case PgCause::kClone: return "clone";
    case PgCause::kStart: return "start";
    case PgCause::kStop: return "stop";
    case PgCause::kRestart: return "restart";
    case PgCause::kFailed: return "failed";
  }
  return "unknown";
}

size_t PgStateMachine::Index(PgState from, PgState to, PgCause cause) {
  return (static_cast<size_t>(from) * kPgStateCount + static_cast<size_t>(to)) * kPgCauseCount +
         static_cast<size_t>(cause);
}

void PgStateMachine::Move(PgState to, PgCause cause) {
  PgState from = state();
  if (from == to) return;
  counts_[Index(from, to, cause)].fetch_add(1, std::memory_order_relaxed);
  state_.store(to, std::memory_order_relaxed);
}

void PgStateMachine::Observe(bool running, bool query_ok) {
  if (running) {
    Move(query_ok ? PgState::kRunning : PgState::kStarting, PgCause::kObserved);
    return;
  }
  PgState s = state();
  if (s == PgState::kCreatingReplica || s == PgState::kInitializing) return;
  Move(PgState::kStopped, PgCause::kObserved);
}

uint64_t PgStateMachine::Count(PgState from, PgState to, PgCause cause) const {
  return counts_[Index(from, to, cause)].load(std::memory_order_relaxed);
}

std::vector<PgStateMachine::Transition> PgStateMachine::Counted() const {
  std::vector<Transition> out;
  for (size_t f = 0; f < kPgStateCount; ++f) {
    for (size_t t = 0; t < kPgStateCount; ++t) {
      for (size_t c = 0; c < kPgCauseCount; ++c) {
        auto from = static_cast<PgState>(f);
        auto to = static_cast<PgState>(t);
        auto cause = static_cast<PgCause>(c);
        uint64_t n = Count(from, to, cause);
        if (n > 0) out.push_back({from, to, cause, n});
      }
    }
  }
  return out;
}

}  // namespace pgw::ha
