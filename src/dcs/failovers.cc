#include "dcs/failovers.h"

#include <algorithm>
#include <cstdint>

namespace pgw {
namespace {

using Json = nlohmann::json;

bool KnownKind(const std::string& k) { return k == kKindFailover || k == kKindSwitchover || k == kKindManualFailover; }

bool KnownRejoin(const std::string& k) {
  return k.empty() || k == kRejoinRewound || k == kRejoinRecloned || k == kRejoinRejoined;
}

// Each reader takes the field `name` of record `r` when present and not null; a wrong type is an error naming it.
class Fields {
 public:
  Fields(const Json& r, size_t index) : r_(r), where_("record " + std::to_string(index) + ": ") {}

  Status Text(const char* name, std::string* out, bool required = false) const {
    auto it = r_.find(name);
    if (it == r_.end() || it->is_null()) return required ? Missing(name) : Status::Ok();
    if (!it->is_string()) return Bad(name, "a string");
    *out = it->get<std::string>();
    return Status::Ok();
  }
  Status Int(const char* name, std::optional<int64_t>* out, bool required = false) const {
    auto it = r_.find(name);
    if (it == r_.end() || it->is_null()) return required ? Missing(name) : Status::Ok();
    if (!it->is_number_integer()) return Bad(name, "an integer");
    *out = it->get<int64_t>();
    if (**out < 0) return Bad(name, "an integer >= 0");
    return Status::Ok();
  }
  Status Real(const char* name, std::optional<double>* out) const {
    auto it = r_.find(name);
    if (it == r_.end() || it->is_null()) return Status::Ok();
    if (!it->is_number()) return Bad(name, "a number");
    *out = it->get<double>();
    return Status::Ok();
  }
  Status Bad(const char* name, const char* want) const {
    return InvalidArgument(where_ + "\"" + name + "\" must be " + want);
  }

