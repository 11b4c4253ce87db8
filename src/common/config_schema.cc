#include <algorithm>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"

namespace pgw::config_internal {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// Schema: Patroni's key tree. Each node says what type it takes, whether it is required, and whether pgwarden
// acts on it (kIgnored: Patroni knows it, pgwarden accepts it with a warning).
enum class Kind { kMap, kOpenMap, kStr, kInt, kBool, kStrList, kStrOrList, kAny };
// kEmptyOk: a key given with no value (`password:`, null) counts as unset, as Patroni reads it.
enum Flag : unsigned { kNone = 0, kRequired = 1, kIgnored = 2, kEmptyOk = 4 };

struct Node {
  Kind kind = Kind::kAny;
  unsigned flags = kNone;
  std::vector<std::pair<std::string, Node>> children;  // kMap / kOpenMap: known keys
  std::string note;  // kIgnored: what ignoring it means for the user ("" : the generic warning)
};

Node Leaf(Kind k, unsigned f = kNone) { return Node{k, f, {}, ""}; }
Node Map(std::vector<std::pair<std::string, Node>> c, unsigned f = kNone) {
  return Node{Kind::kMap, f, std::move(c), ""};
}
Node OpenMap(std::vector<std::pair<std::string, Node>> c, unsigned f = kNone) {
  return Node{Kind::kOpenMap, f, std::move(c), ""};
}
Node Ign(std::string note = "") { return Node{Kind::kAny, kIgnored, {}, std::move(note)}; }

Node UserSchema(unsigned f) {
  std::vector<std::pair<std::string, Node>> c = {{"username", Leaf(Kind::kStr, kRequired)},
                                                 // Debian's template: "password:" with no value
                                                 {"password", Leaf(Kind::kStr, kEmptyOk)}};
  for (const char* k : {"sslmode", "sslkey", "sslpassword", "sslcert", "sslrootcert", "sslcrl", "sslcrldir",
                        "sslnegotiation", "gssencmode", "channel_binding"}) {
    c.push_back({k, Leaf(Kind::kStr)});
  }
  return Map(std::move(c), f);
}

const Node& RootSchema() {
  static const Node root = Map({
      {"name", Leaf(Kind::kStr, kRequired)},
      {"scope", Leaf(Kind::kStr, kRequired)},
      {"namespace", Leaf(Kind::kStr)},
      {"thread_pool_size", Ign()},
      {"thread_stack_size", Ign()},
      {"log", Map({{"level", Leaf(Kind::kStr)},
                   {"dir", Leaf(Kind::kStr)},
                   {"type", Ign()},
                   {"traceback_level", Ign()},
                   {"format", Ign()},
                   {"dateformat", Ign()},
                   {"static_fields", Ign()},
                   {"max_queue_size", Ign()},
                   {"mode", Ign()},
                   {"file_num", Ign()},
                   {"file_size", Ign()},
                   {"loggers", Ign()},
                   {"deduplicate_heartbeat_logs", Ign()}})},
      {"bootstrap", Map({{"dcs", Leaf(Kind::kAny)},
                         {"method", Leaf(Kind::kStr)},
                         {"initdb", Leaf(Kind::kAny)},
                         {"post_bootstrap", Leaf(Kind::kStr)},
                         {"post_init", Leaf(Kind::kStr)},
                         {"users", Leaf(Kind::kAny)},
                         {"pg_hba", Leaf(Kind::kStrList)}})},
      {"etcd3", Map({{"host", Leaf(Kind::kStr)},
                     {"hosts", Leaf(Kind::kStrOrList)},
                     {"url", Leaf(Kind::kStr)},
                     {"proxy", Leaf(Kind::kStr)},
                     {"srv", Ign()},
                     {"srv_suffix", Ign()},
                     {"use_proxies", Leaf(Kind::kBool)},
                     {"protocol", Leaf(Kind::kStr)},
                     {"username", Leaf(Kind::kStr)},
                     {"password", Leaf(Kind::kStr)},
                     {"cacert", Leaf(Kind::kStr)},
                     {"cert", Leaf(Kind::kStr)},
                     {"key", Leaf(Kind::kStr)},
                     {"key_password", Ign()},
                     {"verify", Ign()}})},
      {"citus", Ign()},
      {"postgresql",
       Map({{"listen", Leaf(Kind::kStr, kRequired)},
            {"connect_address", Leaf(Kind::kStr, kRequired)},
            {"proxy_address", Ign()},
            {"data_dir", Leaf(Kind::kStr, kRequired)},
            {"config_dir", Ign()},
            {"bin_dir", Leaf(Kind::kStr)},
            {"bin_name", Ign()},
            {"pgpass", Leaf(Kind::kStr)},
            {"use_unix_socket", Leaf(Kind::kBool)},
            {"use_unix_socket_repl",
             Ign("accepted for Patroni compatibility, without effect: Patroni uses it for its own replication "
                 "connection to the local PostgreSQL (reading a replica's timeline) and for the temporary trust "
                 "lines of a custom bootstrap; pgwarden makes no such connection (it reads the timeline over its "
                 "regular local connection, see use_unix_socket), and its custom bootstrap trusts the unix socket and "
                 "loopback whatever this says. A replica's "
                 "primary_conninfo does not depend on it, in Patroni either")},
            {"authentication", Map({{"superuser", UserSchema(kRequired)},
                                    {"replication", UserSchema(kRequired)},
                                    {"rewind", UserSchema(kNone)}},
                                   kRequired)},
            {"callbacks", Map({{"on_start", Leaf(Kind::kStr)},
                               {"on_stop", Leaf(Kind::kStr)},
                               {"on_restart", Leaf(Kind::kStr)},
                               {"on_reload", Leaf(Kind::kStr)},
                               {"on_role_change", Leaf(Kind::kStr)}})},
            {"create_replica_methods", Leaf(Kind::kStrList)},
            {"create_replica_method", Leaf(Kind::kStrList)},
            {"basebackup", Leaf(Kind::kAny)},
            {"recovery_conf", Ign()},
            {"custom_conf", Ign()},
            {"parameters", OpenMap({})},
            {"pg_hba", Leaf(Kind::kStrList)},
            {"pg_ident", Ign()},
            {"pg_ctl_timeout", Leaf(Kind::kInt)},
            {"use_pg_rewind", Leaf(Kind::kBool)},
            {"rewind", Ign()},
            {"remove_data_directory_on_rewind_failure", Leaf(Kind::kBool)},
            {"remove_data_directory_on_diverged_timelines", Leaf(Kind::kBool)},
            {"pre_promote", Leaf(Kind::kStr)},
            {"before_stop", Ign()},
            {"krbsrvname", Ign()}},
           kRequired)},
      {"restapi", Map({{"listen", Leaf(Kind::kStr, kRequired)},
                       {"connect_address", Leaf(Kind::kStr, kRequired)},
                       {"authentication", Map({{"username", Leaf(Kind::kStr)}, {"password", Leaf(Kind::kStr)}})},
                       {"certfile", Leaf(Kind::kStr)},
                       {"keyfile", Leaf(Kind::kStr)},
                       {"keyfile_password", Ign()},
                       {"cafile", Leaf(Kind::kStr)},
                       {"ciphers", Ign()},
                       {"verify_client", Leaf(Kind::kStr)},
                       {"allowlist", Leaf(Kind::kStrList)},
                       {"allowlist_include_members", Leaf(Kind::kBool)},
                       {"http_extra_headers", Ign()},
                       {"https_extra_headers", Ign()},
                       {"request_queue_size", Ign()},
                       {"thread_pool_size", Ign()},
                       {"server_tokens", Ign()}},
                      kRequired)},
      {"ctl", Map({{"cacert", Leaf(Kind::kStr)},
                   {"certfile", Leaf(Kind::kStr)},
                   {"keyfile", Leaf(Kind::kStr)},
                   {"keyfile_password", Ign()},
                   {"insecure", Ign()},
                   {"authentication", Ign()}})},
      {"watchdog", Map({{"mode", Leaf(Kind::kStr)},
                        {"device", Leaf(Kind::kStr)},
                        {"safety_margin", Leaf(Kind::kInt)},
                        {"driver", Ign()}})},
      {"tags", OpenMap({{"nofailover", Leaf(Kind::kBool)},
                        {"noloadbalance", Leaf(Kind::kBool)},
                        {"clonefrom", Leaf(Kind::kBool)},
                        {"nosync", Leaf(Kind::kBool)},
                        {"failover_priority", Leaf(Kind::kInt)},
                        {"replicatefrom", Leaf(Kind::kStr)},
                        {"nostream", Ign()},
                        {"sync_priority", Ign()}})},
  });
  return root;
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kMap:
    case Kind::kOpenMap: return "a mapping";
    case Kind::kStr: return "a string";
    case Kind::kInt: return "an integer";
    case Kind::kBool: return "a boolean (true/false)";
    case Kind::kStrList: return "a list of strings";
    case Kind::kStrOrList: return "a string or a list of strings";
    case Kind::kAny: return "a value";
  }
  return "?";
}

