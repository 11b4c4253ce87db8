#!/usr/bin/env bash
# Layout and bug-pattern checks, run by scripts/test.sh (CI) after the build:
#   clang-format: every C++ file matches .clang-format (fix with: scripts/lint.sh --fix)
#   clang-tidy:   .clang-tidy's checks on every source file under src/, tests/, bench/ and apps/, using
#                 build/compile_commands.json. Left out: config_schema.cc (clang 14 cannot parse its recursive
#                 field table against libstdc++ 12 in C++20; the fuzz build compiles it as C++17 for the same
#                 reason) and tests/fuzz/ (built only by scripts/fuzz.sh, with clang, so not in that database).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
start=$SECONDS
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files match .clang-format"
[ -f build/compile_commands.json ] || { echo "lint: build/compile_commands.json missing: run scripts/build.sh first" >&2; exit 2; }
mapfile -t tidy < <(git ls-files 'src/*.cc' 'tests/*.cc' 'bench/*.cc' 'apps/*.cc' |
  grep -v -e '^src/common/config_schema.cc$' -e '^tests/fuzz/')
printf '%s\n' "${tidy[@]}" | xargs -P"$(nproc)" -n1 clang-tidy -p build --quiet
echo "clang-tidy: ${#tidy[@]} files clean; lint took $((SECONDS - start)) s"
