// Worker: thread, listeners, topology, waiting sessions and cancel forwarding. The session I/O is in
// worker_session.cc.
#include "router/worker.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "net/socket.h"
#include "pgwire/startup.h"
#include "router/session.h"

namespace pgw::router {

const char* SessionStateName(SessionState s) {
  switch (s) {
    case SessionState::kStartup: return "startup";
    case SessionState::kClientTls: return "client_tls";
    case SessionState::kWaiting: return "waiting";
    case SessionState::kConnecting: return "connecting";
    case SessionState::kServerTls: return "server_tls";
    case SessionState::kServerStartup: return "server_startup";
    case SessionState::kAwaitWritable: return "await_writable";
    case SessionState::kRelaying: return "relaying";
    case SessionState::kClosing: return "closing";
    case SessionState::kCount: break;
  }
  return "unknown";
}

namespace {
// ", 12000 ms behind (read_max_lag_time 10000 ms)" when the time threshold is on and the lag known, else "".
std::string LagTimeText(const ServerInfo* s, const ReadPolicy& policy) {
  if (!s || !s->lag_time || policy.max_lag_time.count() <= 0) return "";
  return ", " + std::to_string(s->lag_time->count()) + " ms behind (read_max_lag_time " +
         std::to_string(policy.max_lag_time.count()) + " ms)";
}
}  // namespace

Worker::Worker(int index, std::shared_ptr<const RouterConfig> cfg, RouterShared& shared, const Clock& clock,
               Logger& log)
    : index_(index),
      cfg_(std::move(cfg)),
      shared_(shared),
      clock_(clock),
      log_(log),
      loop_(clock),
      topo_(std::make_shared<Topology>()) {}

Worker::~Worker() {
  Stop();
  for (auto& [id, s] : sessions_) {
    s->ctls.reset();
    s->stls.reset();
    if (s->cfd >= 0) close(s->cfd);
    if (s->sfd >= 0) close(s->sfd);
  }
  if (write_lfd_ >= 0) close(write_lfd_);
  if (read_lfd_ >= 0) close(read_lfd_);
}

Status Worker::Init() {
  PGW_RETURN_IF_ERROR(loop_.Init());
  auto w = net::Listen(cfg_->listen_write, /*reuse_port=*/true);
  if (!w.ok()) return w.status().Context("listen_write");
  write_lfd_ = *w;
  auto r = net::Listen(cfg_->listen_read, /*reuse_port=*/true);
  if (!r.ok()) return r.status().Context("listen_read");
  read_lfd_ = *r;
  write_port_ = net::LocalPort(write_lfd_);
  read_port_ = net::LocalPort(read_lfd_);
  PGW_RETURN_IF_ERROR(loop_.Add(write_lfd_, net::kReadable, [this](uint32_t) { OnAccept(write_lfd_, Port::kWrite); }));
  return loop_.Add(read_lfd_, net::kReadable, [this](uint32_t) { OnAccept(read_lfd_, Port::kRead); });
}

void Worker::Start() {
  thread_ = std::thread([this] { loop_.Run(); });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  loop_.Stop();
  thread_.join();
}

void Worker::SetTopology(std::shared_ptr<const Topology> t) {
  loop_.Post([this, t = std::move(t)] { ApplyTopology(t); });
}

void Worker::SetConfig(std::shared_ptr<const RouterConfig> cfg) {
  loop_.Post([this, cfg = std::move(cfg)] { ApplyConfig(cfg); });
}

void Worker::ApplyConfig(std::shared_ptr<const RouterConfig> cfg) {
  cfg_ = std::move(cfg);
  UpdateLagging();
  EvictReadSessions();  // the lag threshold or the primary fallback may have changed
  RetryWaiting();
}

void Worker::OnAccept(int lfd, Port port) {
  // Bounded: at most 64 accepts per readiness event; the rest are taken at the next turn (level-triggered).
  for (int i = 0; i < 64; ++i) {
    int fd = net::Accept(lfd);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        log_.Warn("accept: " + std::string(strerror(errno)));
      return;
    }
    net::SetNoDelay(fd);
    auto s = std::make_unique<Session>();
    s->id = next_id_++;
    s->port = port;
    s->cfd = fd;
    s->accepted_at = clock_.Now();
    uint64_t id = s->id;
    Status st = loop_.Add(fd, net::kReadable, [this, id](uint32_t ev) { OnClientEvent(id, ev); });
    if (!st.ok()) {
      log_.Warn("worker " + std::to_string(index_) + ": " + st.message());
      close(fd);
      continue;
    }
    s->cmask = net::kReadable;
    stats_.accepted.fetch_add(1, std::memory_order_relaxed);
    stats_.clients.fetch_add(1, std::memory_order_relaxed);
    transitions_[static_cast<int>(SessionState::kStartup)].fetch_add(1, std::memory_order_relaxed);
    // A client that sends no complete start-up packet in time is dropped (PostgreSQL's authentication_timeout
    // covers the rest, once a server is involved).
    s->startup_timer = loop_.After(Duration(60000), [this, id] {
      auto it = sessions_.find(id);
      if (it != sessions_.end() &&
          (it->second->state == SessionState::kStartup || it->second->state == SessionState::kClientTls)) {
        it->second->startup_timer = 0;
        Close(*it->second, CloseReason::kProtocolViolation, "no start-up packet within 60 s");
      }
    });
    sessions_.emplace(id, std::move(s));
  }
}

