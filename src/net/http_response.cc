#include "net/http_response.h"

#include <algorithm>
#include <cstring>

namespace pgw::net {

namespace {

constexpr size_t kMaxLine = 8192;  // a chunk-size or trailer line

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// For messages: the start of an offending line, control bytes shown as '?'.
std::string Quote(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 60)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > 60) out += "...";
  return "'" + out + "'";
}

// Splits off the next line (ending in LF, with or without CR); false when no whole line is in `s`.
bool NextLine(std::string_view* s, std::string_view* line) {
  size_t lf = s->find('\n');
  if (lf == std::string_view::npos) return false;
  *line = s->substr(0, lf);
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  s->remove_prefix(lf + 1);
  return true;
}

// Does the comma-separated list `value` hold `token` (case-insensitive)?
bool ListHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (LowerCase(item) == token) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

void HttpResponseParser::Fail(std::string why) {
  if (state_ == State::kError) return;
  state_ = State::kError;
  error_ = std::move(why);
}

size_t HttpResponseParser::Feed(const char* data, size_t n, const BodySink& sink) {
  size_t used = 0;
  while (used < n && (state_ == State::kHead || state_ == State::kBody)) {
    if (state_ == State::kHead) {
      used += FeedHead(data + used, n - used);
    } else {
      used += FeedBody(data + used, n - used, sink);
    }
  }
  return used;
}

void HttpResponseParser::Finish() {
  if (state_ == State::kBody && body_ == Body::kUntilClose) {
    state_ = State::kDone;
    return;
  }
  if (state_ == State::kHead) {
    Fail(head_.empty() && head_total_ == 0 ? "the server closed the connection without a response"
                                           : "the server closed the connection in the middle of the response head");
  } else if (state_ == State::kBody) {
    Fail("the server closed the connection after " + std::to_string(body_bytes_) + " bytes of the body" +
         (body_ == Body::kLength ? " (" + std::to_string(remaining_) + " more announced)" : " (chunked, unfinished)"));
  }
}

size_t HttpResponseParser::FeedHead(const char* data, size_t n) {
  // Line ends before a status line are skipped (RFC 9112 2.2: a server may send one after a body).
  size_t skipped = 0;
  if (head_.empty()) {
    while (skipped < n && (data[skipped] == '\r' || data[skipped] == '\n')) ++skipped;
    if (skipped > 0) return skipped;
  }
  // Take bytes up to the end of the head at most, so that body bytes never sit in head_.
  size_t old = head_.size();
  size_t take = std::min(n, max_head_ + 1 - std::min(max_head_ + 1, head_total_ + old));
  head_.append(data, take);
  size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;
  size_t end = std::string::npos;
  for (size_t i = from; i < head_.size(); ++i) {
    if (head_[i] != '\n') continue;
    if (i >= 1 && head_[i - 1] == '\n') {
      end = i + 1;
      break;
    }
    if (i >= 2 && head_[i - 1] == '\r' && head_[i - 2] == '\n') {
      end = i + 1;
      break;
    }
  }
  scanned_ = head_.size();
  if (end == std::string::npos) {
    if (head_total_ + head_.size() > max_head_) {
      Fail("the response head is over " + std::to_string(max_head_) + " bytes");
    }
    return take;
  }
  size_t consumed = end - old;  // of this call's bytes
  head_.resize(end);
  if (!ParseHead()) return consumed;
  if (status_ >= 100 && status_ < 200) {  // interim response (100 Continue, 103 Early Hints): the real one follows
    head_total_ += head_.size();
    head_.clear();
    scanned_ = 0;
    headers_.clear();
    status_ = 0;
    return consumed;
  }
  head_.clear();
  scanned_ = 0;
  if (Frame()) state_ = body_ == Body::kNone ? State::kDone : State::kBody;
  return consumed;
}

bool HttpResponseParser::ParseHead() {
  std::string_view rest(head_);
  std::string_view line;
  if (!NextLine(&rest, &line) || !ParseStatusLine(line)) return false;
  while (NextLine(&rest, &line) && !line.empty()) {
    if (!ParseHeaderLine(line)) return false;
  }
  return true;
}

bool HttpResponseParser::ParseStatusLine(std::string_view line) {
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' || line[8] != ' ' ||
      !std::all_of(line.begin() + 9, line.begin() + 12, [](char c) { return c >= '0' && c <= '9'; }) ||
      (line.size() > 12 && line[12] != ' ')) {
    Fail("malformed status line " + Quote(line) + " (not an HTTP/1.x response)");
    return false;
  }
  minor_ = line[7] - '0';
  status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status_ < 100) {
    Fail("status code " + std::to_string(status_) + " out of range");
    return false;
  }
  return true;
}

bool HttpResponseParser::ParseHeaderLine(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    Fail("folded header line " + Quote(line) + " (obsolete line folding is not accepted)");
    return false;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), IsTokenChar)) {
    Fail("malformed header line " + Quote(line));
    return false;
  }
  std::string name = LowerCase(line.substr(0, colon));
  std::string_view value = Trim(line.substr(colon + 1));
  auto [it, fresh] = headers_.emplace(name, std::string(value));
  if (!fresh) {
    if (name == "content-length" && it->second != value) {
      Fail("conflicting Content-Length headers (" + Quote(it->second) + " and " + Quote(value) + ")");
      return false;
    }
    if (name != "content-length") it->second.append(", ").append(value);
  }
  return true;
}

