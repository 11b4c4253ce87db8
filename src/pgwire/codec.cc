#include "pgwire/codec.h"

#include <algorithm>
#include <cstdio>

namespace pgw::pgwire {
namespace {

uint32_t LoadBe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

std::string Printable(char type) {
  auto u = static_cast<unsigned char>(type);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + type + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", u);
  return buf;
}

}  // namespace

bool ValidType(Direction from, char type) {
  // Frontend: Query, Parse, Bind, Execute, Describe, Close, Sync, Flush, FunctionCall, Terminate, CopyData,
  // CopyDone, CopyFail, password/SASL/GSS responses. Backend: see the manual's message list.
  static constexpr std::string_view kFrontend = "QPBEDCSHFXdcfp";
  static constexpr std::string_view kBackend = "RKSZTDCIENAv123tnsGHWdcV";
  return (from == Direction::kFrontend ? kFrontend : kBackend).find(type) != std::string_view::npos;
}

Result<std::optional<Message>> MessageReader::Next() {
  if (failed_) return InvalidArgument("protocol stream already failed");
  if (buffered() < 5) return std::optional<Message>();
  const char* p = buf_.data() + off_;
  char type = p[0];
  uint32_t len = LoadBe32(p + 1);
  const char* side = from_ == Direction::kFrontend ? "frontend" : "backend";
  if (!ValidType(from_, type)) {
    failed_ = true;
    return InvalidArgument(std::string("invalid ") + side + " message type " + Printable(type));
  }
  if (len < 4) {
    failed_ = true;
    return InvalidArgument("invalid message length " + std::to_string(len) + " for message type " + Printable(type));
  }
  if (len > limits_.max_message) {
    failed_ = true;
    return InvalidArgument("message of type " + Printable(type) + " is " + std::to_string(len) +
                           " bytes, over the limit of " + std::to_string(limits_.max_message));
  }
  if (buffered() < size_t{len} + 1) return std::optional<Message>();
  Message m;
  m.type = type;
  m.body.assign(p + 5, len - 4);
  off_ += size_t{len} + 1;
  // Compact once the consumed prefix dominates, so a long-lived stream does not grow without bound.
  if (off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  } else if (off_ > 4096 && off_ > buf_.size() / 2) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  return std::optional<Message>(std::move(m));
}

Result<int32_t> BodyReader::Int32() {
  if (remaining() < 4) return InvalidArgument("message body too short for an Int32");
  auto v = static_cast<int32_t>(LoadBe32(body_.data() + off_));
  off_ += 4;
  return v;
}

Result<int16_t> BodyReader::Int16() {
  if (remaining() < 2) return InvalidArgument("message body too short for an Int16");
  const auto* u = reinterpret_cast<const unsigned char*>(body_.data() + off_);
  off_ += 2;
  return static_cast<int16_t>((u[0] << 8) | u[1]);
}

Result<uint8_t> BodyReader::Byte() {
  if (remaining() < 1) return InvalidArgument("message body too short for a Byte");
  return static_cast<uint8_t>(body_[off_++]);
}

Result<std::string> BodyReader::CString() {
  auto nul = body_.find('\0', off_);
  if (nul == std::string_view::npos) return InvalidArgument("string not NUL-terminated in message body");
  std::string s(body_.substr(off_, nul - off_));
  off_ = nul + 1;
  return s;
}

Result<std::string> BodyReader::Bytes(size_t n) {
  if (remaining() < n) return InvalidArgument("message body too short: " + std::to_string(n) + " bytes expected");
  std::string s(body_.substr(off_, n));
  off_ += n;
  return s;
}

void AppendInt32(std::string* out, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 4);
}

void AppendInt16(std::string* out, int16_t v) {
  auto u = static_cast<uint16_t>(v);
  char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  out->append(b, 2);
}

void AppendMessage(std::string* out, char type, std::string_view body) {
  out->push_back(type);
  AppendInt32(out, static_cast<int32_t>(body.size() + 4));
  out->append(body);
}

std::string EncodeMessage(char type, std::string_view body) {
  std::string out;
  AppendMessage(&out, type, body);
  return out;
}

