#include "agent/peers.h"

#include <algorithm>
#include <future>

#include "common/base64.h"
#include "common/truthy.h"
#include "net/http_client.h"

namespace pgw {

namespace {

HttpRequest PeerRequest(const std::string& url, Duration timeout, const PeerTls& tls) {
  HttpRequest req;
  req.url = url;
  req.timeout = timeout;
  req.cacert = tls.cacert;
  req.cert = tls.cert;
  req.key = tls.key;
  req.key_password = tls.key_password;
  std::string auth = PeerAuthorization(tls);
  if (!auth.empty()) req.headers["Authorization"] = auth;
  return req;
}

}  // namespace

std::string PeerAuthorization(const PeerTls& tls) {
  if (tls.username.empty() && tls.password.empty()) return "";
  return "Basic " + Base64Encode(tls.username + ":" + tls.password);
}

ha::PeerStatus ParsePeerStatus(const std::string& name, const std::string& body) {
  ha::PeerStatus p;
  p.name = name;
  Json j = Json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return p;
  p.reachable = true;
  if (j.contains("xlog") && j.at("xlog").is_object()) {
    const auto& x = j.at("xlog");
    if (x.contains("location") && x.at("location").is_number_integer()) {
      p.is_primary = true;
      p.wal_position = x.at("location").get<int64_t>();
    } else {
      auto lsn = [&](const char* k) {
        auto it = x.find(k);
        return it != x.end() && it->is_number_integer() ? it->get<int64_t>() : int64_t{0};
      };
      p.wal_position = std::max(lsn("received_location"), lsn("replayed_location"));
    }
  }
  if (j.contains("tags") && j.at("tags").is_object()) {
    const auto& t = j.at("tags");
    // Patroni's truthiness: a Patroni peer publishes `nofailover: 1` as written in its YAML (reading it as a JSON
    // boolean threw, and the exception ended the HA loop's peer check).
    p.nofailover = PyTruthyField(t, "nofailover");
    if (t.contains("failover_priority") && t.at("failover_priority").is_number_integer()) {
      p.failover_priority = t.at("failover_priority").get<int>();
      if (p.failover_priority <= 0) p.nofailover = true;
    }
  }
  return p;
}

std::vector<ha::PeerStatus> CheckPeers(const ClusterView& cluster, const std::string& self, Duration timeout,
                                       const PeerTls& tls) {
  std::vector<std::string> names;
  for (const auto& [name, m] : cluster.members) {
    if (name != self) names.push_back(name);
  }
  return CheckMembers(cluster, names, timeout, tls);
}

std::vector<ha::PeerStatus> CheckMembers(const ClusterView& cluster, const std::vector<std::string>& names,
                                         Duration timeout, const PeerTls& tls) {
  std::vector<std::future<ha::PeerStatus>> futures;
  for (const auto& [name, m] : cluster.members) {
    if (std::find(names.begin(), names.end(), name) == names.end() || m.api_url.empty()) continue;
    futures.push_back(std::async(std::launch::async, [name = name, url = m.api_url, timeout, tls] {
      HttpClient http;
      auto r = http.Do(PeerRequest(url, timeout, tls));
      if (!r.ok() || r->status != 200) {
        ha::PeerStatus p;
        p.name = name;
        return p;
      }
      return ParsePeerStatus(name, r->body);
    }));
  }
  std::vector<ha::PeerStatus> out;
  out.reserve(futures.size());
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

bool PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self, const std::string& body,
                  Duration timeout, const PeerTls& tls) {
  if (!failsafe || !failsafe->contains(self)) return false;
  std::vector<std::future<bool>> futures;
  for (const auto& [name, url] : *failsafe) {
    if (name == self) continue;
    if (url.empty()) return false;  // an api_url that was not a string: that member cannot be asked
    auto parsed = net::ParseHttpUrl(url);
    if (!parsed.ok()) return false;  // nor one that is no http(s) URL
    std::string base = net::Origin(*parsed);
    futures.push_back(std::async(std::launch::async, [base, body, timeout, tls] {
      HttpClient http;
      HttpRequest req = PeerRequest(base + "/failsafe", timeout, tls);
      req.method = "POST";
      req.body = body;
      req.headers["Content-Type"] = "application/json";
      auto r = http.Do(req);
      return r.ok() && r->status == 200 && r->body == "Accepted";  // as Patroni: anything else is no promise
    }));
  }
  bool all = true;
  for (auto& f : futures) all = f.get() && all;
  return all;
}

std::vector<ha::PeerStatus> PeerClient::CheckPeers(const ClusterView& cluster, const std::string& self,
                                                   Duration timeout) {
  std::vector<std::string> names;
  for (const auto& [name, m] : cluster.members) {
    if (name != self) names.push_back(name);
  }
  return CheckMembers(cluster, names, timeout);
}

std::vector<ha::PeerStatus> HttpPeerClient::CheckMembers(const ClusterView& cluster,
                                                         const std::vector<std::string>& names, Duration timeout) {
  PeerTls tls = tls_;
  tls.username.clear();
  tls.password.clear();
  return pgw::CheckMembers(cluster, names, timeout, tls);
}

bool HttpPeerClient::PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self,
                                  const std::string& body, Duration timeout, const std::string& username,
                                  const std::string& password) {
  PeerTls tls = tls_;
  tls.username = username;
  tls.password = password;
  return pgw::PostFailsafe(failsafe, self, body, timeout, tls);
}

}  // namespace pgw
