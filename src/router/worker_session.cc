// Worker: the life of one session, from the client's first packet to the relay and the close.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socket.h"
#include "pgwire/startup.h"
#include "router/session.h"
#include "router/worker.h"

namespace pgw::router {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
// How long a server that failed to connect, or refused the start-up, is skipped by this session.
constexpr Duration kExcludeFailed = Duration(1000);
constexpr Duration kExcludeRetry = Duration(100);
constexpr Duration kProbePeriod = Duration(25);

const char* PortName(Port p) { return p == Port::kWrite ? "read-write" : "read-only"; }
}  // namespace

void Worker::Move(Session& s, SessionState to, const std::string& reason) {
  if (s.state == SessionState::kWaiting) stats_.waiting.fetch_sub(1, std::memory_order_relaxed);
  if (to == SessionState::kWaiting) stats_.waiting.fetch_add(1, std::memory_order_relaxed);
  if (log_.Enabled(LogLevel::kDebug)) {
    log_.Debug("session " + std::to_string(index_) + "." + std::to_string(s.id) + ": " + SessionStateName(s.state) +
               " -> " + SessionStateName(to) + " (" + reason + ")");
  }
  s.state = to;
  transitions_[static_cast<int>(to)].fetch_add(1, std::memory_order_relaxed);
}

std::set<std::string> Worker::Excluded(Session& s) {
  MonoTime now = clock_.Now();
  std::set<std::string> out;
  for (auto it = s.excluded.begin(); it != s.excluded.end();) {
    if (it->second <= now) {
      it = s.excluded.erase(it);
    } else {
      out.insert(it->first);
      ++it;
    }
  }
  return out;
}

void Worker::OnClientEvent(uint64_t id, uint32_t ev) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->closed) return;
  Session& s = *it->second;
  if (s.state == SessionState::kClientTls) {
    ContinueClientTls(s);
    if (!s.closed) UpdateInterest(s);
    return;
  }
  // A TLS read that waited for writability (a key update) is retried on it.
  if (s.ctls && s.ctls->wants_write() && (ev & net::kWritable)) ev |= net::kReadable;
  if (ev & net::kWritable) {
    if (!FlushClient(s)) return Close(s, CloseReason::kClientClosed, "write to the client failed");
    if (s.state == SessionState::kClosing && s.to_client.empty()) return Close(s, s.close_reason, "error sent");
  }
  if (ev & (net::kReadable | net::kError | net::kHangup)) {
    if (s.state == SessionState::kClosing) return Close(s, s.close_reason, "error sent");
    if (s.state == SessionState::kRelaying) {
      if (!Relay(s, /*from_client=*/true)) return Close(s, CloseReason::kClientClosed, "client closed");
    } else {
      char buf[16384];
      ssize_t n = net::StreamRead(s.cfd, s.ctls.get(), buf, sizeof buf);
      if (n == 0) return Close(s, CloseReason::kClientClosed, "client closed");
      if (n < 0 && errno != EAGAIN && errno != EINTR) return Close(s, CloseReason::kClientClosed, strerror(errno));
      if (n > 0) {
        if (s.state == SessionState::kStartup) {
          s.client_in.append(buf, static_cast<size_t>(n));
          OnClientStartupBytes(s);
        } else {
          // Authentication answers (or early bytes): to the server, once it may receive them.
          s.to_server.append(buf, static_cast<size_t>(n));
          if (!FlushServer(s)) return Close(s, CloseReason::kServerClosed, "write to the server failed");
        }
      }
    }
  }
  if (!s.closed) UpdateInterest(s);
}

