#include "common/hostport.h"

#include <charconv>

namespace pgw {

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

static Result<int> ParsePort(const std::string& p, const std::string& whole) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (p.empty() || ec != std::errc() || ptr != p.data() + p.size()) {
    return InvalidArgument("'" + whole + "' is not host:port (port '" + p + "' is not a number)");
  }
  if (port < 1 || port > 65535) return InvalidArgument("'" + whole + "': port " + p + " is outside 1..65535");
  return port;
}

Result<HostPort> ParseHostPort(const std::string& s, int default_port) {
  std::string host, port;
  bool defaulted = false;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    defaulted = default_port > 0 && close + 1 == s.size();
    if (!defaulted && (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')) {
      return InvalidArgument("'" + s + "' is not [ipv6]:port");
    }
    host = s.substr(1, close - 1);
    if (!defaulted) port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    defaulted = default_port > 0 && colon == std::string::npos;
    if (colon == std::string::npos && !defaulted) return InvalidArgument("'" + s + "' is not host:port (no port)");
    host = s.substr(0, colon);
    if (!defaulted) port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) return InvalidArgument("'" + s + "': write IPv6 hosts as [addr]:port");
  }
  if (host.empty()) return InvalidArgument("'" + s + "' is not host:port (empty host)");
  if (defaulted) return HostPort{host, default_port};
  auto p = ParsePort(port, s);
  if (!p.ok()) return p.status();
  return HostPort{host, *p};
}

Result<std::pair<std::vector<std::string>, int>> ParseListen(const std::string& s, int default_port) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos && default_port <= 0) return InvalidArgument("'" + s + "' is not host:port (no port)");
  if (colon == std::string::npos) colon = s.size();
  auto p = colon == s.size() ? Result<int>(default_port) : ParsePort(s.substr(colon + 1), s);
  if (!p.ok()) return p.status();
  std::vector<std::string> hosts;
  std::string list = s.substr(0, colon);
  size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    std::string h = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!h.empty() && h.front() == ' ') h.erase(0, 1);
    while (!h.empty() && h.back() == ' ') h.pop_back();
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (h.empty()) return InvalidArgument("'" + s + "' has an empty listen address");
    hosts.push_back(h);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return std::make_pair(hosts, *p);
}

Result<std::vector<HostPort>> ParseHostPortList(const std::vector<std::string>& items, int default_port) {
  std::vector<HostPort> out;
  for (const auto& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      auto comma = item.find(',', start);
      std::string one = item.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      while (!one.empty() && one.front() == ' ') one.erase(0, 1);
      while (!one.empty() && one.back() == ' ') one.pop_back();
      if (!one.empty()) {
        auto hp = ParseHostPort(one, default_port);
        if (!hp.ok()) return hp.status();
        out.push_back(*hp);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (out.empty()) return InvalidArgument("no host:port given");
  return out;
}

}  // namespace pgw
