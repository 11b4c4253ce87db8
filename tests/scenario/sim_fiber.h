// A coroutine on its own stack (ucontext). The simulated agent's HA loop runs in one, so that a call that takes
// time in the real agent (a slow promotion or initdb, a switchover waiting for a candidate) suspends the loop
// until the node's clock reaches its end while the world, and the node's other threads (lease keeper, failsafe,
// fence supervisor), go on. Only one context runs at a time: the simulation stays single-threaded and
// deterministic.
#pragma once

#include <ucontext.h>

#include <functional>
#include <memory>

namespace pgw::sim {

class Fiber {
 public:
  explicit Fiber(std::function<void()> body);
  // A body suspended inside is unwound first: its Suspend() throws Fiber::Cancelled (an agent killed mid-call).
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Runs the body until it suspends or returns. The caller's context only.
  void Resume();
  bool finished() const { return finished_; }
  // From inside the body: back to the caller of Resume, until the next Resume.
  void Suspend();

  struct Cancelled {};

 private:
  static void Entry(unsigned lo, unsigned hi);

  std::function<void()> body_;
  std::unique_ptr<char[]> stack_;
  ucontext_t caller_{};
  ucontext_t self_{};
  bool started_ = false;
  bool finished_ = false;
  bool cancel_ = false;
};

}  // namespace pgw::sim
