#include "pg/libpq.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>

namespace pgw {

std::string ConnInfo(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += ' ';
    out += k + "='";
    for (char c : v) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    out += '\'';
  }
  return out;
}

PgConnection::~PgConnection() { Close(); }

void PgConnection::Close() {
  if (conn_) PQfinish(static_cast<PGconn*>(conn_));
  conn_ = nullptr;
}

bool PgConnection::connected() const { return conn_ && PQstatus(static_cast<PGconn*>(conn_)) == CONNECTION_OK; }

Status PgConnection::Connect(const std::string& conninfo, Duration timeout) {
  Close();
  long secs = std::max<long>(1, (timeout.count() + 999) / 1000);
  std::string full = conninfo + " connect_timeout=" + std::to_string(secs) +
                     " options='-c statement_timeout=" + std::to_string(timeout.count()) + "'" +
                     " application_name=pgwarden";
  PGconn* c = PQconnectdb(full.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string err = PQerrorMessage(c);
    PQfinish(c);
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return Unavailable("cannot connect to PostgreSQL: " + err);
  }
  conn_ = c;
  query_timeout_ = timeout + Duration(1000);
  return Status::Ok();
}

Result<std::vector<Row>> PgConnection::Query(const std::string& sql, const std::vector<std::string>& params) {
  if (!connected()) return Unavailable("not connected to PostgreSQL");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PGconn* c = static_cast<PGconn*>(conn_);
  if (!PQsendQueryParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                         0)) {
    std::string err = PQerrorMessage(c);
    Close();
    return Unavailable("PostgreSQL connection lost: " + err);
  }
  auto results = AwaitResults();
  if (!results.ok()) return results.status();
  if (results->empty()) return Unavailable("PostgreSQL returned no result");
  return std::move(results->back());  // the last result of the statement
}

Result<std::vector<std::vector<Row>>> PgConnection::QueryBatch(const std::vector<std::string>& sqls) {
  if (!connected()) return Unavailable("not connected to PostgreSQL");
  std::string text;
  for (const auto& sql : sqls) text += sql + ";\n";
  PGconn* c = static_cast<PGconn*>(conn_);
  if (!PQsendQuery(c, text.c_str())) {
    std::string err = PQerrorMessage(c);
    Close();
    return Unavailable("PostgreSQL connection lost: " + err);
  }
  auto results = AwaitResults();
  if (!results.ok()) return results.status();
  if (results->size() != sqls.size()) {
    return Status(Code::kInvalidArgument, "a batch of " + std::to_string(sqls.size()) + " statements returned " +
                                              std::to_string(results->size()) + " results");
  }
  return results;
}

Status PgConnection::SendQuery(const std::string& sql) {
  if (!connected()) return Unavailable("not connected to PostgreSQL");
  PGconn* c = static_cast<PGconn*>(conn_);
  if (!PQsendQuery(c, sql.c_str())) {
    std::string err = PQerrorMessage(c);
    Close();
    return Unavailable("PostgreSQL connection lost: " + err);
  }
  return Status::Ok();
}

Result<std::vector<Row>> PgConnection::AwaitQuery() {
  if (!connected()) return Unavailable("not connected to PostgreSQL");
  auto results = AwaitResults();
  if (!results.ok()) return results.status();
  if (results->empty()) return Unavailable("PostgreSQL returned no result");
  return std::move(results->back());
}

Result<std::vector<std::vector<Row>>> PgConnection::AwaitResults() {
  PGconn* c = static_cast<PGconn*>(conn_);
  auto deadline = std::chrono::steady_clock::now() + query_timeout_;
  // Waits until a result can be read without blocking; false on timeout or a broken connection.
  auto ready = [&] {
    while (PQisBusy(c)) {
      auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      pollfd p{PQsocket(c), POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno != EINTR) return false;
      if (r > 0 && !PQconsumeInput(c)) return false;
    }
    return true;
  };
  std::vector<std::vector<Row>> out;
  std::string error;  // of the first failed statement; the results that follow are drained
  while (true) {
    if (!ready()) {
      Close();
      return Unavailable("PostgreSQL did not answer within " + std::to_string(query_timeout_.count()) +
                         " ms (connection closed)");
    }
    PGresult* res = PQgetResult(c);
    if (!res) break;
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      if (error.empty()) {
        error = PQresultErrorMessage(res);
        while (!error.empty() && error.back() == '\n') error.pop_back();
        if (error.empty()) error = "statement failed";
      }
      PQclear(res);
      continue;
    }
    std::vector<Row> rows;
    int n = PQntuples(res), f = PQnfields(res);
    for (int i = 0; i < n; ++i) {
      Row r;
      for (int j = 0; j < f; ++j) {
        if (PQgetisnull(res, i, j))
          r.push_back(std::nullopt);
        else
          r.push_back(std::string(PQgetvalue(res, i, j)));
      }
      rows.push_back(std::move(r));
    }
    PQclear(res);
    out.push_back(std::move(rows));
  }
  if (!error.empty()) {
    if (PQstatus(c) != CONNECTION_OK) {
      Close();
      return Unavailable("PostgreSQL connection lost: " + error);
    }
    return Status(Code::kInvalidArgument, error);
  }
  return out;
}

std::string PgConnection::QuoteLiteral(const std::string& s) {
  char* q = PQescapeLiteral(static_cast<PGconn*>(conn_), s.c_str(), s.size());
  std::string out = q ? q : "''";
  PQfreemem(q);
  return out;
}

std::string PgConnection::QuoteIdent(const std::string& s) {
  char* q = PQescapeIdentifier(static_cast<PGconn*>(conn_), s.c_str(), s.size());
  std::string out = q ? q : "\"\"";
  PQfreemem(q);
  return out;
}

PgPingResult PgPing(const std::string& conninfo, Duration timeout) {
  int64_t secs = std::max<int64_t>(1, (timeout.count() + 999) / 1000);
  switch (PQping((conninfo + " connect_timeout=" + std::to_string(secs)).c_str())) {
    case PQPING_OK: return PgPingResult::kOk;
    case PQPING_REJECT: return PgPingResult::kRejected;
    case PQPING_NO_RESPONSE: return PgPingResult::kNoResponse;
    default: return PgPingResult::kNoAttempt;
  }
}

bool PgAcceptsConnections(const std::string& conninfo) {
  return PQping((conninfo + " connect_timeout=1").c_str()) == PQPING_OK;
}

}  // namespace pgw
