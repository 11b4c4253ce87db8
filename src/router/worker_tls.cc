// Worker: TLS with clients (SSLRequest answered 'S') and with servers (server_tls_sslmode), driven by the loop's
// readiness events like the rest of a session, never blocking; and the epoll interest of a session's sockets.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pgwire/startup.h"
#include "router/session.h"
#include "router/worker.h"

namespace pgw::router {

void Worker::StartClientTls(Session& s) {
  // 'S' goes in clear, alone: anything queued before it would be read by the client as TLS.
  if (!s.to_client.empty()) return Close(s, CloseReason::kClientClosed, "client not reading");
  char yes = 'S';
  if (send(s.cfd, &yes, 1, MSG_NOSIGNAL) != 1)
    return Close(s, CloseReason::kClientClosed, "write to the client failed");
  s.ctls = std::make_unique<net::TlsConn>(cfg_->client_tls, s.cfd, /*server_side=*/true);
  Move(s, SessionState::kClientTls, "SSLRequest");
  ContinueClientTls(s);
}

void Worker::ContinueClientTls(Session& s) {
  switch (s.ctls->Handshake()) {
    case net::TlsConn::Step::kDone:
      stats_.tls_clients.fetch_add(1, std::memory_order_relaxed);
      s.ctls_wait = 0;
      Move(s, SessionState::kStartup, "TLS with the client: " + s.ctls->Describe());
      return;
    case net::TlsConn::Step::kWantRead: s.ctls_wait = net::kReadable; return;
    case net::TlsConn::Step::kWantWrite: s.ctls_wait = net::kWritable; return;
    case net::TlsConn::Step::kFailed:
      // Nothing can be said to the client: it speaks TLS and the handshake is broken.
      log_.Info("TLS handshake with a client failed: " + s.ctls->error());
      return Close(s, CloseReason::kTlsFailed, "TLS handshake: " + s.ctls->error());
  }
}

void Worker::StartServerTls(Session& s) {
  pgwire::StartupPacket p;
  p.kind = pgwire::StartupKind::kSslRequest;
  std::string req = pgwire::EncodeStartup(p);
  // A fresh connection's socket buffer takes 8 bytes.
  if (send(s.sfd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return Retry(s, "SSLRequest to " + s.server_name + ": " + strerror(errno));
  }
  Move(s, SessionState::kServerTls, "connected to " + s.server_name + ", TLS requested");
  UpdateInterest(s);
}

void Worker::ContinueServerTls(Session& s) {
  if (!s.stls) {
    char answer = 0;
    ssize_t n = recv(s.sfd, &answer, 1, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return Retry(s, s.server_name + " closed the connection after SSLRequest");
    if (answer == 'N') {
      if (cfg_->server_tls_sslmode == ServerTlsMode::kPrefer) return OnConnected(s);
      return Refuse(s, "08001",
                    "pgwarden-router: the server " + s.server_name + " does not accept TLS (server_tls_sslmode " +
                        ServerTlsModeName(cfg_->server_tls_sslmode) + ")",
                    CloseReason::kTlsFailed);
    }
    if (answer != 'S') return Retry(s, s.server_name + " answered SSLRequest with neither S nor N");
    // Bytes after 'S' and before the handshake would be taken as coming from the TLS peer: refused.
    char extra;
    if (recv(s.sfd, &extra, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
      return Refuse(s, "08001", "pgwarden-router: " + s.server_name + " sent unencrypted bytes after accepting TLS",
                    CloseReason::kTlsFailed);
    }
    bool full = cfg_->server_tls_sslmode == ServerTlsMode::kVerifyFull;
    s.stls =
        std::make_unique<net::TlsConn>(cfg_->server_tls, s.sfd, /*server_side=*/false, full ? s.server_addr.host : "");
  }
  switch (s.stls->Handshake()) {
    case net::TlsConn::Step::kDone:
      stats_.tls_servers.fetch_add(1, std::memory_order_relaxed);
      s.stls_wait = 0;
      if (log_.Enabled(LogLevel::kDebug)) log_.Debug("TLS with " + s.server_name + ": " + s.stls->Describe());
      return OnConnected(s);
    case net::TlsConn::Step::kWantRead: s.stls_wait = net::kReadable; return;
    case net::TlsConn::Step::kWantWrite: s.stls_wait = net::kWritable; return;
    case net::TlsConn::Step::kFailed:
      return Refuse(s, "08001", "pgwarden-router: TLS with the server " + s.server_name + ": " + s.stls->error(),
                    CloseReason::kTlsFailed);
  }
}

void Worker::KickIfPending(Session& s) {
  if (s.closed || s.kick_posted) return;
  bool client = s.ctls && s.state != SessionState::kClientTls && (s.cmask & net::kReadable) && s.ctls->Pending();
  bool server = s.stls && s.state != SessionState::kServerTls && (s.smask & net::kReadable) && s.stls->Pending();
  if (!client && !server) return;
  s.kick_posted = true;
  uint64_t id = s.id;
  loop_.Post([this, id, client, server] {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->closed) return;
    it->second->kick_posted = false;
    if (client) OnClientEvent(id, net::kReadable);
    it = sessions_.find(id);
    if (server && it != sessions_.end() && !it->second->closed && it->second->sfd >= 0) {
      OnServerEvent(id, net::kReadable);
    }
  });
}

void Worker::UpdateInterest(Session& s) {
  // The relay's steady state, after nearly every event: both sides in clear, nothing pending, both registered for
  // reads only. What the general computation below would give, without computing it.
  if (s.state == SessionState::kRelaying && s.cmask == net::kReadable && s.smask == net::kReadable && !s.ctls &&
      !s.stls && s.to_server.empty() && s.to_client.empty()) {
    return;
  }
  uint32_t cm = 0;
  if (s.state == SessionState::kClientTls) {
    cm = s.ctls_wait;
  } else {
    if (s.state != SessionState::kClosing && s.to_server.size() < kMaxPending) cm |= net::kReadable;
    if (!s.to_client.empty() || (s.ctls && s.ctls->wants_write())) cm |= net::kWritable;
  }
  if (cm != s.cmask && loop_.Modify(s.cfd, cm).ok()) s.cmask = cm;
  if (s.sfd < 0) return KickIfPending(s);
  uint32_t sm = 0;
  if (s.state == SessionState::kConnecting) {
    sm = net::kWritable;
  } else if (s.state == SessionState::kServerTls) {
    sm = s.stls ? s.stls_wait : net::kReadable;
  } else {
    if (s.to_client.size() < kMaxPending) sm |= net::kReadable;
    if (!s.to_server.empty() && s.state != SessionState::kAwaitWritable) sm |= net::kWritable;
    if (s.stls && s.stls->wants_write()) sm |= net::kWritable;
  }
  if (sm != s.smask && loop_.Modify(s.sfd, sm).ok()) s.smask = sm;
  KickIfPending(s);
}

}  // namespace pgw::router
