#!/usr/bin/env bash
# Install what is missing, build, and run every test suite:
#   1. plain build (gcc, -Wall -Wextra -Werror): every meson test suite, including "vm" (a QEMU 10
#      guest against viova-host over vhost-user-gpu; QEMU and the guest kernel .deb are fetched
#      the first time)
#   2. the "valgrind" suite (host core, sim backend) again under valgrind: no error, no leak
#   3. ASan+UBSan build (clang): unit and integration, plus the fuzz smoke run
# Ends with one summary line "viova: N passed, M failed".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$VIOVA_ROOT/scripts/deps.sh"
"$VIOVA_ROOT/tests/vm/install-deps.sh"
# In CI the VM suite must run: a missing QEMU is a failure, not a skip.
export VIOVA_VM_REQUIRED=1

passed=0
failed=0
# run_suite NAME DIR [meson test args...]: run meson test and add up its results.
run_suite() {
  local name=$1 dir=$2; shift 2
  echo "== $name"
  local rc=0
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || rc=$?
  local log=$dir/meson-logs/testlog.json ok=0 bad=0
  if [[ -f $log ]]; then
    ok=$(grep -c '"result": "OK"' "$log" || true)
    bad=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  fi
  # meson failed without a failing test (e.g. a build error): still a failure.
  if ((rc != 0 && bad == 0)); then bad=1; fi
  passed=$((passed + ok)); failed=$((failed + bad))
  return 0
}

echo "== build (plain, -Werror)"
build_plain
run_suite "all suites (plain build)" "$BUILD_DIR"
run_suite "leak check (valgrind)" "$BUILD_DIR" --suite valgrind --timeout-multiplier 4 \
  --wrap='valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect'

echo "== build (ASan+UBSan, clang)"
CC=clang configure "$ASAN_BUILD_DIR" -Dwerror=true \
  -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all -Dfuzz=enabled \
  -Dfuzz_seconds="${VIOVA_FUZZ_SECONDS:-60}"
compile "$ASAN_BUILD_DIR"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite "unit + integration + fuzz (ASan+UBSan build)" "$ASAN_BUILD_DIR" \
    --suite unit --suite integration --suite fuzz

echo "viova: $passed passed, $failed failed"
((failed == 0))