 private:
  Status Missing(const char* name) const { return InvalidArgument(where_ + "\"" + name + "\" is missing"); }
  const Json& r_;
  std::string where_;
};

Result<FailoverRecord> DecodeRecord(const Json& j, size_t index) {
  if (!j.is_object()) return InvalidArgument("record " + std::to_string(index) + " is not a JSON object");
  Fields f(j, index);
  FailoverRecord r;
  std::optional<int64_t> tl, start;
  PGW_RETURN_IF_ERROR(f.Text("kind", &r.kind, true));
  if (!KnownKind(r.kind)) return f.Bad("kind", "failover, switchover or manual_failover");
  PGW_RETURN_IF_ERROR(f.Int("timeline", &tl, true));
  if (*tl > INT32_MAX) return f.Bad("timeline", "a timeline id");
  r.timeline = static_cast<int>(*tl);
  PGW_RETURN_IF_ERROR(f.Text("old_leader", &r.old_leader));
  PGW_RETURN_IF_ERROR(f.Text("new_leader", &r.new_leader, true));
  PGW_RETURN_IF_ERROR(f.Text("old_lease_renewed_at", &r.old_lease_renewed_at));
  PGW_RETURN_IF_ERROR(f.Text("acquired_at", &r.acquired_at));
  PGW_RETURN_IF_ERROR(f.Text("promoted_at", &r.promoted_at));
  PGW_RETURN_IF_ERROR(f.Int("old_leader_lsn", &r.old_leader_lsn));
  PGW_RETURN_IF_ERROR(f.Int("new_leader_start_lsn", &start));
  r.new_leader_start_lsn = start.value_or(0);
  PGW_RETURN_IF_ERROR(f.Int("bytes_possibly_lost", &r.bytes_possibly_lost));
  PGW_RETURN_IF_ERROR(f.Real("downtime_s", &r.downtime_s));
  PGW_RETURN_IF_ERROR(f.Text("rejoin", &r.rejoin));
  if (!KnownRejoin(r.rejoin)) return f.Bad("rejoin", "null, rewound, recloned or rejoined");
  PGW_RETURN_IF_ERROR(f.Text("rejoined_at", &r.rejoined_at));
  return r;
}

Json TextOrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

template <typename T>
Json OptOrNull(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

// The newest record that names `name` as its old leader.
template <typename L>
auto* NewestOf(L* log, const std::string& name) {
  for (auto it = log->records.rbegin(); it != log->records.rend(); ++it) {
    if (it->old_leader == name) return &*it;
  }
  return static_cast<decltype(&log->records.front())>(nullptr);
}

}  // namespace

Result<FailoverLog> DecodeFailoverLog(const std::string& json) {
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("the failovers key is not JSON");
  if (!j.is_object()) return InvalidArgument("the failovers key is not a JSON object");
  FailoverLog log;
  auto recs = j.find("records");
  if (recs != j.end() && !recs->is_null()) {
    if (!recs->is_array()) return InvalidArgument("the failovers key: \"records\" must be a list");
    for (size_t i = 0; i < recs->size(); ++i) {
      auto r = DecodeRecord((*recs)[i], i);
      if (!r.ok()) return r.status().Context("the failovers key");
      log.records.push_back(std::move(*r));
    }
  }
  auto totals = j.find("totals");
  if (totals != j.end() && !totals->is_null()) {
    if (!totals->is_object()) return InvalidArgument("the failovers key: \"totals\" must be an object");
    for (const auto& [kind, n] : totals->items()) {
      if (!n.is_number_integer() || n.get<int64_t>() < 0) {
        return InvalidArgument("the failovers key: \"totals\"." + kind + " must be a count");
      }
      log.totals[kind] = n.get<int64_t>();
    }
  }
  std::map<std::string, int64_t> seen;
  for (const auto& r : log.records) ++seen[r.kind];
  for (const auto& [kind, n] : seen) log.totals[kind] = std::max(log.totals[kind], n);
  return log;
}

Json FailoverRecordJson(const FailoverRecord& r) {
  // Field order is irrelevant to readers; nlohmann's object sorts keys, which keeps the key's text stable.
  return Json{{"kind", r.kind},
              {"timeline", r.timeline},
              {"old_leader", TextOrNull(r.old_leader)},
              {"new_leader", r.new_leader},
              {"old_lease_renewed_at", TextOrNull(r.old_lease_renewed_at)},
              {"acquired_at", TextOrNull(r.acquired_at)},
              {"promoted_at", TextOrNull(r.promoted_at)},
              {"old_leader_lsn", OptOrNull(r.old_leader_lsn)},
              {"new_leader_start_lsn", r.new_leader_start_lsn},
              {"bytes_possibly_lost", OptOrNull(r.bytes_possibly_lost)},
              {"downtime_s", OptOrNull(r.downtime_s)},
              {"rejoin", TextOrNull(r.rejoin)},
              {"rejoined_at", TextOrNull(r.rejoined_at)}};
}

Json FailoverLogJson(const FailoverLog& log) {
  Json recs = Json::array();
  for (const auto& r : log.records) recs.push_back(FailoverRecordJson(r));
  Json totals = Json::object();
  for (const auto& [kind, n] : log.totals) totals[kind] = n;
  return Json{{"totals", totals}, {"records", recs}};
}

std::string EncodeFailoverLog(const FailoverLog& log) { return FailoverLogJson(log).dump(); }

bool AppendFailover(FailoverLog* log, FailoverRecord r, size_t max) {
  for (const auto& e : log->records) {
    if (e.timeline == r.timeline && e.new_leader == r.new_leader) return false;
  }
  ++log->totals[r.kind];
  log->records.push_back(std::move(r));
  if (max == 0) max = 1;
  if (log->records.size() > max) {
    log->records.erase(log->records.begin(), log->records.begin() + static_cast<long>(log->records.size() - max));
  }
  return true;
}

bool NeedsRejoin(const FailoverLog& log, const std::string& name, const std::string& leader) {
  if (name.empty()) return false;
  const FailoverRecord* r = NewestOf(&log, name);
  return r != nullptr && r->rejoin.empty() && r->new_leader == leader;
}

bool SetRejoin(FailoverLog* log, const std::string& name, const std::string& leader, const std::string& outcome,
               const std::string& at) {
  if (!NeedsRejoin(*log, name, leader)) return false;
  FailoverRecord* r = NewestOf(log, name);
  r->rejoin = outcome;
  r->rejoined_at = at;
  return true;
}

}  // namespace pgw
