// PgController's part of a bootstrap: initdb, the first start as primary, and the roles pgwarden and
// bootstrap.users need. The agent runs post_bootstrap between the two (agent/executor_bootstrap.cc).
#include "pg/bootstrap.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/fs.h"
#include "pg/controller.h"

namespace pgw {

std::string RoleStatement(bool exists, const std::string& quoted_name, std::vector<std::string> options,
                          const std::string& quoted_password) {
  for (auto& o : options)
    std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return std::toupper(c); });
  if (std::find(options.begin(), options.end(), "LOGIN") == options.end() &&
      std::find(options.begin(), options.end(), "NOLOGIN") == options.end()) {
    options.push_back("LOGIN");
  }
  std::string sql = std::string(exists ? "ALTER" : "CREATE") + " ROLE " + quoted_name + " WITH";
  for (const auto& o : options) sql += " " + o;
  if (!quoted_password.empty()) sql += " PASSWORD " + quoted_password;
  return sql;
}

Result<std::string> PgController::Bootstrap() {
  const auto& pg = cfg_->postgresql;
  PGW_RETURN_IF_ERROR(MakeDirs(pg.data_dir, 0700));
  char tmpl[] = "/tmp/pgwarden-pwfile-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return IoError("cannot create a temporary password file");
  close(fd);
  std::string pwfile = tmpl;
  PGW_RETURN_IF_ERROR(WriteFileAtomic(pwfile, pg.superuser.password + "\n", 0600));
  std::vector<std::string> argv = {cfg_->PgBin("initdb"), "--pgdata=" + pg.data_dir,
                                   "--username=" + pg.superuser.username};
  if (!pg.superuser.password.empty()) argv.push_back("--pwfile=" + pwfile);
  for (const auto& a : cfg_->bootstrap.initdb_args) argv.push_back(a);
  Status s = RunProgram(argv, Duration(600000));
  unlink(pwfile.c_str());
  if (!s.ok()) return s.Context("initdb");
  s = Start(std::nullopt);
  if (!s.ok()) return s.Context("starting PostgreSQL after initdb");
  auto rows = Query("SELECT system_identifier::text FROM pg_control_system()");
  if (!rows.ok()) return rows.status();
  if (rows->empty() || !rows->front()[0]) return Internal("no system identifier");
  return *rows->front()[0];
}

Status PgController::CreateRoles() {
  const auto& pg = cfg_->postgresql;
  PGW_RETURN_IF_ERROR(EnsureConnected());
  // As Patroni: passwords stay out of the server log, and nothing waits for a synchronous standby.
  for (const char* set : {"SET log_statement TO none", "SET log_min_duration_statement TO -1",
                          "SET log_min_error_statement TO log", "SET synchronous_commit TO local"}) {
    auto r = conn_.Query(set);
    if (!r.ok()) return r.status().Context("preparing to create roles");
  }
  auto role = [&](const std::string& name, const std::string& password,
                  const std::vector<std::string>& options) -> Status {
    auto found = conn_.Query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", {name});
    if (!found.ok()) return found.status().Context("looking up role " + name);
    std::string sql = RoleStatement(!found->empty(), conn_.QuoteIdent(name), options,
                                    password.empty() ? "" : conn_.QuoteLiteral(password));
    auto r = conn_.Query(sql);
    if (!r.ok()) return r.status().Context(std::string(found->empty() ? "creating" : "updating") + " role " + name);
    return Status::Ok();
  };
  const std::string& su = pg.superuser.username;
  if (pg.replication.username != su) {
    PGW_RETURN_IF_ERROR(role(pg.replication.username, pg.replication.password, {"REPLICATION"}));
  }
  if (pg.has_rewind_user && pg.rewind.username != su) {
    PGW_RETURN_IF_ERROR(role(pg.rewind.username, pg.rewind.password, {}));
    std::string who = conn_.QuoteIdent(pg.rewind.username);
    for (const char* fn :
         {"pg_catalog.pg_ls_dir(text, boolean, boolean)", "pg_catalog.pg_stat_file(text, boolean)",
          "pg_catalog.pg_read_binary_file(text)", "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)"}) {
      auto r = conn_.Query(std::string("GRANT EXECUTE ON function ") + fn + " TO " + who);
      if (!r.ok()) return r.status().Context("granting rewind privileges");
    }
  }
  for (const auto& u : cfg_->bootstrap.users) {
    if (u.name == su || u.name == pg.replication.username || (pg.has_rewind_user && u.name == pg.rewind.username)) {
      continue;  // Patroni leaves the roles it manages itself alone
    }
    PGW_RETURN_IF_ERROR(role(u.name, u.password, u.options));
    log_.Info("bootstrap.users: role " + u.name + " created");
  }
  for (const char* reset : {"RESET log_statement", "RESET log_min_duration_statement", "RESET log_min_error_statement",
                            "RESET synchronous_commit"}) {
    auto r = conn_.Query(reset);
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

}  // namespace pgw
