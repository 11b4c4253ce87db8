// One pgwardenctl run's connections: etcd (the cluster's keys, read as patronictl reads them) and the agents' REST
// API. Single-threaded; owned by ctl::Main for the length of one command.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/log.h"
#include "ctl/target.h"
#include "dcs/etcd_client.h"
#include "dcs/keys.h"
#include "net/http_client.h"

namespace pgw::ctl {

class Session {
 public:
  // `target.scope` names the cluster this session works on.
  Session(const Config& target, FILE* err);

  // "/service/demo/"
  const std::string& Prefix() const { return prefix_; }
  // The cluster's keys, read now; kNotFound when the scope has no key.
  Result<ClusterView> Cluster();
  // A request to a member's REST API (the scheme, host and port of its api_url, then `path`).
  Result<HttpResponse> Api(const Member& m, const std::string& method, const std::string& path, const Json& body,
                           Duration timeout = Duration(60000));
  etcd::Client& etcd() { return *client_; }

 private:
  std::string scope_, namespace_, prefix_;
  ApiAccess api_;
  Logger log_;
  std::unique_ptr<etcd::Client> client_;
};

}  // namespace pgw::ctl
