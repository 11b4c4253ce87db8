// A TCP forwarder on loopback for one-sided faults (tests, benchmarks, the torture tool): a node's etcd traffic
// goes through it, and the test freezes it (connections stay open, no byte moves: an etcd member cut off from its
// peers or a black-holed link) or cuts it (every connection closed, new ones closed at once), then lets traffic pass
// again.
//
// One thread polls every socket with a 50 ms bound, so mode changes and Stop take effect within that.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgw {

class Forwarder {
 public:
  enum class Mode { kPass, kFreeze, kCut };

  Forwarder() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 64) != 0) return;
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Forwarder() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    for (auto& p : pairs_) Close(p);
    if (listen_fd_ >= 0) close(listen_fd_);
  }
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Where to connect ("127.0.0.1:2379"); connections accepted before it is set wait for it.
  void SetTarget(const std::string& host_port) {
    std::lock_guard<std::mutex> l(mu_);
    target_ = host_port;
  }
  void SetMode(Mode m) { mode_ = m; }
  int accepted() const { return accepted_.load(); }

 private:
  struct Pair {
    int client = -1, server = -1;
  };
  static void Close(Pair& p) {
    if (p.client >= 0) close(p.client);
    if (p.server >= 0) close(p.server);
    p.client = p.server = -1;
  }
  int Connect() {
    std::string t;
    {
      std::lock_guard<std::mutex> l(mu_);
      t = target_;
    }
    if (t.empty()) return -1;
    size_t colon = t.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(t.substr(colon + 1))));
    inet_pton(AF_INET, t.substr(0, colon).c_str(), &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return -2;
    }
    return fd;
  }
  // Moves what is readable on `from` to `to`; false when the connection ended.
  static bool Relay(int from, int to) {
    char buf[16384];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }
  void Loop() {
    while (!stop_) {
      Mode mode = mode_.load();
      if (mode == Mode::kCut) {
        for (auto& p : pairs_) Close(p);
        pairs_.clear();
      }
      for (auto& p : pairs_) {
        if (p.server == -1 && mode == Mode::kPass) {
          int fd = Connect();
          if (fd >= 0) p.server = fd;
          if (fd == -2) Close(p);
        }
      }
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      if (mode == Mode::kPass) {
        for (auto& p : pairs_) {
          if (p.client >= 0 && p.server >= 0) {
            fds.push_back({p.client, POLLIN, 0});
            fds.push_back({p.server, POLLIN, 0});
          }
        }
      }
      if (poll(fds.data(), fds.size(), 50) < 0) continue;
      if (fds[0].revents & POLLIN) {
        int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          ++accepted_;
          if (mode == Mode::kCut)
            close(c);
          else
            pairs_.push_back(Pair{c, -1});
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        for (auto& p : pairs_) {
          if (fds[i].fd == p.client && p.server >= 0 && !Relay(p.client, p.server))
            Close(p);
          else if (fds[i].fd == p.server && p.client >= 0 && !Relay(p.server, p.client))
            Close(p);
        }
      }
      std::erase_if(pairs_, [](const Pair& p) { return p.client < 0; });
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::string target_;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::vector<Pair> pairs_;  // loop thread only
  std::thread thread_;
};

}  // namespace pgw