void Worker::ApplyTopology(std::shared_ptr<const Topology> t) {
  bool epoch_changed = t->leader_epoch != topo_->leader_epoch;
  topo_ = std::move(t);
  MonoTime now = clock_.Now();
  bool writes_routable = RouteWrite(*topo_, now).server != nullptr;
  // Sessions on a server that no longer holds the leader key are closed at once (they would write to a demoted or
  // fenced server, or block); with etcd unreadable past the ttl, every write session is closed: who leads is unknown.
  if (epoch_changed || !writes_routable) {
    std::vector<uint64_t> victims;
    for (auto& [id, s] : sessions_) {
      if (s->port != Port::kWrite || s->server_name.empty()) continue;
      if (s->state == SessionState::kClosing) continue;
      if (s->leader_epoch != topo_->leader_epoch || !writes_routable) victims.push_back(id);
    }
    for (uint64_t id : victims) {
      auto it = sessions_.find(id);
      if (it == sessions_.end()) continue;
      Session& s = *it->second;
      if (s.state == SessionState::kConnecting || s.state == SessionState::kServerTls ||
          s.state == SessionState::kServerStartup) {
        if (!s.hs || !s.hs->forwarded_any()) {
          // The client has seen nothing yet: route it again, to the new leader.
          Retry(s, "the leader changed");
          continue;
        }
      }
      bool stale = !writes_routable && topo_->leader_epoch == s.leader_epoch;
      Refuse(s, "57P01",
             stale ? "pgwarden-router: etcd cannot be read for longer than the ttl; write sessions are closed"
                   : "pgwarden-router: the server " + s.server_name + " no longer holds the leader key; reconnect",
             stale ? CloseReason::kEtcdStale : CloseReason::kLeaderChanged);
    }
  }
  UpdateLagging();
  EvictReadSessions();
  RetryWaiting();
}

