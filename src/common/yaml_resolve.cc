#include "common/yaml_resolve.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pgw {
namespace {

using Pairs = std::vector<std::pair<YAML::Node, YAML::Node>>;

std::string Where(const std::string& path) { return path.empty() ? "the top level" : path; }

std::string Child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// A plain `<<` key (a quoted one is an ordinary key, as in PyYAML).
bool IsMergeKey(const YAML::Node& k) { return k.IsScalar() && k.Tag() == "?" && k.Scalar() == "<<"; }

class Resolver {
 public:
  Result<YAML::Node> Resolve(const YAML::Node& n, const std::string& path) {
    if (++nodes_ > kMaxYamlNodes) {
      return InvalidArgument(Where(path) + ": more than " + std::to_string(kMaxYamlNodes) +
                             " YAML nodes once aliases are expanded");
    }
    if (!n.IsMap() && !n.IsSequence()) return n;
    for (const auto& o : open_) {
      if (o.is(n)) return InvalidArgument(Where(path) + ": a YAML alias names a node that contains it (a cycle)");
    }
    if (open_.size() >= kMaxYamlDepth) {
      return InvalidArgument(Where(path) + ": YAML nested deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    }
    open_.push_back(n);
    Result<YAML::Node> r = n.IsMap() ? Map(n, path) : Sequence(n, path);
    open_.pop_back();
    return r;
  }

 private:
  Result<YAML::Node> Sequence(const YAML::Node& n, const std::string& path) {
    YAML::Node out(YAML::NodeType::Sequence);
    size_t i = 0;
    for (const auto& e : n) {
      auto v = Resolve(e, path + "[" + std::to_string(i++) + "]");
      if (!v.ok()) return v.status();
      out.push_back(*v);
    }
    return out;
  }

  // The mappings a merge key names, in the order their keys are laid down (the later ones of a list first, so that
  // the earlier ones win).
  Result<std::vector<YAML::Node>> MergeSources(const YAML::Node& v, const std::string& path) {
    std::vector<YAML::Node> sources;
    if (v.IsMap()) {
      sources.push_back(v);
    } else if (v.IsSequence()) {
      for (const auto& e : v) {
        if (!e.IsMap()) return InvalidArgument(path + ": a merge key takes a mapping or a list of mappings");
      }
      // Not std::reverse: swapping yaml-cpp handles rewrites the nodes they point at.
      for (size_t i = v.size(); i-- > 0;) sources.push_back(v[i]);
    } else {
      return InvalidArgument(path + ": a merge key takes a mapping or a list of mappings");
    }
    return sources;
  }

  Result<YAML::Node> Map(const YAML::Node& n, const std::string& path) {
    Pairs merged, own;
    for (const auto& kv : n) {
      const YAML::Node& k = kv.first;
      std::string at = Child(path, k.IsScalar() ? k.Scalar() : "?");
      if (!IsMergeKey(k)) {
        auto v = Resolve(kv.second, at);
        if (!v.ok()) return v.status();
        own.emplace_back(k, *v);
        continue;
      }
      auto sources = MergeSources(kv.second, at);
      if (!sources.ok()) return sources.status();
      for (const auto& src : *sources) {
        auto v = Resolve(src, at);  // its own merge keys resolved, and a cycle through it found
        if (!v.ok()) return v.status();
        for (const auto& e : *v) merged.emplace_back(e.first, e.second);
      }
    }
    // Last one wins per scalar key, in the place of the first. Pointers are settled before the mapping is built:
    // assigning one yaml-cpp node handle to another rewrites the node they share, which may be the document's.
    std::vector<const std::pair<YAML::Node, YAML::Node>*> pairs;
    std::map<std::string, size_t> at;
    for (const Pairs* list : {&merged, &own}) {
      for (const auto& p : *list) {
        if (!p.first.IsScalar()) {
          pairs.push_back(&p);
          continue;
        }
        auto [it, fresh] = at.emplace(p.first.Scalar(), pairs.size());
        if (fresh) {
          pairs.push_back(&p);
        } else {
          pairs[it->second] = &p;
        }
      }
    }
    YAML::Node out(YAML::NodeType::Map);
    for (const auto* p : pairs) out.force_insert(p->first, p->second);
    return out;
  }

  std::vector<YAML::Node> open_;  // the mappings and lists being resolved, outermost first
  size_t nodes_ = 0;
};

}  // namespace

Result<YAML::Node> ResolveYaml(const YAML::Node& root) {
  Resolver r;
  return r.Resolve(root, "");
}

}  // namespace pgw
