// The server side of a new session's start-up, as a pure state machine (no I/O): the router has sent the client's
// StartupMessage to a server and feeds what the server answers. Authentication messages pass to the client
// unchanged (the client answers them itself: trust, md5 and SCRAM work without the router knowing any password).
// From AuthenticationOk to the first ReadyForQuery the server's messages are held back, so that the router can
// check what the server reported before the client is committed to it:
//   - on the write port, `in_hot_standby` must be "off" (PostgreSQL 14+ reports it). While it is "on" the session
//     waits, sending an empty query (Probe()) now and then and swallowing the answers: PostgreSQL reports the change
//     of in_hot_standby at the first ReadyForQuery after its promotion, so the client is linked as soon as the
//     server is writable, and never before.
//     A server that does not report in_hot_standby (PostgreSQL < 14), or any server when the check is forced
//     (set_recovery_query), is asked `SELECT pg_is_in_recovery()` on this same connection instead, before the client
//     is linked, and again while it answers true. (The router holds no credentials of its own: the new session's
//     connection, authenticated by the client, is the only one it can ask on.)
//   - an error before anything reached the client (e.g. 57P03 "the database system is starting up") lets the caller
//     try again, on this server or another, without the client noticing.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pgwire/codec.h"

namespace pgw::router {

class ServerHandshake {
 public:
  enum class Step {
    kContinue,       // nothing decided; forward to_client (auth messages) and keep reading
    kCheckRecovery,  // authenticated; no in_hot_standby to trust: send NextProbe() (the recovery query) now, and
                     // keep probing like kAwaitWritable until it answers false (write port only)
    kAwaitWritable,  // authenticated, but the server is in recovery: NextProbe() until it is not (write port only)
    kLinked,         // ReadyForQuery reached with an acceptable server: send to_client and relay from now on
    kRetry,          // the server refused before the client saw anything: try again (error() says why)
    kFailed,         // the server broke the protocol: close (error() says why)
  };

  // `require_writable`: the write port's rule (in_hot_standby must be off).
  explicit ServerHandshake(bool require_writable) : require_writable_(require_writable) {}
  // Whether the SASL channel-binding mechanisms (-PLUS) the server offers reach the client. Off for a client in
  // clear (libpq refuses a -PLUS offer without TLS). On for a TLS client: binding then works end to end only when
  // the router presents PostgreSQL's own certificate; otherwise such a client needs channel_binding=disable (with
  // -PLUS withheld it would say "y" and PostgreSQL, over TLS, would refuse that as a downgrade).
  void set_offer_channel_binding(bool on) { offer_channel_binding_ = on; }

  // Feeds bytes from the server. Appends what the client must receive now to *to_client.
  Step OnServerBytes(std::string_view bytes, std::string* to_client);
  // Ask with the recovery query even when the server reports in_hot_standby (recovery_check: query; the way to
  // exercise the PostgreSQL < 14 path on a newer server).
  void set_recovery_query(bool always) { always_query_ = always; }

  // An empty simple query; its replies (EmptyQueryResponse, ReadyForQuery) are swallowed. Only in kAwaitWritable.
  static std::string Probe();
  // SELECT pg_is_in_recovery() as a simple query; its replies are swallowed and read.
  static std::string RecoveryQuery();
  // What to send to the server for the next check: RecoveryQuery() when the recovery query is in use, else Probe().
  std::string NextProbe() const { return query_mode_ ? RecoveryQuery() : Probe(); }
  // Called by the owner right after it sent Probe() to the server.
  void ProbeSent() { ++probes_outstanding_; }

  bool forwarded_any() const { return forwarded_any_; }
  bool authenticated() const { return authenticated_; }
  bool awaiting_writable() const { return awaiting_writable_ && !done_; }
  int probes_outstanding() const { return probes_outstanding_; }
  const std::string& error() const { return error_; }
  // SQLSTATE of the server's ErrorResponse that caused kRetry ("" otherwise).
  const std::string& error_sqlstate() const { return error_sqlstate_; }
  const std::optional<pgwire::BackendKeyData>& backend_key() const { return key_; }
  // "on" / "off" as last reported; "" when the server does not report it (PostgreSQL < 14).
  const std::string& in_hot_standby() const { return in_hot_standby_; }
  const std::string& server_version() const { return server_version_; }
  // "t" / "f" as the last recovery query answered; "" before any answer (or when not used).
  const std::string& in_recovery() const { return in_recovery_; }

 private:
  Step OnMessage(const pgwire::Message& m, std::string* to_client);
  Step Finish(std::string* to_client);
  // A reply to one of our probes (outstanding > 0), swallowed.
  Step OnProbeReply(const pgwire::Message& m, std::string* to_client);

  bool require_writable_;
  bool offer_channel_binding_ = false;
  pgwire::MessageReader reader_{pgwire::Direction::kBackend};
  bool forwarded_any_ = false;
  bool authenticated_ = false;
  bool awaiting_writable_ = false;
  bool always_query_ = false;
  bool query_mode_ = false;  // probes are the recovery query
  std::string in_recovery_;  // the last answer: "t", "f", or "" (none, or not a boolean)
  std::string probe_error_;  // an ERROR answered to the last recovery query
  int probes_outstanding_ = 0;
  std::string held_;  // ParameterStatus, BackendKeyData, notices: sent with ReadyForQuery
  char ready_status_ = 'I';
  std::string error_, error_sqlstate_;
  std::optional<pgwire::BackendKeyData> key_;
  std::string in_hot_standby_, server_version_;
  bool done_ = false;  // ReadyForQuery passed to the client
};

}  // namespace pgw::router
