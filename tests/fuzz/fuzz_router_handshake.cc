// The router's side of a session's start-up (router/handshake.h) fed what a server could answer: authentication,
// ParameterStatus (in_hot_standby), ReadyForQuery, then the replies to the router's probes and to its recovery
// query (SELECT pg_is_in_recovery(): RowDescription, DataRow, CommandComplete, errors), in uneven chunks.
// Input: byte 0 is flags (1: write port, 2: recovery_check query, 4: offer channel binding), byte 1 the chunk size
// (0: all at once), the rest the server's bytes. The caller's part is played as the worker plays it: a probe is
// sent when the handshake asks for the recovery check, and while it awaits a writable server with none outstanding.
// Properties besides "no crash":
//   - a write-port session is linked only to a server that answered "f" to the recovery query or reported an
//     in_hot_standby other than "on" (with recovery_check query: only after an "f"), and only once;
//   - a retry happens only while the client has seen nothing; a failure or retry says why;
//   - what the client receives is well-framed backend messages.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pgwire/codec.h"
#include "router/handshake.h"

namespace {

using pgw::router::ServerHandshake;
using Step = ServerHandshake::Step;

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

bool WellFramed(const std::string& bytes) {
  pgw::pgwire::MessageReader r(pgw::pgwire::Direction::kBackend);
  r.Feed(bytes);
  while (true) {
    auto m = r.Next();
    if (!m.ok()) return false;
    if (!*m) return r.buffered() == 0;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const bool write_port = data[0] & 1, query = data[0] & 2, binding = data[0] & 4;
  const size_t chunk = data[1] == 0 ? size : data[1];
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  ServerHandshake hs(write_port);
  hs.set_recovery_query(query);
  hs.set_offer_channel_binding(binding);
  std::string to_client;
  bool linked = false;
  for (size_t off = 0; off < in.size(); off += chunk) {
    size_t before = to_client.size();
    Step s = hs.OnServerBytes(in.substr(off, chunk), &to_client);
    if (s == Step::kRetry) {
      Require(to_client.empty() && !hs.forwarded_any() && !hs.error().empty());
      break;
    }
    if (s == Step::kFailed) {
      Require(!hs.error().empty());
      break;
    }
    if (s == Step::kLinked) {
      Require(!linked);
      linked = true;
      Require(hs.authenticated());
      if (write_port) Require(hs.in_recovery() == "f" || (!hs.in_hot_standby().empty() && hs.in_hot_standby() != "on"));
      if (query && write_port) Require(hs.in_recovery() == "f");
      Require(to_client.size() > before);  // at least the ReadyForQuery that completes the start-up
    }
    if (s == Step::kCheckRecovery) {
      Require(write_port && hs.authenticated());
      hs.ProbeSent();
    } else if (s == Step::kAwaitWritable || (hs.awaiting_writable() && hs.probes_outstanding() == 0)) {
      Require(write_port);
      if (hs.probes_outstanding() == 0) hs.ProbeSent();
    }
    Require(to_client.empty() || hs.forwarded_any());
  }
  Require(WellFramed(to_client));
  return 0;
}
