// The HTTP client's response parser (net/http_response.h), without sockets: every response is also fed one byte
// at a time and in every two-part split, since a read may return any part of what the server sent.
#include "net/http_response.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgw::net {
namespace {

struct Parsed {
  HttpResponseParser::State state = HttpResponseParser::State::kHead;
  int status = 0;
  std::string body;
  std::string error;
  bool keep_alive = false;
  size_t used = 0;  // bytes consumed in all
  bool operator==(const Parsed& o) const {
    // Where an error is noticed (so how many bytes were used) may depend on how the input was split.
    return state == o.state && status == o.status && body == o.body && error == o.error && keep_alive == o.keep_alive &&
           (used == o.used || state == HttpResponseParser::State::kError);
  }
};

// Feeds `parts` in order (stopping at the end of the response), then the end of the connection when `eof`.
Parsed RunParts(const std::vector<std::string>& parts, bool eof = false, bool no_body = false,
                size_t max_body = 1 << 20) {
  HttpResponseParser p(no_body, 4096, max_body);
  Parsed out;
  for (const auto& part : parts) {
    out.used += p.Feed(part.data(), part.size(), [&](std::string_view b) {
      out.body.append(b);
      return true;
    });
    if (p.state() != HttpResponseParser::State::kHead && p.state() != HttpResponseParser::State::kBody) break;
  }
  if (eof) p.Finish();
  out.state = p.state();
  out.status = p.status();
  out.error = p.error();
  out.keep_alive = p.keep_alive();
  return out;
}

// Parses `in` whole, byte by byte and split at every offset; all must agree. Returns the whole parse.
Parsed Parse(const std::string& in, bool eof = false, bool no_body = false) {
  Parsed whole = RunParts({in}, eof, no_body);
  std::vector<std::string> bytes;
  for (char c : in) bytes.emplace_back(1, c);
  Parsed one = RunParts(bytes, eof, no_body);
  EXPECT_TRUE(one == whole) << "byte by byte: state " << static_cast<int>(one.state) << " body '" << one.body
                            << "' error '" << one.error << "'";
  for (size_t cut = 0; cut <= in.size(); ++cut) {
    Parsed two = RunParts({in.substr(0, cut), in.substr(cut)}, eof, no_body);
    EXPECT_TRUE(two == whole) << "split at " << cut << ": body '" << two.body << "' error '" << two.error << "'";
  }
  return whole;
}

using State = HttpResponseParser::State;

TEST(HttpResponseTest, ContentLengthBody) {
  auto r = Parse("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n");
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"a\":\"bc\"}\n");
  EXPECT_TRUE(r.keep_alive);
}

TEST(HttpResponseTest, HeadersAreLowerCasedAndJoined) {
  HttpResponseParser p;
  std::string in = "HTTP/1.1 404 Not Found\r\nX-Thing:  a \r\nx-thing: b\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(p.Feed(in.data(), in.size(), nullptr), in.size());
  ASSERT_TRUE(p.done());
  EXPECT_EQ(p.status(), 404);
  EXPECT_EQ(p.headers().at("x-thing"), "a, b");
}

TEST(HttpResponseTest, ChunkedBodyWithExtensionsAndTrailer) {
  auto r = Parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n19\r\n, abcdefghijklmnopqrstuvw\r\n0\r\nX-Trailer: t\r\n\r\n");
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.body, "hello, abcdefghijklmnopqrstuvw");
  EXPECT_TRUE(r.keep_alive);
}

// etcd's watch: a chunked stream that does not end; each chunk's bytes reach the sink as they arrive.
TEST(HttpResponseTest, EndlessChunkedStreamDeliversAsItArrives) {
  HttpResponseParser p(false, 4096, 0);
  std::string got;
  auto sink = [&](std::string_view b) {
    got.append(b);
    return true;
  };
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  p.Feed(head.data(), head.size(), sink);
  EXPECT_EQ(p.state(), State::kBody);
  std::string c1 = "7\r\n{\"a\":1}\r\n3";
  p.Feed(c1.data(), c1.size(), sink);
  EXPECT_EQ(got, "{\"a\":1}");
  std::string c2 = "\r\n{}\n\r\n";
  p.Feed(c2.data(), c2.size(), sink);
  EXPECT_EQ(got, "{\"a\":1}{}\n");
  EXPECT_EQ(p.state(), State::kBody);
  p.Finish();
  EXPECT_EQ(p.state(), State::kError);
  EXPECT_NE(p.error().find("closed the connection"), std::string::npos) << p.error();
}

