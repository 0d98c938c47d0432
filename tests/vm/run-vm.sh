#!/usr/bin/env bash
# Boot the viova VM test initramfs under QEMU (TCG) and check its PASS/FAIL line.
#
# usage: run-vm.sh CACHE_DIR [--gpu virtio | --gpu vhost-user SOCKET] [--test /bin/NAME]
#                  [--timeout SECONDS] [--qemu PATH]
#
# CACHE_DIR is the directory build-initramfs.sh filled (vmlinuz, initramfs.cpio.gz); the serial
# console goes to CACHE_DIR/console.log.
#   --gpu virtio              plain virtio-gpu-pci inside QEMU (no viova): validates the pipeline.
#   --gpu vhost-user SOCKET   vhost-user-gpu-pci on a chardev connected to SOCKET (viova-host
#                             listening there in vhost-user mode).
#   --test /bin/A[,/bin/B]    guest programs to run in order (copied in by build-initramfs.sh); passed as
#                             viova.test= on the kernel command line.
# Exit status: 0 on "VIOVA-VM-RESULT: PASS", 1 on FAIL, 2 on timeout / no result, 64 on usage.
set -euo pipefail

die() { echo "run-vm.sh: $*" >&2; exit "${2:-64}"; }

[[ $# -ge 1 ]] || die "usage: run-vm.sh CACHE_DIR [--gpu virtio|--gpu vhost-user SOCKET] [--test /bin/NAME] [--timeout S]"
cache=$1
shift
gpu=virtio socket='' test='' tmo=120 qemu=${QEMU:-qemu-system-x86_64}
while [[ $# -gt 0 ]]; do
	case $1 in
	--gpu)
		gpu=${2:-}
		shift 2 || die "--gpu needs virtio or vhost-user"
		if [[ $gpu == vhost-user ]]; then
			socket=${1:-}
			[[ -n $socket ]] || die "--gpu vhost-user needs the viova-host socket path"
			shift
		fi
		;;
	--test) test=${2:-}; shift 2 || die "--test needs a guest path like /bin/NAME" ;;
	--timeout) tmo=${2:-}; shift 2 || die "--timeout needs seconds" ;;
	--qemu) qemu=${2:-}; shift 2 || die "--qemu needs a path" ;;
	*) die "unknown argument '$1'" ;;
	esac
done
[[ -f $cache/vmlinuz && -f $cache/initramfs.cpio.gz ]] ||
	die "no vmlinuz/initramfs.cpio.gz in '$cache': run tests/vm/build-initramfs.sh $cache first"
command -v "$qemu" >/dev/null ||
	die "'$qemu' not found: apt-get install -t bookworm-backports --no-install-recommends qemu-system-x86"

# vhost-user needs guest RAM the backend can map: a shared memfd, bound to the (only) NUMA node so
# QEMU uses that backend for all of RAM. Used in both modes so the virtio run exercises the same
# memory layout.
mem=512M
args=(
	-accel tcg -cpu max -smp 1 -m "$mem"
	-object "memory-backend-memfd,id=mem0,size=$mem,share=on"
	-numa "node,memdev=mem0"
	-kernel "$cache/vmlinuz" -initrd "$cache/initramfs.cpio.gz"
	-nographic -serial "file:$cache/console.log" -monitor none -no-reboot
	-nodefaults -vga none
)
append="console=ttyS0 panic=-1 quiet loglevel=4"
[[ -n $test ]] && append+=" viova.test=$test"

case $gpu in
virtio) args+=(-device virtio-gpu-pci) ;;
vhost-user)
	[[ -S $socket ]] || die "'$socket' is not a listening UNIX socket: start viova-host in vhost-user mode first"
	args+=(-chardev "socket,id=vgpu,path=$socket" -device "vhost-user-gpu-pci,chardev=vgpu")
	;;
*) die "unknown --gpu '$gpu' (virtio or vhost-user)" ;;
esac

: >"$cache/console.log"
start=$(date +%s.%N)
set +e
timeout --kill-after=5 "$tmo" "$qemu" "${args[@]}" -append "$append" 2>"$cache/qemu.stderr"
qrc=$?
set -e
wall=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.1f", a - b }')

echo "run-vm.sh: --- guest console (tail) ---"
tail -n 25 "$cache/console.log"
[[ -s $cache/qemu.stderr ]] && { echo "run-vm.sh: --- qemu stderr ---"; cat "$cache/qemu.stderr"; }
echo "run-vm.sh: --- end ---"

if grep -q '^VIOVA-VM-RESULT: PASS' "$cache/console.log"; then
	echo "run-vm.sh: PASS (gpu=$gpu, wall ${wall}s)"
	exit 0
elif grep -q '^VIOVA-VM-RESULT: FAIL' "$cache/console.log"; then
	echo "run-vm.sh: FAIL (gpu=$gpu, wall ${wall}s): $(grep '^VIOVA-VM-RESULT' "$cache/console.log")"
	exit 1
elif [[ $qrc -eq 124 || $qrc -eq 137 ]]; then
	echo "run-vm.sh: TIMEOUT after ${tmo}s (gpu=$gpu): no VIOVA-VM-RESULT line; console log: $cache/console.log"
	exit 2
else
	echo "run-vm.sh: NO RESULT (gpu=$gpu, qemu exit $qrc, wall ${wall}s); console log: $cache/console.log"
	exit 2
fi
