#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: unit tests first (fast), then integration tests against
# real etcd and PostgreSQL on loopback. Pass a ctest label to run one layer: scripts/test.sh unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [ $# -gt 0 ]; then
  exec ctest --test-dir build -L "$1" --output-on-failure
fi
ctest --test-dir build -L unit --output-on-failure -j2
ctest --test-dir build -L scenario --output-on-failure -j2
ctest --test-dir build -L integration --output-on-failure