TEST(HttpResponseTest, SinkCanStopTheParse) {
  HttpResponseParser p;
  std::string in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n";
  int calls = 0;
  p.Feed(in.data(), in.size(), [&](std::string_view) { return ++calls < 1; });
  EXPECT_EQ(p.state(), State::kStopped);
  EXPECT_EQ(calls, 1);
}

TEST(HttpResponseTest, BodyFramedByTheClose) {
  auto r = Parse("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", /*eof=*/true);
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.body, "all of it");
  EXPECT_FALSE(r.keep_alive);
  auto open = RunParts({"HTTP/1.1 200 OK\r\n\r\npart"});
  EXPECT_EQ(open.state, State::kBody) << "without the close, a body framed by it is not complete";
}

TEST(HttpResponseTest, KeepAliveFollowsVersionAndConnectionHeader) {
  EXPECT_FALSE(Parse("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(Parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_TRUE(Parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
}

TEST(HttpResponseTest, NoBodyFor204And304AndHead) {
  EXPECT_EQ(Parse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n").state, State::kDone);
  EXPECT_EQ(Parse("HTTP/1.1 304 Not Modified\r\n\r\n").state, State::kDone);
  auto head = Parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false, /*no_body=*/true);
  EXPECT_EQ(head.state, State::kDone);
  EXPECT_EQ(head.body, "");
}

TEST(HttpResponseTest, InterimResponsesAreSkipped) {
  auto r = Parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, "ok");
}

TEST(HttpResponseTest, BareLineFeedsAndLeadingBlankLines) {
  auto r = Parse("\r\nHTTP/1.1 200 OK\nContent-Length: 2\n\nok");
  EXPECT_EQ(r.state, State::kDone);
  EXPECT_EQ(r.body, "ok");
}

// What follows the end of a response is not part of it: Feed stops there and says how much it used.
TEST(HttpResponseTest, StopsAtTheEndOfTheResponse) {
  HttpResponseParser p;
  std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
  EXPECT_EQ(p.Feed(in.data(), in.size(), nullptr), in.size() - 17);
  EXPECT_TRUE(p.done());
}

// Each malformed response ends in kError with a message that names what was wrong; never "need more" forever.
TEST(HttpResponseTest, MalformedInputIsAClearError) {
  struct Case {
    std::string in, error;
  };
  std::vector<Case> cases = {
      {"SSH-2.0-OpenSSH_9.2\r\n\r\n", "malformed status line 'SSH-2.0-OpenSSH_9.2'"},
      {"HTTP/2 200\r\n\r\n", "malformed status line"},
      {"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"},
      {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line 'no colon here'"},
      {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed header line"},
      {"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", "folded header line"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length '-1'"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "malformed Content-Length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", "conflicting Content-Length"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", "over the limit"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported Transfer-Encoding"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size 'zz'"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "malformed chunk size"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", "malformed chunk size"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data longer than its announced"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n", "over the limit"},
      {"HTTP/1.1 200 OK\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", "response head is over 4096 bytes"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(9000, '1'), "line is over"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.in);
    EXPECT_EQ(r.state, State::kError) << c.in.substr(0, 80);
    EXPECT_NE(r.error.find(c.error), std::string::npos) << "input " << c.in.substr(0, 80) << " gave: " << r.error;
  }
}

TEST(HttpResponseTest, TruncatedResponsesFailAtTheClose) {
  EXPECT_NE(Parse("", true).error.find("without a response"), std::string::npos);
  EXPECT_NE(Parse("HTTP/1.1 200 OK\r\nContent-", true).error.find("middle of the response head"), std::string::npos);
  auto r = Parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_NE(r.error.find("after 3 bytes of the body (7 more announced)"), std::string::npos) << r.error;
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", true).state, State::kError);
}

TEST(HttpResponseTest, BodyLimitHoldsForBodiesFramedByTheClose) {
  auto r = RunParts({"HTTP/1.0 200 OK\r\n\r\n", std::string(100, 'x')}, false, false, 64);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_NE(r.error.find("over the limit of 64 bytes"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace pgw::net