struct Checker {
  std::vector<std::string>* errors;
  std::vector<std::string>* warnings;
  std::set<std::string> extra_known;  // e.g. postgresql.<custom replica method>
  bool require = true;                // false: no key is required (a client's reading, LoadOptions::Reader)

  void Check(const YAML::Node& n, const Node& s, const std::string& path) {
    if (s.flags & kIgnored) {
      warnings->push_back(
          path + ": " + (s.note.empty() ? "accepted for Patroni compatibility, but pgwarden does not use it" : s.note));
      return;
    }
    switch (s.kind) {
      case Kind::kAny: return;
      case Kind::kStr:
        if (n.IsNull() && (s.flags & kEmptyOk)) return;
        if (!n.IsScalar()) errors->push_back(path + ": must be " + KindName(s.kind));
        return;
      case Kind::kInt: {
        long long v;
        if (!n.IsScalar() || !ParseIntText(n.Scalar(), &v)) {
          errors->push_back(path + ": must be " + KindName(s.kind) + ", got '" + Describe(n) + "'");
        }
        return;
      }
      case Kind::kBool: {
        bool b;
        if (!n.IsScalar() || !ParseBoolText(n.Scalar(), &b)) {
          errors->push_back(path + ": must be " + KindName(s.kind) + ", got '" + Describe(n) + "'");
        }
        return;
      }
      case Kind::kStrList:
      case Kind::kStrOrList:
        if (s.kind == Kind::kStrOrList && n.IsScalar()) return;
        if (!n.IsSequence()) {
          errors->push_back(path + ": must be " + KindName(s.kind));
          return;
        }
        for (size_t i = 0; i < n.size(); ++i) {
          if (!n[i].IsScalar()) errors->push_back(path + "[" + std::to_string(i) + "]: must be a string");
        }
        return;
      case Kind::kMap:
      case Kind::kOpenMap: break;
    }
    if (!n.IsMap()) {
      if (n.IsNull()) return;  // "tags:" with nothing under it
      errors->push_back(path + ": must be a mapping");
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        errors->push_back((path.empty() ? std::string("configuration") : path) + ": keys must be plain strings, got " +
                          Describe(kv.first));
        continue;
      }
      std::string key = kv.first.Scalar();
      seen.insert(key);
      auto it = std::find_if(s.children.begin(), s.children.end(), [&](const auto& c) { return c.first == key; });
      std::string child_path = Join(path, key);
      if (it != s.children.end()) {
        Check(kv.second, it->second, child_path);
      } else if (path.empty() && key == "etcd") {
        errors->push_back(
            "etcd: the etcd v2 protocol is not supported (etcd 3.6 removed it); rename the section to "
            "'etcd3:' with the same hosts");
      } else if (path.empty() && kOtherDcs.count(key)) {
        errors->push_back(key + ": pgwarden supports the etcd3 DCS only (use an 'etcd3:' section)");
      } else if (extra_known.count(child_path)) {
        // a custom method's section: checked where it is read (config_methods.cc)
      } else if (s.kind != Kind::kOpenMap) {
        // Patroni ignores keys it does not know (a newer Patroni's keys, test-only ones); so does pgwarden, loudly.
        warnings->push_back(child_path + ": unknown key, ignored (a typo, or a key of a newer Patroni?)");
      }
    }
    for (const auto& [key, child] : s.children) {
      if (require && (child.flags & kRequired) && !seen.count(key)) {
        errors->push_back(Join(path, key) + ": required key is missing");
      }
    }
  }

  static std::string Describe(const YAML::Node& n) {
    if (n.IsScalar()) return n.Scalar();
    if (n.IsSequence()) return "<list>";
    if (n.IsMap()) return "<mapping>";
    return "<null>";
  }
};

}  // namespace

const std::set<std::string> kOtherDcs = {"etcd", "consul", "zookeeper", "exhibitor", "kubernetes", "raft"};

void CheckSchema(const YAML::Node& root, const std::set<std::string>& extra_known, bool require,
                 std::vector<std::string>* errors, std::vector<std::string>* warnings) {
  Checker checker{errors, warnings, extra_known, require};
  checker.Check(root, RootSchema(), "");
}

}  // namespace pgw::config_internal
