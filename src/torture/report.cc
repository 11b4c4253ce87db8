#include "torture/report.h"

#include <cstdio>

#include "ctl/ctl.h"

namespace pgw::torture {

using Json = nlohmann::json;

namespace {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string RelativeSeconds(Micros t, Micros base) { return Fixed(static_cast<double>(t - base) / 1e6, 3); }

std::string VerdictWord(const RoundResult& r) {
  if (r.Violation()) return "FAILED";
  if (!r.errors.empty()) return "ERROR";
  return r.lost.empty() ? "ok" : "ok (async loss)";
}

std::string IdList(const std::vector<int64_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < 10; ++i) out += (out.empty() ? "" : ", ") + std::to_string(ids[i]);
  if (ids.size() > 10) out += ", ... (" + std::to_string(ids.size()) + " in all)";
  return out;
}

std::vector<double> Downtimes(const std::vector<RoundResult>& rounds) {
  std::vector<double> d;
  for (const auto& r : rounds) {
    if (r.acked > 0) d.push_back(r.downtime_s);
  }
  return d;
}

}  // namespace

std::string RoundText(const RoundResult& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : r.windows) {
    rows.push_back({w.server.address, std::to_string(w.server.timeline), w.server.sysid, std::to_string(w.acks),
                    RelativeSeconds(w.first_acked, r.fault_at), RelativeSeconds(w.last_acked, r.fault_at)});
  }
  std::string title = "Round " + std::to_string(r.round) + ": " + r.fault + " (" +
                      (r.synchronous ? "synchronous" : "asynchronous") + ") ";
  std::string out = ctl::Table({"Server", "TL", "System identifier", "Acked", "First (s)", "Last (s)"}, rows,
                               {false, true, false, true, true, true}, title);
  out += "downtime " + Fixed(r.downtime_s, 3) + " s, " + std::to_string(r.acked) + " acknowledged (ids " +
         std::to_string(r.first_id) + ".." + std::to_string(r.last_id) + "), " + std::to_string(r.failed_writes) +
         " failed writes, lost " + std::to_string(r.lost.size()) + ", duplicates " +
         std::to_string(r.duplicates.size()) + ", split brain " + std::to_string(r.split_brain.size()) + ": " +
         VerdictWord(r) + "\n";
  if (!r.lost.empty()) out += "  lost: " + IdList(r.lost) + "\n";
  if (!r.duplicates.empty()) out += "  duplicates: " + IdList(r.duplicates) + "\n";
  for (const auto& s : r.split_brain) {
    out += "  split brain: " + s.a + " and " + s.b + " both accepted writes between " +
           RelativeSeconds(s.from, r.fault_at) + " s and " + RelativeSeconds(s.to, r.fault_at) + " s\n";
  }
  for (const auto& e : r.errors) out += "  error: " + e + "\n";
  return out;
}

std::string SummaryText(const std::vector<RoundResult>& rounds) {
  std::vector<std::vector<std::string>> rows;
  size_t acked = 0, lost = 0, dups = 0, split = 0, errors = 0;
  for (const auto& r : rounds) {
    rows.push_back({std::to_string(r.round), r.fault, r.synchronous ? "sync" : "async", Fixed(r.downtime_s, 3),
                    std::to_string(r.acked), std::to_string(r.lost.size()), std::to_string(r.duplicates.size()),
                    std::to_string(r.split_brain.size()), std::to_string(r.errors.size()), VerdictWord(r)});
    acked += r.acked;
    lost += r.lost.size();
    dups += r.duplicates.size();
    split += r.split_brain.size();
    errors += r.errors.size();
  }
  std::string out = ctl::Table(
      {"Round", "Fault", "Mode", "Downtime (s)", "Acked", "Lost", "Duplicates", "Split brain", "Errors", "Verdict"},
      rows, {true, false, false, true, true, true, true, true, true, false}, "Summary ");
  Spread s = Summarize(Downtimes(rounds));
  out += "downtime median " + Fixed(s.median, 3) + " s, p95 " + Fixed(s.p95, 3) + " s, max " + Fixed(s.max, 3) +
         " s; " + std::to_string(acked) + " acknowledged, " + std::to_string(lost) + " lost, " + std::to_string(dups) +
         " duplicates, " + std::to_string(split) + " split brain, " + std::to_string(errors) +
         " errors: " + (Passed(rounds) ? "PASSED" : "FAILED") + "\n";
  return out;
}

Json ReportJson(const std::vector<RoundResult>& rounds) {
  Json out = {{"rounds", Json::array()}};
  size_t acked = 0, lost = 0, dups = 0, split = 0, errors = 0;
  for (const auto& r : rounds) {
    Json servers = Json::array();
    for (const auto& w : r.windows) {
      servers.push_back({{"server", w.server.address},
                         {"timeline", w.server.timeline},
                         {"system_identifier", w.server.sysid},
                         {"acked", w.acks},
                         {"first_s", static_cast<double>(w.first_acked - r.fault_at) / 1e6},
                         {"last_s", static_cast<double>(w.last_acked - r.fault_at) / 1e6}});
    }
    Json pairs = Json::array();
    for (const auto& s : r.split_brain) {
      pairs.push_back({{"a", s.a},
                       {"b", s.b},
                       {"from_s", static_cast<double>(s.from - r.fault_at) / 1e6},
                       {"to_s", static_cast<double>(s.to - r.fault_at) / 1e6}});
    }
    out["rounds"].push_back({{"round", r.round},
                             {"fault", r.fault},
                             {"synchronous", r.synchronous},
                             {"downtime_s", r.downtime_s},
                             {"acked", r.acked},
                             {"lost", r.lost.size()},
                             {"duplicates", r.duplicates.size()},
                             {"split_brain", r.split_brain.size()},
                             {"errors", r.errors},
                             {"failed_writes", r.failed_writes},
                             {"first_id", r.first_id},
                             {"last_id", r.last_id},
                             {"lost_ids", r.lost},
                             {"duplicate_ids", r.duplicates},
                             {"split_brain_pairs", pairs},
                             {"servers", servers},
                             {"write_errors", r.write_errors},
                             {"passed", !r.Violation() && r.errors.empty()}});
    acked += r.acked;
    lost += r.lost.size();
    dups += r.duplicates.size();
    split += r.split_brain.size();
    errors += r.errors.size();
  }
  Spread s = Summarize(Downtimes(rounds));
  out["summary"] = {{"rounds", rounds.size()}, {"downtime_s", {{"median", s.median}, {"p95", s.p95}, {"max", s.max}}},
                    {"acked", acked},          {"lost", lost},
                    {"duplicates", dups},      {"split_brain", split},
                    {"errors", errors},        {"passed", Passed(rounds)}};
  return out;
}

bool Passed(const std::vector<RoundResult>& rounds) {
  for (const auto& r : rounds) {
    if (r.Violation() || !r.errors.empty()) return false;
  }
  return !rounds.empty();
}

}  // namespace pgw::torture
