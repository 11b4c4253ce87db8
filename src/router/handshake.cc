#include "router/handshake.h"

namespace pgw::router {

std::string ServerHandshake::Probe() { return pgwire::EncodeMessage('Q', std::string_view("\0", 1)); }

std::string ServerHandshake::RecoveryQuery() {
  static const std::string kQuery("SELECT pg_is_in_recovery()\0", 27);
  return pgwire::EncodeMessage('Q', kQuery);
}

ServerHandshake::Step ServerHandshake::OnProbeReply(const pgwire::Message& m, std::string* to_client) {
  switch (m.type) {
    case 'D': {  // DataRow: one column, text "t" or "f"
      pgwire::BodyReader r(m.body);
      auto cols = r.Int16();
      auto len = r.Int32();
      if (!cols.ok() || !len.ok() || *cols < 1) {
        error_ = "the server sent a malformed DataRow to SELECT pg_is_in_recovery()";
        return Step::kFailed;
      }
      if (*len < 0) {
        in_recovery_.clear();  // NULL
        return Step::kContinue;
      }
      auto v = r.Bytes(static_cast<size_t>(*len));
      if (!v.ok()) {
        error_ = "the server sent a malformed DataRow to SELECT pg_is_in_recovery()";
        return Step::kFailed;
      }
      in_recovery_ = (*v == "t" || *v == "f") ? *v : "";
      return Step::kContinue;
    }
    case 'E': {
      auto fields = pgwire::DecodeErrorFields(m.body);
      std::string severity, text;
      if (fields.ok()) {
        for (const auto& [k, v] : *fields) {
          if (k == 'V' || (k == 'S' && severity.empty())) severity = v;
          if (k == 'M') text = v;
        }
      }
      if (severity == "ERROR") {  // the query failed; ReadyForQuery follows
        probe_error_ = text.empty() ? "an error without a message" : text;
        return Step::kContinue;
      }
      // FATAL or PANIC: the server is going away; the client gets what was held and the error, then the close.
      to_client->append(held_);
      held_.clear();
      pgwire::AppendMessage(to_client, m.type, m.body);
      forwarded_any_ = true;
      return Step::kContinue;
    }
    case 'Z':
      --probes_outstanding_;
      if (!query_mode_) return in_hot_standby_ != "on" ? Finish(to_client) : Step::kContinue;
      if (!probe_error_.empty()) {
        error_ = "SELECT pg_is_in_recovery() failed: " + probe_error_;
        return Step::kFailed;
      }
      if (in_recovery_ == "f") return Finish(to_client);
      in_recovery_.clear();  // a later answer must say "f" again
      return Step::kContinue;
    case 'S': {  // a ParameterStatus (in_hot_standby changing at a promotion): held for the client
      auto p = pgwire::DecodeParameterStatus(m.body);
      if (p.ok() && p->first == "in_hot_standby") in_hot_standby_ = p->second;
      pgwire::AppendMessage(&held_, m.type, m.body);
      return Step::kContinue;
    }
    case 'N':  // a notice: the client's to see, with the rest
      pgwire::AppendMessage(&held_, m.type, m.body);
      return Step::kContinue;
    default:  // RowDescription, CommandComplete, EmptyQueryResponse
      return Step::kContinue;
  }
}

ServerHandshake::Step ServerHandshake::OnServerBytes(std::string_view bytes, std::string* to_client) {
  reader_.Feed(bytes);
  Step result = Step::kContinue;
  // Bounded by the bytes fed: every iteration consumes one whole message.
  while (true) {
    auto m = reader_.Next();
    if (!m.ok()) {
      error_ = "the server broke the protocol: " + m.status().message();
      return Step::kFailed;
    }
    if (!*m) break;
    if (done_) {  // after ReadyForQuery: pass anything else through (servers send nothing here, normally)
      pgwire::AppendMessage(to_client, (*m)->type, (*m)->body);
      continue;
    }
    Step s = OnMessage(**m, to_client);
    if (s == Step::kRetry || s == Step::kFailed) return s;
    if (s != Step::kContinue) result = s;
  }
  return result;
}

ServerHandshake::Step ServerHandshake::Finish(std::string* to_client) {
  to_client->append(held_);
  held_.clear();
  to_client->append(pgwire::EncodeReadyForQuery(ready_status_));
  forwarded_any_ = true;
  done_ = true;
  return Step::kLinked;
}

ServerHandshake::Step ServerHandshake::OnMessage(const pgwire::Message& m, std::string* to_client) {
  if (!authenticated_) {
    if (m.type == 'R') {
      pgwire::BodyReader r(m.body);
      auto sub = r.Int32();
      if (!sub.ok()) {
        error_ = "the server sent a malformed authentication request";
        return Step::kFailed;
      }
      if (*sub == 0) authenticated_ = true;
      if (*sub == 10 && !offer_channel_binding_) {
        // AuthenticationSASL to a client in clear: the -PLUS mechanisms (offered by a server reached over TLS) are
        // removed; libpq would refuse them without TLS. The client then uses plain SCRAM and says "n" (no binding).
        std::string body;
        pgwire::AppendInt32(&body, 10);
        while (r.remaining() > 0) {
          auto name = r.CString();
          if (!name.ok()) {
            error_ = "the server sent a malformed SASL mechanism list";
            return Step::kFailed;
          }
          if (name->empty()) break;
          if (name->size() >= 5 && name->compare(name->size() - 5, 5, "-PLUS") == 0) continue;
          body += *name;
          body.push_back('\0');
        }
        body.push_back('\0');
        pgwire::AppendMessage(to_client, 'R', body);
        forwarded_any_ = true;
        return Step::kContinue;
      }
    } else if (m.type == 'E' && !forwarded_any_) {
      auto fields = pgwire::DecodeErrorFields(m.body);
      std::string code, text;
      if (fields.ok()) {
        for (const auto& [k, v] : *fields) {
          if (k == 'C') code = v;
          if (k == 'M') text = v;
        }
      }
      // 57P03 cannot_connect_now: starting up, shutting down, in crash recovery. Another try may find the server
      // (or the new leader) ready; the client has seen nothing yet.
      if (code == "57P03") {
        // The reason the caller logs and, after the last try, gives the client: never empty (an error without a
        // message field is still well-formed).
        error_ = text.empty() ? "the server cannot accept connections now (57P03)" : text;
        error_sqlstate_ = code;
        return Step::kRetry;
      }
    }
    pgwire::AppendMessage(to_client, m.type, m.body);
    forwarded_any_ = true;
    return Step::kContinue;
  }
  if (probes_outstanding_ > 0) return OnProbeReply(m, to_client);
  switch (m.type) {
    case 'S': {
      auto p = pgwire::DecodeParameterStatus(m.body);
      if (p.ok()) {
        if (p->first == "in_hot_standby") in_hot_standby_ = p->second;
        if (p->first == "server_version") server_version_ = p->second;
      }
      pgwire::AppendMessage(&held_, m.type, m.body);
      return Step::kContinue;
    }
    case 'K': {
      auto k = pgwire::DecodeBackendKeyData(m.body);
      if (k.ok()) key_ = *k;
      pgwire::AppendMessage(&held_, m.type, m.body);
      return Step::kContinue;
    }
    case 'Z': {
      auto st = pgwire::DecodeReadyForQuery(m.body);
      if (!st.ok()) {
        error_ = "the server sent a malformed ReadyForQuery";
        return Step::kFailed;
      }
      ready_status_ = *st;
      if (require_writable_ && (always_query_ || in_hot_standby_.empty())) {
        awaiting_writable_ = true;
        query_mode_ = true;
        return Step::kCheckRecovery;
      }
      if (require_writable_ && in_hot_standby_ == "on") {
        awaiting_writable_ = true;
        return Step::kAwaitWritable;
      }
      return Finish(to_client);
    }
    case 'E':
      // A FATAL after authentication (shutdown, a failed probe): the client gets what was held and the error; the
      // server closes the connection next.
      to_client->append(held_);
      held_.clear();
      pgwire::AppendMessage(to_client, m.type, m.body);
      forwarded_any_ = true;
      return Step::kContinue;
    default: pgwire::AppendMessage(&held_, m.type, m.body); return Step::kContinue;
  }
}

}  // namespace pgw::router
