#include "ctl/options.h"

#include <algorithm>
#include <array>

namespace pgw::ctl {

namespace {
// check's options that take a value (ctl/check.h ParseCheckOptions reads them).
constexpr std::array<const char*, 10> kCheckValued = {
    "--max-lag-bytes", "--max-lag-seconds", "--canary-timeout", "--timeout",      "--dbname",
    "--username",      "--router",          "--router-read",    "--router-admin", "--router-samples"};
bool CheckValued(const std::string& a) {
  return std::any_of(kCheckValued.begin(), kCheckValued.end(), [&](const char* k) { return a == k; });
}
}  // namespace

Result<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> Result<std::string> {
      if (i + 1 >= args.size()) return InvalidArgument("option " + a + " needs a value");
      return args[++i];
    };
    auto take = [&](std::string* dst) -> Status {
      auto v = value();
      if (!v.ok()) return v.status();
      *dst = *v;
      return Status::Ok();
    };
    Status s;
    if (a == "-c" || a == "--config-file")
      s = take(&o.config_file);
    else if (a == "-d" || a == "--dcs-url" || a == "--dcs")
      s = take(&o.dcs_url);
    else if (a == "-f" || a == "--format")
      s = take(&o.format);
    else if (a == "--force")
      o.force = true;
    else if (a == "--wait")
      o.wait = true;
    else if (a == "--pending")
      o.pending = true;
    else if (a == "-v" || a == "--verbose")
      o.verbose = true;
    else if (a == "-k" || a == "--insecure")
      o.insecure = true;
    else if (a == "--leader" || a == "--primary" || a == "--master")
      s = take(&o.leader);
    else if (a == "--candidate")
      s = take(&o.candidate);
    else if (a == "--scheduled")
      s = take(&o.scheduled);
    else if (a == "-r" || a == "--role")
      s = take(&o.role);
    else if (a == "-m" || a == "--member")
      s = take(&o.member);
    else if (a == "-s" || a == "--set") {
      std::string v;
      s = take(&v);
      o.sets.push_back(v);
    } else if (a == "-p" || a == "--pg") {
      std::string v;
      s = take(&v);
      o.pgs.push_back(v);
    } else if (a == "--interval" || a == "--iterations") {
      std::string v;
      s = take(&v);
      o.top.push_back(a);
      o.top.push_back(v);
    } else if (a == "--watch") {
      o.watch = true;
    } else if (a == "--no-canary") {
      o.check.push_back(a);
    } else if (CheckValued(a)) {
      std::string v;
      s = take(&v);
      o.check.push_back(a);
      o.check.push_back(v);
    } else if (!a.empty() && a[0] == '-') {
      return InvalidArgument("unknown option '" + a + "'");
    } else {
      o.positional.push_back(a);
    }
    if (!s.ok()) return s;
  }
  if (o.format != "pretty" && o.format != "json" && o.format != "yaml") {
    return InvalidArgument("-f must be pretty, json or yaml, got '" + o.format + "'");
  }
  return o;
}

}  // namespace pgw::ctl
