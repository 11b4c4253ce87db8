#include "torture/writers.h"

#include <chrono>
#include <cstdlib>

#include "pg/libpq.h"

namespace pgw::torture {

Micros NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status CreateTable(const std::string& dsn, const std::string& table) {
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(dsn, Duration(5000)));
  auto r = c.Query("CREATE TABLE IF NOT EXISTS " + c.QuoteIdent(table) +
                   " (id bigint NOT NULL, writer int NOT NULL, sysid text NOT NULL, timeline int NOT NULL,"
                   " server text NOT NULL, acked_at timestamptz NOT NULL DEFAULT clock_timestamp())");
  if (!r.ok()) return r.status().Context("creating table " + table);
  r = c.Query("CREATE INDEX IF NOT EXISTS " + c.QuoteIdent(table + "_id") + " ON " + c.QuoteIdent(table) + " (id)");
  return r.ok() ? Status::Ok() : r.status().Context("indexing table " + table);
}

Result<int64_t> NextFreeId(const std::string& dsn, const std::string& table) {
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(dsn, Duration(5000)));
  auto r = c.Query("SELECT coalesce(max(id), 0) + 1 FROM " + c.QuoteIdent(table));
  if (!r.ok()) return r.status();
  if (r->empty() || !r->front()[0]) return Internal("no max(id) from " + table);
  return std::atoll(r->front()[0]->c_str());
}

Result<std::vector<int64_t>> TableIds(const std::string& dsn, const std::string& table, int64_t from, int64_t to) {
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(dsn, Duration(30000)));
  auto r = c.Query("SELECT id FROM " + c.QuoteIdent(table) + " WHERE id BETWEEN $1 AND $2",
                   {std::to_string(from), std::to_string(to)});
  if (!r.ok()) return r.status();
  std::vector<int64_t> ids;
  ids.reserve(r->size());
  for (const auto& row : *r) ids.push_back(std::atoll(row[0].value_or("0").c_str()));
  return ids;
}

Writers::Writers(WriterOptions opts, int64_t first_id) : opts_(std::move(opts)), next_id_(first_id) {}

Writers::~Writers() { Stop(); }

void Writers::Start() {
  stop_ = false;
  for (int w = 0; w < opts_.writers; ++w) threads_.emplace_back([this, w] { Loop(w); });
}

void Writers::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

std::vector<Ack> Writers::Acks() const {
  std::lock_guard<std::mutex> l(mu_);
  return acks_;
}

std::vector<std::string> Writers::RecentErrors() const {
  std::lock_guard<std::mutex> l(mu_);
  return errors_;
}

void Writers::NoteError(const std::string& message) {
  ++failures_;
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& e : errors_) {
    if (e == message) return;
  }
  errors_.push_back(message);
  if (errors_.size() > 5) errors_.erase(errors_.begin());
}

void Writers::Loop(int writer) {
  PgConnection c;
  std::string sysid;
  Micros connected_at = 0;
  std::string sql;  // quoting the table's name needs a connection
  auto insert_sql = [&] {
    return "INSERT INTO " + c.QuoteIdent(opts_.table) +
           " (id, writer, sysid, timeline, server) VALUES ($1, $2, $3,"
           " ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int,"
           " coalesce(host(inet_server_addr()), 'local') || ':' || inet_server_port()) RETURNING timeline, server";
  };
  // Writer i reconnects every reconnect_every * (1 + i/N): writers move to another server at different moments, so
  // that two servers accepting writes at once are both seen (a pool recycling connections does the same).
  const Micros reconnect_us = opts_.reconnect_every.count() * 1000 * (opts_.writers + writer) / opts_.writers;
  while (!stop_) {
    Micros started = NowMicros();
    if (c.connected() && reconnect_us > 0 && started - connected_at >= reconnect_us) c.Close();
    if (!c.connected()) {
      Status s = c.Connect(opts_.dsn, opts_.timeout);
      if (s.ok()) {
        // The system identifier is the server's for its whole life: asked once per connection.
        auto r = c.Query("SELECT system_identifier::text FROM pg_control_system()");
        if (r.ok() && !r->empty() && r->front()[0]) {
          sysid = *r->front()[0];
          connected_at = started;
          sql = insert_sql();
        } else {
          NoteError(r.ok() ? "no system identifier" : r.status().message());
          c.Close();
        }
      } else {
        NoteError(s.message());
      }
    }
    if (c.connected()) {
      int64_t id = next_id_++;
      Micros sent = NowMicros();
      auto r = c.Query(sql, {std::to_string(id), std::to_string(writer), sysid});
      if (r.ok() && !r->empty() && r->front().size() == 2) {
        Micros acked = NowMicros();
        Ack a{id, writer, ServerId{sysid, std::atoi(r->front()[0].value_or("0").c_str()), r->front()[1].value_or("")},
              sent, acked};
        std::lock_guard<std::mutex> l(mu_);
        acks_.push_back(std::move(a));
      } else {
        // Read-only server, lost connection, or an unknown outcome. A session on a standby is kept: it can write
        // as soon as that standby is promoted.
        NoteError(r.ok() ? "an INSERT answered no row" : r.status().message());
      }
    }
    Micros spent = NowMicros() - started;
    Micros wait = opts_.interval.count() * 1000 - spent;
    if (wait > 0 && !stop_) std::this_thread::sleep_for(std::chrono::microseconds(wait));
  }
}

}  // namespace pgw::torture
