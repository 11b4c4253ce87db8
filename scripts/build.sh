#!/usr/bin/env bash
# Configures and builds pgwarden into ./build (warnings are errors). Uses ccache when it is installed, so that
# several checkouts (git worktrees) of the tree share compiled objects.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B build -DPGW_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build build -j"$(nproc)"
