#include "testkit/probe.h"

#include <algorithm>
#include <set>

#include "pg/libpq.h"

namespace pgw {

namespace {
MonoTime Now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }
}  // namespace

WriteProbe::WriteProbe(std::string conninfo, std::string table, int64_t first_id, Duration interval)
    : conninfo_(std::move(conninfo)), table_(std::move(table)), next_id_(first_id), interval_(interval) {}

WriteProbe::~WriteProbe() { Stop(); }

Status WriteProbe::CreateTable(const std::string& conninfo, const std::string& table) {
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(conninfo, Duration(5000)));
  auto r = c.Query("CREATE TABLE IF NOT EXISTS " + c.QuoteIdent(table) + " (id bigint PRIMARY KEY, port int)");
  return r.ok() ? Status::Ok() : r.status();
}

void WriteProbe::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void WriteProbe::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<ProbeAck> WriteProbe::Acks() const {
  std::lock_guard<std::mutex> l(mu_);
  return acks_;
}

void WriteProbe::Loop() {
  PgConnection c;
  std::string sql;
  while (!stop_) {
    MonoTime started = Now();
    ++attempts_;
    bool ok = false;
    if (!c.connected()) {
      if (c.Connect(conninfo_, Duration(1000)).ok())
        sql = "INSERT INTO " + c.QuoteIdent(table_) + " VALUES ($1, inet_server_port()) RETURNING port";
    }
    if (c.connected()) {
      int64_t id = next_id_;
      auto r = c.Query(sql, {std::to_string(id)});
      if (r.ok() && !r->empty()) {
        ok = true;
        ++next_id_;
        ProbeAck a{id, Now(), std::atoi(r->front()[0].value_or("0").c_str())};
        std::lock_guard<std::mutex> l(mu_);
        acks_.push_back(a);
      } else {
        // Read-only server, lost connection, or an error whose outcome is unknown: the id is never reused, so a
        // row that was committed without our seeing the acknowledgement cannot be mistaken for a lost one.
        // A session on a standby is kept: it can write as soon as that standby is promoted.
        ++next_id_;
      }
    }
    if (!ok) ++failures_;
    auto spent = Now() - started;
    if (spent < interval_) std::this_thread::sleep_for(interval_ - spent);
  }
}

Duration WriteProbe::LongestGap(const std::vector<ProbeAck>& acks, MonoTime from, MonoTime to) {
  MonoTime prev = from;
  Duration longest(0);
  for (const auto& a : acks) {
    if (a.at < from || a.at > to) continue;
    longest = std::max(longest, std::chrono::duration_cast<Duration>(a.at - prev));
    prev = a.at;
  }
  return std::max(longest, std::chrono::duration_cast<Duration>(to - prev));
}

Result<std::vector<int64_t>> WriteProbe::Missing(const std::string& conninfo, const std::string& table,
                                                 const std::vector<ProbeAck>& acks) {
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(conninfo, Duration(10000)));
  auto r = c.Query("SELECT id FROM " + c.QuoteIdent(table));
  if (!r.ok()) return r.status();
  std::set<int64_t> have;
  for (const auto& row : *r) have.insert(std::atoll(row[0].value_or("0").c_str()));
  std::vector<int64_t> missing;
  for (const auto& a : acks) {
    if (!have.count(a.id)) missing.push_back(a.id);
  }
  return missing;
}

}  // namespace pgw
