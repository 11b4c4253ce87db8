// PgController's replication slot operations (ha/slots.h decides which): observe, drop, create, advance, and the
// copy of logical slots from the leader onto a replica.
#include <cstdio>
#include <filesystem>

#include "common/fs.h"
#include "pg/controller.h"

namespace pgw {
namespace {

int64_t ToInt64(const std::optional<std::string>& s) { return s ? std::atoll(s->c_str()) : 0; }

// bytea in PostgreSQL's hex output format ("\x0a1b...") to bytes.
std::optional<std::string> DecodeHexBytea(const std::string& s) {
  if (s.size() < 2 || s[0] != '\\' || s[1] != 'x' || s.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 2; i < s.size(); i += 2) {
    int hi = nibble(s[i]), lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

const char* PgController::SlotsQuery() {
  return "SELECT slot_name, slot_type, COALESCE(database, ''), COALESCE(plugin, ''), active, "
         "COALESCE(restart_lsn - '0/0', 0)::bigint, COALESCE(confirmed_flush_lsn - '0/0', 0)::bigint "
         "FROM pg_replication_slots WHERE NOT temporary ORDER BY slot_name";
}

std::vector<SlotState> PgController::ObserveSlots() {
  auto rows = Query(SlotsQuery());
  if (!rows.ok()) return {};
  return SlotsFromRows(*rows);
}

std::vector<SlotState> PgController::SlotsFromRows(const std::vector<Row>& rows) {
  std::vector<SlotState> out;
  for (const auto& r : rows) {
    SlotState s;
    s.name = r[0].value_or("");
    s.type = r[1].value_or("");
    s.database = r[2].value_or("");
    s.plugin = r[3].value_or("");
    s.active = r[4].value_or("f") == "t";
    s.restart_lsn = ToInt64(r[5]);
    s.confirmed_flush_lsn = ToInt64(r[6]);
    out.push_back(s);
  }
  return out;
}

Result<std::vector<Row>> PgController::QueryIn(const std::string& database, const std::string& sql,
                                               const std::vector<std::string>& params) {
  if (database.empty() || database == "postgres") return Query(sql, params);
  PgConnection c;
  // A repeated keyword: libpq takes the last value.
  PGW_RETURN_IF_ERROR(c.Connect(LocalConninfo() + " " + ConnInfo({{"dbname", database}}), Duration(5000)));
  return c.Query(sql, params);
}

Status PgController::DropSlots(const std::vector<std::string>& drop) {
  for (const auto& name : drop) {
    auto r = Query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        "WHERE slot_name = $1 AND NOT active AND NOT temporary",
        {name});
    if (!r.ok()) return r.status().Context("dropping slot " + name);
    if (!r->empty()) log_.Info("dropped unknown replication slot " + name);
  }
  return Status::Ok();
}

Status PgController::CreateSlots(const std::vector<SlotSpec>& create) {
  for (const auto& s : create) {
    if (s.type == "logical") {
      auto r = QueryIn(s.database,
                       "SELECT pg_create_logical_replication_slot($1, $2) WHERE NOT EXISTS "
                       "(SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                       {s.name, s.plugin});
      if (!r.ok())
        return r.status().Context("creating logical slot " + s.name + " (" + s.plugin + ") in " + s.database);
      log_.Info("created logical replication slot " + s.name + " (" + s.plugin + ", database " + s.database + ")");
      continue;
    }
    auto r = Query(
        "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS "
        "(SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
        {s.name});
    if (!r.ok()) return r.status().Context("creating slot " + s.name);
    log_.Info("created physical replication slot " + s.name);
  }
  return Status::Ok();
}

Status PgController::AdvanceSlots(const std::map<std::string, int64_t>& to, const std::vector<SlotState>& local) {
  Status first;
  for (const auto& [slot_name, lsn] : to) {
    const std::string& name = slot_name;  // clang < 16 cannot capture a structured binding (the fuzz build)
    auto it = std::find_if(local.begin(), local.end(), [&](const SlotState& s) { return s.name == name; });
    if (it == local.end() || it->active) continue;
    int64_t at = it->type == "logical" ? it->confirmed_flush_lsn : it->restart_lsn;
    if (at >= lsn) continue;
    // PostgreSQL clamps the target to what was replayed (flushed on a primary): never past our own WAL.
    auto r = QueryIn(it->type == "logical" ? it->database : "",
                     "SELECT * FROM pg_replication_slot_advance($1, $2::pg_lsn)", {name, FormatLsn(lsn)});
    if (r.ok()) {
      int64_t reached = r->empty() || r->front().size() < 2 ? 0 : ParseLsn(r->front()[1].value_or("")).value_or(0);
      if (reached < lsn)
        log_.Info("advanced slot " + name + " to " + FormatLsn(reached) + " of " + FormatLsn(lsn) +
                  " (PostgreSQL stops at what it has replayed or flushed)");
      continue;
    }
    Status s = r.status().Context("advancing slot " + name + " to " + FormatLsn(lsn));
    log_.Warn(s.message());
    if (it->type == "logical" && standby_) {
      // The WAL the copy needs may be gone: drop it, and the next cycle copies it from the leader again.
      Status d = DropSlots({name});
      if (!d.ok()) log_.Warn(d.message());
    }
    if (first.ok()) first = s;
  }
  return first;
}

Status PgController::CopyLogicalSlots(const HostPort& leader, const std::vector<SlotSpec>& slots,
                                      const Upstream& upstream) {
  std::string names;
  for (const auto& s : slots) names += (names.empty() ? "" : ",") + s.name;
  PgConnection c;
  PGW_RETURN_IF_ERROR(c.Connect(SuperuserConninfo(*cfg_, leader.host, leader.port), Duration(3000))
                          .Context("copying logical slots from " + leader.ToString()));
  auto rows = c.Query(
      "SELECT slot_name, slot_type, datname, plugin, pg_read_binary_file('pg_replslot/' || slot_name || '/state') "
      "FROM pg_get_replication_slots() JOIN pg_database ON datoid = pg_database.oid "
      "WHERE NOT pg_is_in_recovery() AND slot_name = ANY($1::text[])",
      {"{" + names + "}"});
  c.Close();
  if (!rows.ok()) return rows.status().Context("reading logical slots on the leader " + leader.ToString());
  std::map<std::string, std::string> files;
  for (const auto& r : *rows) {
    std::string name = r[0].value_or("");
    auto want = std::find_if(slots.begin(), slots.end(), [&](const SlotSpec& s) { return s.name == name; });
    if (want == slots.end()) continue;
    if (r[1].value_or("") != "logical" || r[2].value_or("") != want->database || r[3].value_or("") != want->plugin) {
      log_.Warn("not copying logical slot " + name + ": on the leader it is " + r[1].value_or("") + " in " +
                r[2].value_or("") + " with " + r[3].value_or("") + ", the configuration says " + want->database +
                " with " + want->plugin);
      continue;
    }
    auto data = DecodeHexBytea(r[4].value_or(""));
    if (!data) return Internal("copying logical slot " + name + ": unreadable state file");
    files[name] = *data;
  }
  if (files.empty()) return Status::Ok();
  log_.Info("copying logical slots " + names + " from the leader: restarting PostgreSQL to load them");
  PGW_RETURN_IF_ERROR(Stop(StopMode::kFast));
  std::string dir = cfg_->postgresql.data_dir + "/pg_replslot/";
  for (const auto& [name, data] : files) {
    std::string tmp = dir + name + ".tmp";
    PGW_RETURN_IF_ERROR(RemoveAll(tmp));
    PGW_RETURN_IF_ERROR(MakeDirs(tmp, 0700));
    PGW_RETURN_IF_ERROR(WriteFileAtomic(tmp + "/state", data, 0600));
    PGW_RETURN_IF_ERROR(RemoveAll(dir + name));
    std::error_code ec;
    std::filesystem::rename(tmp, dir + name, ec);
    if (ec) return IoError("copying logical slot " + name + ": " + ec.message());
    log_.Info("copied logical replication slot " + name + " from the leader");
  }
  return Start(upstream, /*standby=*/true);
}

}  // namespace pgw
