#include "dcs/etcd_codec.h"

#include "common/base64.h"

#include <charconv>

namespace pgw::etcd {
namespace {

// int64 fields come as JSON strings ("123") from the gateway, or as numbers from some versions; absent means 0.
Result<int64_t> Int64Field(const Json& obj, const char* name) {
  if (!obj.is_object() || !obj.contains(name)) return int64_t{0};
  const auto& v = obj.at(name);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    int64_t out = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && p == s.data() + s.size()) return out;
  }
  return InvalidArgument(std::string("etcd response field '") + name + "' is not an integer: " + v.dump());
}

// Optional fields of one JSON type: absent (or null) leaves *out unchanged; any other type is an error naming the
// field, never a json::type_error.
Status BoolField(const Json& obj, const char* name, bool* out) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return InvalidArgument(std::string("etcd response field '") + name + "' is not a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}

Status StringField(const Json& obj, const char* name, std::string* out) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return InvalidArgument(std::string("etcd response field '") + name + "' is not a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GatewayError(const Json& j) {
  if (!j.is_object()) return InvalidArgument("etcd response is not a JSON object");
  if (j.contains("error")) {
    const auto& e = j.at("error");
    std::string msg = e.is_object() && e.contains("message") ? e.at("message").dump() : e.dump();
    return Unavailable("etcd error: " + msg);
  }
  if (j.contains("code") && j.contains("message")) {
    const auto& m = j.at("message");
    return Unavailable("etcd error: " + (m.is_string() ? m.get<std::string>() : m.dump()));
  }
  return Status::Ok();
}

Result<KeyValue> DecodeKv(const Json& j) {
  KeyValue kv;
  if (!j.is_object()) return InvalidArgument("etcd kv is not an object");
  for (auto [name, field] : {std::pair{"key", &kv.key}, {"value", &kv.value}}) {
    std::string b64;
    PGW_RETURN_IF_ERROR(StringField(j, name, &b64));
    auto d = Base64Decode(b64);
    if (!d.ok()) return d.status().Context(std::string("etcd kv field '") + name + "'");
    *field = *d;
  }
  for (auto [name, field] : {std::pair{"create_revision", &kv.create_revision},
                             {"mod_revision", &kv.mod_revision},
                             {"version", &kv.version},
                             {"lease", &kv.lease}}) {
    auto r = Int64Field(j, name);
    if (!r.ok()) return r.status();
    *field = *r;
  }
  return kv;
}

Json EncodeOp(const Op& op) {
  switch (op.type) {
    case Op::Type::kPut: return {{"request_put", EncodePut(op.key, op.value, op.lease)}};
    case Op::Type::kDelete: return {{"request_delete_range", EncodeDelete(op.key, op.range_end)}};
    case Op::Type::kRange: return {{"request_range", EncodeRange(op.key, op.range_end, false)}};
  }
  return Json::object();
}

}  // namespace

std::string PrefixRangeEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& c = end.back();
    if (static_cast<uint8_t>(c) < 0xFF) {
      c = static_cast<char>(static_cast<uint8_t>(c) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Json EncodeRange(const std::string& key, const std::string& range_end, bool serializable) {
  Json j = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) j["range_end"] = Base64Encode(range_end);
  if (serializable) j["serializable"] = true;
  return j;
}

Json EncodeRangeFingerprint(const std::string& key, const std::string& range_end) {
  Json j = EncodeRange(key, range_end, false);
  j["limit"] = "1";
  j["sort_order"] = "DESCEND";
  j["sort_target"] = "MOD";
  j["keys_only"] = true;
  return j;
}

Json EncodePut(const std::string& key, const std::string& value, int64_t lease) {
  Json j = {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) j["lease"] = std::to_string(lease);
  return j;
}

Json EncodeDelete(const std::string& key, const std::string& range_end) {
  Json j = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) j["range_end"] = Base64Encode(range_end);
  return j;
}

