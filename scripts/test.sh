#!/usr/bin/env bash
# Install what is missing, build, and run every test suite:
#   1. plain build (gcc, -Wall -Wextra -Werror): every meson test suite
#   2. ASan+UBSan build (clang): the unit suite, plus the fuzz smoke run
# Ends with one summary line "viova: N passed, M failed".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$VIOVA_ROOT/scripts/deps.sh"

passed=0
failed=0
# run_suite NAME DIR [meson test args...]: run meson test and add up its results.
run_suite() {
  local name=$1 dir=$2; shift 2
  echo "== $name"
  local rc=0
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=$?
  local log=$dir/meson-logs/testlog.json
  if [[ -f $log ]]; then
    local ok bad
    ok=$(grep -c '"result": "OK"' "$log" || true)
    bad=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
    passed=$((passed + ok)); failed=$((failed + bad))
  fi
  if ((rc != 0)) && ((failed == 0)); then failed=$((failed + 1)); fi
  return 0
}

echo "== build (plain, -Werror)"
build_plain
run_suite "all suites (plain build)" "$BUILD_DIR"

echo "== build (ASan+UBSan, clang)"
CC=clang configure "$ASAN_BUILD_DIR" -Dwerror=true \
  -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all -Dfuzz=enabled \
  -Dfuzz_seconds="${VIOVA_FUZZ_SECONDS:-60}"
meson compile -C "$ASAN_BUILD_DIR" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite "unit + fuzz (ASan+UBSan build)" "$ASAN_BUILD_DIR" --suite unit --suite fuzz

echo "viova: $passed passed, $failed failed"
((failed == 0))
