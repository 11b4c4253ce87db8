// pgwardenctl top: options, and rows derived from the last samples (pure).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "ctl/check.h"
#include "ctl/top.h"

namespace pgw::ctl::top {

namespace {

bool ParseDouble(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace

Result<TopOptions> ParseTopOptions(const std::vector<std::string>& args) {
  TopOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--no-canary") continue;  // check's option, meaningless for the view (it writes nothing)
    if (i + 1 >= args.size()) return InvalidArgument("option " + a + " needs a value");
    const std::string& v = args[++i];
    double d = 0;
    if (a == "--interval") {
      if (!ParseDouble(v, &d) || d < 0.2 || d > 60) {
        return InvalidArgument("--interval must be a number of seconds from 0.2 to 60, got '" + v + "'");
      }
      o.interval = Duration(static_cast<int64_t>(d * 1000));
    } else if (a == "--iterations") {
      if (!ParseDouble(v, &d) || d < 1 || d > 1e6 || d != std::floor(d)) {
        return InvalidArgument("--iterations must be a whole number from 1, got '" + v + "'");
      }
      o.iterations = static_cast<int>(d);
    } else if (a == "--max-lag-bytes") {
      auto b = check::ParseBytes(v);
      if (!b || *b <= 0) {
        return InvalidArgument("--max-lag-bytes must be a positive size such as 10MB or 1048576, got '" + v + "'");
      }
      o.max_lag_bytes = *b;
    } else if (a == "--max-lag-seconds") {
      auto sec = check::ParseSeconds(v, false);
      if (!sec) return InvalidArgument("--max-lag-seconds must be a positive number of seconds, got '" + v + "'");
      o.max_lag_seconds = *sec;
    } else if (a == "--timeout") {
      if (!ParseDouble(v, &d) || d < 0.1 || d > 60) {
        return InvalidArgument("--timeout must be a number of seconds from 0.1 to 60, got '" + v + "'");
      }
      o.timeout = Duration(static_cast<int64_t>(d * 1000));
    } else if (a == "--dbname") {
      if (v.empty()) return InvalidArgument("--dbname must not be empty");
      o.dbname = v;
    } else {
      return InvalidArgument("option " + a +
                             " is not one of top's (--interval, --iterations, --max-lag-bytes, "
                             "--max-lag-seconds, --timeout, --dbname)");
    }
  }
  return o;
}

void Model::Add(Sample s) {
  samples_.push_back(std::move(s));
  while (samples_.size() > keep_) samples_.pop_front();
}

namespace {

const MemberSample* Find(const Sample& s, const std::string& name) {
  for (const auto& m : s.members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::optional<int64_t> LagBytes(const Sample& s, const MemberSample& m) {
  if (m.name == s.leader || !m.pg_error.empty() || !m.in_recovery) return std::nullopt;
  const MemberSample* l = Find(s, s.leader);
  if (!l || !l->pg_error.empty() || l->in_recovery) return std::nullopt;
  return std::max<int64_t>(0, l->lsn - m.lsn);
}

std::optional<double> PerSecond(int64_t now, int64_t before, MonoTime t_now, MonoTime t_before) {
  double dt = std::chrono::duration<double>(t_now - t_before).count();
  if (now < 0 || before < 0 || now < before || dt <= 0) return std::nullopt;  // unknown, or stats were reset
  return static_cast<double>(now - before) / dt;
}

}  // namespace

std::vector<Row> Model::Rows(const TopOptions& o) const {
  std::vector<Row> rows;
  if (samples_.empty()) return rows;
  const Sample& s = samples_.back();
  // Rates are taken over at least two seconds where the samples reach that far: PostgreSQL flushes its
  // transaction counters at most once a second, so a shorter window jumps between zero and twice the real rate.
  const Sample* prev = nullptr;
  for (size_t i = samples_.size() - 1; i-- > 0;) {
    prev = &samples_[i];
    if (s.at - prev->at >= Duration(2000)) break;
  }
  for (const auto& m : s.members) {
    Row r;
    r.name = m.name;
    r.leader = m.name == s.leader;
    r.role = m.role.empty() ? (r.leader ? "leader" : "?") : m.role;
    if (r.leader && (r.role == "primary" || r.role == "master")) r.role = "leader";
    r.state = m.has_key ? m.state : "no member key";
    if (!r.leader && m.pg_error.empty() && m.in_recovery && m.receiver == "streaming") r.state = "streaming";
    r.timeline = m.timeline;
    r.lag_bytes = LagBytes(s, m);
    if (r.lag_bytes) r.lag_s = m.replay_lag_s.value_or(0);
    for (const auto& old : samples_) {
      const MemberSample* om = Find(old, m.name);
      if (!om) continue;
      if (auto b = LagBytes(old, *om)) r.lag_history.push_back(*b);
    }
    if (prev) {
      if (const MemberSample* pm = Find(*prev, m.name); pm && pm->pg_error.empty() && m.pg_error.empty()) {
        r.tps = PerSecond(m.xacts, pm->xacts, s.at, prev->at);
        if (r.leader && !m.in_recovery && !pm->in_recovery) r.wal_rate = PerSecond(m.lsn, pm->lsn, s.at, prev->at);
      }
    }
    // The row's colour: red when the member cannot serve or lags past a threshold, yellow on the way there.
    const MemberSample* l = Find(s, s.leader);
    if (!m.pg_error.empty()) {
      r.level = Level::kBad;
      r.note = "PostgreSQL: " + m.pg_error;
    } else if (r.leader && m.in_recovery) {
      r.level = Level::kBad;
      r.note = "leader key held, PostgreSQL still in recovery";
    } else if (!r.leader && !m.in_recovery) {
      r.level = Level::kBad;
      r.note = "not in recovery, but not the leader";
    } else if (!r.leader && m.receiver != "streaming") {
      r.level = Level::kWarn;
      r.note = m.receiver.empty() ? "no WAL receiver" : "WAL receiver " + m.receiver;
    } else if (!r.leader && l && l->pg_error.empty() && m.timeline != 0 && l->timeline != 0 &&
               m.timeline != l->timeline) {
      r.level = Level::kBad;
      r.note = "on timeline " + std::to_string(m.timeline) + ", the leader on " + std::to_string(l->timeline);
    }
    if (r.lag_bytes && r.level != Level::kBad) {
      double lag_s = r.lag_s.value_or(0);
      if (*r.lag_bytes >= o.max_lag_bytes || lag_s >= o.max_lag_seconds) {
        r.level = Level::kBad;
        r.note = "lag past " + HumanBytes(static_cast<double>(o.max_lag_bytes)) + " or " +
                 std::to_string(static_cast<int>(o.max_lag_seconds)) + " s";
      } else if (r.level == Level::kOk && (*r.lag_bytes * 2 >= o.max_lag_bytes || lag_s * 2 >= o.max_lag_seconds)) {
        r.level = Level::kWarn;
        r.note = "lag past half the threshold";
      }
    }
    if (!m.sync_state.empty() && m.sync_state != "async" && r.note.empty()) r.note = m.sync_state;
    rows.push_back(std::move(r));
  }
  return rows;
}

Summary Model::Totals(const std::vector<Row>& rows) const {
  Summary t;
  for (const auto& r : rows) {
    if (r.leader) {
      t.write_tps = r.tps;
      t.wal_rate = r.wal_rate;
      continue;
    }
    ++t.replicas;
    if (r.tps) t.read_tps = t.read_tps.value_or(0) + *r.tps;
  }
  return t;
}

}  // namespace pgw::ctl::top
