// Reload of the local configuration against a real agent, etcd and PostgreSQL, as a Patroni user does it: edit
// patroni.yml, then `patronictl reload` (POST /reload) or SIGHUP. A reloadable parameter reaches PostgreSQL, a tag
// reaches the member key, and a file that does not validate changes nothing and leaves the agent running.
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "helpers.h"

namespace pgw::itest {
namespace {

using Json = nlohmann::json;
using std::chrono::seconds;

std::string Replaced(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << "'" << from << "' is not in the file";
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

class ConfigReloadTest : public ClusterFixture {
 protected:
  ConfigReloadTest() : ClusterFixture("reload") {}

  // Rewrites the node's patroni.yml, readable by the agent's user.
  static void WriteNodeConfig(const SandboxNode& n, const std::string& text) {
    Status w = WriteFileAtomic(n.config_path, text, 0600);
    ASSERT_TRUE(w.ok()) << w.message();
    if (geteuid() == 0) {
      auto u = LookupUser("postgres");
      ASSERT_TRUE(u.ok());
      ASSERT_EQ(chown(n.config_path.c_str(), u->uid, u->gid), 0);
    }
  }
  Json MemberTags(const SandboxNode& n) {
    std::string v = Etcdctl(sb_->EtcdEndpoint(), {"get", "--print-value-only", sb_->KeyPrefix() + "members/" + n.name});
    Json j = Json::parse(v, nullptr, false);
    return j.is_object() && j.contains("tags") ? j["tags"] : Json();
  }
  static int Count(const std::string& haystack, const std::string& needle) {
    int n = 0;
    for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) ++n;
    return n;
  }
};

TEST_F(ConfigReloadTest, EditedFileIsAppliedByPostReloadAndSighupAndAnInvalidOneChangesNothing) {
  StartCluster(1, [](SandboxSpec& s) { s.node_tags = {"  region: west\n"}; });
  if (HasFatalFailure()) return;
  const SandboxNode& n = sb_->nodes()[0];
  const std::string conn = sb_->Conninfo(n.name);
  ASSERT_EQ(Sql(conn, "SHOW work_mem"), "4MB");
  ASSERT_TRUE(WaitFor([&] { return MemberTags(n) == Json{{"region", "west"}}; }, seconds(30))) << MemberTags(n);
  auto original = ReadFile(n.config_path);
  ASSERT_TRUE(original.ok());

  // 1. patronictl reload: a reloadable parameter, one that needs a restart of PostgreSQL, and the tags.
  std::string edited =
      Replaced(*original, "    shared_buffers: 32MB\n", "    shared_buffers: 48MB\n    work_mem: 7MB\n");
  edited = Replaced(edited, "  region: west\n", "  region: east\n  nofailover: true\n");
  WriteNodeConfig(n, edited);
  auto [code, body] = RestCall(n, "POST", "/reload");
  EXPECT_EQ(code, 202) << body;
  EXPECT_EQ(body, "reload scheduled");
  EXPECT_TRUE(WaitFor([&] { return Sql(conn, "SHOW work_mem") == "7MB"; }, seconds(30)))
      << "work_mem is " << Sql(conn, "SHOW work_mem");
  Json want_tags = {{"region", "east"}, {"nofailover", true}};
  EXPECT_TRUE(WaitFor([&] { return MemberTags(n) == want_tags; }, seconds(30))) << MemberTags(n);
  auto log = ReadFile(n.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("reload: postgresql.parameters.work_mem: applied"), std::string::npos);
  EXPECT_NE(log->find("reload: tags.region: applied"), std::string::npos);
  EXPECT_NE(log->find("reload: postgresql.parameters.shared_buffers: written to postgresql.conf, needs a restart"),
            std::string::npos);
  // shared_buffers waits for a restart: PostgreSQL says so, and the member key and GET /patroni show it as Patroni's.
  EXPECT_EQ(Sql(conn, "SHOW shared_buffers"), "32MB");
  EXPECT_TRUE(WaitFor(
      [&] {
        auto st = sb_->NodeStatus(n.name);
        return st.ok() && Json::parse(*st, nullptr, false).value("pending_restart", false);
      },
      seconds(30)))
      << "GET /patroni shows no pending_restart";
  std::string member;
  EXPECT_TRUE(WaitFor(
      [&] {
        member = Etcdctl(sb_->EtcdEndpoint(), {"get", "--print-value-only", sb_->KeyPrefix() + "members/" + n.name});
        return member.find("\"pending_restart\":true") != std::string::npos;
      },
      seconds(30)))
      << member;

  // 2. A file that does not validate: the answer names the key, nothing changes, the agent keeps running.
  std::string invalid = Replaced(Replaced(edited, "    work_mem: 7MB\n", "    work_mem: 9MB\n"),
                                 "  data_dir: ", "  pg_ctl_timeout: soon\n  data_dir: ");
  WriteNodeConfig(n, invalid);
  auto [bad_code, bad_body] = RestCall(n, "POST", "/reload");
  EXPECT_EQ(bad_code, 500) << bad_body;
  EXPECT_NE(bad_body.find("postgresql.pg_ctl_timeout"), std::string::npos) << bad_body;
  ASSERT_TRUE(sb_->SignalNode(n.name, SIGHUP, false).ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto l = ReadFile(n.log_path);
        return l.ok() && Count(*l, "keeping the running configuration") >= 2;
      },
      seconds(30)))
      << "SIGHUP with an invalid file was not reported";
  auto [st_code, st_body] = RestCall(n, "GET", "/patroni");
  EXPECT_EQ(st_code, 200) << st_body;
  EXPECT_EQ(Sql(conn, "SHOW work_mem"), "7MB");

