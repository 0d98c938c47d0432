#!/usr/bin/env bash
# Long libFuzzer run of the protocol decoder:  ./scripts/fuzz.sh [seconds]   (default 1800)
#
# Builds tests/fuzz/fuzz_decoder with clang + ASan/UBSan in $FUZZ_BUILD_DIR (default build-fuzz),
# fuzzes a persistent corpus in .fuzz-work/decoder/corpus (seeded from tests/fuzz/corpus/decoder,
# growing from run to run; the source tree is never written), and ends with one summary line:
#   fuzz.sh: decoder: <runs> runs in <s> s, <n> exec/s, <c> crash(es), corpus <k> inputs
# Crash inputs land in .fuzz-work/decoder/artifacts/; reproduce one with
#   $FUZZ_BUILD_DIR/tests/fuzz/fuzz_decoder .fuzz-work/decoder/artifacts/crash-...
# Exit status: 0 without crashes, 1 otherwise.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

secs=${1:-1800}
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
  echo "usage: fuzz.sh [seconds]   (seconds: a positive integer, default 1800)" >&2
  exit 2
fi
"$VIOVA_ROOT/scripts/deps.sh"

dir=${FUZZ_BUILD_DIR:-$VIOVA_ROOT/build-fuzz}
CC=clang configure "$dir" -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
  -Dc_args=-fno-sanitize-recover=all -Dfuzz=enabled
# Only the target: other modules' work in progress must not stop a fuzz run.
compile "$dir" tests/fuzz/fuzz_decoder
fuzzer=$dir/tests/fuzz/fuzz_decoder

work=$VIOVA_ROOT/.fuzz-work/decoder
mkdir -p "$work/corpus" "$work/artifacts"
cp -n "$VIOVA_ROOT"/tests/fuzz/corpus/decoder/* "$work/corpus/"
stamp=$(date +%Y%m%d-%H%M%S)
log=$work/fuzz-$stamp.log
marker=$work/.start-$stamp
touch "$marker"

echo "fuzz.sh: fuzzing $fuzzer for $secs s (corpus $work/corpus, log $log)"
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
  "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1 || rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
new_inputs=$(find "$work/artifacts" -type f -newer "$marker")
rm -f "$marker"
crashes=$(printf '%s' "$new_inputs" | grep -c . || true)
corpus=$(find "$work/corpus" -type f | wc -l)
if ((rc != 0)) && ((crashes == 0)); then
  crashes=1 # the fuzzer died without writing an input (e.g. killed): count it, show the log
fi
if ((crashes != 0)); then
  tail -n 40 "$log"
  printf '%s\n' "$new_inputs" | sed '/^$/d; s/^/fuzz.sh: crash input: /'
fi
echo "fuzz.sh: decoder: ${runs:-?} runs in ${took:-$secs} s, ${speed:-?} exec/s, $crashes crash(es), corpus $corpus inputs (exit $rc, log $log)"
((crashes == 0))
