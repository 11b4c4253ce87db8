#include "dcs/keys.h"

#include "common/truthy.h"

namespace pgw {
namespace {

// Boolean tags as Patroni reads them (`if member.nofailover:`): "yes" or 1 counts, as it does there.
bool TagTrue(const Json& tags, const char* name) { return PyTruthyField(tags, name); }

// A member field that must be a string; any other JSON type reads as "" (the member is then shown without it).
std::string StringField(const Json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool Member::CloneFrom() const { return TagTrue(tags, "clonefrom"); }
bool Member::NoLoadBalance() const { return TagTrue(tags, "noloadbalance"); }

bool Member::NoFailover() const {
  if (TagTrue(tags, "nofailover")) return true;
  if (tags.contains("failover_priority") && tags.at("failover_priority").is_number_integer() &&
      tags.at("failover_priority").get<int>() <= 0) {
    return true;
  }
  return false;
}

std::string Member::ReplicateFrom() const {
  if (tags.contains("replicatefrom") && tags.at("replicatefrom").is_string()) {
    return tags.at("replicatefrom").get<std::string>();
  }
  return "";
}

const Member* ClusterView::FindMember(const std::string& name) const {
  auto it = members.find(name);
  return it == members.end() ? nullptr : &it->second;
}

const Member* ClusterView::LeaderMember() const { return leader ? FindMember(leader->name) : nullptr; }

std::string ConnUrl(const HostPort& hp) { return "postgres://" + hp.ToString() + "/postgres"; }
std::string ApiUrl(const HostPort& hp, bool tls) {
  return std::string(tls ? "https://" : "http://") + hp.ToString() + "/patroni";
}

std::optional<HostPort> ParseConnUrl(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  std::string rest = url.substr(scheme + 3);
  auto at = rest.find('@');
  if (at != std::string::npos) rest = rest.substr(at + 1);
  auto slash = rest.find('/');
  if (slash != std::string::npos) rest = rest.substr(0, slash);
  if (rest.find(':') == std::string::npos && rest.find(']') == std::string::npos) rest += ":5432";
  auto hp = ParseHostPort(rest);
  if (!hp.ok()) return std::nullopt;
  return *hp;
}

static std::optional<Json> ParseJson(const std::string& s) {
  Json j = Json::parse(s, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// Patroni's Cluster.timeline of a `history` value (see ClusterView::timeline). Python's int() of the last line's
// first field: an integer or a decimal string. A last line Patroni cannot read gives 0, as there.
static int64_t ClusterTimeline(const std::string& value) {
  if (value == "[]") return 1;
  auto j = ParseJson(value);
  if (!j || !j->is_array() || j->empty()) return 0;
  const Json& last = j->back();
  if (!last.is_array() || last.empty()) return 0;
  auto tl = PyIntValue(last[0]);
  return tl && *tl < INT64_MAX ? *tl + 1 : 0;
}

ClusterView BuildClusterView(const std::string& prefix, const std::map<std::string, etcd::KeyValue>& kvs,
                             int64_t revision) {
  ClusterView v;
  v.revision = revision;
  std::string members_prefix = prefix + keys::kMembers;
  bool status_seen = false;
  std::optional<int64_t> leader_optime;
  for (const auto& [key, kv] : kvs) {
    if (key.rfind(prefix, 0) != 0) continue;
    std::string rel = key.substr(prefix.size());
    if (rel == keys::kInitialize) {
      v.initialize = kv.value;
      v.initialize_mod_revision = kv.mod_revision;
    } else if (rel == keys::kConfig) {
      auto j = ParseJson(kv.value);
      if (j && j->is_object()) v.config = *j;
      v.config_mod_revision = kv.mod_revision;
    } else if (rel == keys::kLeader) {
      v.leader = LeaderKey{kv.value, kv.lease, kv.mod_revision, kv.create_revision};
    } else if (rel == keys::kStatus) {
      status_seen = true;
      v.status = DecodeStatus(kv.value);
    } else if (rel == "optime/leader") {
      leader_optime = DecodeLeaderOptime(kv.value);
    } else if (rel == keys::kHistory) {
      auto j = ParseJson(kv.value);
      if (j && j->is_array()) v.history_raw = *j;
      v.history = DecodeHistory(v.history_raw);
      v.timeline = ClusterTimeline(kv.value);
    } else if (rel == keys::kFailover) {
      v.failover = DecodeFailover(kv.value);
      v.failover_mod_revision = kv.mod_revision;
    } else if (rel == keys::kSync) {
      v.sync = DecodeSync(kv.value);
      v.sync_mod_revision = kv.mod_revision;
    } else if (rel == keys::kFailovers) {
      v.failovers = kv.value;
      v.failovers_mod_revision = kv.mod_revision;
    } else if (rel == keys::kFailsafe) {
      v.failsafe = DecodeFailsafe(kv.value);
    } else if (key.rfind(members_prefix, 0) == 0) {
      Member m;
      m.name = key.substr(members_prefix.size());
      if (m.name.empty() || m.name.find('/') != std::string::npos) continue;
      m.lease = kv.lease;
      m.mod_revision = kv.mod_revision;
      auto j = ParseJson(kv.value);
      if (j && j->is_object()) {
        m.raw = *j;
        m.conn_url = StringField(*j, "conn_url");
        m.api_url = StringField(*j, "api_url");
        m.state = StringField(*j, "state");
        m.role = StringField(*j, "role");
        m.version = StringField(*j, "version");
        if (j->contains("xlog_location") && j->at("xlog_location").is_number_integer()) {
          m.xlog_location = j->at("xlog_location").get<int64_t>();
        }
        if (j->contains("replay_lsn") && j->at("replay_lsn").is_number_integer()) {
          m.replay_lsn = j->at("replay_lsn").get<int64_t>();
        }
        if (j->contains("timeline") && j->at("timeline").is_number_integer()) {
          m.timeline = j->at("timeline").get<int>();
        }
        if (j->contains("tags") && j->at("tags").is_object()) m.tags = j->at("tags");
        m.conn = ParseConnUrl(m.conn_url);
      }
      v.members[m.name] = std::move(m);
    }
  }
  // As Patroni: the legacy optime/leader key counts only when there is no status key.
  v.last_lsn = status_seen ? v.status.optime : leader_optime;
  return v;
}

std::string EncodeMember(const MemberData& m) {
  nlohmann::ordered_json j;
  j["conn_url"] = m.conn_url;
  j["api_url"] = m.api_url;
  j["state"] = m.state;
  j["role"] = m.role;
  j["version"] = m.version;
  if (m.xlog_location) j["xlog_location"] = *m.xlog_location;
  if (m.replay_lsn) j["replay_lsn"] = *m.replay_lsn;
  if (m.receive_lsn) j["receive_lsn"] = *m.receive_lsn;
  if (m.timeline) j["timeline"] = *m.timeline;
  if (!m.replication_state.empty()) j["replication_state"] = m.replication_state;
  if (m.pending_restart) j["pending_restart"] = true;
  if (!m.tags.empty()) j["tags"] = m.tags;
  if (!m.scheduled_restart.is_null()) j["scheduled_restart"] = m.scheduled_restart;
  if (m.pause) j["pause"] = true;
  if (!m.synchronous.empty()) j["synchronous"] = m.synchronous;
  if (m.client_gate_closed) j["client_gate"] = "closed";
  return j.dump();
}

std::string EncodeStatus(int64_t optime, const std::map<std::string, int64_t>& slots) {
  nlohmann::ordered_json j;
  j["optime"] = optime;
  if (!slots.empty()) {
    j["slots"] = nlohmann::ordered_json::object();
    for (const auto& [name, lsn] : slots) j["slots"][name] = lsn;
  }
  return j.dump();
}

}  // namespace pgw
