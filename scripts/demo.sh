#!/usr/bin/env bash
# Installs dependencies, builds, and starts the sandbox: etcd + a 3-node pgwarden cluster + pgwarden-router on loopback, under
# ./sandbox (or $1). Stop it with: build/apps/pgwardenctl sandbox down --dir sandbox --wipe
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec build/apps/pgwardenctl sandbox up --dir "${1:-sandbox}" --nodes 3