void Worker::OnClientStartupBytes(Session& s) {
  // Bounded: each turn consumes one packet; a client gets at most two encryption answers before its start-up.
  for (int negotiations = 0; negotiations < 3; ++negotiations) {
    size_t consumed = 0;
    auto p = pgwire::DecodeStartup(s.client_in, &consumed);
    if (!p.ok()) return Refuse(s, "08P01", p.status().message(), CloseReason::kProtocolViolation);
    if (!*p) return;
    std::string raw = s.client_in.substr(0, consumed);
    s.client_in.erase(0, consumed);
    const pgwire::StartupPacket& pk = **p;
    switch (pk.kind) {
      case pgwire::StartupKind::kSslRequest:
      case pgwire::StartupKind::kGssEncRequest:
        // Bytes sent before reading the answer would be read as if they had come after it (and, with TLS, as if
        // they had come encrypted): refused.
        if (!s.client_in.empty()) {
          return Refuse(s, "08P01", "bytes received after an encryption request, before its answer",
                        CloseReason::kProtocolViolation);
        }
        if (s.ctls) return Refuse(s, "08P01", "encryption request inside TLS", CloseReason::kProtocolViolation);
        if (pk.kind == pgwire::StartupKind::kSslRequest && cfg_->client_tls) return StartClientTls(s);
        // No TLS configured (or GSS encryption asked): 'N', and the client goes on in clear (or gives up, if it
        // requires encryption).
        s.to_client.push_back('N');
        if (!FlushClient(s)) return Close(s, CloseReason::kClientClosed, "write to the client failed");
        continue;
      case pgwire::StartupKind::kCancel:
        ForwardCancel(pk.cancel_pid, pk.cancel_key);
        return Close(s, CloseReason::kCancelRequest, "cancel request");
      case pgwire::StartupKind::kStartup:
        if (const std::string* u = pk.Parameter("user")) s.user = *u;
        if (const std::string* d = pk.Parameter("database")) s.database = *d;
        if (!s.ctls && cfg_->client_tls_sslmode == ClientTlsMode::kRequire) {
          return Refuse(s, "28000",
                        "pgwarden-router: TLS is required (client_tls_sslmode require): connect with sslmode=require "
                        "or stronger",
                        CloseReason::kTlsRequired);
        }
        s.startup = std::move(raw);
        s.to_server = std::move(s.client_in);
        s.client_in.clear();
        loop_.Cancel(s.startup_timer);
        s.startup_timer = 0;
        s.deadline = clock_.Now() + cfg_->no_leader_wait;
        Move(s, SessionState::kWaiting, "start-up received");
        return TryRoute(s);
    }
  }
  Refuse(s, "08P01", "too many encryption requests", CloseReason::kProtocolViolation);
}

void Worker::TryRoute(Session& s) {
  MonoTime now = clock_.Now();
  RouteDecision d;
  if (s.port == Port::kWrite) {
    d = RouteWrite(*topo_, now, Excluded(s));
  } else {
    d = RouteRead(
        *topo_, Policy(), lagging_, [this](const std::string& n) { return shared_.loads.Active(n); }, Excluded(s));
  }
  if (d.server) {
    waiting_.erase(s.id);
    return StartConnect(s, *d.server);
  }
  if (now >= s.deadline) {
    waiting_.erase(s.id);
    return Refuse(s, "08001",
                  std::string("pgwarden-router: no server for ") + PortName(s.port) + " connections after waiting " +
                      std::to_string(cfg_->no_leader_wait.count()) + " ms: " + d.reason,
                  CloseReason::kNoServer);
  }
  waiting_.insert(s.id);
  ArmWaitTimer();
}

void Worker::StartConnect(Session& s, const ServerInfo& server) {
  auto fd = net::ConnectStart(*server.addr);
  if (!fd.ok()) {
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    log_.Warn("connect to " + server.name + ": " + fd.status().message());
    s.excluded[server.name] = clock_.Now() + kExcludeFailed;
    return TryRoute(s);  // bounded: the failed server is now excluded
  }
  s.sfd = *fd;
  s.server_name = server.name;
  s.server_addr = *server.addr;
  s.leader_epoch = topo_->leader_epoch;
  s.hs.reset();
  uint64_t id = s.id;
  Status st = loop_.Add(s.sfd, net::kWritable, [this, id](uint32_t ev) { OnServerEvent(id, ev); });
  if (!st.ok()) {
    close(s.sfd);
    s.sfd = -1;
    return Refuse(s, "08001", "pgwarden-router: " + st.message(), CloseReason::kNoServer);
  }
  s.smask = net::kWritable;
  s.connect_timer = loop_.After(cfg_->connect_timeout, [this, id] {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->closed) return;
    Session& x = *it->second;
    x.connect_timer = 0;
    if (x.state != SessionState::kConnecting && x.state != SessionState::kServerTls) return;
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    x.excluded[x.server_name] = clock_.Now() + kExcludeFailed;
    Retry(x, "connect to " + x.server_name + " timed out");
  });
  Move(s, SessionState::kConnecting, "routed to " + server.name);
}

