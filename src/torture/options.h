// pgwardenctl torture's command line: parsed and checked before anything is started, each problem named. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace pgw::torture {

struct Options {
  std::string sandbox_dir;                 // --sandbox: used when it holds a sandbox, else one is started there
  std::string dsn;                         // --dsn (default for a sandbox: its router, or all its nodes)
  std::string table = "pgwarden_torture";  // --table
  std::vector<std::string> faults;         // --fault a[,b...]: built-in sandbox faults, in rotation
  std::vector<std::string> fault_cmd;      // --fault-cmd, split with common/shlex.h
  std::vector<std::string> recover_cmd;    // --recover-cmd
  std::vector<std::string> health_cmd;     // --health-cmd (a --dsn cluster's health)
  int rounds = 1;
  int writers = 4;
  Duration interval{10};
  Duration reconnect_every{1000};
  std::optional<Duration> hold;  // --hold: overrides the fault's own
  Duration steady{2000};
  Duration resume_timeout{120000};
  Duration heal_timeout{120000};
  Duration command_timeout{60000};  // each --fault-cmd / --recover-cmd run
  std::string json_path;            // --json
  bool sync = false;                // --sync
  bool keep = false;                // --keep: the directory of a sandbox this run started is kept
  bool help = false;
};

// Parses the arguments after "torture". kInvalidArgument naming the flag and the problem.
Result<Options> ParseOptions(const std::vector<std::string>& args);
std::string TortureUsage();

}  // namespace pgw::torture
