#include "torture/checker.h"

#include <algorithm>
#include <cmath>

namespace pgw::torture {

std::string ServerId::Key() const { return address + " tl " + std::to_string(timeline) + " sysid " + sysid; }

namespace {

std::vector<Ack> ByAcked(std::vector<Ack> acks) {
  std::stable_sort(acks.begin(), acks.end(), [](const Ack& x, const Ack& y) { return x.acked < y.acked; });
  return acks;
}

}  // namespace

std::vector<Window> Windows(const std::vector<Ack>& acks) {
  std::map<std::string, Window> by_key;
  for (const Ack& a : acks) {
    auto [it, fresh] = by_key.try_emplace(a.server.Key());
    Window& w = it->second;
    if (fresh) {
      w.server = a.server;
      w.first_sent = a.sent;
      w.first_acked = a.acked;
      w.last_sent = a.sent;
      w.last_acked = a.acked;
    }
    ++w.acks;
    w.first_sent = std::min(w.first_sent, a.sent);
    w.first_acked = std::min(w.first_acked, a.acked);
    w.last_sent = std::max(w.last_sent, a.sent);
    w.last_acked = std::max(w.last_acked, a.acked);
  }
  std::vector<Window> out;
  out.reserve(by_key.size());
  for (auto& [key, w] : by_key) out.push_back(std::move(w));
  std::sort(out.begin(), out.end(), [](const Window& x, const Window& y) {
    return x.first_acked != y.first_acked ? x.first_acked < y.first_acked : x.server.Key() < y.server.Key();
  });
  return out;
}

std::vector<SplitBrain> Overlaps(const std::vector<Ack>& acks) {
  std::vector<Window> windows = Windows(acks);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < windows.size(); ++i) index[windows[i].server.Key()] = i;
  // For each ordered pair (i, j), the first evidence found: windows overlapping, else an insert of j committed
  // strictly inside i's certain window.
  std::map<std::pair<size_t, size_t>, SplitBrain> found;
  auto record = [&](size_t i, size_t j, Micros from, Micros to) {
    auto key = std::minmax(i, j);
    found.try_emplace(key, SplitBrain{windows[key.first].server.Key(), windows[key.second].server.Key(), from, to});
  };
  for (size_t i = 0; i < windows.size(); ++i) {
    for (size_t j = i + 1; j < windows.size(); ++j) {
      const Window& x = windows[i];
      const Window& y = windows[j];
      if (!x.HasCertain() || !y.HasCertain()) continue;
      Micros from = std::max(x.first_acked, y.first_acked), to = std::min(x.last_sent, y.last_sent);
      if (from < to) record(i, j, from, to);
    }
  }
  for (const Ack& a : ByAcked(acks)) {
    size_t j = index[a.server.Key()];
    for (size_t i = 0; i < windows.size(); ++i) {
      const Window& w = windows[i];
      if (i == j || !w.HasCertain()) continue;
      if (a.sent > w.first_acked && a.acked < w.last_sent) record(i, j, a.sent, a.acked);
    }
  }
  std::vector<SplitBrain> out;
  out.reserve(found.size());
  for (auto& [key, s] : found) out.push_back(std::move(s));
  return out;
}

Verdict Check(const std::vector<Ack>& acks, const std::vector<int64_t>& table_ids) {
  Verdict v;
  std::map<int64_t, int> count;
  for (int64_t id : table_ids) ++count[id];
  for (const auto& [id, n] : count) {
    if (n > 1) v.duplicates.push_back(id);
  }
  for (const Ack& a : acks) {
    if (!count.contains(a.id)) v.lost.push_back(a.id);
  }
  std::sort(v.lost.begin(), v.lost.end());
  v.lost.erase(std::unique(v.lost.begin(), v.lost.end()), v.lost.end());
  v.split_brain = Overlaps(acks);
  v.windows = Windows(acks);
  return v;
}

Micros LongestGap(const std::vector<Ack>& acks, Micros from, Micros to) {
  Micros prev = from, longest = 0;
  for (const Ack& a : ByAcked(acks)) {
    if (a.acked < from || a.acked > to) continue;
    longest = std::max(longest, a.acked - prev);
    prev = a.acked;
  }
  return std::max(longest, to - prev);
}

bool Flowing(const std::vector<Ack>& acks, Micros since, Micros now, Micros span, Micros max_gap) {
  Micros start = now - span;
  if (start < since) return false;
  Micros prev = start;
  bool any = false;
  for (const Ack& a : ByAcked(acks)) {
    if (a.acked <= start || a.acked > now) continue;
    if (a.acked - prev > max_gap) return false;
    prev = a.acked;
    any = true;
  }
  return any && now - prev <= max_gap;
}

Spread Summarize(std::vector<double> values) {
  Spread s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  s.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  size_t rank = static_cast<size_t>(std::ceil(0.95 * static_cast<double>(n)));
  s.p95 = values[std::max<size_t>(rank, 1) - 1];
  s.max = values.back();
  return s;
}

}  // namespace pgw::torture
