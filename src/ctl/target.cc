#include "ctl/target.h"

#include <unistd.h>

namespace pgw::ctl {
namespace {

bool Readable(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// The file patronictl would read ("" : none), or an error when a file named explicitly cannot be read.
Result<std::string> ConfigPath(const Options& o, const std::map<std::string, std::string>& env) {
  std::string named = o.config_file;
  if (named.empty() && env.count("PATRONICTL_CONFIG_FILE")) named = env.at("PATRONICTL_CONFIG_FILE");
  if (!named.empty()) {
    if (!Readable(named)) {
      return InvalidArgument("cannot read " + named + ": the configuration file does not exist or is not readable");
    }
    return named;
  }
  if (env.count("HOME")) {
    std::string fallback = env.at("HOME") + "/.config/patroni/patronictl.yaml";
    if (Readable(fallback)) return fallback;
  }
  return std::string();
}

// "etcd3://h:p", "http://h:p/", "h:p" -> h:p
Result<HostPort> DcsUrlEndpoint(std::string u) {
  for (const char* scheme : {"etcd3://", "http://", "https://"}) {
    if (u.rfind(scheme, 0) == 0) u = u.substr(std::string(scheme).size());
  }
  return ParseHostPort(u);
}

}  // namespace

Result<Config> LoadTarget(const Options& o, const std::map<std::string, std::string>& env) {
  auto path = ConfigPath(o, env);
  if (!path.ok()) return path.status();
  LoadOptions lo;
  lo.env = env;
  lo.check_bin_dir = false;
  lo.reader = LoadOptions::Reader::kClient;
  LoadResult r;
  if (!path->empty()) {
    lo.env.erase("PATRONI_CONFIGURATION");  // a file that exists wins, as in patronictl
    r = LoadConfigFile(*path, lo);
  } else {
    r = LoadConfigText(env.count("PATRONI_CONFIGURATION") ? env.at("PATRONI_CONFIGURATION") : "", lo);
  }
  if (!r.errors.empty()) {
    std::string all;
    for (const auto& e : r.errors) all += (all.empty() ? "" : "; ") + e;
    return InvalidArgument(path->empty() ? all : *path + ": " + all);
  }
  Config c = *r.config;
  std::string dcs_url = o.dcs_url;
  if (dcs_url.empty() && env.count("DCS_URL")) dcs_url = env.at("DCS_URL");
  if (!dcs_url.empty()) {
    auto hp = DcsUrlEndpoint(dcs_url);
    if (!hp.ok()) return hp.status().Context("--dcs-url");
    c.etcd3.hosts = {*hp};
  }
  if (o.insecure) c.ctl.insecure = true;
  if (c.etcd3.hosts.empty()) {
    return InvalidArgument("no etcd to talk to: give -c patroni.yml (with etcd3.hosts) or --dcs-url");
  }
  return c;
}

ApiAccess ApiAccessOf(const Config& c) {
  ApiAccess a;
  bool ctl_auth = !c.ctl.username.empty() || !c.ctl.password.empty();
  a.user = ctl_auth ? c.ctl.username : c.restapi.username;
  a.password = ctl_auth ? c.ctl.password : c.restapi.password;
  auto either = [](const std::string& ctl, const std::string& restapi) { return ctl.empty() ? restapi : ctl; };
  a.cacert = either(c.ctl.cacert, c.restapi.cafile);
  a.cert = either(c.ctl.certfile, c.restapi.certfile);
  // A key goes with its certificate: restapi.keyfile only with restapi.certfile (it may hold both, keyfile empty).
  a.key = c.ctl.certfile.empty() ? c.restapi.keyfile : c.ctl.keyfile;
  if (!a.cert.empty() && a.key.empty()) a.key = a.cert;  // one PEM file with the certificate and its key
  // As patronictl: the first password set, whichever section the key came from.
  a.key_password = either(c.ctl.keyfile_password, c.restapi.keyfile_password);
  a.insecure = c.ctl.insecure;
  return a;
}

}  // namespace pgw::ctl
