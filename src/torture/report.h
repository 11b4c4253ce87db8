// What a torture run prints and writes: a table per round (the servers that acknowledged writes, their windows
// relative to the fault), a final table of every round with the summary, and the --json document. Pure.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "torture/round.h"

namespace pgw::torture {

// The round's table and its verdict line.
std::string RoundText(const RoundResult& r);
// One row per round, then median, p95 and max downtime and the totals.
std::string SummaryText(const std::vector<RoundResult>& rounds);
// {"rounds": [{round, fault, downtime_s, acked, lost, duplicates, split_brain, errors, ...}], "summary": {...}}
nlohmann::json ReportJson(const std::vector<RoundResult>& rounds);
// A run passes when no round had a violation (RoundResult::Violation) or an error.
bool Passed(const std::vector<RoundResult>& rounds);

}  // namespace pgw::torture
