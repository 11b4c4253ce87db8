// Patroni's slot_name_from_member_name (dcs/__init__.py): the replication slot name of a member, also used for the
// standby cluster's primary_slot_name (config_standby.cc). Pure, any thread.
#pragma once

#include <string>

namespace pgw {

// Lowercase; '-' and '.' -> '_'; other chars outside [a-z0-9_] -> u%04d (decimal) of the code point; truncated to
// 63 chars.
std::string SlotNameFromMemberName(const std::string& member);

}  // namespace pgw
