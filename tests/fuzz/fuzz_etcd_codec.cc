// The etcd gateway JSON decoders, fed any JSON document (what a broken or hostile etcd endpoint could answer), and
// the watch stream splitter fed the raw bytes in chunks. Decoders must return a Status, never throw.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dcs/etcd_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pgw::etcd;
  std::string text(reinterpret_cast<const char*>(data), size);
  Json j = Json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    (void)DecodeRange(j);
    (void)DecodeHeaderRevision(j);
    (void)DecodeRangeFingerprint(j);
    (void)DecodeTxn(j);
    (void)DecodeLeaseGrant(j);
    (void)DecodeLeaseKeepAlive(j);
    (void)DecodeWatch(j);
  }
  JsonStreamSplitter splitter(4096);
  std::vector<std::string> objects;
  size_t chunk = size % 7 + 1;
  for (size_t off = 0; off < size; off += chunk) {
    if (!splitter.Feed(text.data() + off, std::min(chunk, size - off), &objects).ok()) break;
  }
  for (const auto& o : objects) {
    if (o.empty() || o.front() != '{' || o.back() != '}') __builtin_trap();
    Json w = Json::parse(o, nullptr, false);
    if (!w.is_discarded()) (void)DecodeWatch(w);
  }
  return 0;
}
