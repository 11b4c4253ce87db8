// An incremental HTTP/1.1 response parser: bytes in, status, headers and body bytes out. It does no I/O: the HTTP
// client feeds it what each read returned, however the bytes were split or coalesced, and tests and the fuzz
// target feed it directly. Bodies framed by Content-Length, by chunked transfer coding (etcd's watch stream) or by
// the end of the connection; 1xx interim responses are skipped. Every malformed input ends in kError with a message
// that says what was wrong; a size limit bounds the head, each line and (optionally) the body.
//
// Thread-compatible: one parser per response.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace pgw::net {

class HttpResponseParser {
 public:
  // Receives body bytes as they are decoded (chunk framing removed); returning false stops the parse (kStopped).
  using BodySink = std::function<bool(std::string_view)>;

  // `no_body`: the response to a HEAD request (no body whatever the headers say). `max_body` 0: unlimited.
  explicit HttpResponseParser(bool no_body = false, size_t max_head = 64 * 1024, size_t max_body = 64u << 20)
      : no_body_(no_body), max_head_(max_head), max_body_(max_body) {}

  enum class State { kHead, kBody, kDone, kStopped, kError };

  // Consumes bytes of the connection. Returns how many were used: all of them, unless the response ended (kDone)
  // or failed before their end; bytes after the end of a response are not part of it. Body bytes go to `sink`.
  size_t Feed(const char* data, size_t n, const BodySink& sink);
  // The connection reached its end: completes a body framed by the close; otherwise kError unless already done.
  void Finish();

  State state() const { return state_; }
  bool done() const { return state_ == State::kDone; }
  const std::string& error() const { return error_; }  // set in kError
  int status() const { return status_; }               // 0 until the head is complete
  // Header fields of the final response, names lower-case; repeated fields joined with ", ".
  const std::map<std::string, std::string>& headers() const { return headers_; }
  // Whether the connection may carry another request after this response (HTTP/1.1 without "Connection: close",
  // HTTP/1.0 with "Connection: keep-alive", and a body not framed by the close). Meaningful once done().
  bool keep_alive() const { return keep_alive_; }
  // Body bytes delivered so far.
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  enum class Body { kNone, kLength, kChunked, kUntilClose };
  enum class Chunk { kSize, kData, kDataEnd, kTrailer };

  size_t FeedHead(const char* data, size_t n);
  bool ParseHead();  // on head_; false (and kError) when malformed
  bool ParseStatusLine(std::string_view line);
  bool ParseHeaderLine(std::string_view line);
  bool Frame();  // chooses the body framing from the headers
  size_t FeedBody(const char* data, size_t n, const BodySink& sink);
  size_t FeedChunked(const char* data, size_t n, const BodySink& sink);
  bool ChunkLine(std::string_view line);  // a chunk-size or trailer line
  bool Deliver(const char* data, size_t n, const BodySink& sink);
  void Fail(std::string why);

  bool no_body_;
  size_t max_head_, max_body_;
  State state_ = State::kHead;
  std::string error_;
  std::string head_;    // the head so far (kHead), a partial chunk-size or trailer line (kChunked)
  size_t scanned_ = 0;  // bytes of head_ already searched for the end of the head
  int status_ = 0;
  int minor_ = 1;
  std::map<std::string, std::string> headers_;
  bool keep_alive_ = true;
  Body body_ = Body::kNone;
  Chunk chunk_ = Chunk::kSize;
  uint64_t remaining_ = 0;  // of the body (kLength) or of the chunk (kData)
  uint64_t body_bytes_ = 0;
  size_t head_total_ = 0;  // bytes of heads of the 1xx responses skipped so far
  size_t trailer_bytes_ = 0;
};

}  // namespace pgw::net
