// TLS over the non-blocking sockets of net/socket.h (OpenSSL): a shared context (certificate and key for the
// server side; verification settings for the client side) and a per-connection state whose handshake, reads and
// writes never block: they return "would block" (errno EAGAIN) and say which readiness they wait for, so that an
// epoll loop drives them.
//
// Threading: a TlsContext is immutable once built and may be shared by every thread; a TlsConn belongs to the
// thread serving its socket.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "common/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace pgw::net {

class TlsContext {
 public:
  // Accepts TLS from clients with this certificate chain and key (PEM files). Errors name the file.
  // An encrypted key is decrypted with `key_password` (Patroni's keyfile_password).
  static Result<std::shared_ptr<const TlsContext>> Server(const std::string& cert_file, const std::string& key_file,
                                                          const std::string& key_password = "");
  // Connects with TLS. With `verify`, the server's certificate must chain to `ca_file` (PEM; the system's store
  // when empty); TlsConn checks the name when asked. With `cert_file` and `key_file` (PEM, both or neither), that
  // certificate (chain) is presented when the server asks for one (libpq's sslcert/sslkey); an encrypted key is
  // decrypted with `key_password`. Errors name the file.
  static Result<std::shared_ptr<const TlsContext>> Client(bool verify, const std::string& ca_file,
                                                          const std::string& cert_file = "",
                                                          const std::string& key_file = "",
                                                          const std::string& key_password = "");
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// Loads a PEM certificate chain and its private key into `ctx`. An encrypted key is decrypted with `password`;
// OpenSSL is never left to ask a terminal for one (its default when no password callback is set: a daemon
// started from a shell would wait at "Enter PEM pass phrase" for ever). Errors name the file at fault, and an
// encrypted key whose password is missing or wrong says so.
Status LoadCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                             const std::string& password);

class TlsConn {
 public:
  // Over connected socket `fd` (not owned). For a client connection, `verify_name` (an IP address or a host name)
  // must match the server's certificate when not empty.
  TlsConn(std::shared_ptr<const TlsContext> ctx, int fd, bool server_side, const std::string& verify_name = "");
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  enum class Step { kDone, kWantRead, kWantWrite, kFailed };
  // Drives the handshake; call again when the socket is ready as asked. kFailed: error() says why.
  Step Handshake();
  // Like read(2) and send(2) on the decrypted stream: bytes > 0, 0 at the peer's close_notify or EOF, -1 with
  // errno EAGAIN when it would block (wants_write() then says whether it waits for writability) or EIO.
  ssize_t Read(char* buf, size_t n);
  ssize_t Write(const char* buf, size_t n);
  // Decrypted bytes already buffered (readable without the socket becoming readable).
  bool Pending() const;
  // The last would-block wanted the socket writable (a read during a key update, or a write).
  bool wants_write() const { return wants_write_; }
  // Sends close_notify, best effort (never waits).
  void Shutdown();
  const std::string& error() const { return error_; }
  std::string Describe() const;  // protocol and cipher, for logs

 private:
  ssize_t Fail(int ret);
  SSL* ssl_ = nullptr;
  std::shared_ptr<const TlsContext> ctx_;
  bool wants_write_ = false;
  std::string error_;
};

// read(2) / send(2) on `fd`, through `tls` when it is not null; same return conventions (EAGAIN when it would
// block; send never raises SIGPIPE).
ssize_t StreamRead(int fd, TlsConn* tls, char* buf, size_t n);
ssize_t StreamWrite(int fd, TlsConn* tls, const char* buf, size_t n);

}  // namespace pgw::net
