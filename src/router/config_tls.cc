#include "router/config_tls.h"

namespace pgw::router {

namespace {

void LoadClientSide(RouterConfig* c, std::vector<std::string>* errors) {
  bool cert = !c->client_tls_cert_file.empty(), key = !c->client_tls_key_file.empty();
  if (!c->client_tls_sslmode_set) c->client_tls_sslmode = cert ? ClientTlsMode::kPrefer : ClientTlsMode::kDisable;
  if (cert != key) {
    errors->push_back(cert ? "client_tls_key_file (--client-tls-key-file): required with client_tls_cert_file"
                           : "client_tls_cert_file (--client-tls-cert-file): required with client_tls_key_file");
    return;
  }
  if (c->client_tls_sslmode == ClientTlsMode::kDisable) {
    if (cert) {
      errors->push_back("client_tls_cert_file (--client-tls-cert-file): not used with client_tls_sslmode disable");
    }
    return;
  }
  if (!cert) {
    errors->push_back(std::string("client_tls_cert_file (--client-tls-cert-file): required with client_tls_sslmode ") +
                      ClientTlsModeName(c->client_tls_sslmode));
    return;
  }
  auto ctx = net::TlsContext::Server(c->client_tls_cert_file, c->client_tls_key_file);
  if (!ctx.ok()) {
    errors->push_back("client_tls_cert_file (--client-tls-cert-file): " + ctx.status().message());
  } else {
    c->client_tls = *ctx;
  }
}

void LoadServerSide(RouterConfig* c, std::vector<std::string>* errors) {
  bool verify =
      c->server_tls_sslmode == ServerTlsMode::kVerifyCa || c->server_tls_sslmode == ServerTlsMode::kVerifyFull;
  if (verify && c->server_tls_ca_file.empty()) {
    errors->push_back(std::string("server_tls_ca_file (--server-tls-ca-file): required with server_tls_sslmode ") +
                      ServerTlsModeName(c->server_tls_sslmode));
    return;
  }
  if (!verify && !c->server_tls_ca_file.empty()) {
    errors->push_back(
        "server_tls_ca_file (--server-tls-ca-file): only used with server_tls_sslmode verify-ca or "
        "verify-full");
    return;
  }
  bool cert = !c->server_tls_cert_file.empty(), key = !c->server_tls_key_file.empty();
  if (cert != key) {
    errors->push_back(cert ? "server_tls_key_file (--server-tls-key-file): required with server_tls_cert_file"
                           : "server_tls_cert_file (--server-tls-cert-file): required with server_tls_key_file");
    return;
  }
  if (c->server_tls_sslmode == ServerTlsMode::kDisable) {
    if (cert) {
      errors->push_back("server_tls_cert_file (--server-tls-cert-file): not used with server_tls_sslmode disable");
    }
    return;
  }
  auto ctx = net::TlsContext::Client(verify, c->server_tls_ca_file, c->server_tls_cert_file, c->server_tls_key_file);
  if (!ctx.ok()) {
    // The message names the file; the key is the CA's unless the CA loaded (the certificate is loaded first).
    std::string m = ctx.status().message();
    bool ca = !c->server_tls_ca_file.empty() && m.rfind(c->server_tls_ca_file, 0) == 0;
    bool keyfile = cert && m.rfind(c->server_tls_key_file, 0) == 0;
    const char* label = ca        ? "server_tls_ca_file (--server-tls-ca-file)"
                        : keyfile ? "server_tls_key_file (--server-tls-key-file)"
                        : cert    ? "server_tls_cert_file (--server-tls-cert-file)"
                                  : "server_tls_ca_file (--server-tls-ca-file)";
    errors->push_back(std::string(label) + ": " + m);
  } else {
    c->server_tls = *ctx;
  }
}

}  // namespace

void LoadTlsContexts(RouterConfig* c, std::vector<std::string>* errors) {
  LoadClientSide(c, errors);
  LoadServerSide(c, errors);
}

}  // namespace pgw::router
