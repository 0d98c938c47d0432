#!/usr/bin/env bash
# run_fuzz.sh FUZZER SEED_DIR WORK_DIR SECONDS
# The "fuzz" suite's runner: copies the committed seeds into WORK_DIR (in the build tree, so
# the source tree is never written), runs the libFuzzer target for SECONDS, and fails on any
# crash, sanitizer report or property violation (libFuzzer exits non-zero and leaves the input
# in WORK_DIR/artifacts/).
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 secs=$4

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
rc=0
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" || rc=$?
crashes=$(find "$work/artifacts" -type f | wc -l)
echo "run_fuzz: exit $rc, $crashes crash input(s) in $work/artifacts"
if ((rc != 0 || crashes != 0)); then
  exit 1
fi