  // 3. SIGHUP with the file fixed: applied as POST /reload is.
  WriteNodeConfig(n, Replaced(invalid, "  pg_ctl_timeout: soon\n", ""));
  ASSERT_TRUE(sb_->SignalNode(n.name, SIGHUP, false).ok());
  EXPECT_TRUE(WaitFor([&] { return Sql(conn, "SHOW work_mem") == "9MB"; }, seconds(30)))
      << "work_mem is " << Sql(conn, "SHOW work_mem");
  EXPECT_EQ(MemberTags(n), want_tags);
}

}  // namespace
}  // namespace pgw::itest

namespace pgw::itest {
namespace {

// postgresql.pg_ident, as Patroni handles it: written to pg_ident.conf (after the header) before PostgreSQL starts,
// and again, with a reload of PostgreSQL, when a reload of the configuration changes it.
TEST_F(ConfigReloadTest, PgIdentIsWrittenAtStartAndRewrittenByAReload) {
  StartCluster(1, [](SandboxSpec& s) { s.extra_postgresql = "  pg_ident:\n  - omicron bryanh bryan\n"; });
  if (HasFatalFailure()) return;
  const SandboxNode& n = sb_->nodes()[0];
  const std::string conn = sb_->Conninfo(n.name);
  const std::string mappings =
      "SELECT string_agg(map_name || ' ' || sys_name || ' ' || pg_username, ',' ORDER BY line_number) "
      "FROM pg_ident_file_mappings WHERE error IS NULL";
  EXPECT_EQ(Sql(conn, mappings), "omicron bryanh bryan");
  auto file = ReadFile(n.data_dir + "/pg_ident.conf");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->rfind("# Do not edit this file manually!\n", 0), 0u) << *file;

  auto original = ReadFile(n.config_path);
  ASSERT_TRUE(original.ok());
  WriteNodeConfig(n, Replaced(*original, "  - omicron bryanh bryan\n", "  - omicron ann ann\n  - web w1 w1\n"));
  auto [code, body] = RestCall(n, "POST", "/reload");
  EXPECT_EQ(code, 202) << body;
  std::string now;
  EXPECT_TRUE(WaitFor(
      [&] {
        now = Sql(conn, mappings);
        return now == "omicron ann ann,web w1 w1";
      },
      std::chrono::seconds(30)))
      << now;
  auto log = ReadFile(n.log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("reload: postgresql.pg_ident: applied"), std::string::npos);
}

// Patroni's postgresql.recovery_conf, a delayed replica: the delay reaches the replica's PostgreSQL and not the
// primary's, holds a commit back on the replica (received, not applied), and a reload that changes it applies it.
TEST_F(ConfigReloadTest, RecoveryConfDelaysTheReplicaOnlyAndAReloadChangesIt) {
  StartCluster(2, [](SandboxSpec& s) { s.extra_postgresql = "  recovery_conf:\n    recovery_min_apply_delay: 1h\n"; });
  if (HasFatalFailure()) return;
  const SandboxNode* primary = nullptr;
  const SandboxNode* replica = nullptr;
  for (const auto& n : sb_->nodes()) {
    (Sql(sb_->Conninfo(n.name), "SELECT pg_is_in_recovery()") == "t" ? replica : primary) = &n;
  }
  ASSERT_TRUE(primary && replica);
  const std::string pconn = sb_->Conninfo(primary->name), rconn = sb_->Conninfo(replica->name);
  EXPECT_EQ(Sql(rconn, "SHOW recovery_min_apply_delay"), "1h");
  EXPECT_EQ(Sql(pconn, "SHOW recovery_min_apply_delay"), "0");

  Sql(pconn, "CREATE TABLE delayed_replica_probe (x int)");
  const std::string lsn = Sql(pconn, "SELECT pg_current_wal_lsn()");
  ASSERT_FALSE(lsn.empty());
  const std::string received = "SELECT pg_last_wal_receive_lsn() >= '" + lsn + "'::pg_lsn";
  ASSERT_TRUE(WaitFor([&] { return Sql(rconn, received) == "t"; }, seconds(30))) << Sql(rconn, received);
  const std::string visible = "SELECT to_regclass('delayed_replica_probe') IS NOT NULL";
  EXPECT_EQ(Sql(rconn, visible), "f") << "the commit was applied without the hour's delay";

  auto original = ReadFile(replica->config_path);
  ASSERT_TRUE(original.ok());
  WriteNodeConfig(*replica, Replaced(*original, "recovery_min_apply_delay: 1h", "recovery_min_apply_delay: 0"));
  auto [code, body] = RestCall(*replica, "POST", "/reload");
  EXPECT_EQ(code, 202) << body;
  EXPECT_TRUE(WaitFor([&] { return Sql(rconn, visible) == "t"; }, seconds(30)))
      << "recovery_min_apply_delay is " << Sql(rconn, "SHOW recovery_min_apply_delay");
  EXPECT_EQ(Sql(rconn, "SHOW recovery_min_apply_delay"), "0");
  auto log = ReadFile(replica->log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("reload: postgresql.recovery_conf.recovery_min_apply_delay: applied"), std::string::npos);
}

}  // namespace
}  // namespace pgw::itest
