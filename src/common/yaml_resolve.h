// What yaml-cpp leaves to its user and PyYAML (the reader of Patroni's files) does itself, applied to a loaded
// document before anything walks it:
// - merge keys: `<<: *base` and `<<: [*a, *b]` put the keys of those mappings into the one that holds them; its own
//   keys win, then the earlier mappings of a list over the later ones;
// - a key given twice in one mapping keeps its last value.
// And what would make a walk of the tree endless or explode is refused with the key path where it happens: an alias
// inside the node it names (`a: &x [*x]`, which yaml-cpp accepts and a recursive walk overflows the stack on),
// nesting deeper than kMaxYamlDepth, more than kMaxYamlNodes nodes once aliases are expanded.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>

#include "common/status.h"

namespace pgw {

inline constexpr size_t kMaxYamlDepth = 64;
inline constexpr size_t kMaxYamlNodes = 20000;  // a large Patroni file has a few hundred

// A new tree (the input is not changed; scalars are shared with it).
Result<YAML::Node> ResolveYaml(const YAML::Node& root);

}  // namespace pgw
