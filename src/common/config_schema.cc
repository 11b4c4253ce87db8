#include <algorithm>
#include <set>

#include <yaml-cpp/yaml.h>

#include "common/config_internal.h"
#include "common/config_table.h"

namespace pgw::config_internal {
namespace {

// The schema: Patroni's key tree, built from the key table (config_table.h). Each node says what type it takes,
// whether it is required, and whether pgwarden acts on it (kIgnored: accepted with a warning).
struct Node {
  Kind kind = Kind::kAny;
  unsigned flags = kNone;
  std::vector<std::pair<std::string, Node>> children;  // kMap / kOpenMap: known keys
  std::string note;  // kIgnored: what ignoring it means for the user ("" : the generic warning)
};

Node BuildTree() {
  Node root{Kind::kMap, kNone, {}, ""};
  for (const auto& row : KeyTable()) {
    std::vector<std::string> parts = SplitPath(row.path);
    Node* cur = &root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto it =
          std::find_if(cur->children.begin(), cur->children.end(), [&](const auto& c) { return c.first == parts[i]; });
      cur = &it->second;  // the table lists parents first (a unit test checks it)
    }
    cur->children.push_back({parts.back(), Node{row.kind, row.flags, {}, row.note}});
  }
  return root;
}

const Node& RootSchema() {
  static const Node root = BuildTree();
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
        if (!n.IsScalar() || !((s.flags & kBoolWord) ? ParseBoolWord(n.Scalar(), &b) : ParseBoolText(n.Scalar(), &b))) {
          errors->push_back(path + ": must be " + KindName(s.kind) + ", got '" + Describe(n) + "'");
        }
        return;
      }
      case Kind::kStrList:
      case Kind::kStrOrList:
        if (n.IsNull() && (s.flags & kEmptyOk)) return;
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
