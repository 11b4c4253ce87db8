// Pure helpers of the bootstrap (PgController::Bootstrap and CreateRoles in pg/bootstrap.cc).
#pragma once

#include <string>
#include <vector>

namespace pgw {

// CREATE ROLE (or ALTER ROLE when `exists`) as Patroni's create_or_update_role writes it: the options (upper
// case), LOGIN added unless LOGIN or NOLOGIN is among them, then PASSWORD when `quoted_password` is not empty.
// `quoted_name` and `quoted_password` are already quoted (PgConnection::QuoteIdent / QuoteLiteral).
std::string RoleStatement(bool exists, const std::string& quoted_name, std::vector<std::string> options,
                          const std::string& quoted_password);

}  // namespace pgw
