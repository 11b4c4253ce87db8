// A small HTTP/1.0 server for the agent's REST API. One thread, poll()-based, non-blocking sockets.
// Each request must arrive within `read_timeout` and fit in `max_request` bytes, so a slow or oversized client
// cannot tie the server up. The handler runs on the server thread and must answer from cached state.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

struct HttpServerRequest {
  std::string method;
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct HttpServerResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool status_line_only = false;  // HEAD / OPTIONS: Patroni answers with the status line alone
};

class RestServer {
 public:
  using Handler = std::function<HttpServerResponse(const HttpServerRequest&)>;

  RestServer(Handler handler, size_t max_request = 64 * 1024, Duration read_timeout = Duration(5000));
  ~RestServer();

  // Binds and listens; the error names the address when the port is in use.
  Status Listen(const std::string& host, int port);
  int port() const { return port_; }
  void Start();
  void Stop();

 private:
  void Loop();

  Handler handler_;
  size_t max_request_;
  Duration read_timeout_;
  int listen_fd_ = -1;
  int wake_fd_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Reason phrase for a status code.
const char* HttpReason(int status);

}  // namespace pgw