bool HttpResponseParser::Frame() {
  auto header = [&](const char* name) -> const std::string* {
    auto it = headers_.find(name);
    return it == headers_.end() ? nullptr : &it->second;
  };
  const std::string* connection = header("connection");
  keep_alive_ = minor_ >= 1 ? !(connection && ListHas(*connection, "close"))
                            : (connection != nullptr && ListHas(*connection, "keep-alive"));
  if (no_body_ || status_ == 204 || status_ == 304) {
    body_ = Body::kNone;
    return true;
  }
  if (const std::string* te = header("transfer-encoding")) {
    if (LowerCase(Trim(*te)) != "chunked") {
      Fail("unsupported Transfer-Encoding " + Quote(*te) + " (only chunked is accepted)");
      return false;
    }
    body_ = Body::kChunked;  // a Content-Length alongside is ignored (RFC 9112 6.3)
    chunk_ = Chunk::kSize;
    return true;
  }
  if (const std::string* cl = header("content-length")) {
    if (cl->empty() || cl->size() > 18 ||
        !std::all_of(cl->begin(), cl->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      Fail("malformed Content-Length " + Quote(*cl));
      return false;
    }
    remaining_ = std::stoull(*cl);
    if (max_body_ != 0 && remaining_ > max_body_) {
      Fail("the response body of " + *cl + " bytes is over the limit of " + std::to_string(max_body_));
      return false;
    }
    body_ = remaining_ == 0 ? Body::kNone : Body::kLength;
    return true;
  }
  body_ = Body::kUntilClose;
  keep_alive_ = false;
  return true;
}

bool HttpResponseParser::Deliver(const char* data, size_t n, const BodySink& sink) {
  if (n == 0) return true;
  body_bytes_ += n;
  if (max_body_ != 0 && body_bytes_ > max_body_) {
    Fail("the response body is over the limit of " + std::to_string(max_body_) + " bytes");
    return false;
  }
  if (sink && !sink(std::string_view(data, n))) {
    state_ = State::kStopped;
    return false;
  }
  return true;
}

size_t HttpResponseParser::FeedBody(const char* data, size_t n, const BodySink& sink) {
  switch (body_) {
    case Body::kLength: {
      size_t take = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
      remaining_ -= take;
      if (Deliver(data, take, sink) && remaining_ == 0) state_ = State::kDone;
      return take;
    }
    case Body::kUntilClose: Deliver(data, n, sink); return n;
    case Body::kChunked: return FeedChunked(data, n, sink);
    case Body::kNone: break;
  }
  state_ = State::kDone;
  return 0;
}

size_t HttpResponseParser::FeedChunked(const char* data, size_t n, const BodySink& sink) {
  size_t used = 0;
  while (used < n && state_ == State::kBody) {
    if (chunk_ == Chunk::kData) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(n - used, remaining_));
      remaining_ -= take;
      bool ok = Deliver(data + used, take, sink);
      used += take;
      if (!ok) break;
      if (remaining_ == 0) chunk_ = Chunk::kDataEnd;
      continue;
    }
    // Line-oriented parts: the chunk-size line, the CRLF after a chunk's data, trailer lines.
    const char* lf = static_cast<const char*>(std::memchr(data + used, '\n', n - used));
    size_t upto = lf ? static_cast<size_t>(lf - data) + 1 : n;
    head_.append(data + used, upto - used);
    used = upto;
    if (!lf) {
      if (head_.size() > kMaxLine) Fail("a chunk-size or trailer line is over " + std::to_string(kMaxLine) + " bytes");
      break;
    }
    std::string_view line(head_);
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool ok = ChunkLine(line);
    head_.clear();
    if (!ok) break;
  }
  return used;
}

bool HttpResponseParser::ChunkLine(std::string_view line) {
  if (chunk_ == Chunk::kDataEnd) {
    if (!line.empty()) {
      Fail("chunk data longer than its announced size (found " + Quote(line) + " where the chunk should end)");
      return false;
    }
    chunk_ = Chunk::kSize;
    return true;
  }
  if (chunk_ == Chunk::kTrailer) {
    if (line.empty()) {
      state_ = State::kDone;
      return true;
    }
    trailer_bytes_ += line.size();
    if (trailer_bytes_ > max_head_) {
      Fail("the trailer is over " + std::to_string(max_head_) + " bytes");
      return false;
    }
    return true;  // trailer fields are not used
  }
  // chunk-size [; extensions]
  std::string_view hex = Trim(line.substr(0, line.find(';')));
  uint64_t size = 0;
  if (hex.empty() || hex.size() > 15) {
    Fail("malformed chunk size " + Quote(line));
    return false;
  }
  for (char c : hex) {
    int d = c >= '0' && c <= '9' ? c - '0' : Lower(c) >= 'a' && Lower(c) <= 'f' ? Lower(c) - 'a' + 10 : -1;
    if (d < 0) {
      Fail("malformed chunk size " + Quote(line));
      return false;
    }
    size = size * 16 + static_cast<uint64_t>(d);
  }
  if (size == 0) {
    chunk_ = Chunk::kTrailer;
    return true;
  }
  if (max_body_ != 0 && body_bytes_ + size > max_body_) {
    Fail("a chunk of " + std::to_string(size) + " bytes takes the body over the limit of " + std::to_string(max_body_));
    return false;
  }
  remaining_ = size;
  chunk_ = Chunk::kData;
  return true;
}

}  // namespace pgw::net