void Worker::OnServerEvent(uint64_t id, uint32_t ev) {
  auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->closed || it->second->sfd < 0) return;
  Session& s = *it->second;
  switch (s.state) {
    case SessionState::kConnecting: {
      int err = net::ConnectResult(s.sfd);
      if (err != 0) {
        stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
        s.excluded[s.server_name] = clock_.Now() + kExcludeFailed;
        return Retry(s, "connect to " + s.server_name + ": " + strerror(err));
      }
      if (cfg_->server_tls) return StartServerTls(s);
      OnConnected(s);
      break;
    }
    case SessionState::kServerTls: ContinueServerTls(s); break;
    case SessionState::kServerStartup:
    case SessionState::kAwaitWritable: {
      if ((ev & net::kWritable) && !FlushServer(s)) return Close(s, CloseReason::kServerClosed, "write failed");
      if (s.stls && s.stls->wants_write() && (ev & net::kWritable)) ev |= net::kReadable;
      if (!(ev & (net::kReadable | net::kError | net::kHangup))) break;
      char buf[16384];
      ssize_t n = net::StreamRead(s.sfd, s.stls.get(), buf, sizeof buf);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n <= 0) {
        if (!s.hs || !s.hs->forwarded_any()) return Retry(s, s.server_name + " closed the connection at start-up");
        return Close(s, CloseReason::kServerClosed, "server closed during start-up");
      }
      OnServerStartupBytes(s, std::string_view(buf, static_cast<size_t>(n)));
      break;
    }
    case SessionState::kRelaying:
      if ((ev & net::kWritable) && !FlushServer(s)) return Close(s, CloseReason::kServerClosed, "write failed");
      if (s.stls && s.stls->wants_write() && (ev & net::kWritable)) ev |= net::kReadable;
      if ((ev & (net::kReadable | net::kError | net::kHangup)) && !Relay(s, /*from_client=*/false)) {
        return Close(s, CloseReason::kServerClosed, "server closed");
      }
      break;
    default: break;
  }
  if (!s.closed) UpdateInterest(s);
}

void Worker::OnConnected(Session& s) {
  loop_.Cancel(s.connect_timer);
  s.connect_timer = 0;
  s.load = shared_.loads.Get(s.server_name);
  s.load->active.fetch_add(1, std::memory_order_relaxed);
  s.load->total.fetch_add(1, std::memory_order_relaxed);
  s.hs.emplace(s.port == Port::kWrite);
  s.hs->set_offer_channel_binding(s.ctls != nullptr);
  s.hs->set_recovery_query(cfg_->recovery_check == RecoveryCheck::kQuery);
  s.to_server.insert(0, s.startup);
  Move(s, SessionState::kServerStartup, "connected to " + s.server_name);
  if (!FlushServer(s)) Close(s, CloseReason::kServerClosed, "write to the server failed");
}

void Worker::OnServerStartupBytes(Session& s, std::string_view bytes) {
  std::string out;
  auto step = s.hs->OnServerBytes(bytes, &out);
  s.to_client_frames.Feed(out);
  s.to_client.append(out);
  switch (step) {
    case ServerHandshake::Step::kContinue: break;
    case ServerHandshake::Step::kAwaitWritable:
      Move(s, SessionState::kAwaitWritable, s.server_name + " reports in_hot_standby=on");
      Probe(s);
      break;
    case ServerHandshake::Step::kCheckRecovery: {
      const char* why = s.hs->in_hot_standby().empty() ? " does not report in_hot_standby" : " (recovery_check query)";
      Move(s, SessionState::kAwaitWritable, s.server_name + why + ": asking pg_is_in_recovery()");
      std::string q = s.hs->NextProbe();
      if (net::StreamWrite(s.sfd, s.stls.get(), q.data(), q.size()) != static_cast<ssize_t>(q.size())) {
        return Close(s, CloseReason::kServerClosed, "recovery check write failed");
      }
      s.hs->ProbeSent();
      stats_.recovery_queries.fetch_add(1, std::memory_order_relaxed);
      Probe(s);
      break;
    }
    case ServerHandshake::Step::kLinked: Link(s); break;
    case ServerHandshake::Step::kRetry: return Retry(s, s.server_name + ": " + s.hs->error());
    case ServerHandshake::Step::kFailed:
      return Refuse(s, "08P01", "pgwarden-router: " + s.server_name + ": " + s.hs->error(),
                    CloseReason::kProtocolViolation);
  }
  if (!s.closed && !FlushClient(s)) Close(s, CloseReason::kClientClosed, "write to the client failed");
}

