// pgwardenctl's command line and the configuration file it names (-c), without contacting etcd, plus the --set
// assignments of edit-config and the options of `pgwardenctl torture` (torture/options.h: the arguments after a
// "torture" part, or all of them). Input: NUL-separated parts; the first is the text of the configuration file, the
// others are arguments, where "@" stands for the path of that file. Torture options that parse must be within the
// bounds its usage gives.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "ctl/ctl.h"
#include "torture/options.h"

namespace {

void CheckTorture(const std::vector<std::string>& args) {
  auto o = pgw::torture::ParseOptions(args);
  if (!o.ok()) {
    if (o.status().message().empty()) __builtin_trap();
    return;
  }
  if (o->help) return;
  bool bounded = o->rounds >= 1 && o->rounds <= 1000 && o->writers >= 1 && o->writers <= 64 &&
                 o->interval.count() >= 0 && o->interval.count() <= 10000 && o->steady.count() >= 1000 &&
                 o->reconnect_every.count() >= 0 && (!o->hold || o->hold->count() >= 0) && !o->table.empty() &&
                 (o->faults.empty() != o->fault_cmd.empty()) && !(o->sandbox_dir.empty() && o->dsn.empty());
  if (!bounded) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/pgw_fuzz_ctl_" + std::to_string(getpid()) + ".yml";
  std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  size_t p = 0;
  while (p <= in.size()) {
    size_t z = in.find('\0', p);
    parts.push_back(in.substr(p, z == std::string::npos ? std::string::npos : z - p));
    if (z == std::string::npos) break;
    p = z + 1;
  }
  {
    std::ofstream f(path, std::ios::trunc | std::ios::binary);
    f << parts[0];
  }
  std::vector<std::string> args;
  for (size_t i = 1; i < parts.size(); ++i) args.push_back(parts[i] == "@" ? path : parts[i]);
  (void)pgw::ctl::CheckCommandLine(args);
  pgw::Json config = pgw::Json::object();
  for (const auto& a : args) (void)pgw::ctl::ApplySet(&config, a);
  CheckTorture(args);
  if (!args.empty() && args[0] == "torture") CheckTorture(std::vector<std::string>(args.begin() + 1, args.end()));
  unlink(path.c_str());
  return 0;
}
