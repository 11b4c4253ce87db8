// pgwarden-router's configuration: one typed, validated, immutable snapshot built from a YAML file (-c) and command
// line flags (flags override the file). Every problem names its key or flag ("listen_write (--listen-write): ...");
// all problems are collected, not just the first.
//
// The etcd endpoints, scope and namespace come from --dcs-url/--scope/--namespace, or from an agent's patroni.yml
// (--patroni-config, loaded with the agent's own loader), explicit values winning over the patroni.yml.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/hostport.h"
#include "common/log.h"
#include "dcs/etcd_client.h"
#include "net/tls.h"

namespace pgw::router {

// TLS to servers, as libpq's sslmode: disable (never), prefer (when the server accepts), require (TLS, no
// certificate check), verify-ca (certificate chains to server_tls_ca_file), verify-full (and names the server's
// address from its conn_url).
enum class ServerTlsMode { kDisable, kPrefer, kRequire, kVerifyCa, kVerifyFull };
const char* ServerTlsModeName(ServerTlsMode m);

// TLS from clients (PgBouncer's client_tls_sslmode): disable (SSLRequest answered 'N'), allow and prefer (TLS when
// the client asks for it, clear otherwise; the same for a server, which cannot ask), require (a start-up in clear
// is refused with 28000; a CancelRequest in clear is still served, as PostgreSQL does).
enum class ClientTlsMode { kDisable, kAllow, kPrefer, kRequire };
const char* ClientTlsModeName(ClientTlsMode m);

// How the write port checks that the leader is out of recovery: auto (the in_hot_standby ParameterStatus that
// PostgreSQL 14+ reports; SELECT pg_is_in_recovery() on older servers), query (always the query: one more round trip
// per connection; the way to test the < 14 path on a newer server).
enum class RecoveryCheck { kAuto, kQuery };

struct RouterConfig {
  etcd::ClientOptions etcd;  // endpoints, protocol, credentials, TLS files
  std::string scope;
  std::string namespace_ = "/service";
  HostPort listen_write{"127.0.0.1", 6432};
  HostPort listen_read{"127.0.0.1", 6433};
  HostPort listen_admin{"127.0.0.1", 8404};
  int workers = 0;                       // resolved: > 0 (0 in the input means the number of cores)
  int64_t read_max_lag_bytes = 1 << 20;  // replicas further behind the leader leave the read pool
  // ... and return once at most this far behind (hysteresis); resolved: half of read_max_lag unless set, and never
  // above it.
  int64_t read_return_lag_bytes = 1 << 19;
  // Replicas known to be further behind in time leave the read pool too (ServerInfo::lag_time); 0: off.
  Duration read_max_lag_time = Duration(0);
  bool read_fallback_to_primary = false;      // read port: the primary when no replica qualifies
  Duration no_leader_wait = Duration(5000);   // how long a new connection waits for a routable server
  Duration connect_timeout = Duration(2000);  // TCP connect to a server
  RecoveryCheck recovery_check = RecoveryCheck::kAuto;
  LogLevel log_level = LogLevel::kInfo;
  // TLS from clients (PgBouncer's names): the certificate and key offered to clients that send SSLRequest.
  std::string client_tls_cert_file, client_tls_key_file;
  // Resolved: when not set, prefer with a certificate, disable without.
  ClientTlsMode client_tls_sslmode = ClientTlsMode::kDisable;
  bool client_tls_sslmode_set = false;                // given in the file or a flag (while loading only)
  std::shared_ptr<const net::TlsContext> client_tls;  // loaded from the files at every (re)load; null: no TLS
  ServerTlsMode server_tls_sslmode = ServerTlsMode::kDisable;
  std::string server_tls_ca_file;
  // The router's client certificate to servers (libpq's sslcert/sslkey), presented when a server asks for one.
  std::string server_tls_cert_file, server_tls_key_file;
  std::shared_ptr<const net::TlsContext> server_tls;  // null when server_tls_sslmode is disable

  // "/service/demo/": where the scope's keys live.
  std::string KeyPrefix() const;
};

struct RouterConfigResult {
  std::shared_ptr<const RouterConfig> config;  // set when errors is empty
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  bool help = false;  // --help was given
};

// Parses argv (argv[0] excluded): -c/--config FILE and the flags of Usage(). Reads the files named; `cores` is the
// default worker count.
RouterConfigResult LoadRouterConfig(const std::vector<std::string>& args, int cores);
// Same, with the -c file's text given (tests); `file_label` names it in messages.
RouterConfigResult LoadRouterConfigText(const std::string& yaml, const std::string& file_label,
                                        const std::vector<std::string>& args, int cores);

std::string RouterUsage();

}  // namespace pgw::router
