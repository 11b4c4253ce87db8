#include <gtest/gtest.h>

#include "dcs/etcd_codec.h"

namespace pgw::etcd {
namespace {

TEST(EtcdCodecTest, Base64RoundTrip) {
  for (const std::string& s :
       std::vector<std::string>{"", "a", "ab", "abc", "/service/demo/leader", std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("pg2"), "cGcy");
  EXPECT_FALSE(Base64Decode("@@@").ok());
}

TEST(EtcdCodecTest, PrefixRangeEnd) {
  EXPECT_EQ(PrefixRangeEnd("/service/demo/"), "/service/demo0");
  EXPECT_EQ(PrefixRangeEnd(std::string("a\xff", 2)), "b");
}

TEST(EtcdCodecTest, CreateOnlyLeaderAcquireMatchesPatroni) {
  Compare c{"/service/demo/leader", Compare::Target::kCreate, Compare::Result::kEqual, 0, ""};
  Op put{Op::Type::kPut, "/service/demo/leader", "pg2", 7668682389079396743, ""};
  Json j = EncodeTxn({c}, {put}, {});
  EXPECT_EQ(j["compare"][0]["target"], "CREATE");
  EXPECT_EQ(j["compare"][0]["create_revision"], "0");
  EXPECT_EQ(j["compare"][0]["result"], "EQUAL");
  EXPECT_EQ(j["compare"][0]["key"], Base64Encode("/service/demo/leader"));
  EXPECT_EQ(j["success"][0]["request_put"]["value"], Base64Encode("pg2"));
  EXPECT_EQ(j["success"][0]["request_put"]["lease"], "7668682389079396743");
  EXPECT_FALSE(j.contains("failure"));
}

TEST(EtcdCodecTest, ModRevisionAndValueCompares) {
  Json j = EncodeTxn({{"k", Compare::Target::kMod, Compare::Result::kEqual, 380, ""},
                      {"k", Compare::Target::kValue, Compare::Result::kEqual, 0, "pg0"}},
                     {{Op::Type::kDelete, "k", "", 0, ""}}, {});
  EXPECT_EQ(j["compare"][0]["mod_revision"], "380");
  EXPECT_EQ(j["compare"][1]["value"], Base64Encode("pg0"));
  EXPECT_EQ(j["success"][0]["request_delete_range"]["key"], Base64Encode("k"));
}

TEST(EtcdCodecTest, DecodeRangeWithStringInts) {
  Json resp = Json::parse(R"({"header":{"revision":"42"},"kvs":[{"key":")" + Base64Encode("/s/d/leader") +
                          R"(","value":")" + Base64Encode("pg0") +
                          R"(","create_revision":"7","mod_revision":"9","version":"2","lease":"123"}],"count":"1"})");
  auto r = DecodeRange(resp);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->revision, 42);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "/s/d/leader");
  EXPECT_EQ(r->kvs[0].value, "pg0");
  EXPECT_EQ(r->kvs[0].create_revision, 7);
  EXPECT_EQ(r->kvs[0].lease, 123);
}

TEST(EtcdCodecTest, LeaseIdTextIsTheJsonEncodingByteForByte) {
  for (int64_t id : {int64_t{0}, int64_t{1}, int64_t{7587871235411230221}, int64_t{-5}}) {
    EXPECT_EQ(EncodeLeaseIdText(id), EncodeLeaseId(id).dump()) << id;
  }
  EXPECT_EQ(EncodeLeaseIdText(42), R"({"ID":"42"})");
}

