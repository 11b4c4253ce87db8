// The configuration loader: patroni.yml text plus PATRONI_* environment variables, and the dynamic configuration
// JSON read from the DCS config key. Input: YAML text, then NUL-separated NAME=VALUE environment entries.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t z = in.find('\0');
  std::string yaml = in.substr(0, z);
  pgw::LoadOptions opts;
  opts.check_bin_dir = false;
  while (z != std::string::npos) {
    size_t next = in.find('\0', z + 1);
    std::string entry = in.substr(z + 1, next == std::string::npos ? std::string::npos : next - z - 1);
    auto eq = entry.find('=');
    if (eq != std::string::npos) opts.env[entry.substr(0, eq)] = entry.substr(eq + 1);
    z = next;
  }
  (void)pgw::LoadConfigText(yaml, opts);
  pgw::Json j = pgw::Json::parse(yaml, nullptr, false);
  if (!j.is_discarded()) {
    std::vector<std::string> problems;
    (void)pgw::DynamicConfig::FromJson(j, "", &problems);
  }
  return 0;
}
