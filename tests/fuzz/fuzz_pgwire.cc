// The pgwire codec fed what a client or a server could send: the start-up packet, then typed messages in both
// directions fed in uneven chunks, and the bodies a router reads itself. Properties checked besides "no crash":
// a decoded start-up packet re-encodes to the same bytes, and the reader returns the same messages whatever the
// chunking.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pgwire/startup.h"

namespace {

using namespace pgw::pgwire;

std::vector<Message> ReadAll(Direction d, std::string_view in, size_t chunk, bool* failed) {
  Limits limits;
  limits.max_message = 1 << 16;
  MessageReader r(d, limits);
  std::vector<Message> out;
  *failed = false;
  for (size_t off = 0; off < in.size() && !*failed; off += chunk) {
    r.Feed(in.substr(off, chunk));
    while (true) {
      auto m = r.Next();
      if (!m.ok()) {
        *failed = true;
        break;
      }
      if (!*m) break;
      out.push_back(std::move(**m));
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t consumed = 0;
  auto sp = DecodeStartup(in, &consumed);
  if (sp.ok() && *sp) {
    if (consumed > in.size()) __builtin_trap();
    // Re-encoding gives back the bytes for everything but a startup packet with duplicate-free parameters, which
    // is all DecodeStartup accepts, so this holds for every packet.
    if (EncodeStartup(**sp) != in.substr(0, consumed)) __builtin_trap();
    for (const auto& [k, v] : (*sp)->parameters) (void)(*sp)->Parameter(k);
  } else if (sp.ok() && consumed != 0) {
    __builtin_trap();
  }
  for (Direction d : {Direction::kFrontend, Direction::kBackend}) {
    bool failed_whole = false, failed_split = false;
    auto whole = ReadAll(d, in, in.size() + 1, &failed_whole);
    auto split = ReadAll(d, in, size % 5 + 1, &failed_split);
    if (failed_whole != failed_split || whole.size() != split.size()) __builtin_trap();
    for (size_t i = 0; i < whole.size(); ++i) {
      if (whole[i].type != split[i].type || whole[i].body != split[i].body) __builtin_trap();
      const auto& m = whole[i];
      if (EncodeMessage(m.type, m.body).size() != m.body.size() + 5) __builtin_trap();
      if (d == Direction::kBackend) {
        if (m.type == 'E' || m.type == 'N') (void)DecodeErrorFields(m.body);
        if (m.type == 'Z') (void)DecodeReadyForQuery(m.body);
        if (m.type == 'K') (void)DecodeBackendKeyData(m.body);
        if (m.type == 'S') (void)DecodeParameterStatus(m.body);
      }
    }
  }
  auto err = ProtocolViolation(std::string(in.substr(0, 200)));
  MessageReader er(Direction::kBackend);
  er.Feed(err);
  auto em = er.Next();
  if (!em.ok() || !*em || !DecodeErrorFields((*em)->body).ok()) __builtin_trap();
  return 0;
}
