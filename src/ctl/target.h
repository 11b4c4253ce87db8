// Which etcd pgwardenctl reads and how it calls the agents: the configuration read as patronictl reads it, through
// the agent's loader (common/config.h, LoadOptions::Reader::kClient), so etcd3.host/hosts/url/proxy, protocol, TLS,
// credentials and the PATRONI_* variables mean the same to both.
//
// Where the configuration comes from, as patronictl: the -c file, else $PATRONICTL_CONFIG_FILE, else
// ~/.config/patroni/patronictl.yaml when it exists, else $PATRONI_CONFIGURATION, else nothing; PATRONI_* variables
// override it in every case. --dcs-url (or $DCS_URL) then replaces the etcd endpoints.
#pragma once

#include <map>
#include <string>

#include "common/config.h"
#include "ctl/options.h"

namespace pgw::ctl {

// The configuration for `o`, given the process environment `env`; an error when it cannot be read, is invalid for a
// client, or names no etcd endpoint.
Result<Config> LoadTarget(const Options& o, const std::map<std::string, std::string>& env);

// The credentials and TLS files for calls to the agents' REST API, as patronictl takes them: ctl.authentication,
// else restapi.authentication; ctl.cacert, else restapi.cafile; ctl.certfile and ctl.keyfile, else restapi's
// certfile and keyfile; ctl.keyfile_password, else restapi.keyfile_password; ctl.insecure (or -k/--insecure): the
// agents' certificates are not checked.
struct ApiAccess {
  std::string user, password;
  std::string cacert, cert, key, key_password;
  bool insecure = false;
};
ApiAccess ApiAccessOf(const Config& c);

}  // namespace pgw::ctl
