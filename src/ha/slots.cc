#include "ha/slots.h"

#include <algorithm>
#include <set>

#include "ha/decide.h"

namespace pgw::ha {
namespace {

bool Matches(const SlotState& s, const SlotSpec& want) {
  if (s.type != want.type) return false;
  return want.type == "physical" || (s.database == want.database && s.plugin == want.plugin);
}

}  // namespace

std::map<std::string, SlotSpec> DesiredSlots(const Config& cfg, const DynamicConfig& dyn, const ClusterView& cluster,
                                             bool i_am_leader) {
  std::map<std::string, SlotSpec> out;
  if (!dyn.use_slots) return out;
  for (const auto& n : WantedSlots(cfg, cluster, i_am_leader)) out[n] = SlotSpec{n, "physical", "", ""};
  std::string mine = SlotNameFromMemberName(cfg.name);
  if (!i_am_leader && !cfg.tags.NeverPromote()) {
    // A replica that may be promoted holds a slot for every other member, advanced to the position the leader
    // publishes, so that a new leader already retains the WAL the others need (Patroni 4 does the same) and a
    // live member's slot is never dropped by a demoted leader.
    // Not the leader's: nobody streams from it while it leads, and it has no position to advance to.
    for (const auto& [name, m] : cluster.members) {
      std::string slot = SlotNameFromMemberName(name);
      if (slot != mine && !(cluster.leader && cluster.leader->name == name))
        out[slot] = SlotSpec{slot, "physical", "", ""};
    }
  }
  for (const auto& [name, ps] : dyn.slots) {
    if (ps.type == "physical") {
      // Never a slot for ourselves: it would only hold WAL back.
      if (name != mine) out[name] = SlotSpec{name, "physical", "", ""};
      continue;
    }
    // A logical slot whose name a member's slot already takes is left out (Patroni logs the conflict).
    if (out.count(name) > 0) continue;
    // A standby cluster runs in recovery everywhere, where PostgreSQL 15 creates no logical slot (Patroni skips
    // them there too).
    if (IsStandbyCluster(dyn)) continue;
    // A replica that may never be promoted gets no copies of the logical slots (Patroni: nofailover).
    if (!i_am_leader && cfg.tags.NeverPromote()) continue;
    out[name] = SlotSpec{name, "logical", ps.database, ps.plugin};
  }
  return out;
}

bool SlotIgnored(const DynamicConfig& dyn, const SlotState& s) {
  for (const auto& m : dyn.ignore_slots) {
    if ((!m.name || *m.name == s.name) && (!m.type || *m.type == s.type) &&
        (!m.database || *m.database == s.database) && (!m.plugin || *m.plugin == s.plugin)) {
      return true;
    }
  }
  return false;
}

SlotPlan PlanSlots(const Config& cfg, const DynamicConfig& dyn, const ClusterView& cluster, const LocalView& local,
                   bool i_am_leader) {
  SlotPlan plan;
  auto desired = DesiredSlots(cfg, dyn, cluster, i_am_leader);
  // Slots of members whose key exists. The leader never drops one (issue 10 item 12): whether it wants a slot for
  // a member depends on the member's replicatefrom tag and on its source's state, both of which change on their
  // own; the member's key is what says it is alive, as in Patroni.
  std::set<std::string> live;
  for (const auto& [name, m] : cluster.members) {
    if (name != cfg.name) live.insert(SlotNameFromMemberName(name));
  }
  const auto& published = cluster.status.slots;
  std::set<std::string> hold;
  std::map<std::string, const SlotState*> have;
  for (const auto& s : local.slots) {
    have[s.name] = &s;
    auto it = desired.find(s.name);
    bool wanted = it != desired.end();
    bool keep = wanted ? Matches(s, it->second)
                       : (i_am_leader && dyn.use_slots && live.count(s.name) > 0) || SlotIgnored(dyn, s);
    // An active slot cannot be dropped; in maintenance mode nothing is dropped (Patroni).
    if (keep || s.active || dyn.pause) {
      hold.insert(s.name);
      continue;
    }
    plan.drop.push_back(s.name);
    have.erase(s.name);
  }
  for (const auto& [name, want] : desired) {
    auto h = have.find(name);
    if (h != have.end()) {
      const SlotState& s = *h->second;
      if (i_am_leader || !Matches(s, want)) continue;
      auto pub = published.find(name);
      int64_t at = want.type == "logical" ? s.confirmed_flush_lsn : s.restart_lsn;
      if (pub != published.end() && pub->second > at) plan.advance[name] = pub->second;
      continue;
    }
    if (want.type == "logical" && !i_am_leader) {
      // Copied only once the leader publishes a position for it (it exists there and has one).
      if (published.count(name) == 0) continue;
      plan.copy.push_back(want);
    } else {
      plan.create.push_back(want);
    }
    hold.insert(name);
  }
  plan.hold.assign(hold.begin(), hold.end());
  return plan;
}

std::map<std::string, int64_t> PublishedSlots(const Config& cfg, const DynamicConfig& dyn, const ClusterView& cluster,
                                              const LocalView& local) {
  std::map<std::string, int64_t> out;
  if (!dyn.use_slots) return out;
  std::string mine = SlotNameFromMemberName(cfg.name);
  // Member slots: where the members are (replicas advance their copies to it).
  for (const auto& [name, m] : cluster.members) {
    std::string slot = SlotNameFromMemberName(name);
    if (slot == mine) continue;
    for (const auto& s : local.slots) {
      if (s.name == slot && s.type == "physical" && s.restart_lsn > 0) out[slot] = s.restart_lsn;
    }
  }
  for (const auto& s : local.slots) {
    auto it = dyn.slots.find(s.name);
    if (it == dyn.slots.end() || it->second.type != s.type) continue;
    if (s.type == "logical") {
      if (s.database != it->second.database || s.plugin != it->second.plugin) continue;
      if (s.confirmed_flush_lsn > 0) out[s.name] = s.confirmed_flush_lsn;
    } else if (s.name != mine && s.restart_lsn > 0) {
      out[s.name] = s.restart_lsn;
    }
  }
  return out;
}

}  // namespace pgw::ha
