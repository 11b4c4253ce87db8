#include "sim_fiber.h"

#include <cstdint>
#include <cstdlib>

namespace pgw::sim {

namespace {
constexpr size_t kStackBytes = size_t{1} << 20;  // touched lazily: only the pages used cost memory
}

Fiber::Fiber(std::function<void()> body) : body_(std::move(body)), stack_(new char[kStackBytes]) {}

Fiber::~Fiber() {
  if (!started_ || finished_) return;
  cancel_ = true;
  Resume();
  if (!finished_) std::abort();  // a body that swallowed Cancelled and suspended again
}

void Fiber::Entry(unsigned lo, unsigned hi) {
  // makecontext passes only int arguments: the pointer comes back from its two halves.
  auto* f = reinterpret_cast<Fiber*>(  // NOLINT(performance-no-int-to-ptr)
      (static_cast<uintptr_t>(hi) << 32) | static_cast<uintptr_t>(lo));
  try {
    f->body_();
  } catch (const Cancelled&) {
  }
  f->finished_ = true;
  swapcontext(&f->self_, &f->caller_);
}

void Fiber::Resume() {
  if (finished_) return;
  if (!started_) {
    started_ = true;
    getcontext(&self_);
    self_.uc_stack.ss_sp = stack_.get();
    self_.uc_stack.ss_size = kStackBytes;
    self_.uc_link = nullptr;
    auto p = reinterpret_cast<uintptr_t>(this);
    makecontext(&self_, reinterpret_cast<void (*)()>(&Fiber::Entry), 2, static_cast<unsigned>(p & 0xffffffffu),
                static_cast<unsigned>(p >> 32));
  }
  swapcontext(&caller_, &self_);
}

void Fiber::Suspend() {
  swapcontext(&self_, &caller_);
  if (cancel_) throw Cancelled{};
}

}  // namespace pgw::sim
