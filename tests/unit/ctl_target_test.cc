// pgwardenctl's command line and configuration loading (CheckCommandLine, ctl/target.h), without etcd.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "ctl/ctl.h"
#include "ctl/options.h"
#include "ctl/target.h"

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
  EXPECT_NO_THROW(s = CheckCommandLine({"-c", f.path(), "list"}, {}));
  return s;
}

TEST(CtlTargetTest, LoadsScopeAndHosts) {
  EXPECT_TRUE(Check("scope: demo\netcd3:\n  hosts: 127.0.0.1:2379,127.0.0.2:2379\n").ok());
  EXPECT_TRUE(Check("scope: demo\netcd3:\n  hosts: [127.0.0.1:2379]\n").ok());
  EXPECT_TRUE(CheckCommandLine({"--dcs-url", "http://127.0.0.1:2379", "list"}, {}).ok());
  EXPECT_FALSE(CheckCommandLine({"list"}, {}).ok());  // nothing names etcd
  EXPECT_FALSE(CheckCommandLine({"-f", "xml", "list"}, {}).ok());
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

// The configuration pgwardenctl would use for `args` in environment `env` (no etcd contacted).
Result<Config> TargetOf(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  auto o = ParseOptions(args);
  if (!o.ok()) return o.status();
  return LoadTarget(*o, env);
}

const std::vector<HostPort> kUrlHost = {HostPort{"10.0.0.7", 2379}};

// pgwardenctl reads its file through the agent's loader: etcd3.url (and proxy) name the endpoint, the scheme the
// protocol. Before, pgwardenctl read etcd3.host/hosts itself and refused such a file ("no etcd to talk to").
TEST(CtlTargetTest, Etcd3UrlNamesTheEndpointsCtlTalksTo) {
  TempYaml f("scope: demo\netcd3:\n  url: https://10.0.0.7:2379\n");
  EXPECT_TRUE(CheckCommandLine({"-c", f.path(), "list"}, {}).ok());
  auto t = TargetOf({"-c", f.path(), "list"}, {});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->etcd3.hosts, kUrlHost);
  EXPECT_EQ(t->etcd3.protocol, "https");
  TempYaml proxy("scope: demo\netcd3:\n  proxy: http://10.0.0.7:2379\n");
  auto p = TargetOf({"-c", proxy.path(), "list"}, {});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->etcd3.hosts, kUrlHost);
}

// PATRONI_* variables override the file, as for the agent and patronictl; with no file at all they are the whole
// configuration. Before, pgwardenctl ignored them.
TEST(CtlTargetTest, PatroniEnvironmentReachesTheEndpointsCtlTalksTo) {
  TempYaml f("scope: demo\netcd3:\n  hosts: 127.0.0.1:2379\n");
  auto t = TargetOf({"-c", f.path(), "list"}, {{"PATRONI_ETCD3_HOSTS", "10.0.0.7:2379"}});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->etcd3.hosts, kUrlHost);

  std::map<std::string, std::string> env = {{"PATRONI_SCOPE", "envdemo"},
                                            {"PATRONI_ETCD3_URL", "http://root:pw@10.0.0.7:2379"},
                                            {"PATRONI_ETCD3_CACERT", "/etc/ca.pem"}};
  EXPECT_TRUE(CheckCommandLine({"list"}, env).ok());
  auto e = TargetOf({"list"}, env);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->etcd3.hosts, kUrlHost);
  EXPECT_EQ(e->scope, "envdemo");
  EXPECT_EQ(e->etcd3.username, "root");
  EXPECT_EQ(e->etcd3.cacert, "/etc/ca.pem");
  // PATRONI_CONFIGURATION stands for the file when none is given.
  auto c = TargetOf({"list"}, {{"PATRONI_CONFIGURATION", "scope: demo\netcd3: {host: '10.0.0.7:2379'}\n"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->etcd3.hosts, kUrlHost);
}

// PATRONI_ETCD3_PROXY goes through the same key table as the agent's: endpoint and protocol from the URL (the
// agent's rule, Patroni's: the first of proxy, url, hosts and host is used).
TEST(CtlTargetTest, PatroniEtcd3ProxyVariableNamesTheEndpoint) {
  auto t = TargetOf({"list"}, {{"PATRONI_SCOPE", "demo"}, {"PATRONI_ETCD3_PROXY", "https://10.0.0.7:2379/v3"}});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->etcd3.hosts, kUrlHost);
  EXPECT_EQ(t->etcd3.protocol, "https");
}

