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

curl_slist* Prepare(CURL* c, const HttpRequest& req) {
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // never route etcd or peers through an environment proxy
  if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (!req.body.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    }
  }
  if (!req.cacert.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, req.cacert.c_str());
  if (!req.cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, req.cert.c_str());
  if (!req.key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, req.key.c_str());
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  for (const auto& [k, v] : req.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  return headers;
}

Status FromCurl(CURLcode rc, const HttpRequest& req) {
  std::string what = req.method + " " + req.url + ": " + curl_easy_strerror(rc);
  if (rc == CURLE_OPERATION_TIMEDOUT) return Timeout(what);
  return Unavailable(what);
}

}  // namespace

HttpClient::HttpClient() {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

Result<HttpResponse> HttpClient::Do(const HttpRequest& req) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) return Internal("curl_easy_init failed");
  curl_slist* headers = Prepare(c, req);
  HttpResponse resp;
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, CollectBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) return FromCurl(rc, req);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

Status HttpClient::Stream(const HttpRequest& req, const std::function<bool(const char*, size_t)>& on_data,
                          const std::atomic<bool>& stop, Duration idle_timeout) {
  CURL* c = static_cast<CURL*>(curl_);
  if (c == nullptr) return Internal("curl_easy_init failed");
  curl_slist* headers = Prepare(c, req);
  StreamCtx ctx{&on_data, &stop, std::chrono::steady_clock::now(), idle_timeout};
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, StreamBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, StreamProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ctx);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (stop.load()) return Status::Ok();
  if (ctx.idle_expired)
    return Timeout("watch " + req.url + ": no data for " + std::to_string(idle_timeout.count()) + " ms");
  if (rc == CURLE_WRITE_ERROR) return Status::Ok();  // on_data asked to stop
  if (rc != CURLE_OK) return FromCurl(rc, req);
  return Unavailable("watch " + req.url + ": server closed the stream");
}

}  // namespace pgw
