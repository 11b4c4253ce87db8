// Router-internal: checks the TLS settings of a RouterConfig being loaded and loads the contexts they name, so that
// a bad file is an error of the configuration that names its key, at start and at a reload, never a failure of a
// client's connection.
#pragma once

#include <string>
#include <vector>

#include "router/config.h"

namespace pgw::router {

// Sets c->client_tls and c->server_tls (and resolves client_tls_sslmode); appends the problems to *errors.
void LoadTlsContexts(RouterConfig* c, std::vector<std::string>* errors);

}  // namespace pgw::router
