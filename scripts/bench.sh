#!/usr/bin/env bash
# Run benchmark programs:  ./scripts/bench.sh [name ...]
# No name: every bench_* program (vma vaspace host guest). `vm` is only run when named: it boots a
# QEMU guest (tests/vm/, QEMU 10 from bookworm-backports installed if missing) and runs
# viova_vm_bench inside it over virtio-gpu.
# Each prints a readable table and one "BENCH <name> key=value ..." line per figure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$VIOVA_ROOT/scripts/deps.sh"
BUILD_DIR=${BENCH_BUILD_DIR:-$VIOVA_ROOT/build-release}
configure "$BUILD_DIR" -Dbuildtype=release -Dtests=disabled
compile "$BUILD_DIR"

# bench_vm: boot the guest, run the benchmark there, print its part of the serial console.
bench_vm() {
  local cache=$VIOVA_ROOT/build-vm rc=0
  mkdir -p "$cache"
  "$VIOVA_ROOT/tests/vm/install-deps.sh"
  VIOVA_VM_REQUIRED=1 "$VIOVA_ROOT/tests/vm/vm-session.sh" "$cache" \
    "$BUILD_DIR/host/daemon/viova-host" "$BUILD_DIR/bench/viova_vm_bench" >"$cache/bench.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    cat "$cache/bench.log"
    echo "bench.sh: the VM benchmark failed (exit $rc)" >&2
    return 1
  fi
  # The program's own output, without the kernel's and init's lines.
  sed -n '/^viova-vm: running/,/^viova-vm: .* exited/p' "$cache/console.log" | grep -v '^viova-vm:'
}

available=()
for b in "$BUILD_DIR"/bench/bench_*; do
  [[ -x $b ]] && available+=("$(basename "$b" | sed 's/^bench_//')")
done
names=("$@")
((${#names[@]})) || names=("${available[@]}")
for n in "${names[@]}"; do
  if [[ $n == vm ]]; then
    bench_vm
    continue
  fi
  exe=$BUILD_DIR/bench/bench_$n
  if [[ ! -x $exe ]]; then
    echo "bench.sh: no benchmark '$n' (have: ${available[*]} vm)" >&2
    exit 2
  fi
  "$exe"
done
