// The pgwire codec: start-up packets, message framing both ways, limits and ErrorResponse building.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "pgwire/startup.h"

namespace pgw::pgwire {
namespace {

std::string Int32Bytes(int32_t v) {
  std::string s;
  AppendInt32(&s, v);
  return s;
}

std::string Startup(int32_t protocol, const std::string& params) {
  std::string body = Int32Bytes(protocol) + params;
  return Int32Bytes(static_cast<int32_t>(body.size() + 4)) + body;
}

Result<std::optional<StartupPacket>> Decode(const std::string& in, size_t* consumed) {
  return DecodeStartup(in, consumed);
}

TEST(PgwireStartupTest, StartupMessageV3) {
  std::string in = Startup(kProtocol30, std::string("user\0alice\0database\0db1\0\0", 25));
  size_t consumed = 0;
  auto p = Decode(in, &consumed);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_TRUE(*p);
  EXPECT_EQ(consumed, in.size());
  EXPECT_EQ((*p)->kind, StartupKind::kStartup);
  EXPECT_EQ((*p)->protocol, 196608);
  ASSERT_NE((*p)->Parameter("user"), nullptr);
  EXPECT_EQ(*(*p)->Parameter("user"), "alice");
  EXPECT_EQ(*(*p)->Parameter("database"), "db1");
  EXPECT_EQ((*p)->Parameter("options"), nullptr);
  EXPECT_EQ(EncodeStartup(**p), in);
}

TEST(PgwireStartupTest, Protocol32AndOptionsAreKept) {
  std::string in = Startup(kProtocol32, std::string("user\0u\0_pq_.x\0y\0\0", 17));
  size_t consumed = 0;
  auto p = Decode(in, &consumed);
  ASSERT_TRUE(p.ok() && *p);
  EXPECT_EQ((*p)->protocol, kProtocol32);
  EXPECT_EQ(*(*p)->Parameter("_pq_.x"), "y");
}

TEST(PgwireStartupTest, SslGssAndCancelRequests) {
  size_t consumed = 0;
  auto ssl = Decode(Int32Bytes(8) + Int32Bytes(80877103), &consumed);
  ASSERT_TRUE(ssl.ok() && *ssl);
  EXPECT_EQ((*ssl)->kind, StartupKind::kSslRequest);
  EXPECT_EQ(consumed, 8u);
  auto gss = Decode(Int32Bytes(8) + Int32Bytes(80877104), &consumed);
  ASSERT_TRUE(gss.ok() && *gss);
  EXPECT_EQ((*gss)->kind, StartupKind::kGssEncRequest);
  auto cancel = Decode(Int32Bytes(16) + Int32Bytes(80877102) + Int32Bytes(4242) + "abcd", &consumed);
  ASSERT_TRUE(cancel.ok() && *cancel);
  EXPECT_EQ((*cancel)->kind, StartupKind::kCancel);
  EXPECT_EQ((*cancel)->cancel_pid, 4242);
  EXPECT_EQ((*cancel)->cancel_key, "abcd");
  EXPECT_EQ(consumed, 16u);
  // Protocol 3.2: a longer key.
  std::string key(32, 'k');
  auto long_key = Decode(Int32Bytes(44) + Int32Bytes(80877102) + Int32Bytes(1) + key, &consumed);
  ASSERT_TRUE(long_key.ok() && *long_key);
  EXPECT_EQ((*long_key)->cancel_key, key);
}

// The bytes after an SSLRequest are not part of it: the caller sees them (consumed stops at 8) and must refuse
// plaintext bytes sent ahead of the TLS handshake.
TEST(PgwireStartupTest, BytesAfterSslRequestAreNotConsumed) {
  size_t consumed = 0;
  auto p = Decode(Int32Bytes(8) + Int32Bytes(80877103) + std::string("Q\0\0\0\x05x", 6), &consumed);
  ASSERT_TRUE(p.ok() && *p);
  EXPECT_EQ(consumed, 8u);
}

TEST(PgwireStartupTest, SplitInputWaitsForMore) {
  std::string in = Startup(kProtocol30, std::string("user\0alice\0\0", 12));
  for (size_t cut = 0; cut < in.size(); ++cut) {
    size_t consumed = 7;
    auto p = Decode(in.substr(0, cut), &consumed);
    ASSERT_TRUE(p.ok()) << cut;
    EXPECT_FALSE(*p) << cut;
    EXPECT_EQ(consumed, 0u);
  }
}

TEST(PgwireStartupTest, MalformedPacketsAreRefused) {
  size_t consumed = 0;
  struct Case {
    const char* what;
    std::string in;
  } cases[] = {
      {"length under 8", Int32Bytes(7) + Int32Bytes(kProtocol30)},
      {"negative length", Int32Bytes(-1) + Int32Bytes(kProtocol30)},
      {"over the limit", Int32Bytes(10001) + Int32Bytes(kProtocol30)},
      {"protocol 2", Startup(0x00020000, std::string("user\0u\0\0", 8))},
      {"protocol 4", Startup(0x00040000, std::string("user\0u\0\0", 8))},
      {"no terminator", Startup(kProtocol30, std::string("user\0u\0", 7))},
      {"name without value", Startup(kProtocol30, std::string("user\0", 5))},
      {"bytes after terminator", Startup(kProtocol30, std::string("user\0u\0\0x", 9))},
      {"repeated parameter", Startup(kProtocol30, std::string("user\0u\0user\0v\0\0", 15))},
      {"long SSLRequest", Int32Bytes(12) + Int32Bytes(80877103) + "abcd"},
      {"short cancel key", Int32Bytes(15) + Int32Bytes(80877102) + Int32Bytes(1) + "abc"},
      {"cancel without pid", Int32Bytes(10) + Int32Bytes(80877102) + "ab"},
      {"cancel key over 256", Int32Bytes(12 + 257) + Int32Bytes(80877102) + Int32Bytes(1) + std::string(257, 'k')},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto p = Decode(c.in, &consumed);
    EXPECT_FALSE(p.ok());
    EXPECT_EQ(consumed, 0u);
  }
}

TEST(PgwireStartupTest, NegotiateProtocolVersion) {
  MessageReader r(Direction::kBackend);
  r.Feed(EncodeNegotiateProtocolVersion(0, {"_pq_.x"}));
  auto m = r.Next();
  ASSERT_TRUE(m.ok() && *m);
  EXPECT_EQ((*m)->type, 'v');
  BodyReader b((*m)->body);
  EXPECT_EQ(*b.Int32(), kProtocol30);
  EXPECT_EQ(*b.Int32(), 1);
  EXPECT_EQ(*b.CString(), "_pq_.x");
  EXPECT_EQ(b.remaining(), 0u);
}

TEST(PgwireFramingTest, SplitAndCoalescedMessages) {
  std::string stream =
      EncodeMessage('Q', std::string("select 1\0", 9)) + EncodeMessage('S', "") + EncodeMessage('X', "");
  // Byte by byte.
  MessageReader one(Direction::kFrontend);
  std::vector<Message> got;
  for (char c : stream) {
    one.Feed(std::string_view(&c, 1));
    while (true) {
      auto m = one.Next();
      ASSERT_TRUE(m.ok()) << m.status().message();
      if (!*m) break;
      got.push_back(**m);
    }
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, 'Q');
  EXPECT_EQ(got[0].body, std::string("select 1\0", 9));
  EXPECT_EQ(got[1].type, 'S');
  EXPECT_EQ(got[1].body, "");
  EXPECT_EQ(got[2].type, 'X');
  EXPECT_EQ(one.buffered(), 0u);
  // All at once, plus half of a fourth message that stays buffered.
  MessageReader all(Direction::kFrontend);
  all.Feed(stream + EncodeMessage('Q', "abc").substr(0, 6));
  for (char want : {'Q', 'S', 'X'}) {
    auto m = all.Next();
    ASSERT_TRUE(m.ok() && *m);
    EXPECT_EQ((*m)->type, want);
  }
  auto more = all.Next();
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  EXPECT_EQ(all.buffered(), 6u);
}

TEST(PgwireFramingTest, DirectionDecidesValidTypes) {
  EXPECT_TRUE(ValidType(Direction::kFrontend, 'S'));  // Sync
  EXPECT_TRUE(ValidType(Direction::kBackend, 'S'));   // ParameterStatus
  EXPECT_TRUE(ValidType(Direction::kBackend, 'Z'));
  EXPECT_FALSE(ValidType(Direction::kFrontend, 'Z'));  // ReadyForQuery never comes from a client
  EXPECT_FALSE(ValidType(Direction::kBackend, 'Q'));
  MessageReader r(Direction::kFrontend);
  r.Feed(EncodeMessage('Z', "I"));
  auto m = r.Next();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("invalid frontend message type 'Z'"), std::string::npos);
}

TEST(PgwireFramingTest, BadLengthsAreRefusedAndTheStreamStaysFailed) {
  MessageReader r(Direction::kFrontend);
  r.Feed(std::string("Q\0\0\0\x03", 5));
  EXPECT_FALSE(r.Next().ok());
  r.Feed(EncodeMessage('S', ""));
  EXPECT_FALSE(r.Next().ok());  // no resynchronisation after a framing error

  Limits small;
  small.max_message = 100;
  MessageReader big(Direction::kBackend, small);
  big.Feed("D" + Int32Bytes(101));  // refused from the header alone: nothing is buffered waiting for it
  auto m = big.Next();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("over the limit"), std::string::npos);
  MessageReader neg(Direction::kBackend);
  neg.Feed("D" + Int32Bytes(-5));
  EXPECT_FALSE(neg.Next().ok());
}

