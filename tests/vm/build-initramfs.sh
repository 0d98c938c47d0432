#!/usr/bin/env bash
# Build a minimal initramfs + kernel for the viova VM test (see tests/vm/README.md).
#
# usage: build-initramfs.sh CACHE_DIR [GUEST_BINARY...]
#
# CACHE_DIR (e.g. build-vm/) receives:
#   debs/        apt-get download cache (kernel image .deb, busybox-static .deb), reused across runs
#   kernel/      the unpacked kernel package
#   vmlinuz      the kernel to boot
#   initramfs.cpio.gz
# GUEST_BINARY files are copied to /bin/<name> in the initramfs with the shared libraries ldd lists;
# run them with the kernel command line argument viova.test=/bin/<name>[,/bin/<name2>...] (in order).
#
# Idempotent: downloads and unpacking happen once; the cpio is rebuilt each run (about a second).
# Environment: VIOVA_VM_KERNEL_PKG overrides the kernel package (default: what linux-image-amd64 of
# bookworm depends on, e.g. linux-image-6.1.0-NN-amd64).
set -euo pipefail

die() { echo "build-initramfs.sh: $*" >&2; exit 1; }

[[ $# -ge 1 ]] || die "usage: build-initramfs.sh CACHE_DIR [GUEST_BINARY...]"
cache=$(mkdir -p "$1" && cd "$1" && pwd)
shift
guest_bins=("$@")
for b in "${guest_bins[@]}"; do
	[[ -x $b ]] || die "guest binary '$b' is not an executable file; build it first"
done

for tool in apt-get apt-cache dpkg-deb cpio gzip ldd xz depmod; do
	command -v "$tool" >/dev/null || die "'$tool' not found; install it (apt-get install cpio xz-utils kmod)"
done

# --- kernel package name: the one bookworm's linux-image-amd64 meta-package points at ---
kpkg=${VIOVA_VM_KERNEL_PKG:-}
if [[ -z $kpkg ]]; then
	kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[[ -n $kpkg ]] || die "cannot resolve the kernel package from linux-image-amd64; run apt-get update or set VIOVA_VM_KERNEL_PKG"
fi

# --- download (cached) ---
sudo=
[[ $(id -u) -eq 0 ]] || ! command -v sudo >/dev/null || sudo=sudo
mkdir -p "$cache/debs"
fetch() { # fetch PKG -> prints the .deb path
	local pkg=$1 deb
	local debs=("$cache/debs/${pkg}"_*.deb)
	deb=${debs[0]}
	if [[ ! -f $deb ]]; then
		echo "build-initramfs.sh: downloading $pkg" >&2
		# Stale package lists name a version the mirror no longer has: refresh them once.
		if ! (cd "$cache/debs" && apt-get download -q "$pkg" >&2); then
			echo "build-initramfs.sh: apt-get download $pkg failed; running apt-get update and retrying" >&2
			$sudo apt-get update -qq >&2 || true
			(cd "$cache/debs" && apt-get download -q "$pkg" >&2) ||
				die "apt-get download $pkg failed after apt-get update: check the network and the apt sources"
		fi
		debs=("$cache/debs/${pkg}"_*.deb)
		deb=${debs[0]}
		[[ -f $deb ]] || die "apt-get download $pkg left no $cache/debs/${pkg}_*.deb"
	fi
	echo "$deb"
}
kdeb=$(fetch "$kpkg")
bdeb=$(fetch busybox-static)

# --- unpack (cached, keyed by the .deb name) ---
unpack() { # unpack DEB DIR
	local deb=$1 dir=$2
	if [[ ! -f $dir/.unpacked ]] || [[ $(cat "$dir/.unpacked") != "$(basename "$deb")" ]]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		basename "$deb" >"$dir/.unpacked"
	fi
}
unpack "$kdeb" "$cache/kernel"
unpack "$bdeb" "$cache/busybox"

kdirs=("$cache/kernel/lib/modules"/*)
kver=$(basename "${kdirs[0]}")
[[ -d $cache/kernel/lib/modules/$kver/kernel ]] || die "no lib/modules/<version> in $kdeb"
moddir=$cache/kernel/lib/modules/$kver
# The .deb ships no modules.dep (the postinst runs depmod): generate it inside the unpacked tree.
[[ -f $moddir/modules.dep ]] || depmod -b "$cache/kernel" "$kver" ||
	die "depmod -b $cache/kernel $kver failed"
cp "$cache/kernel/boot/vmlinuz-$kver" "$cache/vmlinuz"
busybox=$cache/busybox/bin/busybox
[[ -x $busybox ]] || die "no bin/busybox in $bdeb"

# --- module list: virtio_gpu + its dependencies from modules.dep, dependencies first ---
# modules.dep lines: "kernel/.../virtio-gpu.ko[.xz]: dep1.ko dep2.ko ..." where the deps are the
# full transitive closure, listed so that each one only needs those after it: reversed = load order.
# The virtio transport (virtio_pci) is not a symbol dependency of virtio_gpu, so it is added as a
# second root; both roots are resolved the same way and de-duplicated.
resolve() { # resolve MODNAME -> load-ordered module paths relative to $moddir
	local name=$1 line
	line=$(awk -v n="$name" -F: '{ m = $1; sub(/.*\//, "", m); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", m);
		gsub(/-/, "_", m); if (m == n) { print; exit } }' "$moddir/modules.dep")
	[[ -n $line ]] || return 1
	local self=${line%%:*} deps=${line#*:}
	# shellcheck disable=SC2086
	printf '%s\n' $deps | tac
	echo "$self"
}
order=()
declare -A seen=()
for root in virtio_pci virtio_gpu; do
	if ! lines=$(resolve "$root"); then
		# Built into the kernel (modules.builtin) is fine: nothing to load.
		grep -q "/${root//_/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null && continue
		die "module $root is neither in modules.dep nor modules.builtin of $kver"
	fi
	while read -r m; do
		[[ -n $m && -z ${seen[$m]:-} ]] || continue
		seen[$m]=1
		order+=("$m")
	done <<<"$lines"
done

# --- assemble the root ---
root=$cache/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules,etc}
cp "$busybox" "$root/bin/busybox"
for applet in sh mount umount insmod ls cat echo poweroff sleep dmesg uname tr; do
	ln -s busybox "$root/bin/$applet"
done

# Modules are stored uncompressed. bookworm's 6.1 kernel ships plain .ko (MODULE_COMPRESS_NONE);
# newer kernels ship .ko.xz/.zst. Debian's busybox 1.35 insmod was checked to load a .ko.xz in the
# guest, but not every busybox build can and the kernel only decompresses with
# CONFIG_MODULE_DECOMPRESS, so decompressing here keeps the guest side independent of both.
: >"$root/lib/modules/load-order"
for m in "${order[@]}"; do
	base=$(basename "$m")
	case $base in
	*.ko.xz) xz -dc "$moddir/$m" >"$root/lib/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.zst) zstd -qdc "$moddir/$m" >"$root/lib/modules/${base%.zst}"; base=${base%.zst} ;;
	*.ko.gz) gzip -dc "$moddir/$m" >"$root/lib/modules/${base%.gz}"; base=${base%.gz} ;;
	*) cp "$moddir/$m" "$root/lib/modules/$base" ;;
	esac
	echo "$base" >>"$root/lib/modules/load-order"
done

# Guest binaries + their shared libraries (same paths as on the build host, plus the loader).
copy_lib() {
	local src=$1
	[[ -e $root$src ]] && return 0
	mkdir -p "$root$(dirname "$src")"
	cp -L "$src" "$root$src"
}
for b in "${guest_bins[@]}"; do
	cp "$b" "$root/bin/$(basename "$b")"
	# ldd prints "libx.so => /path (addr)" and "/lib64/ld-linux-x86-64.so.2 (addr)"; static
	# binaries print "not a dynamic executable" (exit 1) and need nothing.
	while read -r lib; do
		copy_lib "$lib"
	done < <(ldd "$b" 2>/dev/null | awk '/=> \// {print $3} /^\t\// {print $1}')
done

cat >"$root/init" <<'EOF'
#!/bin/sh
# viova VM test init: load virtio-gpu, show /dev/dri, run viova.test=, print PASS/FAIL, power off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

result=PASS
reason=
fail() { result=FAIL; reason="${reason}${reason:+; }$*"; }

echo "viova-vm: kernel $(uname -r)"
for m in $(cat /lib/modules/load-order); do
	insmod /lib/modules/$m || fail "insmod $m failed"
done

# Udev-less /dev: devtmpfs creates the nodes, give the driver a moment to probe.
i=0
while [ ! -e /dev/dri/renderD128 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "viova-vm: /dev/dri:"
ls -l /dev/dri/ 2>&1
[ -e /dev/dri/renderD128 ] || fail "/dev/dri/renderD128 missing (see dmesg: virtio_gpu probe)"

# viova.test=/bin/a,/bin/b: run each in order (all of them, even after a failure).
tests=
for arg in $(cat /proc/cmdline); do
	case $arg in viova.test=*) tests=${arg#viova.test=} ;; esac
done
for test in $(echo "$tests" | tr ',' ' '); do
	echo "viova-vm: running $test"
	"$test"
	rc=$?
	echo "viova-vm: $test exited with $rc"
	[ $rc -eq 0 ] || fail "$test exited with $rc"
done

if [ $result = FAIL ]; then
	dmesg | tail -n 30
	echo "VIOVA-VM-RESULT: FAIL ($reason)"
else
	echo "VIOVA-VM-RESULT: PASS"
fi
sync
poweroff -f
EOF
chmod +x "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$cache/initramfs.cpio.gz.tmp"
mv "$cache/initramfs.cpio.gz.tmp" "$cache/initramfs.cpio.gz"
echo "build-initramfs.sh: kernel $kver ($(basename "$kdeb")), modules: $(tr '\n' ' ' <"$root/lib/modules/load-order")"
echo "build-initramfs.sh: wrote $cache/vmlinuz $cache/initramfs.cpio.gz ($(du -h "$cache/initramfs.cpio.gz" | cut -f1))"
