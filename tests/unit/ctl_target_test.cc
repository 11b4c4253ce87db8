// pgwardenctl's command line and configuration-file loading (CheckCommandLine), without etcd.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "ctl/ctl.h"

namespace pgw::ctl {
namespace {

// A configuration file that is removed when the test ends, whatever happens.
class TempYaml {
 public:
  explicit TempYaml(const std::string& text) {
    char tmpl[] = "/tmp/pgw_ctl_test_XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    if (fd >= 0) close(fd);
    std::ofstream(path_) << text;
  }
  ~TempYaml() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Status Check(const std::string& yaml) {
  TempYaml f(yaml);
  Status s = InvalidArgument("threw");
  EXPECT_NO_THROW(s = CheckCommandLine({"-c", f.path(), "list"}));
  return s;
}

TEST(CtlTargetTest, LoadsScopeAndHosts) {
  EXPECT_TRUE(Check("scope: demo\netcd3:\n  hosts: 127.0.0.1:2379,127.0.0.2:2379\n").ok());
  EXPECT_TRUE(Check("scope: demo\netcd3:\n  hosts: [127.0.0.1:2379]\n").ok());
  EXPECT_TRUE(CheckCommandLine({"--dcs-url", "http://127.0.0.1:2379", "list"}).ok());
  EXPECT_FALSE(CheckCommandLine({"list"}).ok());  // nothing names etcd
  EXPECT_FALSE(CheckCommandLine({"-f", "xml", "list"}).ok());
}

// Found by fuzz_ctl_args: a file that is not a mapping, or keys of the wrong YAML kind, threw yaml-cpp exceptions
// out of LoadTarget (pgwardenctl died with "terminate called"). Each must be an error naming the key.
TEST(CtlTargetTest, WrongShapedFileIsAnErrorNamingTheKey) {
  struct Case {
    const char* yaml;
    const char* names;
  } cases[] = {
      {"- a\n- b\n", "mapping"},
      {"just a string\n", "mapping"},
      {"scope: [a, b]\netcd3: {hosts: '127.0.0.1:2379'}\n", "scope"},
      {"scope: {a: 1}\netcd3: {hosts: '127.0.0.1:2379'}\n", "scope"},
      {"namespace: [x]\netcd3: {hosts: '127.0.0.1:2379'}\n", "namespace"},
      {"scope: demo\netcd3: 5\n", "etcd3"},
      {"scope: demo\netcd3: {hosts: {a: b}}\n", "etcd3.hosts"},
      {"scope: demo\netcd3: {hosts: [[1]]}\n", "etcd3.hosts"},
      {"scope: demo\netcd3: {host: [1]}\n", "etcd3.host"},
      {"scope: demo\netcd3: {hosts: 'h:1', protocol: [x]}\n", "etcd3.protocol"},
      {"scope: demo\netcd3: {hosts: 'h:1'}\nrestapi: 7\n", "restapi"},
      {"scope: demo\netcd3: {hosts: 'h:1'}\nrestapi: {authentication: [1]}\n", "restapi.authentication"},
      {"scope: demo\netcd3: {hosts: 'h:1'}\nrestapi: {cafile: {a: 1}}\n", "restapi.cafile"},
      {"scope: demo\netcd3: {hosts: 'h:1'}\nctl: [1]\n", "ctl"},
      {"scope: demo\netcd3: {hosts: 'h:1'}\nctl: {certfile: [1]}\n", "ctl.certfile"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    Status s = Check(c.yaml);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find(c.names), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace pgw::ctl