TEST(PgwireFramingTest, ProtocolViolationIsFatal08P01) {
  MessageReader r(Direction::kBackend);
  r.Feed(ProtocolViolation("invalid frontend message type 'Z'"));
  auto m = r.Next();
  ASSERT_TRUE(m.ok() && *m);
  EXPECT_EQ((*m)->type, 'E');
  auto f = DecodeErrorFields((*m)->body);
  ASSERT_TRUE(f.ok());
  std::map<char, std::string> fields(f->begin(), f->end());
  EXPECT_EQ(fields['S'], "FATAL");
  EXPECT_EQ(fields['V'], "FATAL");
  EXPECT_EQ(fields['C'], "08P01");
  EXPECT_EQ(fields['M'], "invalid frontend message type 'Z'");
  // A NUL inside a field cannot shift the fields after it.
  auto cut = DecodeErrorFields(EncodeErrorResponse({"ERROR", "XX000", std::string("a\0b", 3), "d", ""}).substr(5));
  ASSERT_TRUE(cut.ok());
  ASSERT_EQ(cut->size(), 5u);
  EXPECT_EQ((*cut)[3].second, "a");
  EXPECT_EQ((*cut)[4], (std::pair<char, std::string>{'D', "d"}));
  EXPECT_FALSE(DecodeErrorFields(std::string("Mx\0", 3)).ok());  // no final NUL
  EXPECT_FALSE(DecodeErrorFields(std::string("Mx", 2)).ok());
}