TEST(EtcdCodecTest, RangeFingerprintAsksForOneKeyWithoutValuesAndDecodesCountAndModRevision) {
  Json req = EncodeRangeFingerprint("/s/d/", PrefixRangeEnd("/s/d/"));
  EXPECT_EQ(req.at("limit"), "1");
  EXPECT_EQ(req.at("sort_order"), "DESCEND");
  EXPECT_EQ(req.at("sort_target"), "MOD");
  EXPECT_EQ(req.at("keys_only"), true);
  EXPECT_FALSE(req.contains("serializable"));  // linearizable: a quorum read
  auto f = DecodeRangeFingerprint(
      Json::parse(R"({"header":{"revision":"50"},"kvs":[{"key":")" + Base64Encode("/s/d/members/pg1") +
                  R"(","create_revision":"7","mod_revision":"44","version":"3"}],"count":"6"})"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->revision, 50);
  EXPECT_EQ(f->count, 6);
  EXPECT_EQ(f->max_mod_revision, 44);
  auto empty = DecodeRangeFingerprint(Json::parse(R"({"header":{"revision":"50"}})"));  // proto3 leaves 0 out
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->count, 0);
  EXPECT_EQ(empty->max_mod_revision, 0);
  // Answers that cannot be a fingerprint are errors, not a "fresh" verdict.
  EXPECT_FALSE(DecodeRangeFingerprint(Json::parse(R"({"header":{"revision":"50"},"count":"2"})")).ok());
  EXPECT_FALSE(DecodeRangeFingerprint(Json::parse(R"({"header":{"revision":"50"},"count":"-1"})")).ok());
  EXPECT_FALSE(
      DecodeRangeFingerprint(
          Json::parse(R"({"header":{"revision":"5"},"kvs":[{"mod_revision":"1"},{"mod_revision":"2"}],"count":"2"})"))
          .ok());
  EXPECT_FALSE(DecodeRangeFingerprint(Json::parse(R"({"header":{"revision":"5"},"kvs":{},"count":"1"})")).ok());
  EXPECT_EQ(
      DecodeRangeFingerprint(Json::parse(R"({"error":"etcdserver: request timed out","code":14})")).status().code(),
      Code::kUnavailable);
}

TEST(EtcdCodecTest, DecodeErrors) {
  EXPECT_EQ(DecodeRange(Json::parse(R"({"error":"etcdserver: request timed out","code":14})")).status().code(),
            Code::kUnavailable);
  EXPECT_FALSE(DecodeRange(Json::parse(R"({"header":{"revision":"x"}})")).ok());
  EXPECT_FALSE(DecodeRange(Json::parse(R"([1,2])")).ok());
  EXPECT_EQ(DecodeLeaseKeepAlive(Json::parse(R"({"result":{"ID":"5","header":{}}})")).status().code(), Code::kNotFound);
  EXPECT_EQ(*DecodeLeaseKeepAlive(Json::parse(R"({"result":{"ID":"5","TTL":"9"}})")), 9);
  EXPECT_EQ(*DecodeLeaseGrant(Json::parse(R"({"ID":"77","TTL":"10"})")), 77);
}

TEST(EtcdCodecTest, TxnResult) {
  auto t = DecodeTxn(Json::parse(R"({"header":{"revision":"10"},"succeeded":true})"));
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->succeeded);
  EXPECT_EQ(t->revision, 10);
  EXPECT_FALSE(DecodeTxn(Json::parse(R"({"header":{"revision":"11"}})"))->succeeded);
}

TEST(EtcdCodecTest, WatchMessages) {
  Json msg = Json::parse(R"({"result":{"header":{"revision":"20"},"events":[{"kv":{"key":")" + Base64Encode("/a/b") +
                         R"(","mod_revision":"20"}},{"type":"DELETE","kv":{"key":")" + Base64Encode("/a/c") +
                         R"(","mod_revision":"20"}}]}})");
  auto m = DecodeWatch(msg);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->events.size(), 2u);
  EXPECT_EQ(m->events[0].type, Event::Type::kPut);
  EXPECT_EQ(m->events[1].type, Event::Type::kDelete);
  EXPECT_EQ(m->events[1].kv.key, "/a/c");
  auto c = DecodeWatch(Json::parse(R"({"result":{"compact_revision":"5","canceled":true}})"));
  EXPECT_EQ(c->compact_revision, 5);
  EXPECT_TRUE(c->canceled);
  Json w = EncodeWatchCreate("/a/", "/a0", 21);
  EXPECT_EQ(w["create_request"]["start_revision"], "21");
}

