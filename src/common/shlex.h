// Splitting a command line into an argv vector the way Patroni does it for its scripts (Python's shlex.split in
// POSIX mode, without comments): words separated by spaces, tabs, CR and LF; single quotes keep everything
// literally; double quotes keep everything but a backslash before '"' or '\'; outside quotes a backslash keeps the
// next character. Adjacent pieces join into one word ("a'b c'd" is one word), and '' is an empty word. No
// expansion of any kind: "$HOME", "*" and ";" are plain characters. Pure.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace pgw {

// kInvalidArgument for an unterminated quote, a trailing backslash, or a line without any word.
Result<std::vector<std::string>> SplitCommandLine(const std::string& line);

}  // namespace pgw
