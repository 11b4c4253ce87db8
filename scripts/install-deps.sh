#!/usr/bin/env bash
# Installs everything pgwarden needs to build, test and run its sandbox on Debian 12. Idempotent; needs root
# (or sudo). Used by the README's commands and by .ci/run.
set -euo pipefail
PKGS=(build-essential cmake pkg-config git curl
      libyaml-cpp-dev nlohmann-json3-dev libpq-dev libssl-dev openssl libgtest-dev libgmock-dev
      postgresql-15 postgresql-client-15 etcd-server etcd-client
      clang libclang-rt-14-dev  # libFuzzer + sanitizer runtimes for scripts/fuzz.sh
      clang-format clang-tidy  # scripts/lint.sh
      patroni haproxy prometheus)  # the real patronictl, HAProxy, promtool, for the compatibility tests (and the failover benchmark baseline)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