Json EncodeTxn(const std::vector<Compare>& compares, const std::vector<Op>& success, const std::vector<Op>& failure) {
  Json cmp = Json::array();
  for (const auto& c : compares) {
    Json j = {{"key", Base64Encode(c.key)}};
    static const char* kResult[] = {"EQUAL", "NOT_EQUAL", "GREATER", "LESS"};
    j["result"] = kResult[static_cast<int>(c.result)];
    switch (c.target) {
      case Compare::Target::kCreate:
        j["target"] = "CREATE";
        j["create_revision"] = std::to_string(c.revision);
        break;
      case Compare::Target::kMod:
        j["target"] = "MOD";
        j["mod_revision"] = std::to_string(c.revision);
        break;
      case Compare::Target::kVersion:
        j["target"] = "VERSION";
        j["version"] = std::to_string(c.revision);
        break;
      case Compare::Target::kValue:
        j["target"] = "VALUE";
        j["value"] = Base64Encode(c.value);
        break;
    }
    cmp.push_back(j);
  }
  Json s = Json::array(), f = Json::array();
  for (const auto& op : success) s.push_back(EncodeOp(op));
  for (const auto& op : failure) f.push_back(EncodeOp(op));
  Json j = {{"compare", cmp}, {"success", s}};
  if (!failure.empty()) j["failure"] = f;
  return j;
}

Json EncodeLeaseGrant(int64_t ttl_seconds) { return {{"TTL", std::to_string(ttl_seconds)}}; }
Json EncodeLeaseId(int64_t id) { return {{"ID", std::to_string(id)}}; }

std::string EncodeLeaseIdText(int64_t id) { return "{\"ID\":\"" + std::to_string(id) + "\"}"; }

Json EncodeWatchCreate(const std::string& key, const std::string& range_end, int64_t start_revision) {
  Json c = {{"key", Base64Encode(key)}};
  if (!range_end.empty()) c["range_end"] = Base64Encode(range_end);
  if (start_revision > 0) c["start_revision"] = std::to_string(start_revision);
  c["progress_notify"] = true;
  return {{"create_request", c}};
}

Result<int64_t> DecodeHeaderRevision(const Json& j) {
  PGW_RETURN_IF_ERROR(GatewayError(j));
  if (!j.contains("header")) return InvalidArgument("etcd response has no header");
  return Int64Field(j.at("header"), "revision");
}

Result<RangeResponse> DecodeRange(const Json& j) {
  auto rev = DecodeHeaderRevision(j);
  if (!rev.ok()) return rev.status();
  RangeResponse r;
  r.revision = *rev;
  if (j.contains("kvs")) {
    if (!j.at("kvs").is_array()) return InvalidArgument("etcd range response: kvs is not a list");
    for (const auto& e : j.at("kvs")) {
      auto kv = DecodeKv(e);
      if (!kv.ok()) return kv.status();
      r.kvs.push_back(std::move(*kv));
    }
  }
  return r;
}

Result<PrefixFingerprint> DecodeRangeFingerprint(const Json& j) {
  auto rev = DecodeHeaderRevision(j);
  if (!rev.ok()) return rev.status();
  PrefixFingerprint f;
  f.revision = *rev;
  auto count = Int64Field(j, "count");  // absent when 0 (proto3 JSON leaves default values out)
  if (!count.ok()) return count.status();
  f.count = *count;
  if (j.contains("kvs")) {
    const Json& kvs = j.at("kvs");
    if (!kvs.is_array()) return InvalidArgument("etcd range response: kvs is not a list");
    if (kvs.size() > 1) return InvalidArgument("etcd range response: more than the one key asked for");
    if (!kvs.empty()) {
      auto m = Int64Field(kvs.front(), "mod_revision");
      if (!m.ok()) return m.status();
      f.max_mod_revision = *m;
    }
  }
  if (f.count < 0 || (f.count > 0) != (f.max_mod_revision > 0)) {
    return InvalidArgument("etcd range response: count " + std::to_string(f.count) + " does not match its keys");
  }
  return f;
}

