#include "agent/watchdog.h"

#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pgw {

Status Watchdog::Activate(int timeout_s) {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) {
    fd_ = open(device_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) return Unavailable("cannot open watchdog device " + device_ + ": " + std::strerror(errno));
  }
  int t = timeout_s;
  if (ioctl(fd_, WDIOC_SETTIMEOUT, &t) != 0) {
    int err = errno;
    // Not a watchdog: close it again without the magic character (nothing was started).
    close(fd_);
    fd_ = -1;
    return Unavailable("watchdog device " + device_ + " does not accept a timeout: " + std::strerror(err));
  }
  if (t > timeout_s) {
    ssize_t ignored = write(fd_, "V", 1);
    (void)ignored;
    close(fd_);
    fd_ = -1;
    return Unavailable("watchdog device " + device_ + " set its timeout to " + std::to_string(t) +
                       " s, longer than the " + std::to_string(timeout_s) + " s the lease allows");
  }
  return Status::Ok();
}

Status Watchdog::Keepalive() {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) return Status::Ok();
  int dummy = 0;
  if (ioctl(fd_, WDIOC_KEEPALIVE, &dummy) != 0) {
    return IoError("watchdog keepalive on " + device_ + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

void Watchdog::Disable() {
  std::lock_guard<std::mutex> l(mu_);
  if (fd_ < 0) return;
  ssize_t ignored = write(fd_, "V", 1);
  (void)ignored;
  close(fd_);
  fd_ = -1;
}

bool Watchdog::active() const {
  std::lock_guard<std::mutex> l(mu_);
  return fd_ >= 0;
}

}  // namespace pgw
