// A client TCP connection, optionally TLS, whose every step is bounded by a deadline: name resolution, connect,
// TLS handshake, each write and each read. The socket is non-blocking; a step that would block waits in poll(2)
// for at most the time left, so no call can hang. For the HTTP client (net/http_client.h); blocking by design (the
// caller is a thread of its own: the HA loop, the lease keeper, the watch), so it is not for an event loop.
//
// Thread-compatible: a connection belongs to the thread using it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "net/tls.h"

namespace pgw::net {

using Deadline = std::chrono::steady_clock::time_point;

// The addresses of `host` (an IP literal as it is; a name through getaddrinfo, run on a thread of its own so that
// a slow resolver cannot hold the caller past `deadline`). kTimeout when no answer came in time, kUnavailable when
// the name does not resolve.
Result<std::vector<std::string>> ResolveHost(const std::string& host, Deadline deadline);

class ClientConn {
 public:
  // Connects to host:port (each resolved address in turn until one answers), by `connect_deadline`; then, with
  // `tls`, handshakes and checks that the certificate names `host` (an IP address or a DNS name), by the same
  // deadline. Errors: kTimeout when the deadline passed, kUnavailable otherwise; both name the address.
  static Result<std::unique_ptr<ClientConn>> Open(const std::string& host, int port,
                                                  std::shared_ptr<const TlsContext> tls, Deadline connect_deadline);
  ~ClientConn();
  ClientConn(const ClientConn&) = delete;
  ClientConn& operator=(const ClientConn&) = delete;

  // Sends all of `data` by `deadline`.
  Status WriteAll(const char* data, size_t n, Deadline deadline);
  // Reads what has arrived, waiting for something until `deadline`: the byte count, 0 at the peer's close.
  // kTimeout when nothing came in time (the connection stays usable), kUnavailable on a transport error.
  Result<size_t> ReadSome(char* buf, size_t n, Deadline deadline);
  // For a kept-alive connection about to carry a request: false when the server closed it or sent something
  // unasked for (it must not be used). Never waits.
  bool Reusable();

  const std::string& peer() const { return peer_; }  // "127.0.0.1:2379", for messages

 private:
  ClientConn(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  // Waits until the socket is ready for `events` (POLLIN/POLLOUT) or `deadline`; false on timeout.
  bool Wait(short events, Deadline deadline) const;
  Status Handshake(std::shared_ptr<const TlsContext> tls, const std::string& host, Deadline deadline);

  int fd_;
  std::string peer_;
  std::unique_ptr<TlsConn> tls_;
};

}  // namespace pgw::net
