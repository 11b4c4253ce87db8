#include "common/slot_name.h"

#include <cstdint>
#include <cstdio>

namespace pgw {

std::string SlotNameFromMemberName(const std::string& member) {
  // Decode UTF-8 into code points; Python's re works on code points, and so does Patroni's replacement.
  std::string out;
  size_t i = 0;
  while (i < member.size()) {
    unsigned char c = static_cast<unsigned char>(member[i]);
    uint32_t cp = c;
    size_t len = 1;
    if (c >= 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else if (c >= 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if (c >= 0xC0) {
      cp = c & 0x1F;
      len = 2;
    }
    if (i + len > member.size()) len = 1, cp = c;
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(member[i + k]) & 0x3F);
    i += len;
    if (cp >= 'A' && cp <= 'Z') cp = cp - 'A' + 'a';
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || cp == '_') {
      out += static_cast<char>(cp);
    } else if (cp == '-' || cp == '.') {
      out += '_';
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "u%04u", static_cast<unsigned>(cp));
      out += buf;
    }
  }
  if (out.size() > 63) out.resize(63);
  return out;
}

}  // namespace pgw