void Worker::UpdateLagging() {
  ReadPolicy policy = Policy();
  std::set<std::string> next = NextLagging(*topo_, policy, lagging_);
  if (index_ == 0 && next != lagging_) {
    for (const auto& n : next) {
      if (lagging_.count(n)) continue;
      const ServerInfo* s = topo_->Find(n);
      log_.Info("read pool: " + n + " left, " + std::to_string(s && s->lag_bytes ? *s->lag_bytes : -1) +
                " bytes behind the leader (read_max_lag " + std::to_string(policy.max_lag_bytes) + ")" +
                LagTimeText(s, policy) + "; it returns at " + std::to_string(policy.ReturnLag()) + " bytes or less");
    }
    for (const auto& n : lagging_) {
      if (next.count(n)) continue;
      const ServerInfo* s = topo_->Find(n);
      if (!s) continue;
      log_.Info("read pool: " + n + " caught up (" + std::to_string(s->lag_bytes ? *s->lag_bytes : -1) +
                " bytes behind, read_return_lag " + std::to_string(policy.ReturnLag()) + ")" + LagTimeText(s, policy) +
                " and returns");
    }
  }
  lagging_ = std::move(next);
}

void Worker::EvictReadSessions() {
  ReadPolicy policy = Policy();
  std::vector<std::pair<uint64_t, std::string>> victims;
  for (auto& [id, s] : sessions_) {
    if (s->port != Port::kRead || s->server_name.empty() || s->closed) continue;
    if (s->state == SessionState::kClosing) continue;
    if (auto why = ReadEvictionReason(*topo_, s->server_name, policy, lagging_)) victims.emplace_back(id, *why);
  }
  for (const auto& [id, why] : victims) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->closed) continue;
    Session& s = *it->second;
    if ((s.state == SessionState::kConnecting || s.state == SessionState::kServerTls ||
         s.state == SessionState::kServerStartup) &&
        (!s.hs || !s.hs->forwarded_any())) {
      Retry(s, why);  // the client has seen nothing yet: route it again, to a replica still in the pool
      continue;
    }
    Refuse(s, "57P01", "pgwarden-router: " + why + ": the server left the read pool; reconnect",
           CloseReason::kReplicaLeftPool);
  }
}

void Worker::ArmWaitTimer() {
  if (wait_timer_ != 0 || waiting_.empty()) return;
  wait_timer_ = loop_.After(Duration(50), [this] {
    wait_timer_ = 0;
    RetryWaiting();
    ArmWaitTimer();
  });
}

void Worker::RetryWaiting() {
  std::vector<uint64_t> ids(waiting_.begin(), waiting_.end());
  for (uint64_t id : ids) {
    auto it = sessions_.find(id);
    if (it == sessions_.end() || it->second->state != SessionState::kWaiting) {
      waiting_.erase(id);
      continue;
    }
    TryRoute(*it->second);
  }
}

void Worker::ForwardCancel(int32_t pid, const std::string& key) {
  auto server = shared_.cancels.Find(pid, key);
  if (!server) {
    // Unknown key: not ours, or the session ended. PostgreSQL ignores bad keys silently, and so do we.
    stats_.cancels_unknown.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto fd = net::ConnectStart(*server);
  if (!fd.ok()) {
    log_.Warn("cancel request to " + server->ToString() + ": " + fd.status().message());
    return;
  }
  pgwire::StartupPacket p;
  p.kind = pgwire::StartupKind::kCancel;
  p.cancel_pid = pid;
  p.cancel_key = key;
  auto packet = std::make_shared<std::string>(pgwire::EncodeStartup(p));
  int cfd = *fd;
  auto timer = std::make_shared<net::EventLoop::TimerId>(0);
  auto done = [this, cfd, timer] {
    loop_.Cancel(*timer);
    loop_.Remove(cfd);
    close(cfd);
  };
  *timer = loop_.After(cfg_->connect_timeout, [this, cfd] {
    loop_.Remove(cfd);
    close(cfd);
  });
  Status st = loop_.Add(cfd, net::kWritable, [this, cfd, packet, done](uint32_t) {
    if (net::ConnectResult(cfd) == 0 &&
        send(cfd, packet->data(), packet->size(), MSG_NOSIGNAL) == ssize_t(packet->size())) {
      stats_.cancels_forwarded.fetch_add(1, std::memory_order_relaxed);
    }
    done();
  });
  if (!st.ok()) {
    loop_.Cancel(*timer);
    close(cfd);
  }
}

}  // namespace pgw::router
