// The few fields pgwarden needs from PostgreSQL's global/pg_control, read directly. pg_controldata says the same
// but costs a fork and exec (30-50 ms), which a planned switchover would spend with writes stopped.
//
// The leading fields of ControlFileData have kept their layout since PostgreSQL 9.3 (through 17): system
// identifier (uint64), pg_control_version (uint32), catalog version (uint32), state (int32, padded to 8),
// time (int64), checkPoint (XLogRecPtr, uint64 at offset 32), in the machine's byte order.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace pgw {

struct ControlFileHead {
  uint64_t system_identifier = 0;
  uint32_t pg_control_version = 0;
  int32_t state = 0;  // 1 = shut down, 2 = shut down in recovery, 6 = in production (DBState)
  int64_t checkpoint_lsn = 0;
};

// Decodes the head of pg_control's bytes; InvalidArgument when they are too short or not a pg_control of
// PostgreSQL 9.3 or later (pg_control_version 937 .. 9999).
Result<ControlFileHead> ParseControlFileHead(const std::string& bytes);
// Reads DATA_DIR/global/pg_control.
Result<ControlFileHead> ReadControlFileHead(const std::string& data_dir);

}  // namespace pgw
