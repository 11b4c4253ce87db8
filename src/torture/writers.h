// The torture writers: N threads inserting uniquely numbered rows through one libpq connection string, each
// recording for every acknowledged insert which server acknowledged it (system identifier, timeline, address) and
// when it was sent and acknowledged (torture/checker.h). Ids come from one counter shared by the writers and are
// never reused: an insert whose outcome is unknown (connection lost before the answer) is not retried, so a row
// committed without our seeing the acknowledgement cannot be mistaken for a lost one.
//
// Thread safety: Start, Stop and the accessors are for one controlling thread; the writers run on their own.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "torture/checker.h"

namespace pgw::torture {

// Microseconds on the steady clock (the time base of every Ack).
Micros NowMicros();

struct WriterOptions {
  std::string dsn;  // libpq keyword/value string
  std::string table = "pgwarden_torture";
  int writers = 4;
  Duration interval{10};           // between a writer's inserts
  Duration reconnect_every{1000};  // writer i opens a fresh connection every reconnect_every * (1 + i/N)
                                   // (0: only after a failure)
  Duration timeout{2000};          // connect and statement timeout
};

// The table: id, writer, and the acknowledging server as the server saw itself. No unique constraint on id, so
// that a row stored twice stays visible to the checker (an index keeps the check fast).
Status CreateTable(const std::string& dsn, const std::string& table);
// max(id) + 1 of the table (1 when empty): where a run's ids start, so reruns on one table never collide.
Result<int64_t> NextFreeId(const std::string& dsn, const std::string& table);
// Every id of the table in [from, to], once per row.
Result<std::vector<int64_t>> TableIds(const std::string& dsn, const std::string& table, int64_t from, int64_t to);

class Writers {
 public:
  Writers(WriterOptions opts, int64_t first_id);
  ~Writers();
  Writers(const Writers&) = delete;
  Writers& operator=(const Writers&) = delete;

  void Start();
  void Stop();  // joins every writer (each notices within one statement timeout)
  std::vector<Ack> Acks() const;
  uint64_t failures() const { return failures_.load(); }
  // The next id that would be handed out: every id the writers used is in [first_id, next_id).
  int64_t next_id() const { return next_id_.load(); }
  // The last distinct failure messages (at most a few), oldest first.
  std::vector<std::string> RecentErrors() const;

 private:
  void Loop(int writer);
  void NoteError(const std::string& message);

  WriterOptions opts_;
  std::atomic<int64_t> next_id_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex mu_;
  std::vector<Ack> acks_;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

}  // namespace pgw::torture
