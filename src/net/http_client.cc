#include "net/http_client.h"

#include <curl/curl.h>

#include <chrono>
#include <mutex>

namespace pgw {
namespace {

std::once_flag g_curl_init;  // curl_global_init must run once per process before any thread uses curl

size_t CollectBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* out = static_cast<std::string*>(userdata);
  out->append(ptr, size * nmemb);
  if (out->size() > (64u << 20)) return 0;  // refuse absurd bodies
  return size * nmemb;
}

struct StreamCtx {
  const std::function<bool(const char*, size_t)>* on_data;
  const std::atomic<bool>* stop;
  std::chrono::steady_clock::time_point last_byte;
  Duration idle;
  bool idle_expired = false;
};

size_t StreamBody(char* ptr, size_t size, size_t nmemb, void* userdata) {
  auto* ctx = static_cast<StreamCtx*>(userdata);
  ctx->last_byte = std::chrono::steady_clock::now();
  if (!(*ctx->on_data)(ptr, size * nmemb)) return 0;
  return size * nmemb;
}

int StreamProgress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ctx = static_cast<StreamCtx*>(userdata);
  if (ctx->stop->load()) return 1;
  if (std::chrono::steady_clock::now() - ctx->last_byte > ctx->idle) {
    ctx->idle_expired = true;
    return 1;
  }
  return 0;
}

Status FromCurl(CURLcode rc, const HttpRequest& req) {
  std::string what = req.method + " " + req.url + ": " + curl_easy_strerror(rc);
  if (rc == CURLE_OPERATION_TIMEDOUT) return Timeout(what);
  return Unavailable(what);
}

enum class Mode { kNone, kDo, kStream };

}  // namespace

// The easy handle and what is set on it. Invariant: when `mode` is not kNone, the handle carries the options of
// (mode, method, connect_timeout, cacert, cert, key), the URL `url` (when not empty) and the header list `list`
// built from `headers` (when not null).
struct HttpClient::State {
  CURL* curl = nullptr;
  Mode mode = Mode::kNone;
  std::string method, cacert, cert, key;
  Duration connect_timeout{-1};
  std::string url;
  std::map<std::string, std::string> headers;
  curl_slist* list = nullptr;
  uint64_t setups = 0;

  ~State() {
    curl_slist_free_all(list);
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  // Brings the handle to `req` in `m`, touching only what differs from the previous request. A method other
  // than GET or POST is set up afresh every time (its body options would otherwise outlive it).
  void Prepare(const HttpRequest& req, Mode m) {
    bool plain = req.method == "GET" || req.method == "POST";
    if (m != mode || !plain || req.method != method || req.connect_timeout != connect_timeout || req.cacert != cacert ||
        req.cert != cert || req.key != key) {
      Setup(req, m);
    }
    if (req.url != url) {
      curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
      url = req.url;
    }
    if (req.method == "POST" || (!plain && !req.body.empty())) {
      // Not copied by libcurl: req.body outlives the transfer, and each request sets it again.
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    }
    if (list == nullptr || req.headers != headers) {
      curl_slist_free_all(list);
      list = curl_slist_append(nullptr, "Content-Type: application/json");
      for (const auto& [k, v] : req.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
      curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
      headers = req.headers;
    }
  }

  void Setup(const HttpRequest& req, Mode m) {
    ++setups;
    curl_easy_reset(curl);  // keeps the connection, the DNS cache and the TLS session cache
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never route etcd or peers through an environment proxy
    if (req.method == "POST") {
      curl_easy_setopt(curl, CURLOPT_POST, 1L);
    } else if (req.method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    if (!req.cacert.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, req.cacert.c_str());
    if (!req.cert.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, req.cert.c_str());
    if (!req.key.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, req.key.c_str());
    if (m == Mode::kDo) {
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
    } else {
      curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, StreamBody);
      curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
      curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, StreamProgress);
    }
    mode = m;
    method = req.method;
    connect_timeout = req.connect_timeout;
    cacert = req.cacert;
    cert = req.cert;
    key = req.key;
    url.clear();
    curl_slist_free_all(list);  // the reset dropped it from the handle
    list = nullptr;
  }
};

HttpClient::HttpClient() : state_(std::make_unique<State>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  state_->curl = curl_easy_init();
}

HttpClient::~HttpClient() = default;

uint64_t HttpClient::setups() const { return state_->setups; }

Result<HttpResponse> HttpClient::Do(const HttpRequest& req) {
  CURL* c = state_->curl;
  if (c == nullptr) return Internal("curl_easy_init failed");
  state_->Prepare(req, Mode::kDo);
  HttpResponse resp;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return FromCurl(rc, req);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

Status HttpClient::Stream(const HttpRequest& req, const std::function<bool(const char*, size_t)>& on_data,
                          const std::atomic<bool>& stop, Duration idle_timeout) {
  CURL* c = state_->curl;
  if (c == nullptr) return Internal("curl_easy_init failed");
  state_->Prepare(req, Mode::kStream);
  StreamCtx ctx{&on_data, &stop, std::chrono::steady_clock::now(), idle_timeout};
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ctx);
  CURLcode rc = curl_easy_perform(c);
  if (stop.load()) return Status::Ok();
  if (ctx.idle_expired)
    return Timeout("watch " + req.url + ": no data for " + std::to_string(idle_timeout.count()) + " ms");
  if (rc == CURLE_WRITE_ERROR) return Status::Ok();  // on_data asked to stop
  if (rc != CURLE_OK) return FromCurl(rc, req);
  return Unavailable("watch " + req.url + ": server closed the stream");
}

}  // namespace pgw
