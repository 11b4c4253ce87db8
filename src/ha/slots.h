// Replication slots (reference §3.13): which slots a node creates, keeps, drops, advances and copies each cycle,
// and the positions the leader publishes in the `status` key. Pure functions, like the rest of the decision core.
//
// The leader holds one physical slot per member streaming from it, every permanent slot of the dynamic
// configuration (`slots`), and never drops the slot of a member whose key exists, nor a slot matching
// `ignore_slots`; any other slot is dropped (inactive ones; Patroni does the same). A replica holds the slots of the
// members cascading from it, the permanent physical slots, and unless it may never be promoted a slot for every
// other member but the leader, and copies of the permanent logical slots; it advances them to the positions the leader
// publishes in `status.slots`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/hostport.h"
#include "dcs/keys.h"
#include "pg/controller.h"

namespace pgw::ha {

using pgw::SlotSpec;

struct SlotPlan {
  std::vector<SlotSpec> create;            // created in place (logical ones on the leader only)
  std::vector<std::string> drop;           // inactive slots to drop (done before the creations)
  std::map<std::string, int64_t> advance;  // replica: permanent slots moved up to the leader's published position
  std::vector<SlotSpec> copy;              // replica: logical slots copied from the leader (PostgreSQL restarts)
  std::vector<std::string> hold;           // sorted: the slot names the node holds once the plan is carried out
  bool Empty() const { return create.empty() && drop.empty() && advance.empty() && copy.empty(); }
  bool operator==(const SlotPlan&) const = default;
};

// The slots this node must hold, by name (member slots per WantedSlots, permanent slots per role).
std::map<std::string, SlotSpec> DesiredSlots(const Config& cfg, const DynamicConfig& dyn, const ClusterView& cluster,
                                             bool i_am_leader);
// What to do about the local slots `local.slots`.
SlotPlan PlanSlots(const Config& cfg, const DynamicConfig& dyn, const ClusterView& cluster, const LocalView& local,
                   bool i_am_leader);
// Whether an `ignore_slots` matcher covers the slot.
bool SlotIgnored(const DynamicConfig& dyn, const SlotState& s);
// The leader's `status.slots` (bytes): confirmed_flush_lsn of each permanent logical slot, restart_lsn of each
// permanent physical slot and member slot it holds.
std::map<std::string, int64_t> PublishedSlots(const Config& cfg, const DynamicConfig& dyn, const ClusterView& cluster,
                                              const LocalView& local);

}  // namespace pgw::ha
