#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) into ./build-fuzz with clang, ASan and UBSan, then runs each one.
#   scripts/fuzz.sh [SECONDS]        fuzz every target SECONDS (default 20) from its seed corpus
#   scripts/fuzz.sh --regress        run every checked-in input (tests/fuzz/corpus/<name>/, the target
#                                    fuzz_<name>) once through its target
#   scripts/fuzz.sh --pending        the same for tests/fuzz/pending/<name>/: known crashes whose fix is not merged
#   FUZZ_TARGETS="fuzz_pgwire ..."   limits either mode to some targets
# A crash, a sanitizer report, a leak or a hang (an input running over 10 s) fails the script; the input that
# caused it is left in build-fuzz/artifacts/<target>/. New inputs found while fuzzing go to build-fuzz/corpus/
# (not checked in): copy the interesting ones to tests/fuzz/corpus/<name>/ by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=fuzz
seconds=20
case "${1:-}" in
  --regress) mode=regress ;;
  --pending) mode=pending ;;
  "") ;;
  *) seconds="$1" ;;
esac
targets=(${FUZZ_TARGETS:-fuzz_rest_request fuzz_etcd_codec fuzz_cluster_view fuzz_config fuzz_ctl_args fuzz_pgwire
  fuzz_router_handshake fuzz_http_response})

launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# UBSan findings abort (no recovery), so they fail the run like a crash does. -O1 with line tables only, as
# libFuzzer's documentation suggests: stack traces keep file and line, and the cold build (the longest part of the
# CI fuzz step, scripts/test.sh) takes about half the time of -O2 -g.
flags="-O1 -gline-tables-only -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
flags+=" -fno-omit-frame-pointer"
mkdir -p build-fuzz
cmake -S . -B build-fuzz -DPGW_FUZZ=ON -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
# clang's warnings on the tree (the normal build is GCC's) go to the log, not to the CI output.
if ! cmake --build build-fuzz -j2 --target "${targets[@]}" >build-fuzz/build.log 2>&1; then
  tail -n 40 build-fuzz/build.log
  echo "fuzz: building the targets failed, see build-fuzz/build.log"
  exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  bin="build-fuzz/tests/fuzz/$t"
  name="${t#fuzz_}"
  artifacts="build-fuzz/artifacts/$t/"
  mkdir -p "$artifacts"
  log="build-fuzz/$t.log"
  if [ "$mode" = fuzz ]; then
    work="build-fuzz/corpus/$t"
    mkdir -p "$work"
    seeds="tests/fuzz/corpus/$name"
    dirs=("$work")
    [ -d "$seeds" ] && dirs+=("$seeds")
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$artifacts" "${dirs[@]}" >"$log" 2>&1; then
      echo "$t: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${seconds}s)"
    else
      echo "$t: FAILED, see $log and $artifacts"; tail -n 30 "$log"; failed+=("$t")
    fi
  else
    dir="tests/fuzz/$([ "$mode" = regress ] && echo corpus || echo pending)/$name"
    [ -d "$dir" ] || continue
    mapfile -t inputs < <(find "$dir" -type f | sort)
    [ ${#inputs[@]} -gt 0 ] || continue
    if "$bin" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" "${inputs[@]}" >"$log" 2>&1; then
      echo "$t: ok (${#inputs[@]} inputs from $dir)"
    else
      echo "$t: FAILED on an input of $dir, see $log"; tail -n 30 "$log"; failed+=("$t")
    fi
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz ($mode) failed: ${failed[*]}"
  exit 1
fi
