#!/usr/bin/env bash
# Installs dependencies, builds, checks layout and bug patterns (scripts/lint.sh: clang-format, clang-tidy), and runs
# every test: unit tests first (fast), then the fuzz targets briefly, then the scenarios, then integration tests
# against real etcd and PostgreSQL on loopback. Pass a ctest label to run one layer (scripts/test.sh unit), or `fuzz`
# for the fuzz step alone.
#   PGW_FUZZ_SECONDS=N   seconds per fuzz target (default 10); 0 skips the fuzz step
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# The fuzz step (scripts/fuzz.sh): builds the libFuzzer targets with clang into ./build-fuzz, replays every
# checked-in input (tests/fuzz/corpus/), then fuzzes each target PGW_FUZZ_SECONDS from its corpus. A crash, a
# sanitizer report, a leak or an input running over 10 s fails the run; the input is left in build-fuzz/artifacts/.
fuzz_step() {
  local seconds="${PGW_FUZZ_SECONDS:-10}"
  [ "$seconds" = 0 ] && return 0
  local start=$SECONDS
  scripts/fuzz.sh --regress
  scripts/fuzz.sh "$seconds"
  echo "fuzz step: $((SECONDS - start)) s"
}
if [ "${1:-}" = fuzz ]; then
  fuzz_step
  exit 0
fi
scripts/build.sh
if [ $# -gt 0 ]; then
  exec ctest --test-dir build -L "$1" --output-on-failure
fi
scripts/lint.sh
ctest --test-dir build -L unit --output-on-failure -j2
fuzz_step
ctest --test-dir build -L scenario --output-on-failure -j2
ctest --test-dir build -L integration --output-on-failure