// patronictl's order: ctl.authentication before restapi.authentication, ctl's TLS files before restapi's, and
// ctl.insecure or -k to skip the certificate check. Each was ignored before (restapi's always won, or nothing).
TEST(CtlTargetTest, CtlSectionComesBeforeRestapiAsInPatronictl) {
  TempYaml f(
      "scope: demo\netcd3: {hosts: ['127.0.0.1:2379']}\n"
      "restapi: {authentication: {username: u, password: p}, certfile: /etc/rest.pem, keyfile: /etc/rest.key}\n"
      "ctl: {authentication: {username: cu, password: cp}, insecure: true}\n");
  auto t = TargetOf({"-c", f.path(), "list"}, {});
  ASSERT_TRUE(t.ok()) << t.status().message();
  ApiAccess a = ApiAccessOf(*t);
  EXPECT_EQ(a.user, "cu");
  EXPECT_EQ(a.password, "cp");
  EXPECT_EQ(a.cert, "/etc/rest.pem") << "restapi.certfile when ctl.certfile is not set";
  EXPECT_EQ(a.key, "/etc/rest.key");
  EXPECT_TRUE(a.insecure);
  EXPECT_EQ(a.key_password, "") << "no keyfile_password anywhere";

  TempYaml g("scope: demo\netcd3: {hosts: ['127.0.0.1:2379']}\nrestapi: {certfile: /etc/both.pem}\n");
  auto e = TargetOf({"-c", g.path(), "list"}, {{"PATRONI_CTL_USERNAME", "eu"}, {"PATRONI_CTL_PASSWORD", "ep"}});
  ASSERT_TRUE(e.ok()) << e.status().message();
  a = ApiAccessOf(*e);
  EXPECT_EQ(a.user, "eu");
  EXPECT_EQ(a.password, "ep");
  EXPECT_EQ(a.key, "/etc/both.pem") << "a certificate file without a key file holds both";
  EXPECT_FALSE(a.insecure);
  auto k = TargetOf({"-c", g.path(), "-k", "list"}, {});
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_TRUE(ApiAccessOf(*k).insecure);
  auto k2 = TargetOf({"--insecure", "-c", g.path(), "list"}, {});
  ASSERT_TRUE(k2.ok()) << k2.status().message();
  EXPECT_TRUE(ApiAccessOf(*k2).insecure);
}

// keyfile_password as patronictl takes it: ctl's, else restapi's (PATRONI_* names included).
TEST(CtlTargetTest, KeyfilePasswordFromCtlElseRestapi) {
  TempYaml f(
      "scope: demo\netcd3: {hosts: ['127.0.0.1:2379']}\n"
      "restapi: {certfile: /etc/rest.pem, keyfile: /etc/rest.key, keyfile_password: rp}\n");
  auto r = TargetOf({"-c", f.path(), "list"}, {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(ApiAccessOf(*r).key_password, "rp");
  auto c = TargetOf({"-c", f.path(), "list"}, {{"PATRONI_CTL_KEYFILE_PASSWORD", "cp"}});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(ApiAccessOf(*c).key_password, "cp");
  TempYaml g("scope: demo\netcd3: {hosts: ['127.0.0.1:2379']}\nrestapi: {certfile: /etc/rest.pem}\n");
  auto e = TargetOf({"-c", g.path(), "list"}, {{"PATRONI_RESTAPI_KEYFILE_PASSWORD", "ep"}});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(ApiAccessOf(*e).key_password, "ep");
}

// The rest of patroni.yml configures an agent: pgwardenctl neither requires it nor checks it (patronictl loads the
// file without a validator). What it reads keeps its types, and --dcs-url replaces the endpoints.
TEST(CtlTargetTest, ReadsOnlyWhatAClientNeeds) {
  TempYaml f(
      "scope: demo\nname: n1\netcd3: {hosts: ['127.0.0.1:2379']}\n"
      "restapi: {authentication: {username: u, password: p}, cafile: /nonexistent/ca.pem}\n"
      "ctl: {cacert: /etc/ctl-ca.pem, certfile: /etc/c.pem, keyfile: /etc/k.pem}\n"
      "postgresql: {parameters: {port: 5}, pg_ctl_timeout: never}\nbootstrap: {method: custom}\n");
  auto t = TargetOf({"-c", f.path(), "list"}, {});
  ASSERT_TRUE(t.ok()) << t.status().message();
  ApiAccess a = ApiAccessOf(*t);
  EXPECT_EQ(a.user, "u");
  EXPECT_EQ(a.password, "p");
  EXPECT_EQ(a.cacert, "/etc/ctl-ca.pem");
  EXPECT_EQ(a.cert, "/etc/c.pem");
  EXPECT_EQ(a.key, "/etc/k.pem");
  TempYaml no_ctl("scope: demo\netcd3: {host: '127.0.0.1:2379'}\nrestapi: {cafile: /nonexistent/ca.pem}\n");
  auto n = TargetOf({"-c", no_ctl.path(), "list"}, {});
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(ApiAccessOf(*n).cacert, "/nonexistent/ca.pem");  // restapi.cafile when ctl.cacert is not set

  EXPECT_FALSE(a.insecure);

  auto d = TargetOf({"-c", f.path(), "--dcs-url", "etcd3://10.0.0.7:2379", "list"}, {});
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->etcd3.hosts, kUrlHost);
  auto e = TargetOf({"list"}, {{"DCS_URL", "10.0.0.7:2379"}, {"PATRONI_SCOPE", "demo"}});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->etcd3.hosts, kUrlHost);

  EXPECT_FALSE(CheckCommandLine({"-c", "/nonexistent/patroni.yml", "list"}, {}).ok());
  EXPECT_FALSE(CheckCommandLine({"list"}, {{"PATRONICTL_CONFIG_FILE", "/nonexistent/patroni.yml"}}).ok());
  TempYaml bad("scope: demo\netcd3: {host: '10.0.0.7:2379', protocol: gopher}\n");
  Status s = CheckCommandLine({"-c", bad.path(), "list"}, {});
  EXPECT_NE(s.message().find("etcd3.protocol"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace pgw::ctl
