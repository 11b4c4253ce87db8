// A thin libpq wrapper: connect with a timeout, run a query with a statement timeout, get rows as strings.
// Not thread-safe: one PgConnection per thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw {

using Row = std::vector<std::optional<std::string>>;

class PgConnection {
 public:
  PgConnection() = default;
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // `conninfo` is a libpq keyword/value string; connect_timeout and statement_timeout are added.
  Status Connect(const std::string& conninfo, Duration timeout);
  bool connected() const;
  void Close();
  // Runs one statement with text parameters ($1, $2...). kUnavailable on connection loss (and closes), and when
  // no answer came within the Connect timeout + 1 s (client side: a hung backend cannot stall the caller; the
  // connection is closed without a cancel request, which a frozen postmaster would never answer).
  Result<std::vector<Row>> Query(const std::string& sql, const std::vector<std::string>& params = {});
  // Runs `sqls` (statements without parameters or semicolons) in one round trip: the simple query protocol, so
  // they share one implicit transaction and a failed statement fails the batch (kInvalidArgument; the caller may
  // retry them one by one). One row set per statement, in order. Timeouts and connection loss as Query.
  Result<std::vector<std::vector<Row>>> QueryBatch(const std::vector<std::string>& sqls);
  // Query split in two, to overlap its round trip with other work: SendQuery sends `sql` (simple protocol, no
  // parameters) without waiting; AwaitQuery then returns its rows (its deadline counts from the call). Errors,
  // timeouts and connection loss as Query. Exactly one AwaitQuery (or Close) must follow a successful SendQuery.
  Status SendQuery(const std::string& sql);
  Result<std::vector<Row>> AwaitQuery();
  // Quotes for use in SQL text where parameters cannot be used (CREATE ROLE ... PASSWORD).
  std::string QuoteLiteral(const std::string& s);
  std::string QuoteIdent(const std::string& s);

 private:
  // Waits for every result of what was sent; the first failed statement's error after draining the rest.
  Result<std::vector<std::vector<Row>>> AwaitResults();

  void* conn_ = nullptr;  // PGconn*
  Duration query_timeout_{0};
};

// Builds "key='value' key2='value2'" with libpq quoting.
std::string ConnInfo(const std::vector<std::pair<std::string, std::string>>& kv);

// PQping: true when the server accepts connections.
bool PgAcceptsConnections(const std::string& conninfo);

// PQping with a connect timeout (whole seconds, at least 1): kRejected means the postmaster answered but refuses
// connections for now (starting up, in crash recovery, shutting down: SQLSTATE 57P03); kNoResponse that nothing
// answered in time.
enum class PgPingResult { kOk, kRejected, kNoResponse, kNoAttempt };
PgPingResult PgPing(const std::string& conninfo, Duration timeout);

}  // namespace pgw
