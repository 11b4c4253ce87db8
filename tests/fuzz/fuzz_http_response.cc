// The HTTP client's response parser (net/http_response.h), fed what a server (etcd, a peer, or anything listening
// on their address) sends. A read may return any part of it, so the input is also fed in pieces: every split must
// give the same status, body and outcome as the whole, and the parser must end (done, error, or waiting for more
// bytes) without looping. The first byte chooses the options (HEAD request, body limit), the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/http_response.h"

namespace {

struct Outcome {
  pgw::net::HttpResponseParser::State state;
  int status;
  std::string body;
  std::string error;
  bool keep_alive;
};

Outcome Run(std::string_view in, size_t piece, bool no_body, size_t max_body, bool eof) {
  pgw::net::HttpResponseParser p(no_body, 4096, max_body);
  Outcome o;
  auto sink = [&](std::string_view b) {
    o.body.append(b);
    return true;
  };
  size_t at = 0;
  while (at < in.size()) {
    size_t n = std::min(piece, in.size() - at);
    size_t used = p.Feed(in.data() + at, n, sink);
    if (used > n) __builtin_trap();
    auto s = p.state();
    if (s != pgw::net::HttpResponseParser::State::kHead && s != pgw::net::HttpResponseParser::State::kBody) break;
    if (used != n) __builtin_trap();  // still parsing: every byte must have been taken
    at += n;
  }
  if (eof) p.Finish();
  o.state = p.state();
  o.status = p.status();
  o.error = p.error();
  o.keep_alive = p.keep_alive();
  if (max_body != 0 && o.body.size() > max_body) __builtin_trap();
  if (o.state == pgw::net::HttpResponseParser::State::kError && o.error.empty()) __builtin_trap();
  if (eof && (o.state == pgw::net::HttpResponseParser::State::kHead ||
              o.state == pgw::net::HttpResponseParser::State::kBody)) {
    __builtin_trap();  // the end of the connection always settles the response
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool no_body = (data[0] & 1) != 0;
  bool eof = (data[0] & 2) != 0;
  size_t max_body = (data[0] & 4) != 0 ? 64 : 0;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  Outcome whole = Run(in, in.size() + 1, no_body, max_body, eof);
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, in.size() / 2 + 1}) {
    Outcome part = Run(in, piece, no_body, max_body, eof);
    if (part.state != whole.state || part.error != whole.error) __builtin_trap();
    // A body over the limit fails when the limit is passed: pieces before that may have been delivered.
    if (whole.state == pgw::net::HttpResponseParser::State::kError) continue;
    if (part.status != whole.status || part.body != whole.body || part.keep_alive != whole.keep_alive) {
      __builtin_trap();
    }
  }
  return 0;
}
