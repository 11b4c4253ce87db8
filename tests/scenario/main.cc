// pgw_scenario: runs scenario files against their golden traces, and randomised fault schedules.
//
//   pgw_scenario FILE.txt...            run scenarios; compare each trace with FILE.golden
//   PGW_UPDATE_GOLDEN=1 pgw_scenario …  (re)write the golden files instead
//   pgw_scenario --print FILE.txt       print the trace
//   pgw_scenario --random N [--seed S] [--budget-s T] [--all-faults]
//                                       N random histories, seeds S..S+N-1 (stops at T seconds of real time)
//   pgw_scenario --replay-seed N [--all-faults]
//                                       replay one random history and print its trace
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "scenario.h"

namespace {

std::string Slurp(const std::string& path, bool* ok) {
  std::ifstream f(path);
  *ok = static_cast<bool>(f);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string BaseName(const std::string& p) {
  auto s = p.find_last_of('/');
  std::string b = s == std::string::npos ? p : p.substr(s + 1);
  auto dot = b.rfind('.');
  return dot == std::string::npos ? b : b.substr(0, dot);
}

int RunFile(const std::string& path, bool print) {
  bool ok = false;
  std::string text = Slurp(path, &ok);
  if (!ok) {
    std::cerr << path << ": cannot read\n";
    return 1;
  }
  auto r = pgw::sim::RunScenario(text, BaseName(path));
  if (!r.error.empty()) {
    std::cerr << r.error << "\n";
    return 1;
  }
  if (print) std::cout << r.trace;
  int rc = 0;
  std::string golden_path = path.substr(0, path.rfind('.')) + ".golden";
  const char* update = std::getenv("PGW_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(golden_path) << r.trace;
    std::cout << "wrote " << golden_path << "\n";
  } else if (!print) {
    bool have = false;
    std::string golden = Slurp(golden_path, &have);
    if (!have) {
      std::cerr << path << ": no golden file " << golden_path << " (run with PGW_UPDATE_GOLDEN=1)\n";
      rc = 1;
    } else if (golden != r.trace) {
      std::cerr << path << ": trace differs from " << golden_path << "\n--- golden\n"
                << golden << "--- now\n"
                << r.trace << "(rerun with PGW_UPDATE_GOLDEN=1 if the change is intended)\n";
      rc = 1;
    }
  }
  if (r.known_bug.empty()) {
    for (const auto& f : r.failures) std::cerr << path << ": " << f << "\n";
    if (!r.failures.empty()) rc = 1;
  } else if (r.failures.empty()) {
    std::cerr << path << ": known bug no longer reproduces (" << r.known_bug
              << "): remove the known-bug line and regenerate the golden file\n";
    rc = 1;
  }
  if (rc == 0) {
    std::cout << BaseName(path) << ": ok" << (r.known_bug.empty() ? "" : " (known bug reproduced: " + r.known_bug + ")")
              << "\n";
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  bool print = false, all_faults = false;
  long long random = -1, replay = -1;
  unsigned long long seed = 1;
  double budget = 1e9;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--print")
      print = true;
    else if (a == "--all-faults")
      all_faults = true;
    else if (a == "--random")
      random = std::atoll(next().c_str());
    else if (a == "--seed")
      seed = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--budget-s")
      budget = std::atof(next().c_str());
    else if (a == "--replay-seed")
      replay = std::atoll(next().c_str());
    else if (!a.empty() && a[0] == '-') {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    } else
      files.push_back(a);
  }
  if (replay >= 0) {
    std::string trace;
    std::string f = pgw::sim::RunRandomHistory(static_cast<uint64_t>(replay), all_faults, &trace);
    std::cout << trace << (f.empty() ? "passed\n" : "FAILED: " + f + "\n");
    return f.empty() ? 0 : 1;
  }
  if (random >= 0) {
    auto start = std::chrono::steady_clock::now();
    long long run = 0, failed = 0;
    for (long long i = 0; i < random; ++i) {
      double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (spent > budget) break;
      uint64_t s = seed + static_cast<uint64_t>(i);
      std::string f = pgw::sim::RunRandomHistory(s, all_faults, nullptr);
      ++run;
      if (!f.empty()) {
        ++failed;
        std::cout << "seed " << s << " FAILED: " << f << "\n  replay: pgw_scenario --replay-seed " << s
                  << (all_faults ? " --all-faults" : "") << "\n";
      }
    }
    double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << run << " random histories (seeds " << seed << ".." << seed + static_cast<uint64_t>(run) - 1 << "), "
              << failed << " failed, " << spent << " s\n";
    return failed == 0 && run > 0 ? 0 : 1;
  }
  int rc = 0;
  for (const auto& f : files) rc |= RunFile(f, print);
  if (files.empty()) {
    std::cerr << "usage: pgw_scenario FILE.txt... | --random N [--seed S] | --replay-seed N\n";
    return 2;
  }
  return rc;
}