void Worker::Probe(Session& s) {
  uint64_t id = s.id;
  s.probe_timer = loop_.After(kProbePeriod, [this, id] {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->closed) return;
    Session& x = *it->second;
    x.probe_timer = 0;
    if (x.state != SessionState::kAwaitWritable) return;
    if (clock_.Now() >= x.deadline) {
      return Refuse(x, "57P03",
                    "pgwarden-router: the leader " + x.server_name + " is still in recovery after waiting " +
                        std::to_string(cfg_->no_leader_wait.count()) + " ms",
                    CloseReason::kServerNotWritable);
    }
    if (x.hs->probes_outstanding() == 0) {
      std::string q = x.hs->NextProbe();
      if (net::StreamWrite(x.sfd, x.stls.get(), q.data(), q.size()) != static_cast<ssize_t>(q.size())) {
        return Close(x, CloseReason::kServerClosed, "probe write failed");
      }
      x.hs->ProbeSent();
      if (q == ServerHandshake::RecoveryQuery()) stats_.recovery_queries.fetch_add(1, std::memory_order_relaxed);
    }
    Probe(x);
  });
}

void Worker::Link(Session& s) {
  loop_.Cancel(s.probe_timer);
  s.probe_timer = 0;
  Move(s, SessionState::kRelaying, "linked to " + s.server_name);
  if (s.hs->backend_key()) {
    s.key = *s.hs->backend_key();
    shared_.cancels.Add(s.key->pid, s.key->key, s.server_addr);
  }
  if (s.port == Port::kWrite) {
    stats_.routed_write.fetch_add(1, std::memory_order_relaxed);
    uint64_t epoch = s.leader_epoch;
    uint64_t seen = shared_.reroute_epoch.load();
    if (epoch >= 2 && epoch == topo_->leader_epoch && seen < epoch &&
        shared_.reroute_epoch.compare_exchange_strong(seen, epoch)) {
      auto ms = std::chrono::duration_cast<Duration>(clock_.Now() - topo_->leader_changed_at).count();
      shared_.reroute_ms.store(ms);
      log_.Info("first connection routed to the new leader " + s.server_name + " " + std::to_string(ms) +
                " ms after the leader change");
    }
  } else {
    stats_.routed_read.fetch_add(1, std::memory_order_relaxed);
  }
  s.hs.reset();
  if (!FlushServer(s)) Close(s, CloseReason::kServerClosed, "write to the server failed");
}

void Worker::Retry(Session& s, const std::string& why) {
  stats_.startup_retries.fetch_add(1, std::memory_order_relaxed);
  if (!s.server_name.empty() && !s.excluded.count(s.server_name)) {
    s.excluded[s.server_name] = clock_.Now() + kExcludeRetry;
  }
  DropServer(s);
  s.to_server.clear();
  Move(s, SessionState::kWaiting, why);
  TryRoute(s);
}

void Worker::DropServer(Session& s) {
  for (auto* t : {&s.connect_timer, &s.probe_timer}) {
    if (*t) loop_.Cancel(*t);
    *t = 0;
  }
  if (s.stls) {
    s.stls->Shutdown();
    s.stls.reset();
  }
  if (s.sfd >= 0) {
    loop_.Remove(s.sfd);
    close(s.sfd);
    s.sfd = -1;
  }
  s.smask = 0;
  if (s.load) {
    s.load->active.fetch_sub(1, std::memory_order_relaxed);
    s.load.reset();
  }
  if (s.key) {
    shared_.cancels.Remove(s.key->pid, s.key->key);
    s.key.reset();
  }
  s.hs.reset();
  s.server_name.clear();
}

