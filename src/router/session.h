// The state of one client session, owned by the Worker that accepted it (router-internal header).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "net/tls.h"
#include "router/worker.h"

namespace pgw::router {

// A side's pending bytes beyond this stop reads from the other side until they drain (backpressure).
inline constexpr size_t kMaxPending = 1 << 20;

struct Worker::Session {
  uint64_t id = 0;
  Port port = Port::kWrite;
  SessionState state = SessionState::kStartup;
  int cfd = -1;                              // client socket
  int sfd = -1;                              // server socket (kConnecting and later)
  std::unique_ptr<net::TlsConn> ctls, stls;  // TLS on the client / server socket, when negotiated
  uint32_t ctls_wait = 0, stls_wait = 0;     // readiness a handshake in progress waits for
  uint32_t cmask = 0, smask = 0;             // epoll interest registered now
  std::string client_in;                     // kStartup: bytes not parsed yet
  std::string startup;                       // the client's StartupMessage, as sent (replayed on a retry)
  std::string user, database;
  std::string to_server, to_client;       // bytes waiting for their socket to accept them
  pgwire::FrameTracker to_client_frames;  // where the server's messages to the client end (for our own errors)
  MonoTime accepted_at{};
  MonoTime deadline{};                       // end of the wait for a routable, writable server
  std::map<std::string, MonoTime> excluded;  // servers that just failed, until when
  std::optional<ServerHandshake> hs;
  std::string server_name;
  HostPort server_addr;
  uint64_t leader_epoch = 0;                  // the topology's leader epoch when this session was routed
  std::shared_ptr<ServerLoad> load;           // counted while the session holds a server connection
  std::optional<pgwire::BackendKeyData> key;  // registered in the cancel map
  net::EventLoop::TimerId startup_timer = 0, connect_timer = 0, probe_timer = 0, close_timer = 0;
  CloseReason close_reason = CloseReason::kClientClosed;
  bool closed = false;       // Close() ran; the session is erased at the next loop turn
  bool kick_posted = false;  // KickIfPending queued an event
};

}  // namespace pgw::router