std::string EncodeErrorResponse(const ErrorFields& e, char type) {
  std::string body;
  auto field = [&](char code, const std::string& v) {
    if (v.empty()) return;
    body.push_back(code);
    // A NUL inside a value would end the field early and shift every later one: cut it there.
    body.append(v.substr(0, v.find('\0')));
    body.push_back('\0');
  };
  field('S', e.severity);
  field('V', e.severity);
  field('C', e.sqlstate);
  field('M', e.message);
  field('D', e.detail);
  field('H', e.hint);
  body.push_back('\0');
  return EncodeMessage(type, body);
}

std::string ProtocolViolation(const std::string& message) {
  return EncodeErrorResponse(ErrorFields{"FATAL", "08P01", message, "", ""});
}

Result<std::vector<std::pair<char, std::string>>> DecodeErrorFields(std::string_view body) {
  std::vector<std::pair<char, std::string>> fields;
  BodyReader r(body);
  while (true) {
    auto code = r.Byte();
    if (!code.ok()) return InvalidArgument("error fields not terminated by a NUL byte");
    if (*code == 0) break;
    auto v = r.CString();
    if (!v.ok()) return v.status();
    fields.emplace_back(static_cast<char>(*code), std::move(*v));
  }
  if (r.remaining() != 0) return InvalidArgument("bytes after the end of the error fields");
  return fields;
}

Result<char> DecodeReadyForQuery(std::string_view body) {
  if (body.size() != 1) return InvalidArgument("ReadyForQuery body must be 1 byte, got " + std::to_string(body.size()));
  char s = body[0];
  if (s != 'I' && s != 'T' && s != 'E')
    return InvalidArgument("ReadyForQuery status " + Printable(s) + " is not I, T or E");
  return s;
}

std::string EncodeReadyForQuery(char status) { return EncodeMessage('Z', std::string_view(&status, 1)); }

Result<BackendKeyData> DecodeBackendKeyData(std::string_view body) {
  BodyReader r(body);
  auto pid = r.Int32();
  if (!pid.ok()) return pid.status();
  if (r.remaining() < 4 || r.remaining() > 256) {
    return InvalidArgument("BackendKeyData key of " + std::to_string(r.remaining()) + " bytes (4 to 256 expected)");
  }
  BackendKeyData k;
  k.pid = *pid;
  k.key = std::string(body.substr(4));
  return k;
}

std::string EncodeBackendKeyData(const BackendKeyData& k) {
  std::string body;
  AppendInt32(&body, k.pid);
  body += k.key;
  return EncodeMessage('K', body);
}

Result<std::pair<std::string, std::string>> DecodeParameterStatus(std::string_view body) {
  BodyReader r(body);
  auto name = r.CString();
  if (!name.ok()) return name.status().Context("ParameterStatus name");
  auto value = r.CString();
  if (!value.ok()) return value.status().Context("ParameterStatus value");
  if (r.remaining() != 0) return InvalidArgument("bytes after the end of ParameterStatus");
  return std::pair{std::move(*name), std::move(*value)};
}

std::string EncodeParameterStatus(const std::string& name, const std::string& value) {
  std::string body = name.substr(0, name.find('\0'));
  body.push_back('\0');
  body += value.substr(0, value.find('\0'));
  body.push_back('\0');
  return EncodeMessage('S', body);
}

void FrameTracker::Feed(std::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (!broken_ && left > 0) {
    if (body_left_ > 0) {
      uint64_t n = std::min<uint64_t>(body_left_, left);
      body_left_ -= n;
      p += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    const char* h = p;
    if (header_used_ == 0 && left >= 5) {
      // The common case: a whole header in this chunk, read in place.
      p += 5;
      left -= 5;
    } else {
      header_[header_used_++] = *p++;
      --left;
      if (header_used_ < 5) continue;
      header_used_ = 0;
      h = header_;
    }
    uint32_t len = (uint32_t(uint8_t(h[1])) << 24) | (uint32_t(uint8_t(h[2])) << 16) | (uint32_t(uint8_t(h[3])) << 8) |
                   uint32_t(uint8_t(h[4]));
    if (len < 4) {
      broken_ = true;
      break;
    }
    body_left_ = len - 4;
  }
}

}  // namespace pgw::pgwire
