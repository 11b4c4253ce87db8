#include "pg/control_file.h"

#include <cstring>

#include "common/fs.h"

namespace pgw {

Result<ControlFileHead> ParseControlFileHead(const std::string& bytes) {
  constexpr size_t kHead = 40;
  if (bytes.size() < kHead) {
    return InvalidArgument("pg_control is too short (" + std::to_string(bytes.size()) + " bytes)");
  }
  ControlFileHead h;
  std::memcpy(&h.system_identifier, bytes.data(), 8);
  std::memcpy(&h.pg_control_version, bytes.data() + 8, 4);
  std::memcpy(&h.state, bytes.data() + 16, 4);
  uint64_t lsn = 0;
  std::memcpy(&lsn, bytes.data() + 32, 8);
  if (h.pg_control_version < 937 || h.pg_control_version > 9999) {
    return InvalidArgument("pg_control has an unknown version " + std::to_string(h.pg_control_version));
  }
  if (lsn > static_cast<uint64_t>(INT64_MAX)) return InvalidArgument("pg_control holds an impossible checkpoint");
  h.checkpoint_lsn = static_cast<int64_t>(lsn);
  return h;
}

Result<ControlFileHead> ReadControlFileHead(const std::string& data_dir) {
  auto bytes = ReadFile(data_dir + "/global/pg_control");
  if (!bytes.ok()) return bytes.status();
  auto h = ParseControlFileHead(*bytes);
  if (!h.ok()) return h.status().Context(data_dir + "/global/pg_control");
  return h;
}

}  // namespace pgw
