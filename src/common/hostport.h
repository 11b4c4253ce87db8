// host:port parsing with messages that name what is wrong.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace pgw {

struct HostPort {
  std::string host;
  int port = 0;
  // "host:port", with brackets around IPv6 literals.
  std::string ToString() const;
  bool operator==(const HostPort&) const = default;
};

// "127.0.0.1:5432", "db1.example:5432", "[::1]:5432". Port must be 1..65535, host non-empty. `default_port` > 0:
// "host" and "[::1]" without a port take it (Patroni's split_host_port with a default).
Result<HostPort> ParseHostPort(const std::string& s, int default_port = 0);
// PostgreSQL listen syntax: "addr1,addr2:port" (one port for all addresses). Returns the addresses and the port.
// `default_port` > 0: "addr1,addr2" without a port takes it (Patroni's split_host_port with a default).
Result<std::pair<std::vector<std::string>, int>> ParseListen(const std::string& s, int default_port = 0);
// "h1:2379,h2:2379" or a list of host:port strings; entries without a port take `default_port` when it is > 0.
Result<std::vector<HostPort>> ParseHostPortList(const std::vector<std::string>& items, int default_port = 0);

}  // namespace pgw
