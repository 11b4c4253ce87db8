// The REST server's request parser (ParseHttpRequest), without sockets.
#include <gtest/gtest.h>

#include "net/http_server.h"

namespace pgw {
namespace {

constexpr size_t kMax = 64 * 1024;

int Parse(const std::string& in, HttpServerRequest* req = nullptr) {
  HttpServerRequest r;
  return ParseHttpRequest(in, kMax, req ? req : &r);
}

TEST(RestParseTest, CompleteRequestWithBody) {
  HttpServerRequest req;
  ASSERT_EQ(Parse("POST /switchover?x=1 HTTP/1.0\r\nContent-Length: 4\r\nX-A:  b\r\n\r\nabcd", &req), 1);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/switchover");
  EXPECT_EQ(req.query, "x=1");
  EXPECT_EQ(req.headers["x-a"], "b");
  EXPECT_EQ(req.body, "abcd");
}

TEST(RestParseTest, WaitsForTheWholeHeadAndBody) {
  EXPECT_EQ(Parse("GET /health HTTP/1.0\r\n"), 0);
  EXPECT_EQ(Parse("POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nabc"), 0);
  EXPECT_EQ(Parse("GET /health HTTP/1.0\r\n\r\n"), 1);
}

TEST(RestParseTest, MalformedRequestLineIs400) { EXPECT_EQ(Parse("GARBAGE\r\n\r\n"), -400); }

TEST(RestParseTest, OversizedIs413) {
  EXPECT_EQ(Parse(std::string(kMax + 1, 'a')), -413);
  EXPECT_EQ(Parse("POST / HTTP/1.0\r\nContent-Length: 70000\r\n\r\n"), -413);
}

// Found by fuzz_rest_request: Content-Length went through std::stoul, which accepts "-1" (wrapping to 2^64-1, so
// end + 4 + length overflowed and the request was taken as complete), a leading "+" or blanks, and trailing
// garbage ("12abc" read as 12). Anything but plain digits is a 400, as in Python's http.server behind Patroni.
TEST(RestParseTest, ContentLengthMustBeDigits) {
  for (const char* v : {"-1", "12abc", "+3", "0x10", "", " ", "1 2", "4-"}) {
    SCOPED_TRACE(v);
    EXPECT_EQ(Parse(std::string("POST / HTTP/1.0\r\nContent-Length: ") + v + "\r\n\r\nabcd"), -400);
  }
  HttpServerRequest req;
  EXPECT_EQ(Parse("POST / HTTP/1.0\r\nContent-Length: 0004 \r\n\r\nabcd", &req), 1);  // trailing blanks are fine
  EXPECT_EQ(req.body, "abcd");
}

// A length that would overflow size_t once added to the head's size is "too large", never a wrap to "complete".
TEST(RestParseTest, HugeContentLengthIs413) {
  EXPECT_EQ(Parse("POST / HTTP/1.0\r\nContent-Length: 18446744073709551615\r\n\r\nabcd"), -413);
  EXPECT_EQ(Parse("POST / HTTP/1.0\r\nContent-Length: 99999999999999999999999\r\n\r\nabcd"), -413);
}

}  // namespace
}  // namespace pgw
