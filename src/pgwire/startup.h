// The start-up phase of the PostgreSQL protocol, no I/O: the untyped packets a client sends first (Int32 length,
// Int32 code, payload): StartupMessage (v3.x), SSLRequest, GSSENCRequest and CancelRequest.
//
// Whoever answers an SSLRequest with 'S' must check that no byte follows the request before the TLS handshake
// (DecodeStartup reports how many bytes it consumed): bytes sent in clear before TLS must not be read as if they
// came over TLS (the "buffer-stuffing" class of bugs, CVE-2021-23214).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "pgwire/codec.h"

namespace pgw::pgwire {

inline constexpr int32_t kProtocol30 = 0x00030000;       // 196608
inline constexpr int32_t kProtocol32 = 0x00030002;       // 196610 (PostgreSQL 18)
inline constexpr int32_t kCancelRequestCode = 80877102;  // 1234.5678
inline constexpr int32_t kSslRequestCode = 80877103;     // 1234.5679
inline constexpr int32_t kGssEncRequestCode = 80877104;  // 1234.5680
inline constexpr size_t kMaxCancelKey = 256;             // protocol 3.2

enum class StartupKind { kStartup, kSslRequest, kGssEncRequest, kCancel };

struct StartupPacket {
  StartupKind kind = StartupKind::kStartup;
  // kStartup: major << 16 | minor. Major is always 3; a minor newer than the peer speaks is answered with
  // NegotiateProtocolVersion.
  int32_t protocol = kProtocol30;
  std::vector<std::pair<std::string, std::string>> parameters;  // kStartup, in the order sent
  int32_t cancel_pid = 0;                                       // kCancel
  std::string cancel_key;                                       // kCancel: 4 bytes (3.0) up to kMaxCancelKey (3.2)

  // The value of a start-up parameter ("user", "database", "options", "_pq_.*"...), or nullptr.
  const std::string* Parameter(const std::string& name) const;
};

// Decodes the start-up packet at the front of `buf`. Returns nullopt when more bytes are needed (nothing is
// consumed); otherwise the packet, with *consumed set to its length. Errors (send ProtocolViolation() and close):
// a length under 8 or over limits.max_startup_packet, an unknown request code, a protocol major other than 3, a
// parameter list that is not NUL-terminated name/value pairs ending in an empty name, an empty or repeated
// parameter name, a fixed-size request of the wrong length, a cancel key outside 4..256 bytes.
// It does not require "user": the caller answers a missing user with 28000 as PostgreSQL does.
Result<std::optional<StartupPacket>> DecodeStartup(std::string_view buf, size_t* consumed, const Limits& limits = {});

// The packet's bytes, as a client (or a router towards a server) sends them.
std::string EncodeStartup(const StartupPacket& p);

// NegotiateProtocolVersion ('v'): the newest minor version the server speaks and the "_pq_." options it does not
// recognise.
std::string EncodeNegotiateProtocolVersion(int32_t newest_minor, const std::vector<std::string>& unrecognized);

}  // namespace pgw::pgwire
