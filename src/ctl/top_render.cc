// pgwardenctl top: one frame as text (pure).
#include <algorithm>
#include <cstdio>

#include "ctl/top.h"

namespace pgw::ctl::top {

namespace {

const char* kReset = "\033[0m";
const char* kBold = "\033[1m";
const char* kRed = "\033[31m";
const char* kYellow = "\033[33m";
const char* kGreen = "\033[32m";

// `v` with `decimals` digits after the point (0 or 1).
std::string Fixed(double v, int decimals) {
  char buf[64];
  if (decimals == 0)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Display width of UTF-8 text (every code point one column: the view uses no wide characters).
size_t Columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Pad(const std::string& s, size_t w, bool right = false) {
  size_t c = Columns(s);
  if (c >= w) return s;
  return right ? std::string(w - c, ' ') + s : s + std::string(w - c, ' ');
}

// Cuts `s` to `width` columns (0: no limit), never inside a UTF-8 sequence.
std::string Cut(const std::string& s, int width) {
  if (width <= 0) return s;
  size_t cols = 0, i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (cols == static_cast<size_t>(width)) break;
      ++cols;
    }
  }
  return s.substr(0, i);
}

std::string Rate(const std::optional<double>& v) { return v ? Fixed(*v, 0) : "-"; }

}  // namespace

std::string HumanBytes(double b) {
  if (b < 1024) return Fixed(b, 0) + " B";
  if (b < 1024.0 * 1024) return Fixed(b / 1024, 0) + " kB";
  if (b < 1024.0 * 1024 * 1024) return Fixed(b / (1024.0 * 1024), 1) + " MB";
  return Fixed(b / (1024.0 * 1024 * 1024), 1) + " GB";
}

std::string Sparkline(const std::vector<int64_t>& v, int64_t full) {
  static const char* const kBlocks[] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
  std::string out;
  for (int64_t x : v) {
    int64_t level = full <= 0 ? 0 : std::clamp<int64_t>(x * 7 / full, 0, 7);
    if (x > 0 && level == 0 && full > 0 && x * 14 >= full) level = 1;
    out += kBlocks[level];
  }
  return out;
}

std::string Render(const Model& m, const TopOptions& o, const std::string& scope, int width, bool colour) {
  const Sample* s = m.Latest();
  std::vector<std::string> lines;
  auto paint = [&](const std::string& text, const char* code) {
    return colour && code ? std::string(code) + text + kReset : text;
  };
  std::string head = "pgwarden top - cluster " + scope;
  if (s) head += " - " + s->wall;
  if (s && !s->leader.empty()) head += " - leader " + s->leader;
  if (s && s->leader.empty()) head += " - NO LEADER";
  if (s && s->paused) head += " - PAUSED";
  if (s && s->sync_mode) head += " - synchronous mode";
  lines.push_back(paint(Cut(head, width), kBold));
  if (!s) {
    lines.push_back("waiting for the first sample...");
  } else {
    if (!s->etcd_error.empty()) lines.push_back(paint(Cut("etcd: " + s->etcd_error, width), kRed));
    std::vector<Row> rows = m.Rows(o);
    size_t name_w = 6;
    for (const auto& r : rows) name_w = std::max(name_w, Columns(r.name));
    const size_t trend_w = 12;
    lines.push_back("");
    lines.push_back(Cut(Pad("Member", name_w) + "  " + Pad("Role", 14) + Pad("State", 12) + Pad("TL", 4, true) +
                            Pad("Lag", 11, true) + Pad("Lag s", 8, true) + "  " + Pad("Lag trend", trend_w) +
                            Pad("TPS", 8, true) + "  Note",
                        width));
    for (const auto& r : rows) {
      std::vector<int64_t> hist = r.lag_history;
      if (hist.size() > trend_w) hist.erase(hist.begin(), hist.end() - static_cast<long>(trend_w));
      std::string line = Pad(r.name, name_w) + "  " + Pad(r.role, 14) + Pad(r.state, 12) +
                         Pad(r.timeline ? std::to_string(r.timeline) : "-", 4, true) +
                         Pad(r.lag_bytes ? HumanBytes(static_cast<double>(*r.lag_bytes)) : "-", 11, true) +
                         Pad(r.lag_s ? Fixed(*r.lag_s, 1) : "-", 8, true) + "  " +
                         Pad(Sparkline(hist, o.max_lag_bytes), trend_w) + Pad(Rate(r.tps), 8, true) + "  " + r.note;
      const char* code = r.level == Level::kBad    ? kRed
                         : r.level == Level::kWarn ? kYellow
                         : r.leader                ? kGreen
                                                   : nullptr;
      lines.push_back(paint(Cut(line, width), code));
    }
    Summary t = m.Totals(rows);
    std::string rates = "writes " + Rate(t.write_tps) + " tps";
    if (t.wal_rate) rates += " (WAL " + HumanBytes(*t.wal_rate) + "/s)";
    rates += " on the leader - reads " + Rate(t.read_tps) + " tps on " + std::to_string(t.replicas) +
             (t.replicas == 1 ? " replica" : " replicas");
    lines.push_back("");
    lines.push_back(Cut(rates, width));
    lines.push_back("");
    lines.push_back("Last failovers:");
    if (s->history.empty()) lines.push_back("  none recorded");
    size_t from = s->history.size() > 3 ? s->history.size() - 3 : 0;
    for (size_t i = s->history.size(); i-- > from;) {
      const HistoryLine& h = s->history[i];
      std::string line = "  timeline " + std::to_string(h.timeline) + " -> " + std::to_string(h.timeline + 1);
      if (!h.timestamp.empty()) line += " at " + h.timestamp;
      if (!h.new_leader.empty()) line += ", new leader " + h.new_leader;
      if (!h.reason.empty()) line += ": " + h.reason;
      lines.push_back(Cut(line, width));
    }
  }
  lines.push_back("");
  lines.push_back(paint(Cut("q or Ctrl-C to quit", width), nullptr));
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace pgw::ctl::top
