// Small file-system helpers returning Status instead of throwing.
#pragma once

#include <string>

#include "common/status.h"

namespace pgw {

Result<std::string> ReadFile(const std::string& path);
// Writes via a temporary file and rename(), so readers never see a half-written file. `mode` applies to the new file.
Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode = 0600);
bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);
// True when `path` does not exist or is an empty directory.
bool IsMissingOrEmptyDir(const std::string& path);
Status MakeDirs(const std::string& path, unsigned mode = 0700);
Status RemoveAll(const std::string& path);

}  // namespace pgw
