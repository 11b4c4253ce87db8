#include "dcs/key_values.h"

#include <algorithm>
#include <charconv>

#include "common/clock.h"
#include "common/truthy.h"

namespace pgw {
namespace {

using Json = nlohmann::json;

Json ParseOrDiscarded(std::string_view value) { return Json::parse(value.begin(), value.end(), nullptr, false); }

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> DecimalValue(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string StringOr(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void AppendNames(std::string_view list, std::vector<std::string>* out) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view name = Trim(list.substr(0, comma));
    if (!name.empty()) out->emplace_back(name);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::optional<int64_t> PyIntValue(const Json& v) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return v.get<int64_t>();
  }
  if (v.is_string()) return DecimalValue(v.get_ref<const std::string&>());
  return std::nullopt;
}

bool SyncState::Matches(const std::string& name) const {
  if (name.empty()) return false;
  return name == leader || std::find(members.begin(), members.end(), name) != members.end();
}

SyncState DecodeSync(const Json& value) {
  SyncState s;
  if (!value.is_object()) return s;
  s.leader = StringOr(value, "leader");
  auto it = value.find("sync_standby");
  if (it != value.end()) {
    if (it->is_string()) {
      AppendNames(it->get_ref<const std::string&>(), &s.members);
    } else if (it->is_array()) {
      // Not something Patroni writes (nor reads: its split would fail); pgwarden always accepted a list of names.
      for (const auto& x : *it) {
        if (x.is_string()) AppendNames(x.get_ref<const std::string&>(), &s.members);
      }
    }
  }
  auto q = value.find("quorum");
  if (q != value.end() && q->is_number_integer()) s.quorum = PyIntValue(*q);
  return s;
}

SyncState DecodeSync(std::string_view value) { return DecodeSync(ParseOrDiscarded(value)); }

std::string EncodeSync(const std::string& leader, const std::vector<std::string>& members) {
  std::string list;
  for (const auto& n : members) list += (list.empty() ? "" : ",") + n;
  nlohmann::ordered_json j;
  j["leader"] = leader;
  j["sync_standby"] = list.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(list);
  return j.dump();
}

FailoverKey DecodeFailover(const Json& value) {
  FailoverKey k;
  k.raw = value.is_discarded() ? Json() : value;
  if (!value.is_object()) return k;  // Patroni reads {}: no request
  FailoverRequest f;
  f.leader = StringOr(value, "leader");
  f.member = StringOr(value, "member");
  if (f.member.empty()) f.member = StringOr(value, "candidate");
  auto at = value.find("scheduled_at");
  if (at != value.end() && PyTruthy(*at)) {
    // Patroni hands a non-empty value to dateutil, which fails on anything but a time: then no request is safe.
    if (!at->is_string()) return k;
    bool zone = false;
    auto t = ParseIsoTimestamp(at->get<std::string>(), &zone);
    if (!t) return k;
    f.scheduled_at = *t;
  }
  // Failover.__len__: a request naming neither a leader nor a candidate is none.
  if (f.leader.empty() && f.member.empty()) return k;
  k.request = f;
  return k;
}

FailoverKey DecodeFailover(std::string_view value) {
  if (value.empty()) return FailoverKey{};
  Json j = ParseOrDiscarded(value);
  if (!j.is_discarded()) return DecodeFailover(j);
  // The legacy plain-text form "leader:candidate" (Failover.from_node when the value is not JSON).
  FailoverKey k;
  size_t colon = value.find(':');
  FailoverRequest f;
  f.leader = std::string(Trim(value.substr(0, colon)));
  if (colon != std::string_view::npos) {
    std::string_view rest = value.substr(colon + 1);
    f.member = std::string(Trim(rest.substr(0, rest.find(':'))));
  }
  if (!f.leader.empty() || !f.member.empty()) k.request = f;
  return k;
}

std::optional<FailsafeTopology> DecodeFailsafe(const Json& value) {
  if (!value.is_object()) return std::nullopt;
  FailsafeTopology t;
  for (const auto& [name, url] : value.items()) t[name] = url.is_string() ? url.get<std::string>() : std::string();
  return t;
}

std::string EncodeFailsafe(const FailsafeTopology& t) { return Json(t).dump(); }

std::optional<FailsafeTopology> DecodeFailsafe(std::string_view value) {
  return DecodeFailsafe(ParseOrDiscarded(value));
}

StatusKey DecodeStatus(std::string_view value) {
  StatusKey s;
  Json j = ParseOrDiscarded(value);
  if (!j.is_object()) return s;
  if (auto it = j.find("optime"); it != j.end()) s.optime = PyIntValue(*it);
  auto slots = j.find("slots");
  if (slots != j.end() && slots->is_object()) {
    for (const auto& [name, lsn] : slots->items()) {
      if (auto v = PyIntValue(lsn)) s.slots[name] = *v;
    }
  }
  return s;
}

std::optional<int64_t> DecodeLeaderOptime(std::string_view value) { return DecimalValue(value); }

std::vector<HistoryLine> DecodeHistory(const Json& lines) {
  std::vector<HistoryLine> out;
  if (!lines.is_array()) return out;
  for (const auto& e : lines) {
    if (!e.is_array() || e.empty() || !e[0].is_number_integer()) continue;
    auto tl = PyIntValue(e[0]);
    if (!tl) continue;
    HistoryLine h;
    h.timeline = *tl;
    if (e.size() > 1) h.lsn = PyIntValue(e[1]);
    if (e.size() > 2 && e[2].is_string()) h.reason = e[2].get<std::string>();
    if (e.size() > 3 && e[3].is_string()) h.timestamp = e[3].get<std::string>();
    if (e.size() > 4 && e[4].is_string()) h.new_leader = e[4].get<std::string>();
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace pgw
