// Base64 (RFC 4648) for etcd's JSON gateway and HTTP Basic authentication. The decoder also accepts the URL-safe
// alphabet and stops at the first '='.
#pragma once

#include <string>

#include "common/status.h"

namespace pgw {

std::string Base64Encode(const std::string& in);
// kInvalidArgument on a character outside both alphabets.
Result<std::string> Base64Decode(const std::string& in);

}  // namespace pgw