void Worker::Refuse(Session& s, const std::string& sqlstate, const std::string& message, CloseReason reason) {
  if (s.closed || s.state == SessionState::kClosing) return;
  log_.Info("refused a " + std::string(PortName(s.port)) + " connection (user " + s.user + ", database " + s.database +
            "): " + message);
  DropServer(s);
  waiting_.erase(s.id);
  if (!s.to_client_frames.AtBoundary()) return Close(s, reason, message + " (inside a server message: no error sent)");
  pgwire::ErrorFields e;
  e.severity = "FATAL";
  e.sqlstate = sqlstate;
  e.message = message;
  s.to_client.append(pgwire::EncodeErrorResponse(e));
  s.close_reason = reason;
  Move(s, SessionState::kClosing, message);
  if (!FlushClient(s) || s.to_client.empty()) return Close(s, reason, message);
  uint64_t id = s.id;
  s.close_timer = loop_.After(Duration(5000), [this, id] {
    auto it = sessions_.find(id);
    if (it != sessions_.end() && !it->second->closed) {
      it->second->close_timer = 0;
      Close(*it->second, it->second->close_reason, "error not read in time");
    }
  });
  UpdateInterest(s);
}

void Worker::Close(Session& s, CloseReason reason, const std::string& why) {
  if (s.closed) return;
  if (log_.Enabled(LogLevel::kDebug)) {
    log_.Debug("session " + std::to_string(index_) + "." + std::to_string(s.id) +
               " closed: " + CloseReasonName(reason) + " (" + why + ")");
  }
  if (s.state == SessionState::kWaiting) stats_.waiting.fetch_sub(1, std::memory_order_relaxed);
  s.closed = true;
  DropServer(s);
  for (auto* t : {&s.startup_timer, &s.close_timer}) {
    if (*t) loop_.Cancel(*t);
    *t = 0;
  }
  if (s.ctls) {
    s.ctls->Shutdown();
    s.ctls.reset();
  }
  loop_.Remove(s.cfd);
  close(s.cfd);
  s.cfd = -1;
  waiting_.erase(s.id);
  stats_.clients.fetch_sub(1, std::memory_order_relaxed);
  stats_.closed[static_cast<int>(reason)].fetch_add(1, std::memory_order_relaxed);
  uint64_t id = s.id;
  // Erased at the next turn, so that callers up the stack may still look at `s` (they check s.closed).
  loop_.Post([this, id] { sessions_.erase(id); });
}

bool Worker::Relay(Session& s, bool from_client) {
  int from = from_client ? s.cfd : s.sfd;
  int to = from_client ? s.sfd : s.cfd;
  net::TlsConn* from_tls = from_client ? s.ctls.get() : s.stls.get();
  net::TlsConn* to_tls = from_client ? s.stls.get() : s.ctls.get();
  std::string& pending = from_client ? s.to_server : s.to_client;
  auto& counter = from_client ? stats_.bytes_to_server : stats_.bytes_to_client;
  auto& server_counter = from_client ? s.load->bytes_to_server : s.load->bytes_to_client;
  char buf[kReadChunk];
  // Bounded: at most 4 reads per event; level-triggered epoll brings the rest at the next turn (and
  // KickIfPending what TLS already decrypted).
  for (int i = 0; i < 4 && pending.size() < kMaxPending; ++i) {
    ssize_t n = net::StreamRead(from, from_tls, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      return false;
    }
    counter.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    if (!from_client) s.to_client_frames.Feed(std::string_view(buf, static_cast<size_t>(n)));
    server_counter.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    ssize_t w = 0;
    if (pending.empty()) {
      w = net::StreamWrite(to, to_tls, buf, static_cast<size_t>(n));
      if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) return false;
        w = 0;
      }
    }
    if (w < n) pending.append(buf + w, static_cast<size_t>(n - w));
    // A short read emptied the socket; TLS returns one record (up to 16 kB) per read: read on.
    if (!from_tls && static_cast<size_t>(n) < sizeof buf) break;
  }
  return true;
}

namespace {
// Writes `pending` to `fd`; false on an error other than a full socket.
bool FlushTo(int fd, net::TlsConn* tls, std::string* pending) {
  while (!pending->empty()) {
    ssize_t w = net::StreamWrite(fd, tls, pending->data(), pending->size());
    if (w < 0) return errno == EAGAIN || errno == EINTR;
    pending->erase(0, static_cast<size_t>(w));
  }
  return true;
}
}  // namespace

bool Worker::FlushClient(Session& s) { return s.cfd < 0 || FlushTo(s.cfd, s.ctls.get(), &s.to_client); }

bool Worker::FlushServer(Session& s) {
  if (s.sfd < 0 || (s.state != SessionState::kServerStartup && s.state != SessionState::kRelaying)) return true;
  return FlushTo(s.sfd, s.stls.get(), &s.to_server);
}

}  // namespace pgw::router
