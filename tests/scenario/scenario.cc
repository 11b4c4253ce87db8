#include "scenario.h"

#include <sstream>

#include "sim_agent.h"

namespace pgw::sim {

std::vector<std::string> SplitWords(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

int64_t ParseDuration(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  std::string unit = end ? std::string(end) : "";
  if (end == s.c_str() || v < 0) return -1;
  if (unit == "ms") return static_cast<int64_t>(v);
  if (unit == "s") return static_cast<int64_t>(v * 1000);
  if (unit == "m") return static_cast<int64_t>(v * 60000);
  return -1;
}

namespace {

Json ScalarValue(const std::string& v) {
  Json j = Json::parse(v, nullptr, false);
  if (j.is_discarded()) return Json(v);
  return j;
}

// k=v pairs into a JSON object; dotted keys nest ("postgresql.use_pg_rewind=true").
std::string ParsePairs(const std::vector<std::string>& words, size_t from, Json* out) {
  for (size_t i = from; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    if (eq == std::string::npos) return "expected key=value, got '" + words[i] + "'";
    std::string key = words[i].substr(0, eq);
    Json* at = out;
    size_t dot;
    while ((dot = key.find('.')) != std::string::npos) {
      at = &(*at)[key.substr(0, dot)];
      key = key.substr(dot + 1);
    }
    (*at)[key] = ScalarValue(words[i].substr(eq + 1));
  }
  return "";
}

// Conditions of `await` and `expect`. Returns "" when the words are not a condition.
std::string CheckCondition(World& w, const std::vector<std::string>& c, bool* holds) {
  auto node = [&](size_t i) -> SimNode* { return i < c.size() ? w.Find(c[i]) : nullptr; };
  const std::string& what = c.empty() ? std::string() : c[0];
  if (what == "healthy") {
    *holds = w.Healthy();
  } else if (what == "leader" && node(1)) {
    *holds = w.LeaderName() == c[1];
  } else if (what == "leader-not" && node(1)) {
    *holds = !w.LeaderName().empty() && w.LeaderName() != c[1];
  } else if (what == "no-leader") {
    *holds = w.LeaderName().empty();
  } else if (what == "primary" && node(1)) {
    // n is the one writable primary
    bool ok = node(1)->pg.Writable() && !node(1)->f.paused;
    for (auto& n : w.nodes()) ok = ok && (n.get() == node(1) || !n->pg.Writable());
    *holds = ok;
  } else if (what == "any-primary") {
    bool one = false;
    for (auto& n : w.nodes()) one = one || (n->pg.Writable() && !n->f.paused);
    *holds = one;
  } else if (what == "no-primary") {
    bool none = true;
    for (auto& n : w.nodes()) none = none && !(n->pg.Writable() && !n->f.paused);
    *holds = none;
  } else if (what == "replica" && node(1)) {
    *holds = w.StreamingFrom(*node(1)) != nullptr;
  } else if (what == "stopped" && node(1)) {
    *holds = !node(1)->pg.running;
  } else if (what == "running" && node(1)) {
    *holds = node(1)->pg.running;
  } else if (what == "sync" && c.size() >= 2) {
    auto s = w.etcd().Get("sync");
    std::string v;
    for (const auto& n : DecodeSync(s ? *s : std::string()).members) v += (v.empty() ? "" : ",") + n;
    if (v.empty()) v = "-";
    *holds = v == c[1];
  } else if (what == "timeline" && node(1) && c.size() == 3) {
    *holds = node(1)->pg.timeline == std::atoi(c[2].c_str());
  } else if (what == "key" && c.size() == 2) {
    *holds = w.etcd().Get(c[1]).has_value();
  } else if (what == "no-key" && c.size() == 2) {
    *holds = !w.etcd().Get(c[1]).has_value();
  } else {
    return "unknown condition '" + what + "'";
  }
  return "";
}

std::string Join(const std::vector<std::string>& v, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to && i < v.size(); ++i) s += (s.empty() ? "" : " ") + v[i];
  return s;
}

}  // namespace

std::string ApplyStep(World& w, const std::vector<std::string>& words, std::vector<std::string>* failures) {
  if (words.empty()) return "";
  const std::string& op = words[0];
  auto nodes_arg = [&](size_t i, std::vector<SimNode*>* out) -> std::string {
    if (i >= words.size()) return op + ": which node?";
    if (words[i] == "all") {
      for (auto& n : w.nodes()) out->push_back(n.get());
      return "";
    }
    for (size_t k = i; k < words.size(); ++k) {
      SimNode* n = w.Find(words[k]);
      if (n == nullptr) return op + ": no node named '" + words[k] + "'";
      out->push_back(n);
    }
    return "";
  };
  std::vector<SimNode*> ns;
  if (op == "run") {
    int64_t d = words.size() == 2 ? ParseDuration(words[1]) : -1;
    if (d < 0) return "run: expected a duration (10s, 500ms)";
    w.RunFor(d);
    return "";
  }
  if (op == "await" || op == "expect") {
    size_t within = words.size();
    int64_t d = 0;
    bool throughout = op == "expect" && words.size() >= 4 && words[words.size() - 2] == "for";
    if (throughout) {
      within = words.size() - 2;
      d = ParseDuration(words.back());
      if (d < 0) return "expect: bad duration '" + words.back() + "'";
    }
    if (op == "await") {
      if (words.size() < 4 || words[words.size() - 2] != "within")
        return "await: expected 'await <condition> within <duration>'";
      within = words.size() - 2;
      d = ParseDuration(words.back());
      if (d < 0) return "await: bad duration '" + words.back() + "'";
    }
    std::vector<std::string> cond(words.begin() + 1, words.begin() + static_cast<long>(within));
    bool holds = false;
    std::string err = CheckCondition(w, cond, &holds);
    if (!err.empty()) return err;
    int64_t start = w.now_ms();
    if (op == "await") {
      holds = w.RunUntil(
          [&] {
            bool h = false;
            (void)CheckCondition(w, cond, &h);
            return h;
          },
          d);
    } else if (throughout && holds) {
      // The condition must hold at every tick for the duration: stop at the first tick it does not.
      holds = !w.RunUntil(
          [&] {
            bool h = false;
            (void)CheckCondition(w, cond, &h);
            return !h;
          },
          d);
    }
    std::string c = Join(words, 1, within);
    if (holds) {
      w.Trace("check", c + (op == "await" ? " (after " + FormatMs(w.now_ms() - start) + " s)" : ""));
    } else {
      std::string why;
      if (cond[0] == "healthy") w.Healthy(&why);
      std::string msg = "EXPECTATION FAILED: " + c + (why.empty() ? "" : " (" + why + ")");
      w.Trace("check", msg);
      failures->push_back(w.Stamp() + " " + msg);
    }
    return "";
  }
  if (op == "writes") {
    if (words.size() != 2 || (words[1] != "on" && words[1] != "off")) return "writes: on or off";
    w.writes = words[1] == "on";
    return "";
  }
  if (op == "set") {
    Json patch = Json::object();
    std::string err = ParsePairs(words, 1, &patch);
    if (!err.empty()) return err;
    w.SetConfig(patch);
    return "";
  }
  if (op == "switchover" || op == "failover") {
    Json j = Json::object();
    std::string err = ParsePairs(words, 1, &j);
    if (!err.empty()) return err;
    if (op == "switchover" && !j.contains("leader")) j["leader"] = w.LeaderName();
    (void)w.etcd().Put("failover", j.dump(), 0, w.now_ms());
    return "";
  }
  if (op == "cut" || op == "heal") {
    if (op == "heal" && words.size() == 2 && words[1] == "all") {
      for (auto& n : w.nodes()) {
        n->f.etcd_cut = n->f.stale = n->f.agent_frozen = n->f.pre_promote_fails = false;
        n->f.sync_conflicts = n->f.watchdog_fails = false;
        n->f.lag_ms = 0;
        n->f.peers_cut.clear();
        n->pg.frozen = n->pg.stalled = false;
        if (n->f.paused) n->f.paused = false;
        if (!n->agent || n->f.agent_dead) w.StartAgent(*n);
      }
      return "";
    }
    if (words.size() != 3) return op + ": expected '" + op + " <node> etcd|<node>'";
    SimNode* a = w.Find(words[1]);
    if (a == nullptr) return op + ": no node named '" + words[1] + "'";
    if (words[2] == "etcd") {
      a->f.etcd_cut = op == "cut";
      return "";
    }
    SimNode* b = w.Find(words[2]);
    if (b == nullptr) return op + ": no node named '" + words[2] + "'";
    if (op == "cut") {
      a->f.peers_cut.insert(b->name);
      b->f.peers_cut.insert(a->name);
    } else {
      a->f.peers_cut.erase(b->name);
      b->f.peers_cut.erase(a->name);
    }
    return "";
  }
  if (op == "lag" || op == "slow-promote" || op == "slow-initdb") {
    if (words.size() != 3) return op + ": expected '" + op + " <node> <duration>'";
    SimNode* n = w.Find(words[1]);
    int64_t d = ParseDuration(words[2]);
    if (n == nullptr || d < 0) return op + ": bad node or duration";
    (op == "lag" ? n->f.lag_ms : op == "slow-promote" ? n->f.promote_delay_ms : n->f.initdb_ms) = d;
    return "";
  }
  std::string err = nodes_arg(1, &ns);
  if (!err.empty()) return err;
  for (SimNode* n : ns) {
    if (op == "start" || op == "restart") {
      if (n->agent && !n->f.agent_dead) continue;
      w.StartAgent(*n);
    } else if (op == "kill") {
      w.PgCrash(*n, "killed with its agent");
      n->f.agent_dead = true;
      n->agent.reset();
    } else if (op == "kill-agent") {
      n->f.agent_dead = true;
      n->agent.reset();
    } else if (op == "crash-pg") {
      w.PgCrash(*n, "crashed");
    } else if (op == "backend-crash") {
      // A backend dies; restart_after_crash is forced off (pg/conf.cc), so the postmaster exits and the agent
      // restarts PostgreSQL or fails over.
      w.PgCrash(*n, "backend crash: postmaster exits (restart_after_crash = off)");
    } else if (op == "freeze-agent" || op == "thaw-agent") {
      n->f.agent_frozen = op == "freeze-agent";
    } else if (op == "freeze-pg" || op == "thaw-pg") {
      n->pg.frozen = op == "freeze-pg" && n->pg.running;
    } else if (op == "pause" || op == "resume") {
      n->f.paused = op == "pause";
    } else if (op == "stale" || op == "fresh") {
      n->f.stale = op == "stale";
    } else if (op == "stall" || op == "unstall") {
      n->pg.stalled = op == "stall";
    } else if (op == "reinit") {
      n->f.reinit_requested = true;
    } else if (op == "restart-pg") {
      n->f.restart_requested = true;
    } else if (op == "veto-promote" || op == "allow-promote") {
      n->f.pre_promote_fails = op == "veto-promote";
    } else if (op == "sync-conflict" || op == "sync-ok") {
      n->f.sync_conflicts = op == "sync-conflict";
    } else if (op == "watchdog-fails" || op == "watchdog-ok") {
      n->f.watchdog_fails = op == "watchdog-fails";
    } else {
      return "unknown step '" + op + "'";
    }
  }
  return "";
}

ScenarioResult RunScenario(const std::string& text, const std::string& name) {
  ScenarioResult res;
  WorldOptions o;
  o.bootstrap_dcs = {{"ttl", 3}, {"loop_wait", 1}, {"retry_timeout", 1}};
  std::vector<std::pair<int, std::string>> steps;
  std::istringstream in(text);
  std::string line;
  int lineno = 0;
  auto bad = [&](const std::string& why) {
    res.error = name + ":" + std::to_string(lineno) + ": " + why;
    return res;
  };
  while (std::getline(in, line)) {
    ++lineno;
    auto hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    if (line.rfind("known-bug:", 0) == 0) {
      res.known_bug = line.substr(10);
      while (!res.known_bug.empty() && res.known_bug.front() == ' ') res.known_bug.erase(0, 1);
      continue;
    }
    auto words = SplitWords(line);
    if (words.empty()) continue;
    if (!steps.empty() || (words[0] != "nodes" && words[0] != "dcs" && words[0] != "tags" && words[0] != "postgresql" &&
                           words[0] != "seed")) {
      steps.emplace_back(lineno, line);
      continue;
    }
    if (words[0] == "nodes") {
      o.nodes.assign(words.begin() + 1, words.end());
    } else if (words[0] == "seed" && words.size() == 2) {
      o.seed = std::strtoull(words[1].c_str(), nullptr, 10);
    } else if (words[0] == "dcs") {
      std::string err = ParsePairs(words, 1, &o.bootstrap_dcs);
      if (!err.empty()) return bad(err);
    } else if (words.size() >= 2) {
      Json j = Json::object();
      std::string err = ParsePairs(words, 2, &j);
      if (!err.empty()) return bad(err);
      (words[0] == "tags" ? o.tags : o.postgresql)[words[1]].merge_patch(j);
    } else {
      return bad("bad setup line");
    }
  }
  if (o.nodes.empty()) return bad("no 'nodes' line");
  World w(o);
  for (const auto& [ln, step] : steps) {
    lineno = ln;
    std::string s = step;
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
    if (s.rfind("run ", 0) != 0) w.Trace(">", s);
    std::string err = ApplyStep(w, SplitWords(s), &res.failures);
    if (!err.empty()) return bad(err);
  }
  for (const auto& v : w.violations()) res.failures.push_back("VIOLATION " + v);
  std::ostringstream out;
  for (const auto& t : w.trace()) out << t << "\n";
  out << "# end at " << FormatMs(w.now_ms()) << " s: " << w.acked() << " commits acknowledged, "
      << w.acked_sync().size() << " in synchronous mode; " << w.violations().size() << " violation(s)\n";
  res.trace = out.str();
  return res;
}

}  // namespace pgw::sim
