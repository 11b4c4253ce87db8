#include "pg/libpq.h"

#include <libpq-fe.h>

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

bool PgConnection::connected() const {
  return conn_ && PQstatus(static_cast<PGconn*>(conn_)) == CONNECTION_OK;
}

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
  return Status::Ok();
}

Result<std::vector<Row>> PgConnection::Query(const std::string& sql, const std::vector<std::string>& params) {
  if (!connected()) return Unavailable("not connected to PostgreSQL");
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGconn* c = static_cast<PGconn*>(conn_);
  PGresult* res = PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                               nullptr, 0);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    std::string err = PQresultErrorMessage(res);
    PQclear(res);
    while (!err.empty() && err.back() == '\n') err.pop_back();
    if (PQstatus(c) != CONNECTION_OK) {
      Close();
      return Unavailable("PostgreSQL connection lost: " + err);
    }
    return Status(Code::kInvalidArgument, err);
  }
  std::vector<Row> rows;
  int n = PQntuples(res), f = PQnfields(res);
  for (int i = 0; i < n; ++i) {
    Row r;
    for (int j = 0; j < f; ++j) {
      if (PQgetisnull(res, i, j)) r.push_back(std::nullopt);
      else r.push_back(std::string(PQgetvalue(res, i, j)));
    }
    rows.push_back(std::move(r));
  }
  PQclear(res);
  return rows;
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

bool PgAcceptsConnections(const std::string& conninfo) {
  return PQping((conninfo + " connect_timeout=1").c_str()) == PQPING_OK;
}

}  // namespace pgw
