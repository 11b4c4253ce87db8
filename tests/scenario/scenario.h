// Scenario files (docs/testing.md): setup lines, then steps; the run's trace is compared with a golden file.
#pragma once

#include <string>
#include <vector>

#include "sim_world.h"

namespace pgw::sim {

struct ScenarioResult {
  std::string trace;                  // what the golden file holds
  std::vector<std::string> failures;  // violations and failed expectations
  std::string known_bug;              // the file's known-bug line ("" when none)
  std::string error;                  // the file itself is wrong (unknown step, bad argument)
};

ScenarioResult RunScenario(const std::string& text, const std::string& name);

// Applies one step (a fault, a client action, a condition) to a world. Returns "" or an error for a bad line.
// `failures` receives failed expectations.
std::string ApplyStep(World& w, const std::vector<std::string>& words, std::vector<std::string>* failures);

// Random fault schedules (randomised runs). Returns failures ("" when the history passed); `trace` gets the trace.
std::string RunRandomHistory(uint64_t seed, bool all_faults, std::string* trace);

std::vector<std::string> SplitWords(const std::string& line);
int64_t ParseDuration(const std::string& s);  // "5s", "500ms", "1.5s"; -1 when malformed

}  // namespace pgw::sim
