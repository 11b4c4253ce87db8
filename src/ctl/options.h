// pgwardenctl's command line: the options every verb shares, parsed once (pure).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace pgw::ctl {

struct Options {
  std::string config_file;  // -c; "" : none given
  std::string dcs_url;      // --dcs-url; "" : none given
  std::string format = "pretty";
  bool force = false;
  bool wait = false;
  bool pending = false;
  bool verbose = false;   // -v: history adds pgwarden's record of every leader change
  bool insecure = false;  // -k: do not check the agents' TLS certificates (patronictl's --insecure)
  std::string leader, candidate, scheduled, role, member;
  std::vector<std::string> sets, pgs;   // edit-config --set, --pg
  std::vector<std::string> check;       // check's own options, each followed by its value if it takes one (check.h)
  std::vector<std::string> top;         // top's own options (--interval, --iterations), each with its value (top.h)
  bool watch = false;                   // check --watch: the live view (top) instead of one report
  std::vector<std::string> positional;  // the verb, then its arguments
};

// The options of `args` (argv without the program name), or an error naming the bad option.
Result<Options> ParseOptions(const std::vector<std::string>& args);

}  // namespace pgw::ctl
