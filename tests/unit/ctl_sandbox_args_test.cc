// pgwardenctl sandbox's argument handling: help, missing verb, bad options (no process is started by any of these).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ctl/ctl.h"

namespace pgw::ctl {
namespace {

struct Ran {
  int code = -1;
  std::string out, err;
};

Ran RunCtl(const std::vector<std::string>& args) {
  FILE* out = std::tmpfile();
  FILE* err = std::tmpfile();
  Ran r;
  r.code = RunSandbox(args, "/nonexistent-bin", out, err);
  auto slurp = [](FILE* f) {
    std::string s;
    std::rewind(f);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
  };
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

TEST(CtlSandboxArgs, HelpPrintsUsageAndSucceeds) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"up", "--help"}}) {
    Ran r = RunCtl(args);
    EXPECT_EQ(r.code, 0) << args.back();
    EXPECT_NE(r.out.find("usage: pgwardenctl sandbox up|down|status"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
}

TEST(CtlSandboxArgs, MissingVerbSaysSoWithUsage) {
  Ran r = RunCtl({});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("sandbox needs a verb"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage:"), std::string::npos);
}

TEST(CtlSandboxArgs, BadOptionsAndVerbsAreNamed) {
  Ran r = RunCtl({"up", "--nodes", "0"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--nodes must be a number from 1 to 9, got '0'"), std::string::npos) << r.err;
  r = RunCtl({"up", "--ttl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--ttl needs a value"), std::string::npos) << r.err;
  r = RunCtl({"launch"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown sandbox verb 'launch'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace pgw::ctl
