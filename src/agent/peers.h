// The agent's calls to the other members' REST APIs: GET /patroni in parallel with a deadline (election input,
// switchover candidates) and POST /failsafe. PeerClient is the seam (issue 14): HttpPeerClient over HTTP here, the
// simulator's over its model agents (tests/scenario/sim_agent.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dcs/keys.h"
#include "ha/decide.h"
#include "net/http_client.h"

namespace pgw {

// Parses a /patroni body into the fields the election needs. Pure.
ha::PeerStatus ParsePeerStatus(const std::string& name, const std::string& body);
// TLS settings for calls to peers' REST APIs (restapi.cafile, and our certificate when peers verify clients), and
// the Basic credentials sent with them. Patroni sends its own restapi.authentication with every call to a peer, so
// members of one cluster share those credentials; peers check them on POST /failsafe.
struct PeerTls {
  std::string cacert, cert, key, key_password;
  std::string username, password;  // restapi.authentication; no Authorization header when both are empty
};
// The Authorization header value for `tls`' credentials ("" when none are set). Pure.
std::string PeerAuthorization(const PeerTls& tls);

std::vector<ha::PeerStatus> CheckPeers(const ClusterView& cluster, const std::string& self, Duration timeout,
                                       const PeerTls& tls = {});

// GET /patroni of the named members only (switchover candidates).
std::vector<ha::PeerStatus> CheckMembers(const ClusterView& cluster, const std::vector<std::string>& names,
                                         Duration timeout, const PeerTls& tls = {});

// Failsafe mode: POSTs `body` to /failsafe of every member listed in the `failsafe` key except `self`, in parallel.
// True only when every one answered "200 Accepted" (and `self` is listed).
bool PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self, const std::string& body,
                  Duration timeout, const PeerTls& tls = {});

class PeerClient {
 public:
  virtual ~PeerClient() = default;
  // GET /patroni of the named members that publish an api_url, in parallel, each within `timeout`; a member that
  // does not answer 200 comes back with reachable false.
  virtual std::vector<ha::PeerStatus> CheckMembers(const ClusterView& cluster, const std::vector<std::string>& names,
                                                   Duration timeout) = 0;
  // POST /failsafe `body` to every member listed in `failsafe` except `self`, with the Basic credentials
  // `username` / `password` (none when both are empty). True only when every one answered "200 Accepted" and `self`
  // is listed.
  virtual bool PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self,
                            const std::string& body, Duration timeout, const std::string& username,
                            const std::string& password) = 0;
  // CheckMembers of every member but `self`.
  std::vector<ha::PeerStatus> CheckPeers(const ClusterView& cluster, const std::string& self, Duration timeout);
};

// Over HTTP(S), with `tls`' CA and client certificate (its credentials are not used: PostFailsafe names them).
class HttpPeerClient final : public PeerClient {
 public:
  explicit HttpPeerClient(PeerTls tls) : tls_(std::move(tls)) {}
  std::vector<ha::PeerStatus> CheckMembers(const ClusterView& cluster, const std::vector<std::string>& names,
                                           Duration timeout) override;
  bool PostFailsafe(const std::optional<FailsafeTopology>& failsafe, const std::string& self, const std::string& body,
                    Duration timeout, const std::string& username, const std::string& password) override;

 private:
  PeerTls tls_;
};

}  // namespace pgw
