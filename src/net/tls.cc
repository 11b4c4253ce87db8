#include "net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fs.h"

namespace pgw::net {

namespace {
// The OpenSSL error queue as text (and emptied).
std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

SSL_CTX* NewContext(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Writes may be partial and retried from a buffer that moved (pending strings grow and shrink); reads return
  // WANT_READ after non-application records instead of retrying inside OpenSSL.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
  // No renegotiation: a write would then wait for readability, which the callers do not watch for.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  // A peer that closes without close_notify (libpq, PostgreSQL on exit) has closed, not failed.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  return ctx;
}

// OpenSSL's password callback: copies the configured password, or answers "none" (0) without asking anyone.
int CopyPassword(char* buf, int size, int /*rwflag*/, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (password == nullptr || password->empty() || size <= 0) return 0;
  int n = static_cast<int>(std::min<size_t>(password->size(), static_cast<size_t>(size)));
  std::memcpy(buf, password->data(), static_cast<size_t>(n));
  return n;
}

// Whether a PEM key file holds an encrypted key (PKCS#8 "ENCRYPTED PRIVATE KEY", or the traditional format's
// "Proc-Type: 4,ENCRYPTED" header). Asked only after loading the key failed.
bool KeyFileEncrypted(const std::string& key_file) {
  auto text = ReadFile(key_file);
  return text.ok() &&
         (text->find("ENCRYPTED PRIVATE KEY") != std::string::npos || text->find("4,ENCRYPTED") != std::string::npos);
}
}  // namespace

Status LoadCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                             const std::string& password) {
  // The callback is set for the whole context (a chain file may hold an encrypted key too) and the pointer to
  // the password cleared again before returning: nothing keeps it after loading.
  SSL_CTX_set_default_passwd_cb(ctx, CopyPassword);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&password));
  struct Clear {
    SSL_CTX* ctx;
    ~Clear() { SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr); }
  } clear{ctx};
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return InvalidArgument(cert_file + ": " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::string e = OpenSslErrors();
    if (e.find("mismatch") != std::string::npos) {
      e = "does not match the certificate " + cert_file + " (" + e + ")";
    } else if (KeyFileEncrypted(key_file)) {
      e = std::string(password.empty() ? "the key is encrypted and no keyfile_password is set"
                                       : "the key is encrypted and keyfile_password does not decrypt it") +
          " (" + e + ")";
    }
    return InvalidArgument(key_file + ": " + e);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgument(key_file + " does not match the certificate " + cert_file);
  }
  return Status::Ok();
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<const TlsContext>> TlsContext::Server(const std::string& cert_file, const std::string& key_file,
                                                             const std::string& key_password) {
  ERR_clear_error();
  SSL_CTX* ctx = NewContext(TLS_server_method());
  if (!ctx) return Internal("SSL_CTX_new: " + OpenSslErrors());
  std::shared_ptr<const TlsContext> out(new TlsContext(ctx));
  PGW_RETURN_IF_ERROR(LoadCertificateAndKey(ctx, cert_file, key_file, key_password));
  return out;
}

Result<std::shared_ptr<const TlsContext>> TlsContext::Client(bool verify, const std::string& ca_file,
                                                             const std::string& cert_file, const std::string& key_file,
                                                             const std::string& key_password) {
  ERR_clear_error();
  SSL_CTX* ctx = NewContext(TLS_client_method());
  if (!ctx) return Internal("SSL_CTX_new: " + OpenSslErrors());
  std::shared_ptr<const TlsContext> out(new TlsContext(ctx));
  if (cert_file.empty() != key_file.empty()) return InvalidArgument("a client certificate needs both a cert and a key");
  if (!cert_file.empty()) PGW_RETURN_IF_ERROR(LoadCertificateAndKey(ctx, cert_file, key_file, key_password));
  if (verify) {
    int ok = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                             : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
    if (ok != 1) return InvalidArgument((ca_file.empty() ? "default CA store" : ca_file) + ": " + OpenSslErrors());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return out;
}

TlsConn::TlsConn(std::shared_ptr<const TlsContext> ctx, int fd, bool server_side, const std::string& verify_name)
    : ctx_(std::move(ctx)) {
  ssl_ = SSL_new(ctx_->get());
  if (!ssl_) {
    error_ = OpenSslErrors();
    return;
  }
  SSL_set_fd(ssl_, fd);
  if (server_side) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  if (verify_name.empty()) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
  in6_addr a6;
  in_addr a4;
  bool is_ip = inet_pton(AF_INET, verify_name.c_str(), &a4) == 1 || inet_pton(AF_INET6, verify_name.c_str(), &a6) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), 0);
    // SNI (SSL_set_tlsext_host_name, spelled out: the macro's cast is an old-style one).
    SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             static_cast<void*>(const_cast<char*>(verify_name.c_str())));
  }
}

TlsConn::~TlsConn() {
  if (ssl_) SSL_free(ssl_);
}

ssize_t TlsConn::Fail(int ret) {
  int e = SSL_get_error(ssl_, ret);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    wants_write_ = e == SSL_ERROR_WANT_WRITE;
    errno = EAGAIN;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    if (ret == 0 || errno == 0) return 0;  // EOF without close_notify: treated as a close
    error_ = strerror(errno);
    return -1;
  }
  error_ = OpenSslErrors();
  errno = EIO;
  return -1;
}

TlsConn::Step TlsConn::Handshake() {
  if (!ssl_) return Step::kFailed;
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return Step::kDone;
  int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ) return Step::kWantRead;
  if (e == SSL_ERROR_WANT_WRITE) return Step::kWantWrite;
  error_ = OpenSslErrors();
  long v = SSL_get_verify_result(ssl_);
  if (v != X509_V_OK)
    error_ = std::string("certificate verification failed: ") + X509_verify_cert_error_string(v);
  else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
    error_ = "the peer closed the connection during the TLS handshake";
  return Step::kFailed;
}

ssize_t TlsConn::Read(char* buf, size_t n) {
  if (!ssl_) return (errno = EIO, -1);
  ERR_clear_error();
  wants_write_ = false;
  int r = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
  return r > 0 ? r : Fail(r);
}

ssize_t TlsConn::Write(const char* buf, size_t n) {
  if (!ssl_) return (errno = EIO, -1);
  if (n == 0) return 0;
  ERR_clear_error();
  wants_write_ = false;
  int r = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(n, 1 << 30)));
  if (r > 0) return r;
  ssize_t f = Fail(r);
  return f == 0 ? (errno = EPIPE, -1) : f;
}

bool TlsConn::Pending() const { return ssl_ && SSL_pending(ssl_) > 0; }

void TlsConn::Shutdown() {
  if (!ssl_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsConn::Describe() const {
  if (!ssl_) return "";
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

ssize_t StreamRead(int fd, TlsConn* tls, char* buf, size_t n) {
  if (tls) return tls->Read(buf, n);
  return read(fd, buf, n);
}

ssize_t StreamWrite(int fd, TlsConn* tls, const char* buf, size_t n) {
  if (tls) return tls->Write(buf, n);
  return send(fd, buf, n, MSG_NOSIGNAL);
}

}  // namespace pgw::net
