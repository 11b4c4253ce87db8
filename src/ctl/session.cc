#include "ctl/session.h"

#include <map>

#include "common/base64.h"
#include "dcs/etcd_dcs.h"

namespace pgw::ctl {

Session::Session(const Config& target, FILE* err)
    : scope_(target.scope),
      namespace_(target.namespace_),
      prefix_(target.KeyPrefix()),
      api_(ApiAccessOf(target)),
      log_(err, LogLevel::kCritical),
      client_(std::make_unique<etcd::Client>(EtcdClientOptions(target, Duration(3000)), log_)) {}

Result<ClusterView> Session::Cluster() {
  auto r = client_->GetPrefix(prefix_);
  if (!r.ok()) return r.status().Context("reading the cluster from etcd");
  std::map<std::string, etcd::KeyValue> kvs;
  for (auto& kv : r->kvs) kvs[kv.key] = kv;
  if (kvs.empty()) return NotFound("no cluster named '" + scope_ + "' under " + namespace_ + " in etcd");
  return BuildClusterView(prefix_, kvs, r->revision);
}

Result<HttpResponse> Session::Api(const Member& m, const std::string& method, const std::string& path, const Json& body,
                                  Duration timeout) {
  if (m.api_url.empty()) return Unavailable("member " + m.name + " publishes no api_url");
  auto url = net::ParseHttpUrl(m.api_url);
  if (!url.ok()) return url.status().Context("member " + m.name + "'s api_url");
  std::string base = net::Origin(*url);
  HttpRequest req;
  req.method = method;
  req.url = base + path;
  if (!body.is_null()) {
    req.body = body.dump();
    req.headers["Content-Type"] = "application/json";
  }
  if (!api_.user.empty()) req.headers["Authorization"] = "Basic " + Base64Encode(api_.user + ":" + api_.password);
  req.timeout = timeout;
  req.cacert = api_.cacert;
  req.cert = api_.cert;
  req.key = api_.key;
  req.key_password = api_.key_password;
  req.verify = !api_.insecure;
  HttpClient http;
  return http.Do(req);
}

}  // namespace pgw::ctl