// Found by fuzz_etcd_codec: fields of the wrong JSON type threw (json::type_error) out of the decoders instead of
// returning an error. Each document here must be refused with kInvalidArgument (or kUnavailable for a gateway
// error), naming the field.
TEST(EtcdCodecFuzzRegressionTest, WrongTypedFieldsAreErrorsNotExceptions) {
  const std::string k = Base64Encode("/a");
  struct Case {
    const char* what;
    std::string doc;
    Result<int> (*decode)(const Json&);
    const char* field;
  };
  auto txn = [](const Json& j) -> Result<int> {
    auto r = DecodeTxn(j);
    if (!r.ok()) return r.status();
    return 0;
  };
  auto watch = [](const Json& j) -> Result<int> {
    auto r = DecodeWatch(j);
    if (!r.ok()) return r.status();
    return 0;
  };
  auto range = [](const Json& j) -> Result<int> {
    auto r = DecodeRange(j);
    if (!r.ok()) return r.status();
    return 0;
  };
  std::vector<Case> cases = {
      {"txn succeeded a string", R"({"header":{},"succeeded":"yes"})", txn, "succeeded"},
      {"txn response_range a number", R"({"header":{},"responses":[{"response_range":5}]})", txn, "response_range"},
      {"txn response not an object", R"({"header":{},"responses":[7]})", txn, "responses"},
      {"txn responses an object", R"({"header":{},"responses":{"a":1}})", txn, "responses"},
      {"watch result a number", R"({"result":5})", watch, "result"},
      {"watch created a string", R"({"result":{"created":"x"}})", watch, "created"},
      {"watch canceled a number", R"({"result":{"canceled":1}})", watch, "canceled"},
      {"watch cancel_reason a number", R"({"result":{"cancel_reason":3}})", watch, "cancel_reason"},
      {"watch events an object", R"({"result":{"events":{"a":1}}})", watch, "events"},
      {"watch event not an object", R"({"result":{"events":[1]}})", watch, "event"},
      {"watch event type a number", R"({"result":{"events":[{"type":1}]}})", watch, "type"},
      {"kv key a number", R"({"header":{},"kvs":[{"key":1}]})", range, "key"},
      {"kv value a list", R"({"header":{},"kvs":[{"key":")" + k + R"(","value":[]}]})", range, "value"},
      {"gateway message a number", R"({"code":2,"message":5})", range, "etcd error"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Json j = Json::parse(c.doc);
    Result<int> r = 0;
    EXPECT_NO_THROW(r = c.decode(j));
    EXPECT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
}

TEST(JsonStreamSplitterTest, SplitsChunksAndIgnoresBracesInStrings) {
  JsonStreamSplitter s;
  std::vector<std::string> out;
  std::string stream = R"({"result":{"x":"a}b{"}}{"result":{"y":"\"}"}})"
                       "\n";
  for (char c : stream) ASSERT_TRUE(s.Feed(&c, 1, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Json::parse(out[0])["result"]["x"], "a}b{");
  EXPECT_EQ(Json::parse(out[1])["result"]["y"], "\"}");
}

TEST(JsonStreamSplitterTest, RejectsGarbageAndOversize) {
  JsonStreamSplitter s;
  std::vector<std::string> out;
  EXPECT_FALSE(s.Feed("}", 1, &out).ok());
  JsonStreamSplitter small(16);
  std::string big = "{\"a\":\"" + std::string(64, 'x');
  EXPECT_FALSE(small.Feed(big.data(), big.size(), &out).ok());
}

}  // namespace
}  // namespace pgw::etcd
