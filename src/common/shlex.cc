#include "common/shlex.h"

namespace pgw {

Result<std::vector<std::string>> SplitCommandLine(const std::string& line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  enum { kNone, kSingle, kDouble } quote = kNone;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote == kSingle) {
      if (c == '\'')
        quote = kNone;
      else
        cur += c;
      continue;
    }
    if (quote == kDouble) {
      if (c == '"') {
        quote = kNone;
      } else if (c == '\\') {
        if (i + 1 >= line.size()) break;  // reported below as an unterminated quote
        // shlex: inside double quotes a backslash escapes only the quote and itself; otherwise it stays.
        char next = line[++i];
        if (next != '"' && next != '\\') cur += c;
        cur += next;
      } else {
        cur += c;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      quote = kSingle;
    } else if (c == '"') {
      quote = kDouble;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) return InvalidArgument("command line ends with a backslash: " + line);
      cur += line[++i];
    } else {
      cur += c;
    }
  }
  if (quote != kNone) return InvalidArgument("unterminated quote in command line: " + line);
  if (in_word) words.push_back(cur);
  if (words.empty()) return InvalidArgument("empty command line");
  return words;
}

}  // namespace pgw
