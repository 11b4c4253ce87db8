// pgwardenctl torture: rounds of a fault under numbered inserts, each checked for lost rows, duplicates and split
// brain (docs/torture.md). Run() is what the command and the torture benchmark share.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "torture/options.h"
#include "torture/round.h"

namespace pgw::torture {

struct RunEnv {
  std::string pgwarden_bin;  // for a sandbox this run starts
  FILE* out = stdout;        // tables
  FILE* err = stderr;        // progress
};

// Runs every round; fills `rounds` (when given) and returns the exit code (0 passed, 1 violation, 3 errors).
// SIGINT and SIGTERM end the run after recovering from the fault in progress and cleaning up.
int Run(const Options& o, const RunEnv& env, std::vector<RoundResult>* rounds = nullptr);
// Parses the arguments after "torture" and runs. Exit code 2 on bad arguments.
int Main(const std::vector<std::string>& args, const RunEnv& env);

}  // namespace pgw::torture
