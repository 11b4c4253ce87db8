// A small HTTP/1.0 server: the agent's REST API and the router's admin port. One thread, poll()-based,
// non-blocking sockets.
// Each request must arrive within `read_timeout` and fit in `max_request` bytes, so a slow or oversized client
// cannot tie the server up. The handler runs on the server thread and must answer from cached state; requests
// that must wait for something (an etcd write, a switchover, a restart) return a `deferred` job, which runs on one
// of kMaxDeferred worker threads while the server keeps answering everyone else (health checks, peers' GET
// /patroni during an election, POST /failsafe). When every worker is taken, further jobs are refused at once with
// 503 "too many operations in progress": they never queue behind a slow one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

struct HttpServerRequest {
  std::string method;
  std::string path;                            // without the query string
  std::string query;                           // after '?', undecoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string peer;          // client IP address
  bool client_cert = false;  // TLS: the client presented a certificate that verified against cafile
};

struct HttpServerResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool status_line_only = false;  // HEAD / OPTIONS: Patroni answers with the status line alone
  // When set, the server runs it on a worker thread and sends what it returns instead (at most kMaxDeferred at
  // once; more get 503). It must bound its own duration: Stop() waits for the jobs in progress.
  std::function<HttpServerResponse()> deferred;
  // Extra header lines ("Name: value").
  std::vector<std::string> headers;
};

class RestServer {
 public:
  using Handler = std::function<HttpServerResponse(const HttpServerRequest&)>;

  RestServer(Handler handler, size_t max_request = 64 * 1024, Duration read_timeout = Duration(5000));
  ~RestServer();

  // Binds and listens; the error names the address when the port is in use.
  Status Listen(const std::string& host, int port);
  // Serves HTTPS with `certfile` (and `keyfile`, or the key inside certfile; an encrypted key is decrypted with
  // `keyfile_password`). verify_client: none | optional | required, checked against `cafile`. Call before Start().
  Status EnableTls(const std::string& certfile, const std::string& keyfile, const std::string& cafile,
                   const std::string& verify_client, const std::string& keyfile_password = "");
  int port() const { return port_; }
  void Start();
  void Stop();

  static constexpr int kMaxDeferred = 4;
  // Deferred jobs queued or running. A job's slot is free before its answer is sent, so a client that got the
  // answer to one operation can always start the next. Any thread.
  int jobs_in_progress() const;

 private:
  void Loop();
  // Hands a job to an idle worker; false (the caller answers 503) when all kMaxDeferred are busy. Server thread.
  bool RunDeferred(uint64_t conn_id, std::function<HttpServerResponse()> job);
  void WorkerLoop();

  Handler handler_;
  size_t max_request_;
  Duration read_timeout_;
  int listen_fd_ = -1;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, when TLS is on
  int wake_fd_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  std::mutex done_mu_;
  std::vector<std::pair<uint64_t, HttpServerResponse>> done_;  // finished deferred jobs

  // The worker pool, started by Start(): jobs_ holds at most kMaxDeferred - busy_ entries.
  mutable std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::pair<uint64_t, std::function<HttpServerResponse()>>> jobs_;
  int busy_ = 0;  // jobs queued or running (guarded by jobs_mu_)
  bool workers_stop_ = false;
  std::vector<std::thread> workers_;
};

// Reason phrase for a status code.
const char* HttpReason(int status);

// Parses one request from the bytes received so far (at most `max` bytes in all). Returns 0 when more bytes are
// needed, -status (-400 malformed, -413 too large) for a request to refuse, 1 when `req` is complete. Pure: the
// server calls it on every read; tests and the fuzz target call it directly.
int ParseHttpRequest(const std::string& buf, size_t max, HttpServerRequest* req);

}  // namespace pgw
