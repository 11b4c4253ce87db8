// Replication slots: which slots a node creates, keeps, drops, advances and copies (ha/slots.h), and the parsing
// of `slots` and `ignore_slots` in the dynamic configuration.
#include "decide_fixture.h"

namespace pgw::ha {
namespace {

const Action* SlotsAction(const Decision& d) {
  for (const auto& a : d.actions) {
    if (a.type == AT::kSyncSlots) return &a;
  }
  return nullptr;
}

// Issue 10 item 12: the leader dropped the slot of a live member (and created it again a moment later). A member
// whose key exists keeps its slot on the leader, whatever its replicatefrom tag and its source's state say.
TEST_F(DecideTest, LeaderNeverDropsTheSlotOfALiveMember) {
  SteadyLeader();
  AddMember("pg2", 5434, "replica", "running", {{"replicatefrom", "pg1"}});
  SetSlots({"pg1", "pg2"});
  const Action* a = SlotsAction(Run());
  if (a != nullptr) {
    EXPECT_NE(std::find(a->slots.begin(), a->slots.end(), "pg2"), a->slots.end()) << "pg2's slot dropped";
  }
}

}  // namespace
}  // namespace pgw::ha
