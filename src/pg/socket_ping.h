// A ping of the local postmaster over its Unix-domain socket, without libpq (issue 14): the health check of an
// armed primary pings every 375 ms at ttl 3, and PQping parses a connection string, looks up the user's passwd
// entry, service and password files and makes a TCP connection each time. This sends the start-up packet itself
// and reads the first answer, as PQping does, with the same meaning (libpq's internal_ping):
//   kOk          the server answered: an authentication request, or an error other than "cannot connect now"
//                (wrong user, no pg_hba.conf entry, too many connections: the server is up);
//   kRejected    an error with SQLSTATE 57P03 (starting up, shutting down, in recovery without hot standby);
//   kNoResponse  no answer within the timeout (a SIGSTOPped postmaster accepts nothing), or the connection closed;
//   kNoAttempt   the socket cannot be reached at all (no such file, nothing listening): the caller falls back to
//                PQping over TCP, so that a misconfigured socket path changes nothing.
#pragma once

#include <string>

#include "common/clock.h"
#include "pg/libpq.h"

namespace pgw {

// `path`: the socket file (DIR/.s.PGSQL.PORT). Blocks at most `timeout`.
PgPingResult PgSocketPing(const std::string& path, const std::string& user, Duration timeout);

// The socket file of a PostgreSQL listening in `dir` on `port`.
inline std::string PgSocketPath(const std::string& dir, int port) { return dir + "/.s.PGSQL." + std::to_string(port); }

}  // namespace pgw
