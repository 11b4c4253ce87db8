// Pure encoding and decoding of etcd v3 gRPC-gateway JSON (the API Patroni uses): no I/O here, so every request
// and response shape is unit-tested. Keys and values are base64 in the wire JSON; int64 fields arrive as strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/status.h"

namespace pgw::etcd {

using Json = nlohmann::json;
// The smallest key greater than every key with this prefix ("abc" -> "abd"); "\0" for "all keys" per etcd.
std::string PrefixRangeEnd(const std::string& prefix);

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct Compare {
  enum class Target { kCreate, kMod, kValue, kVersion };
  enum class Result { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kMod;
  Result result = Result::kEqual;
  int64_t revision = 0;  // kCreate / kMod / kVersion
  std::string value;     // kValue
};

struct Op {
  enum class Type { kPut, kDelete, kRange };
  Type type = Type::kPut;
  std::string key;
  std::string value;      // kPut
  int64_t lease = 0;      // kPut
  std::string range_end;  // kDelete / kRange
};

struct Event {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;
};

struct RangeResponse {
  int64_t revision = 0;
  std::vector<KeyValue> kvs;
};

// What a keys-only, count-carrying range answers about a prefix: enough to prove that a cached copy of the prefix
// is the same as the store's (see EtcdDcs::FreshCluster), at a fraction of a full read's size.
struct PrefixFingerprint {
  int64_t revision = 0;          // the store's revision when the read was served
  int64_t count = 0;             // keys under the prefix
  int64_t max_mod_revision = 0;  // the highest mod_revision among them (0: none)
};

struct TxnResponse {
  bool succeeded = false;
  int64_t revision = 0;
  std::vector<RangeResponse> ranges;  // range results of the branch that ran, in order
};

struct WatchMessage {
  int64_t revision = 0;  // header revision
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // > 0: the requested revision was compacted away
  std::string cancel_reason;
  std::vector<Event> events;
};

Json EncodeRange(const std::string& key, const std::string& range_end, bool serializable);
// A linearizable range over [key, range_end) that returns the count and only the most recently modified key,
// without values (limit 1, sorted by mod_revision descending, keys_only).
Json EncodeRangeFingerprint(const std::string& key, const std::string& range_end);
Json EncodePut(const std::string& key, const std::string& value, int64_t lease);
Json EncodeDelete(const std::string& key, const std::string& range_end);
Json EncodeTxn(const std::vector<Compare>& compares, const std::vector<Op>& success, const std::vector<Op>& failure);
Json EncodeLeaseGrant(int64_t ttl_seconds);
Json EncodeLeaseId(int64_t id);  // keepalive / revoke / timetolive
// EncodeLeaseId(id).dump() without building a Json: the keepalive is sent 1.5 times a second (issue 14).
std::string EncodeLeaseIdText(int64_t id);
Json EncodeWatchCreate(const std::string& key, const std::string& range_end, int64_t start_revision);

// Each decoder validates the shape and returns kUnavailable for gateway errors ({"error":...} / {"code":...}).
Result<RangeResponse> DecodeRange(const Json& j);
Result<int64_t> DecodeHeaderRevision(const Json& j);
Result<PrefixFingerprint> DecodeRangeFingerprint(const Json& j);
Result<TxnResponse> DecodeTxn(const Json& j);
Result<int64_t> DecodeLeaseGrant(const Json& j);      // lease id
Result<int64_t> DecodeLeaseKeepAlive(const Json& j);  // remaining TTL; kNotFound when the lease is gone
Result<WatchMessage> DecodeWatch(const Json& j);

// Splits a byte stream of concatenated JSON objects (the watch response) into complete objects. Feed it chunks;
// it returns the complete top-level objects found so far and keeps the remainder. Bounded: a single object over
// `max_object` bytes is an error.
class JsonStreamSplitter {
 public:
  explicit JsonStreamSplitter(size_t max_object = 64 << 20) : max_object_(max_object) {}
  Status Feed(const char* data, size_t n, std::vector<std::string>* objects);

 private:
  size_t max_object_;
  std::string buf_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  size_t scanned_ = 0;
  size_t start_ = 0;
};

}  // namespace pgw::etcd
