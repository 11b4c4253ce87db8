// REST access control (agent/api.h): restapi.allowlist with addresses, networks and host names,
// allowlist_include_members, client certificates, Basic authentication, in Patroni's order.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "agent/api.h"
#include "common/base64.h"
#include "net/http_client.h"

namespace pgw::api {

namespace {

// An address as 16 bytes (IPv4 as ::ffff:a.b.c.d, so that a dual-stack listener's view of an IPv4 client and an
// IPv4 entry compare equal). nullopt when `text` is not an IP literal.
std::optional<std::array<unsigned char, 16>> Address(const std::string& text) {
  std::array<unsigned char, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

bool IsV4(const std::array<unsigned char, 16>& a) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), kMapped, 12) == 0;
}

// Whether `ip` is one of `names`' addresses (IP literals, or host names through `lookup`).
bool AnyAddressIs(const std::string& ip, const std::string& name, const AddressLookup& lookup) {
  if (IpAllowed(ip, name)) return true;
  if (!lookup || Address(name)) return false;
  auto addrs = lookup(name);
  return std::any_of(addrs.begin(), addrs.end(), [&](const std::string& a) { return IpAllowed(ip, a); });
}

}  // namespace

bool IpAllowed(const std::string& ip, const std::string& entry) {
  auto peer = Address(ip);
  if (!peer) return false;
  auto slash = entry.find('/');
  std::string net = entry.substr(0, slash);
  auto base = Address(net);
  if (!base) return net == "localhost" && (ip == "127.0.0.1" || ip == "::1" || ip == "::ffff:127.0.0.1");
  if (slash == std::string::npos) return *peer == *base;
  int bits = 0;
  auto text = std::string_view(entry).substr(slash + 1);
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), bits);
  int max_bits = IsV4(*base) ? 32 : 128;
  if (ec != std::errc() || ptr != text.data() + text.size() || bits < 0 || bits > max_bits) return false;
  if (IsV4(*base)) bits += 96;  // IPv4 networks match only IPv4 (or IPv4-mapped) peers
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if (((*peer)[i] & mask) != ((*base)[i] & mask)) return false;
  }
  return true;
}

std::optional<HttpServerResponse> CheckAccess(const Config& cfg, const HttpServerRequest& req,
                                              const ClusterView* cluster, const AddressLookup& lookup) {
  const auto& r = cfg.restapi;
  if (!r.allowlist.empty() || r.allowlist_include_members) {
    bool ok = std::any_of(r.allowlist.begin(), r.allowlist.end(), [&](const std::string& e) {
      return e.find('/') != std::string::npos ? IpAllowed(req.peer, e) : AnyAddressIs(req.peer, e, lookup);
    });
    if (!ok && r.allowlist_include_members && cluster) {
      for (const auto& [name, m] : cluster->members) {
        auto url = net::ParseHttpUrl(m.api_url);
        if (url.ok() && AnyAddressIs(req.peer, url->host, lookup)) {
          ok = true;
          break;
        }
      }
    }
    if (!ok) return Text(403, "Access is denied");
  }
  if (r.verify_client != "none" && !req.client_cert) return Text(403, "client certificate required");
  if (r.username.empty() && r.password.empty()) return std::nullopt;
  auto it = req.headers.find("authorization");
  auto unauthorized = [](const char* why) {
    HttpServerResponse resp = Text(401, why);
    resp.headers.push_back("WWW-Authenticate: Basic realm=\"Patroni\"");
    return resp;
  };
  if (it == req.headers.end()) return unauthorized("no auth header received");
  const std::string& v = it->second;
  if (v.rfind("Basic ", 0) != 0) return unauthorized("not authenticated");
  auto decoded = Base64Decode(v.substr(6));
  std::string creds = decoded.ok() ? *decoded : "";
  if (creds != cfg.restapi.username + ":" + cfg.restapi.password) return unauthorized("not authenticated");
  return std::nullopt;
}

}  // namespace pgw::api
