// The agent's HTTP request parser, fed what a client sends. The parser runs on every read of a connection, so it
// is also fed the input in two parts: a prefix must never yield a different complete request than the whole.
#include <cstddef>
#include <cstdint>
#include <string>

#include "net/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string buf(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMax = 64 * 1024;
  pgw::HttpServerRequest whole;
  int r = pgw::ParseHttpRequest(buf, kMax, &whole);
  if (r != 0 && r != 1 && r != -400 && r != -413) __builtin_trap();
  if (r == 1 && whole.body.size() > kMax) __builtin_trap();
  // Every proper prefix: either "need more", a refusal, or the same complete request (a body shorter than
  // Content-Length is never complete).
  for (size_t cut = size / 2; cut < size; cut += size / 4 + 1) {
    pgw::HttpServerRequest part;
    int p = pgw::ParseHttpRequest(buf.substr(0, cut), kMax, &part);
    if (p == 1 && r == 1 && part.body.size() > whole.body.size()) __builtin_trap();
  }
  return 0;
}