Result<TxnResponse> DecodeTxn(const Json& j) {
  auto rev = DecodeHeaderRevision(j);
  if (!rev.ok()) return rev.status();
  TxnResponse t;
  t.revision = *rev;
  PGW_RETURN_IF_ERROR(BoolField(j, "succeeded", &t.succeeded));
  if (j.contains("responses") && !j.at("responses").is_null()) {
    if (!j.at("responses").is_array()) return InvalidArgument("etcd txn response: responses is not a list");
    for (const auto& r : j.at("responses")) {
      if (!r.is_object()) return InvalidArgument("etcd txn response: an entry of responses is not an object");
      if (r.contains("response_range")) {
        Json inner = r.at("response_range");
        if (!inner.is_object()) return InvalidArgument("etcd txn response: response_range is not an object");
        if (!inner.contains("header")) inner["header"] = j.at("header");
        auto rr = DecodeRange(inner);
        if (!rr.ok()) return rr.status();
        t.ranges.push_back(std::move(*rr));
      }
    }
  }
  return t;
}

Result<int64_t> DecodeLeaseGrant(const Json& j) {
  PGW_RETURN_IF_ERROR(GatewayError(j));
  auto id = Int64Field(j, "ID");
  if (!id.ok()) return id.status();
  if (*id == 0) return InvalidArgument("etcd lease grant returned no ID");
  return *id;
}

Result<int64_t> DecodeLeaseKeepAlive(const Json& j) {
  PGW_RETURN_IF_ERROR(GatewayError(j));
  // The gateway wraps streaming responses: {"result": {...}}.
  const Json& body = j.contains("result") ? j.at("result") : j;
  auto ttl = Int64Field(body, "TTL");
  if (!ttl.ok()) return ttl.status();
  if (*ttl <= 0) return NotFound("lease expired");
  return *ttl;
}

Result<WatchMessage> DecodeWatch(const Json& j) {
  PGW_RETURN_IF_ERROR(GatewayError(j));
  if (!j.contains("result")) return InvalidArgument("etcd watch message has no result");
  const Json& r = j.at("result");
  if (!r.is_object()) return InvalidArgument("etcd watch message: result is not an object");
  WatchMessage m;
  if (r.contains("header")) {
    auto rev = Int64Field(r.at("header"), "revision");
    if (!rev.ok()) return rev.status();
    m.revision = *rev;
  }
  PGW_RETURN_IF_ERROR(BoolField(r, "created", &m.created));
  PGW_RETURN_IF_ERROR(BoolField(r, "canceled", &m.canceled));
  auto cr = Int64Field(r, "compact_revision");
  if (!cr.ok()) return cr.status();
  m.compact_revision = *cr;
  PGW_RETURN_IF_ERROR(StringField(r, "cancel_reason", &m.cancel_reason));
  if (r.contains("events") && !r.at("events").is_null()) {
    if (!r.at("events").is_array()) return InvalidArgument("etcd watch message: events is not a list");
    for (const auto& e : r.at("events")) {
      if (!e.is_object()) return InvalidArgument("etcd watch message: an event is not an object");
      Event ev;
      std::string type = "PUT";
      PGW_RETURN_IF_ERROR(StringField(e, "type", &type));
      ev.type = type == "DELETE" ? Event::Type::kDelete : Event::Type::kPut;
      if (e.contains("kv")) {
        auto kv = DecodeKv(e.at("kv"));
        if (!kv.ok()) return kv.status();
        ev.kv = std::move(*kv);
      }
      m.events.push_back(std::move(ev));
    }
  }
  return m;
}

Status JsonStreamSplitter::Feed(const char* data, size_t n, std::vector<std::string>* objects) {
  buf_.append(data, n);
  for (; scanned_ < buf_.size(); ++scanned_) {
    char c = buf_[scanned_];
    if (in_string_) {
      if (escape_)
        escape_ = false;
      else if (c == '\\')
        escape_ = true;
      else if (c == '"')
        in_string_ = false;
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{') {
      if (depth_ == 0) start_ = scanned_;
      ++depth_;
    } else if (c == '}') {
      if (depth_ == 0) return InvalidArgument("unbalanced '}' in etcd watch stream");
      if (--depth_ == 0) objects->push_back(buf_.substr(start_, scanned_ - start_ + 1));
    }
  }
  if (depth_ == 0) {
    buf_.clear();
    scanned_ = 0;
    start_ = 0;
  } else if (start_ > 0) {
    buf_.erase(0, start_);
    scanned_ -= start_;
    start_ = 0;
  }
  if (buf_.size() > max_object_) return InvalidArgument("etcd watch message larger than the limit");
  return Status::Ok();
}

}  // namespace pgw::etcd
