// Non-blocking TCP sockets on numeric addresses (no DNS: resolving a name blocks, so callers resolve elsewhere).
// Plain functions over file descriptors; the caller owns every descriptor returned and closes it.
#pragma once

#include <sys/socket.h>

#include <string>

#include "common/hostport.h"
#include "common/status.h"

namespace pgw::net {

// A listening socket on a numeric IPv4/IPv6 address, non-blocking, SO_REUSEADDR. With `reuse_port`, several
// sockets (one per worker) may bind the same address and the kernel spreads connections over them. The error
// names the address ("127.0.0.1:6432: Address already in use").
Result<int> Listen(const HostPort& addr, bool reuse_port, int backlog = 1024);

// Starts a non-blocking connect to a numeric address. The socket becomes writable when the connect finished;
// then ConnectResult() tells whether it succeeded. kInvalidArgument when the host is not an IP literal.
Result<int> ConnectStart(const HostPort& addr);
// 0 when the connect succeeded, else the errno it failed with (SO_ERROR).
int ConnectResult(int fd);

// accept4() non-blocking and close-on-exec; -1 with errno as accept4 sets it.
int Accept(int listen_fd);

// TCP_NODELAY on (PostgreSQL messages are small and latency-bound).
void SetNoDelay(int fd);
// The port a socket is bound to (for listeners on port 0).
int LocalPort(int fd);
// True when `host` is an IPv4 or IPv6 literal.
bool IsIpLiteral(const std::string& host);

}  // namespace pgw::net
