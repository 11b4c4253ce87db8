// PostgreSQL frontend/backend protocol v3 framing, no I/O: bytes in, whole messages out, and the few message bodies
// a router must read or write itself (ErrorResponse, ReadyForQuery, BackendKeyData, ParameterStatus).
// Reference: the PostgreSQL manual, "Frontend/Backend Protocol" (message formats), and
// /work/shared/reference/poolers-and-protocol.md §4.
//
// Every decoder bounds what it accepts (Limits) and reports malformed input as kInvalidArgument with a message fit
// for an ErrorResponse with SQLSTATE 08P01 (ProtocolViolation()); it never throws, and never reads past its input.
// Objects here are plain values: one connection's reader belongs to the thread serving that connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace pgw::pgwire {

struct Limits {
  // PostgreSQL's MAX_STARTUP_PACKET_LENGTH: a start-up packet longer than this is refused.
  uint32_t max_startup_packet = 10000;
  // Largest typed message accepted (length field included). PostgreSQL itself allows up to 1 GB for some messages;
  // a router that forwards larger ones must stream them rather than raise this.
  uint32_t max_message = 64u << 20;
};

// Who sends the stream: the same type byte means different things each way ('S' is Sync from a client and
// ParameterStatus from a server), and each side has its own set of valid types.
enum class Direction { kFrontend, kBackend };

struct Message {
  char type = 0;
  std::string body;  // after the type byte and the Int32 length
};

// True when `type` is a message type the given side may send after start-up.
bool ValidType(Direction from, char type);

// Splits a stream of typed messages into messages, whatever the split of the bytes fed (one message over several
// reads, or several messages in one). Next() returns the next complete message, nullopt when more bytes are
// needed, or an error (a length below 4 or over the limit, a type byte invalid for the direction). After an error
// the stream cannot be resynchronised: answer with ProtocolViolation() and close.
class MessageReader {
 public:
  explicit MessageReader(Direction from, Limits limits = {}) : from_(from), limits_(limits) {}
  void Feed(std::string_view bytes) { buf_.append(bytes); }
  Result<std::optional<Message>> Next();
  // Bytes fed and not yet returned as messages.
  size_t buffered() const { return buf_.size() - off_; }

 private:
  Direction from_;
  Limits limits_;
  std::string buf_;
  size_t off_ = 0;
  bool failed_ = false;
};

// Follows the message boundaries of a relayed stream without keeping its bytes: fed every byte in order, it says
// whether the stream so far ends between two messages, i.e. whether a message of the router's own (an
// ErrorResponse before a close) may be appended without corrupting the framing. Lengths are not validated here
// (the peers do that); a length below 4 makes the tracker give up: never at a boundary again.
class FrameTracker {
 public:
  void Feed(std::string_view bytes);
  bool AtBoundary() const { return !broken_ && header_used_ == 0 && body_left_ == 0; }

 private:
  char header_[5] = {};
  size_t header_used_ = 0;  // bytes of the current message's type + length seen
  uint64_t body_left_ = 0;  // bytes of the current message's body still to come
  bool broken_ = false;
};

// Reads the fields of a message body in order; every read is bounds-checked.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : body_(body) {}
  Result<int32_t> Int32();
  Result<int16_t> Int16();
  Result<uint8_t> Byte();
  Result<std::string> CString();  // up to the NUL, which is consumed
  Result<std::string> Bytes(size_t n);
  size_t remaining() const { return body_.size() - off_; }

 private:
  std::string_view body_;
  size_t off_ = 0;
};

void AppendInt32(std::string* out, int32_t v);
void AppendInt16(std::string* out, int16_t v);
// Type byte, Int32 length (body + 4), body.
void AppendMessage(std::string* out, char type, std::string_view body);
std::string EncodeMessage(char type, std::string_view body);

// ErrorResponse ('E') / NoticeResponse ('N'). Field codes as in the manual: 'S' severity (localized), 'V' severity,
// 'C' SQLSTATE, 'M' message, 'D' detail, 'H' hint.
struct ErrorFields {
  std::string severity = "FATAL";  // ERROR | FATAL | PANIC (errors); WARNING | NOTICE | ... (notices)
  std::string sqlstate;
  std::string message;
  std::string detail;
  std::string hint;
};
std::string EncodeErrorResponse(const ErrorFields& e, char type = 'E');
// FATAL 08P01 protocol_violation with `message`: what to send a client whose bytes do not parse.
std::string ProtocolViolation(const std::string& message);
// Fields of an ErrorResponse / NoticeResponse body, in order. Unknown field codes are kept (the manual says
// clients must ignore them); a body without its final NUL is an error.
Result<std::vector<std::pair<char, std::string>>> DecodeErrorFields(std::string_view body);

// ReadyForQuery ('Z'): transaction status 'I' idle, 'T' in a transaction block, 'E' in a failed one.
Result<char> DecodeReadyForQuery(std::string_view body);
std::string EncodeReadyForQuery(char status);

// BackendKeyData ('K'): process id and secret key (4 bytes in protocol 3.0, 4 to 256 bytes in 3.2).
struct BackendKeyData {
  int32_t pid = 0;
  std::string key;
};
Result<BackendKeyData> DecodeBackendKeyData(std::string_view body);
std::string EncodeBackendKeyData(const BackendKeyData& k);

// ParameterStatus ('S' from the server): name and value.
Result<std::pair<std::string, std::string>> DecodeParameterStatus(std::string_view body);
std::string EncodeParameterStatus(const std::string& name, const std::string& value);

}  // namespace pgw::pgwire
