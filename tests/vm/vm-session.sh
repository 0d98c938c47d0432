#!/usr/bin/env bash
# One VM session: build the initramfs with the given guest programs, start viova-host as the
# vhost-user-gpu back end (sim backend), boot the guest against it, run the programs in order
# inside it, and report. Used by `meson test --suite vm`, ./scripts/vm-demo.sh and
# ./scripts/bench.sh vm.
#
# usage: vm-session.sh CACHE_DIR VIOVA_HOST GUEST_PROGRAM...
#
# Each GUEST_PROGRAM is copied to /bin/<name> and run in the guest in the order given; the session
# passes when every one exits 0 (the guest prints "VIOVA-VM-RESULT: PASS" on its serial console).
# The whole console is kept in CACHE_DIR/console.log and the daemon's log in
# CACHE_DIR/viova-host.log; on failure both are printed.
#
# Environment:
#   VIOVA_VM_TIMEOUT   seconds QEMU may run (default 240)
#   VIOVA_VM_REQUIRED  1: a missing QEMU >= 10 is a failure (CI); otherwise the session is
#                      skipped with exit 77 and a line saying how to install it
# Exit status: 0 pass, 1 fail, 2 timeout / no result, 77 skipped, 64 usage.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "vm-session.sh: $1" >&2; exit "${2:-64}"; }

[[ $# -ge 3 ]] || die "usage: vm-session.sh CACHE_DIR VIOVA_HOST GUEST_PROGRAM..."
cache=$(mkdir -p "$1" && cd "$1" && pwd)
host_exe=$2
shift 2
programs=("$@")
[[ -x $host_exe ]] || die "viova-host '$host_exe' is not executable: build it first (meson compile)"

qemu=${QEMU:-qemu-system-x86_64}
major=0
if command -v "$qemu" >/dev/null; then
	major=$("$qemu" --version | awk '/version/ { split($4, v, "."); print v[1]; exit }')
fi
if ((major < 10)); then
	msg="needs $qemu >= 10 (vhost-user-gpu-pci with memfd RAM under TCG); found '${major/#0/none}'. Install it with tests/vm/install-deps.sh"
	[[ ${VIOVA_VM_REQUIRED:-0} == 1 ]] && die "$msg" 1
	echo "vm-session.sh: SKIP: $msg"
	exit 77
fi

"$here/build-initramfs.sh" "$cache" "${programs[@]}"

list=
for p in "${programs[@]}"; do list+=${list:+,}/bin/$(basename "$p"); done

# A socket path in the cache dir could exceed sun_path (108 bytes) in a deep build tree.
sockdir=$(mktemp -d /tmp/viova-vm.XXXXXX)
sock=$sockdir/gpu.sock
# --verbose: the device model's and the hosts' messages (CTX_CREATE's context_init, refusals)
# land in the log printed on failure.
"$host_exe" --socket-path "$sock" --backend sim --verbose >"$cache/viova-host.log" 2>&1 &
host_pid=$!
cleanup() {
	kill "$host_pid" 2>/dev/null || true
	wait "$host_pid" 2>/dev/null || true
	rm -rf "$sockdir"
}
trap cleanup EXIT
for _ in $(seq 100); do
	[[ -S $sock ]] && break
	kill -0 "$host_pid" 2>/dev/null || break
	sleep 0.05
done
if [[ ! -S $sock ]]; then
	echo "vm-session.sh: viova-host did not create $sock; its log:"
	cat "$cache/viova-host.log"
	exit 1
fi

rc=0
"$here/run-vm.sh" "$cache" --gpu vhost-user "$sock" --test "$list" \
	--timeout "${VIOVA_VM_TIMEOUT:-240}" || rc=$?
if ((rc != 0)); then
	echo "vm-session.sh: --- guest console ($cache/console.log) ---"
	cat "$cache/console.log"
	echo "vm-session.sh: --- viova-host log ($cache/viova-host.log) ---"
	tail -n 60 "$cache/viova-host.log"
	echo "vm-session.sh: --- end ---"
fi
# The daemon must still be alive after the guest powered off (a disconnect ends one connection,
# not the daemon).
if ! kill -0 "$host_pid" 2>/dev/null; then
	echo "vm-session.sh: viova-host exited during the session; its log:"
	tail -n 60 "$cache/viova-host.log"
	((rc != 0)) || rc=1
fi
exit $rc
