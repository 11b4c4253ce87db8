// Failover torture, with synchronous_mode on and off: `pgwardenctl torture` (src/torture) on a fresh sandbox per
// mode, every built-in fault in rotation. Each round is checked for lost acknowledged rows, duplicates and split
// brain, and must heal (one leader, every replica streaming) within the heal bound; a failed mode keeps its
// sandbox directory (agent logs) and writes its rounds to DIR/<mode>.json.
//
//   torture_bench [--rounds N] [--dir DIR] [--only-sync] [--faults a,b,...]
//     N rounds per mode, faults in rotation (default 20, all faults; lagging-sync only in synchronous mode)
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "common/fs.h"
#include "torture/faults.h"
#include "torture/torture.h"

namespace pgw {
namespace {

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string p(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return p.substr(0, p.rfind('/'));
}

int Main(int argc, char** argv) {
  std::string rounds = "20", dir = "/tmp/pgwarden-torture-bench", faults;
  bool only_sync = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = argv[++i];
    } else if (a == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--only-sync") {
      only_sync = true;
    } else if (a == "--faults" && i + 1 < argc) {
      faults = argv[++i];
    } else {
      std::fprintf(stderr, "usage: torture_bench [--rounds N] [--dir DIR] [--only-sync] [--faults a,b,...]\n");
      return 2;
    }
  }
  if (faults.empty()) {
    for (const auto& f : torture::SandboxFaultNames()) faults += (faults.empty() ? "" : ",") + f;
  }
  torture::RunEnv env;
  env.pgwarden_bin = SelfDir() + "/../apps/pgwarden";
  int worst = 0;
  for (bool sync : {true, false}) {
    if (!sync && only_sync) break;
    std::string mode = sync ? "sync" : "async";
    std::string list = faults;
    if (!sync) {  // lagging-sync means nothing without a synchronous standby
      std::string kept;
      for (size_t p = 0; p <= list.size();) {
        size_t c = list.find(',', p);
        std::string f = list.substr(p, c == std::string::npos ? std::string::npos : c - p);
        if (f != "lagging-sync") kept += (kept.empty() ? "" : ",") + f;
        if (c == std::string::npos) break;
        p = c + 1;
      }
      list = kept;
    }
    std::vector<std::string> args = {"--sandbox", dir + "/" + mode,           "--fault",   list, "--rounds",   rounds,
                                     "--json",    dir + "/" + mode + ".json", "--writers", "2",  "--interval", "5"};
    if (sync) args.push_back("--sync");
    RemoveAll(dir + "/" + mode).ok();
    if (Status m = MakeDirs(dir, 0755); !m.ok()) {
      std::fprintf(stderr, "torture_bench: %s\n", m.message().c_str());
      return 1;
    }
    std::printf("\nsynchronous_mode %s (ttl 5, loop_wait 1, retry_timeout 2):\n", sync ? "on" : "off");
    std::fflush(stdout);
    worst = std::max(worst, torture::Main(args, env));
  }
  return worst;
}

}  // namespace
}  // namespace pgw

int main(int argc, char** argv) { return pgw::Main(argc, argv); }
