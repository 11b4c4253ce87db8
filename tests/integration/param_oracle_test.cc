// The parameter checker (pg/param_check.h) against the installed PostgreSQL itself: for every non-string parameter
// of the table, a set of good and bad values is written to a postgresql.conf and `postgres -C port` says which it
// refuses. The checker must agree: accepted <=> kOk. (Issue 11; needs only the postgres binary, no cluster.)
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>

#include "helpers.h"
#include "pg/conf.h"
#include "pg/param_check.h"
#include "pg/pg_params_table.h"

namespace pgw {
namespace {

using namespace itest;

// Parameters whose check hooks refuse values the table cannot know about (docs/configuration.md lists them).
const std::set<std::string> kHookChecked = {
    "max_stack_depth",      // must stay below the stack rlimit of the machine
    "bonjour",              // on: only when PostgreSQL was built with Bonjour support
    "log_statement_stats",  // on: not together with log_parser_stats, log_planner_stats, log_executor_stats
};
// max_connections + autovacuum_max_workers + max_worker_processes + max_wal_senders + 1 must not exceed 262143:
// each maximum alone passes the table, all four together (as in a round here) do not.
const std::set<std::pair<std::string, std::string>> kHookCheckedValues = {{"max_connections", "262143"},
                                                                          {"autovacuum_max_workers", "262143"},
                                                                          {"max_worker_processes", "262143"},
                                                                          {"max_wal_senders", "262143"}};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> ValuesFor(const PgParamSpec& s) {
  auto num = [](double v) { return std::to_string(static_cast<long long>(v)); };
  switch (s.type) {
    case PgParamType::kBool: return {"on", "OFF", "tru", "o", "of", "2", "yes ", "1", "enable"};
    case PgParamType::kInteger:
      return {num(s.min), num(s.max), num(s.min - 1), num(s.max + 1), "0x10", "1.5",  "1e3", "abc", "",      " 7 ",
              "1kB",      "1MB",      "3GB",          "1min",         "2s",   "30ms", "1us", "1 d", "5mins", "1x"};
    case PgParamType::kReal:
      return {"0", "0.5", "-1", "1e309", "nan", "inf", "2ms", "1.5s", "abc", "1e-3", "100000000"};
    case PgParamType::kEnum: {
      std::vector<std::string> out = {"bogus", "on", "true", "t", "debug", "info", "hot_standby"};
      std::string all = s.values;
      size_t start = 0;
      while (true) {
        size_t end = all.find_first_of(",|", start);
        std::string v = all.substr(start, end == std::string::npos ? std::string::npos : end - start);
        out.push_back(v);
        std::string upper = v;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out.push_back(upper);
        if (end == std::string::npos) break;
        start = end + 1;
      }
      return out;
    }
    case PgParamType::kInternal: return {"1"};
    case PgParamType::kString: break;
  }
  return {};
}

std::string PostgresBin() { return FindPostgresBinDir(ProcessEnvironment()) + "/postgres"; }

// Writes one postgresql.conf with `lines` (each parameter at most once) and returns the names PostgreSQL refused.
std::set<std::string> Refused(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& lines,
                              bool* unknown_seen) {
  std::string conf;
  for (const auto& [n, v] : lines) conf += n + " = " + ConfValue(Json(v)) + "\n";
  EXPECT_TRUE(WriteFileAtomic(dir + "/postgresql.conf", conf, 0644).ok());
  ProcessOptions o;
  o.run_as = Unprivileged();
  auto r = Run({PostgresBin(), "-D", dir, "-C", "port"}, o);
  EXPECT_TRUE(r.ok());
  std::set<std::string> out;
  static const std::regex kParam("parameter \"([^\"]+)\"");
  *unknown_seen = r->output.find("unrecognized configuration parameter") != std::string::npos;
  for (std::sregex_iterator it(r->output.begin(), r->output.end(), kParam), end; it != end; ++it) {
    out.insert(Lower((*it)[1]));
  }
  EXPECT_EQ(r->Success(), out.empty()) << r->output;
  return out;
}

TEST(ParamOracleTest, CheckerAgreesWithPostgres) {
  auto version = pgw::Run({PostgresBin(), "--version"});
  ASSERT_TRUE(version.ok());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(version->output, m, std::regex("\\) (\\d+)"))) << version->output;
  const int major = std::stoi(m[1]);
  if (major < PgParamTableMinMajor() || major > PgParamTableMaxMajor()) GTEST_SKIP() << version->output;
  TempDir dir("param-oracle");
  // Rounds: round i holds the i-th value of every parameter, so each parameter appears once per file.
  std::map<std::string, std::vector<std::string>> values;
  size_t rounds = 0;
  for (const auto& s : PgParamTable()) {
    if (major < s.since || (s.until != 0 && major >= s.until) || kHookChecked.count(s.name)) continue;
    values[s.name] = ValuesFor(s);
    std::erase_if(values[s.name], [&](const std::string& v) { return kHookCheckedValues.count({s.name, v}) > 0; });
    rounds = std::max(rounds, values[s.name].size());
  }
  bool unknown_seen = false;
  EXPECT_EQ(Refused(dir.path, {{"no_such_parameter", "1"}}, &unknown_seen), std::set<std::string>{"no_such_parameter"});
  EXPECT_TRUE(unknown_seen);
  EXPECT_EQ(CheckParameter(major, "no_such_parameter", "1").kind, ParamVerdict::Kind::kUnknown);
  values["my_extension.some_setting"] = {"anything"};
  int checked = 0, disagreements = 0;
  for (size_t i = 0; i < rounds; ++i) {
    std::vector<std::pair<std::string, std::string>> lines;
    for (const auto& [n, vs] : values) {
      if (i < vs.size()) lines.emplace_back(n, vs[i]);
    }
    std::set<std::string> refused = Refused(dir.path, lines, &unknown_seen);
    if (unknown_seen) {  // PostgreSQL stops at an unknown name before it checks values: ask about each one alone
      refused.clear();
      for (const auto& l : lines) {
        for (const auto& n : Refused(dir.path, {l}, &unknown_seen)) refused.insert(n);
      }
    }
    for (const auto& [n, v] : lines) {
      ParamVerdict verdict = CheckParameter(major, n, v);
      bool ours = verdict.kind == ParamVerdict::Kind::kOk || verdict.kind == ParamVerdict::Kind::kUnchecked;
      bool theirs = refused.count(Lower(n)) == 0;
      ++checked;
      if (ours != theirs) {
        ++disagreements;
        ADD_FAILURE() << n << " = '" << v << "': PostgreSQL " << (theirs ? "accepts" : "refuses")
                      << ", the checker says " << static_cast<int>(verdict.kind) << " " << verdict.why;
      }
    }
  }
  std::printf("PostgreSQL %d: %d parameter values checked, %d disagreements\n", major, checked, disagreements);
  EXPECT_GT(checked, 2000);
}

}  // namespace
}  // namespace pgw
