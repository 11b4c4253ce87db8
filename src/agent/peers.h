// Asks every other member for its GET /patroni in parallel, with a deadline (election input).
#pragma once

#include <vector>

#include "dcs/http.h"
#include "dcs/keys.h"
#include "ha/decide.h"

namespace pgw {

// Parses a /patroni body into the fields the election needs. Pure.
ha::PeerStatus ParsePeerStatus(const std::string& name, const std::string& body);
// TLS settings for calls to peers' REST APIs (restapi.cafile, and our certificate when peers verify clients), and
// the Basic credentials sent with them. Patroni sends its own restapi.authentication with every call to a peer, so
// members of one cluster share those credentials; peers check them on POST /failsafe.
struct PeerTls {
  std::string cacert, cert, key;
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

}  // namespace pgw
