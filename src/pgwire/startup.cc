#include "pgwire/startup.h"

#include <set>

namespace pgw::pgwire {

const std::string* StartupPacket::Parameter(const std::string& name) const {
  for (const auto& [k, v] : parameters) {
    if (k == name) return &v;
  }
  return nullptr;
}

Result<std::optional<StartupPacket>> DecodeStartup(std::string_view buf, size_t* consumed, const Limits& limits) {
  *consumed = 0;
  if (buf.size() < 4) return std::optional<StartupPacket>();
  BodyReader head(buf.substr(0, 4));
  auto len32 = head.Int32();
  if (!len32.ok()) return len32.status();
  auto len = static_cast<uint32_t>(*len32);
  if (len < 8 || len > limits.max_startup_packet) {
    return InvalidArgument("invalid length of startup packet: " + std::to_string(len));
  }
  if (buf.size() < len) return std::optional<StartupPacket>();
  BodyReader r(buf.substr(4, len - 4));
  auto code = r.Int32();
  if (!code.ok()) return code.status();
  StartupPacket p;
  auto fixed = [&](StartupKind kind, uint32_t want, const char* what) -> Status {
    if (len != want) {
      return InvalidArgument(std::string(what) + " of " + std::to_string(len) + " bytes (" + std::to_string(want) +
                             " expected)");
    }
    p.kind = kind;
    return Status::Ok();
  };
  if (*code == kSslRequestCode) {
    PGW_RETURN_IF_ERROR(fixed(StartupKind::kSslRequest, 8, "SSLRequest"));
  } else if (*code == kGssEncRequestCode) {
    PGW_RETURN_IF_ERROR(fixed(StartupKind::kGssEncRequest, 8, "GSSENCRequest"));
  } else if (*code == kCancelRequestCode) {
    p.kind = StartupKind::kCancel;
    auto pid = r.Int32();
    if (!pid.ok()) return InvalidArgument("CancelRequest without a process id");
    p.cancel_pid = *pid;
    if (r.remaining() < 4 || r.remaining() > kMaxCancelKey) {
      return InvalidArgument("CancelRequest key of " + std::to_string(r.remaining()) + " bytes (4 to 256 expected)");
    }
    auto key = r.Bytes(r.remaining());
    if (!key.ok()) return key.status();
    p.cancel_key = std::move(*key);
  } else {
    int major = static_cast<int>(static_cast<uint32_t>(*code) >> 16);
    if (major != 3) {
      return InvalidArgument("unsupported frontend protocol " + std::to_string(major) + "." +
                             std::to_string(*code & 0xFFFF) + ": only 3.x is served");
    }
    p.kind = StartupKind::kStartup;
    p.protocol = *code;
    std::set<std::string> seen;
    while (true) {
      auto name = r.CString();
      if (!name.ok()) return InvalidArgument("startup packet: parameter list not terminated by an empty name");
      if (name->empty()) break;
      auto value = r.CString();
      if (!value.ok()) return InvalidArgument("startup packet: no value for parameter '" + *name + "'");
      if (!seen.insert(*name).second) return InvalidArgument("startup packet: parameter '" + *name + "' repeated");
      p.parameters.emplace_back(std::move(*name), std::move(*value));
    }
    if (r.remaining() != 0) return InvalidArgument("startup packet: bytes after the terminating empty name");
  }
  *consumed = len;
  return std::optional<StartupPacket>(std::move(p));
}

std::string EncodeStartup(const StartupPacket& p) {
  std::string body;
  switch (p.kind) {
    case StartupKind::kSslRequest: AppendInt32(&body, kSslRequestCode); break;
    case StartupKind::kGssEncRequest: AppendInt32(&body, kGssEncRequestCode); break;
    case StartupKind::kCancel:
      AppendInt32(&body, kCancelRequestCode);
      AppendInt32(&body, p.cancel_pid);
      body += p.cancel_key;
      break;
    case StartupKind::kStartup:
      AppendInt32(&body, p.protocol);
      for (const auto& [k, v] : p.parameters) {
        body += k;
        body.push_back('\0');
        body += v;
        body.push_back('\0');
      }
      body.push_back('\0');
      break;
  }
  std::string out;
  AppendInt32(&out, static_cast<int32_t>(body.size() + 4));
  return out + body;
}

std::string EncodeNegotiateProtocolVersion(int32_t newest_minor, const std::vector<std::string>& unrecognized) {
  std::string body;
  AppendInt32(&body, (3 << 16) | (newest_minor & 0xFFFF));
  AppendInt32(&body, static_cast<int32_t>(unrecognized.size()));
  for (const auto& o : unrecognized) {
    body += o;
    body.push_back('\0');
  }
  return EncodeMessage('v', body);
}

}  // namespace pgw::pgwire
