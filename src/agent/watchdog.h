// The Linux watchdog device (/dev/watchdog, softdog or hardware), as Patroni uses it: armed while this node runs
// PostgreSQL as primary, pinged after each lease renewal, closed with the magic 'V' when the node stops being primary.
// If the whole agent (or the machine) stops, the device resets the machine before the lease can expire.
#pragma once

#include <mutex>
#include <string>

#include "common/log.h"
#include "common/status.h"

namespace pgw {

class Watchdog {
 public:
  explicit Watchdog(std::string device) : device_(std::move(device)) {}
  ~Watchdog() { Disable(); }

  // Opens the device and sets its timeout. Fails when the device is missing, not a watchdog, or cannot take a
  // timeout of `timeout_s` or less (a longer timeout would fire after the lease expired).
  Status Activate(int timeout_s);
  Status Keepalive();
  // Magic close: the device stops counting. No-op when inactive.
  void Disable();
  bool active() const;

 private:
  std::string device_;
  mutable std::mutex mu_;
  int fd_ = -1;
};

}  // namespace pgw
