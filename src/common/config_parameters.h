// Rules for postgresql.parameters shared by the loader (local and bootstrap.dcs parameters) and the agent (the
// dynamic configuration's), apart from config.h so that adding one does not rebuild everything.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgw {

using Json = nlohmann::json;

// One warning per parameter of `parameters` (a postgresql.parameters mapping, named `path`) that Patroni accepts
// and overrides: listen_addresses and port (any case), for which postgresql.listen wins.
std::vector<std::string> OverriddenParameterWarnings(const Json& parameters, const std::string& path);

}  // namespace pgw