TEST(PgwireBodiesTest, ReadyForQueryBackendKeyDataParameterStatus) {
  EXPECT_EQ(*DecodeReadyForQuery("T"), 'T');
  EXPECT_FALSE(DecodeReadyForQuery("X").ok());
  EXPECT_FALSE(DecodeReadyForQuery("").ok());
  EXPECT_EQ(EncodeReadyForQuery('I'), EncodeMessage('Z', "I"));
  auto k = DecodeBackendKeyData(EncodeBackendKeyData({77, "wxyz"}).substr(5));
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->pid, 77);
  EXPECT_EQ(k->key, "wxyz");
  EXPECT_FALSE(DecodeBackendKeyData(Int32Bytes(1) + "ab").ok());
  EXPECT_FALSE(DecodeBackendKeyData(Int32Bytes(1) + std::string(257, 'k')).ok());
  auto ps = DecodeParameterStatus(EncodeParameterStatus("in_hot_standby", "off").substr(5));
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->first, "in_hot_standby");
  EXPECT_EQ(ps->second, "off");
  EXPECT_FALSE(DecodeParameterStatus(std::string("a\0b", 3)).ok());
  BodyReader b("ab");
  EXPECT_FALSE(b.Int32().ok());
  EXPECT_EQ(*b.Int16(), 0x6162);
  EXPECT_FALSE(b.Byte().ok());
}

