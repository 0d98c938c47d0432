#!/usr/bin/env bash
# Run benchmark programs:  ./scripts/bench.sh [name ...]   (no name: all of them)
# Each prints a readable table and one "BENCH <name> key=value ..." line per figure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$VIOVA_ROOT/scripts/deps.sh"
BUILD_DIR=${BENCH_BUILD_DIR:-$VIOVA_ROOT/build-release}
configure "$BUILD_DIR" -Dbuildtype=release -Dtests=disabled
compile "$BUILD_DIR"

available=()
for b in "$BUILD_DIR"/bench/bench_*; do
  [[ -x $b ]] && available+=("$(basename "$b" | sed 's/^bench_//')")
done
names=("$@")
((${#names[@]})) || names=("${available[@]}")
for n in "${names[@]}"; do
  exe=$BUILD_DIR/bench/bench_$n
  if [[ ! -x $exe ]]; then
    echo "bench.sh: no benchmark '$n' (have: ${available[*]})" >&2
    exit 2
  fi
  "$exe"
done
