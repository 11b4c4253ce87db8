#include "router/handshake.h"

namespace pgw::router {

std::string ServerHandshake::Probe() { return pgwire::EncodeMessage('Q', std::string_view("\0", 1)); }

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
        error_ = text;
        error_sqlstate_ = code;
        return Step::kRetry;
      }
    }
    pgwire::AppendMessage(to_client, m.type, m.body);
    forwarded_any_ = true;
    return Step::kContinue;
  }
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
    case 'I':  // EmptyQueryResponse: only our probes cause one before the client is linked
      if (probes_outstanding_ > 0) return Step::kContinue;
      pgwire::AppendMessage(&held_, m.type, m.body);
      return Step::kContinue;
    case 'Z': {
      if (probes_outstanding_ > 0) {
        --probes_outstanding_;
        if (in_hot_standby_ != "on") return Finish(to_client);
        return Step::kContinue;
      }
      auto st = pgwire::DecodeReadyForQuery(m.body);
      if (!st.ok()) {
        error_ = "the server sent a malformed ReadyForQuery";
        return Step::kFailed;
      }
      ready_status_ = *st;
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
    default:
      pgwire::AppendMessage(&held_, m.type, m.body);
      return Step::kContinue;
  }
}

}  // namespace pgw::router