TEST(PgwireFrameTrackerTest, KnowsWhereMessagesEndWhateverTheSplit) {
  std::string stream = EncodeMessage('D', std::string(70000, 'x')) + EncodeMessage('C', std::string("SELECT 1\0", 9)) +
                       EncodeReadyForQuery('I');
  size_t first_end = 5 + 70000, second_end = first_end + 5 + 9;
  // Byte by byte: at a boundary exactly after each whole message.
  FrameTracker t;
  EXPECT_TRUE(t.AtBoundary());
  for (size_t i = 0; i < stream.size(); ++i) {
    t.Feed(std::string_view(&stream[i], 1));
    bool end = i + 1 == first_end || i + 1 == second_end || i + 1 == stream.size();
    ASSERT_EQ(t.AtBoundary(), end) << "after byte " << i;
  }
  // Coalesced, and split inside a header.
  FrameTracker all;
  all.Feed(stream);
  EXPECT_TRUE(all.AtBoundary());
  FrameTracker split;
  split.Feed(std::string_view(stream).substr(0, first_end + 3));
  EXPECT_FALSE(split.AtBoundary());
  split.Feed(std::string_view(stream).substr(first_end + 3));
  EXPECT_TRUE(split.AtBoundary());
  // A length below 4 cannot be followed: never a boundary again.
  FrameTracker bad;
  bad.Feed(std::string("Z\0\0\0\2", 5));
  EXPECT_FALSE(bad.AtBoundary());
  bad.Feed(EncodeReadyForQuery('I'));
  EXPECT_FALSE(bad.AtBoundary());
}

TEST(PgwireFrameTrackerTest, EverySplitOfSmallMessagesInTwoChunks) {
  // A select-only answer: several small messages per read, headers read in place or across two chunks.
  std::vector<std::string> msgs = {EncodeMessage('T', std::string(27, 'r')), EncodeMessage('D', std::string(11, 'd')),
                                   EncodeMessage('C', std::string("SELECT 1\0", 9)), EncodeReadyForQuery('I')};
  std::string stream;
  std::set<size_t> ends;
  for (const auto& m : msgs) {
    stream += m;
    ends.insert(stream.size());
  }
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameTracker t;
    t.Feed(std::string_view(stream).substr(0, cut));
    ASSERT_EQ(t.AtBoundary(), cut == 0 || ends.count(cut) > 0) << "cut at " << cut;
    t.Feed(std::string_view(stream).substr(cut));
    ASSERT_TRUE(t.AtBoundary()) << "cut at " << cut;
  }
  // A bad length read in place (whole header in the chunk) also breaks the tracker.
  FrameTracker bad;
  bad.Feed(EncodeReadyForQuery('I') + std::string("Z\0\0\0\3", 5) + EncodeReadyForQuery('I'));
  EXPECT_FALSE(bad.AtBoundary());
}

}  // namespace
}  // namespace pgw::pgwire
