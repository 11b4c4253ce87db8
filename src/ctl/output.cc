// patronictl's tables and pgwardenctl's YAML output (ctl.h): pure functions of a cluster view.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "ctl/ctl.h"
#include "ha/decide.h"

namespace pgw::ctl {

namespace {

std::string HostOf(const Member& m) {
  if (!m.conn) return "";
  return m.conn->port == 5432 ? m.conn->host : m.conn->host + ":" + std::to_string(m.conn->port);
}

std::string RoleLabel(const ClusterView& c, const std::string& name) {
  if (c.leader && c.leader->name == name) return ha::IsStandbyCluster(c) ? "Standby Leader" : "Leader";
  auto standbys = ha::SyncStandbys(c, ha::SyncLeader(c));
  if (std::find(standbys.begin(), standbys.end(), name) != standbys.end()) return "Sync Standby";
  return "Replica";
}

std::string LagMb(const ClusterView& c, const Member& m) {
  if (c.leader && c.leader->name == m.name) return "";
  if (!c.last_lsn || !m.xlog_location) return "unknown";
  double mb = static_cast<double>(std::max<int64_t>(0, *c.last_lsn - *m.xlog_location)) / 1024 / 1024;
  return std::to_string(static_cast<long long>(std::llround(mb)));
}

}  // namespace

std::string Table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                  const std::vector<bool>& right, const std::string& title) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::string border = "+";
  for (size_t x : w) border += std::string(x + 2, '-') + "+";
  auto line = [&](const std::vector<std::string>& cells, bool head) {
    std::string s = "|";
    for (size_t i = 0; i < w.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : "";
      std::string pad(w[i] - c.size(), ' ');
      bool r = i < right.size() && right[i];
      (void)head;
      s += " " + (r ? pad + c : c + pad) + " |";
    }
    return s + "\n";
  };
  std::string top = border;
  if (!title.empty()) {
    std::string t = "+ " + title + " ";
    top = t.size() < border.size() ? t + border.substr(t.size()) : t;
  }
  std::string out = top + "\n" + line(header, true) + border + "\n";
  for (const auto& r : rows) out += line(r, false);
  return out + border + "\n";
}

std::vector<std::pair<std::string, int>> TopologyOrder(const ClusterView& c) {
  std::string leader = c.leader ? c.leader->name : "";
  std::map<std::string, std::vector<std::string>> children;  // parent ("" = no leader) -> members, name order
  for (const auto& [name, m] : c.members) {
    if (name == leader) continue;
    std::string parent = m.ReplicateFrom();
    if (parent.empty() || parent == name || parent == leader || c.members.count(parent) == 0) parent = leader;
    children[parent].push_back(name);
  }
  std::vector<std::pair<std::string, int>> out;
  std::set<std::string> seen;
  std::function<void(const std::string&, int)> walk = [&](const std::string& n, int level) {
    if (!seen.insert(n).second) return;
    out.emplace_back(n, level);
    for (const auto& child : children[n]) walk(child, level + 1);
  };
  if (!leader.empty() && c.members.count(leader)) {
    walk(leader, 0);
  } else {
    for (const auto& child : children[leader]) walk(child, 1);
  }
  for (const auto& [name, m] : c.members) {
    if (!seen.count(name)) walk(name, 1);  // a replicatefrom cycle: nobody reaches it from the leader
  }
  return out;
}

std::string ListTable(const std::string& scope, const ClusterView& c, bool paused, bool topology) {
  std::vector<std::pair<std::string, int>> order;
  if (topology) {
    order = TopologyOrder(c);
  } else {
    for (const auto& [name, m] : c.members) order.emplace_back(name, 0);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, level] : order) {
    const Member& m = c.members.at(name);
    std::string shown = level > 0 ? std::string(static_cast<size_t>(level - 1) * 2, ' ') + "+ " + name : name;
    rows.push_back(
        {shown, HostOf(m), RoleLabel(c, name), m.state, m.timeline ? std::to_string(*m.timeline) : "", LagMb(c, m)});
  }
  std::string out = Table({"Member", "Host", "Role", "State", "TL", "Lag in MB"}, rows,
                          {false, false, false, false, true, true}, "Cluster: " + scope);
  if (paused) out += " Maintenance mode: on\n";
  return out;
}

Json ListJson(const std::string& scope, const ClusterView& c) {
  Json out = Json::array();
  for (const auto& [name, m] : c.members) {
    Json j = {
        {"Cluster", scope}, {"Member", name}, {"Host", HostOf(m)}, {"Role", RoleLabel(c, name)}, {"State", m.state}};
    if (m.timeline) j["TL"] = *m.timeline;
    std::string lag = LagMb(c, m);
    if (!lag.empty()) j["Lag in MB"] = lag == "unknown" ? Json("unknown") : Json(std::stoll(lag));
    out.push_back(j);
  }
  return out;
}

std::string HistoryTable(const std::vector<HistoryLine>& history) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(history.size());
  for (const auto& h : history) {
    rows.push_back(
        {std::to_string(h.timeline), h.lsn ? std::to_string(*h.lsn) : "", h.reason, h.timestamp, h.new_leader});
  }
  return Table({"TL", "LSN", "Reason", "Timestamp", "New Leader"}, rows, {true, true, false, false, false}, "");
}

}  // namespace pgw::ctl
