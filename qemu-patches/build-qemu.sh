#!/usr/bin/env bash
# Build QEMU 10.0.2 (the source of Debian's bookworm-backports package qemu-system-x86
# 1:10.0.2+ds-2+deb13u1~bpo12+1) with viova's qemu-patches applied, x86_64 system emulator only.
#
# usage: build-qemu.sh [--add-deb-src] [--jobs N] WORKDIR
#
#   WORKDIR        gets the source (WORKDIR/qemu-10.0.2), the build tree (WORKDIR/build) and the
#                  binary to run, WORKDIR/bin/qemu-system-x86_64 (printed at the end). Re-running
#                  reuses the downloaded tarball and an already patched tree and only rebuilds what
#                  changed.
#   --add-deb-src  (root) write /etc/apt/sources.list.d/viova-qemu-src.sources (deb-src for
#                  bookworm-backports) and run apt-get update, if no deb-src line serves the package.
#   --jobs N       parallel compile jobs (default 2); the build runs under `nice -n 10`.
#
# Then run the VM test with it:
#   QEMU=WORKDIR/bin/qemu-system-x86_64 VIOVA_VM_REQUIRED=1 \
#       tests/vm/vm-session.sh CACHE build/host/daemon/viova-host build/tests/vm/viova_vm_test
#
# Firmware: the Debian source is "+ds" (prebuilt firmware stripped), so pc-bios/ has no SeaBIOS.
# The build is configured with --firmwarepath=/usr/share/qemu:/usr/share/seabios, i.e. it uses the
# installed qemu-system-x86 / seabios packages' files (bios-256k.bin, linuxboot_dma.bin, ...); no -L
# is needed as long as the binary runs from WORKDIR/bin (see the end of this script).
#
# Build dependencies (checked, not installed): gcc, pkg-config, ninja-build, python3-venv,
# libglib2.0-dev, libpixman-1-dev, xz-utils, dpkg-dev (only when the .dsc can be fetched).
# meson >= 1.5 and pycotap come from bookworm-backports .debs unpacked into WORKDIR/pydeps (not
# installed). Needs the network for apt-get source/download only.
set -euo pipefail

VERSION=1:10.0.2+ds-2+deb13u1~bpo12+1
UPSTREAM=10.0.2
ORIG=qemu_${UPSTREAM}+ds.orig.tar.xz
# from the bookworm-backports Sources index (Checksums-Sha256) for $VERSION
ORIG_SHA256=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1
SRC_LIST=/etc/apt/sources.list.d/viova-qemu-src.sources

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "build-qemu.sh: $*" >&2; exit "${2:-1}"; }
usage() { die "usage: build-qemu.sh [--add-deb-src] [--jobs N] WORKDIR" 64; }

add_src=0 jobs=2 work=
while [[ $# -gt 0 ]]; do
	case $1 in
	--add-deb-src) add_src=1; shift ;;
	--jobs) jobs=${2:-}; shift 2 || usage ;;
	-h | --help) sed -n '2,27p' "$0"; exit 0 ;;
	-*) usage ;;
	*) [[ -z $work ]] || usage; work=$1; shift ;;
	esac
done
[[ -n $work ]] || usage
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive number" 64
mkdir -p "$work"
work=$(cd "$work" && pwd)
patches=("$here"/[0-9][0-9][0-9][0-9]-*.patch)
[[ -f ${patches[0]} ]] || die "no patches in $here"

missing=()
for p in gcc pkg-config ninja-build python3-venv libglib2.0-dev libpixman-1-dev xz-utils; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) ||
	die "missing build dependencies: apt-get install --no-install-recommends ${missing[*]}"

# ---- 1. source: apt-get source, verified against the Sources index's checksum ----
src=$work/qemu-$UPSTREAM
stamp=$src/.viova-patched
if [[ ! -f $stamp ]]; then
	cd "$work"
	if [[ ! -f $ORIG ]]; then
		# (a variable, not a pipe: grep -q would close it early and pipefail report apt-cache's
		# SIGPIPE)
		srcs=$(apt-cache showsrc qemu 2>/dev/null || true)
		if ! grep -qxF "Version: $VERSION" <<<"$srcs"; then
			if ((add_src)); then
				cat >"$SRC_LIST" <<-'EOF'
					# Added by viova qemu-patches/build-qemu.sh: source of QEMU 10.0.2 (bookworm-backports).
					Types: deb-src
					URIs: http://deb.debian.org/debian
					Suites: bookworm-backports
					Components: main
					Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
				EOF
				apt-get update -qq
			else
				die "apt knows no source package qemu=$VERSION: add a deb-src line for bookworm-backports (re-run with --add-deb-src to write $SRC_LIST)"
			fi
		fi
		# The .dsc and the Debian diff may be missing on a partial mirror; the orig tarball is what
		# matters, so the exit status is judged by the files below.
		apt-get source --download-only "qemu=$VERSION" || true
	fi
	[[ -f $ORIG ]] || die "apt-get source did not fetch $ORIG"
	echo "$ORIG_SHA256  $ORIG" | sha256sum -c --quiet || die "$ORIG: checksum mismatch"
	rm -rf "$src"
	dsc=qemu_${VERSION#1:}.dsc
	if [[ -f $dsc && -f qemu_${VERSION#1:}.debian.tar.xz ]] && command -v dpkg-source >/dev/null; then
		# exactly the packaged source: upstream + Debian's patches
		dpkg-source -x "$dsc" "$src"
	else
		echo "build-qemu.sh: note: no $dsc + Debian diff (mirror lacks them or no dpkg-dev):" \
			"building upstream $UPSTREAM from the package's orig tarball, without Debian's patches"
		tar -xf "$ORIG"
	fi
	for p in "${patches[@]}"; do
		echo "build-qemu.sh: applying $(basename "$p")"
		patch -d "$src" -p1 --forward --quiet <"$p"
	done
	# Build fix for the "+ds" tarball, not part of the patch series: it has no pc-bios/edk2-*.bz2,
	# yet meson.build unpacks them whenever bzip2 exists (Debian's own packaging copes with this in
	# debian/, which only the full source package carries). Unpack only when they are present.
	if [[ ! -f $src/pc-bios/edk2-x86_64-code.fd.bz2 ]]; then
		sed -i "s|^\( *unpack_edk2_blobs = bzip2.found()\)\$|\1 and fs.exists('pc-bios/edk2-x86_64-code.fd.bz2')|" \
			"$src/meson.build"
		grep -q "unpack_edk2_blobs = bzip2.found() and fs.exists" "$src/meson.build" ||
			die "could not adjust meson.build for the missing edk2 blobs"
	fi
	touch "$stamp"
fi

# ---- 2. meson >= 1.5 and pycotap for QEMU's configure ----
# The "+ds" source drops python/wheels/ (the bundled meson wheel) and PyPI is not used, so
# configure's mkvenv needs them from the system. bookworm has meson 1.0.1; take backports' meson
# and python3-pycotap (both Architecture: all) as unpacked .debs on PYTHONPATH instead of
# upgrading the system's meson under other users' feet. mkvenv then finds them and writes the
# pyvenv/bin/meson shim; PYTHONPATH stays set for ninja's meson re-runs too.
pydeps=$work/pydeps
if [[ ! -d $pydeps/root/usr/lib/python3/dist-packages/mesonbuild ]]; then
	mkdir -p "$pydeps"
	(cd "$pydeps" && apt-get download -t bookworm-backports meson python3-pycotap) ||
		die "cannot download meson/python3-pycotap from bookworm-backports"
	for d in "$pydeps"/*.deb; do dpkg-deb -x "$d" "$pydeps/root"; done
fi
export PYTHONPATH=$pydeps/root/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}

# ---- 3. configure: x86_64 system emulator, TCG, vhost-user, nothing optional ----
build=$work/build
if [[ ! -f $build/build.ninja ]]; then
	mkdir -p "$build"
	cd "$build"
	# --without-default-features turns every auto feature off (GUI, audio, network back ends,
	# block drivers, tools, KVM: the VM test uses TCG); vhost-user and pixman (needed by
	# virtio-gpu) are switched back on. Devices keep their defaults. memfd is a libc check.
	# --disable-download: never let meson fetch subprojects (the tarball carries what is needed);
	# --disable-fdt: x86_64 does not need libfdt, and the dtc subproject is not in the tarball.
	nice -n 10 "$src/configure" \
		--python=/usr/bin/python3 \
		--target-list=x86_64-softmmu \
		--without-default-features \
		--enable-vhost-user --enable-pixman --enable-tcg \
		--disable-download --disable-fdt \
		--disable-docs --disable-werror --disable-debug-info --disable-install-blobs \
		--firmwarepath=/usr/share/qemu:/usr/share/seabios
fi

# ---- 4. build only the emulator ----
start=$(date +%s)
nice -n 10 ninja -C "$build" -j "$jobs" qemu-system-x86_64
echo "build-qemu.sh: ninja took $(($(date +%s) - start)) s"
# Run it from outside the build tree: a binary next to build/qemu-bundle/ looks for firmware only
# inside that bundle (util/cutils.c:get_relocated_path), which has no SeaBIOS here. A copy in
# WORKDIR/bin searches --firmwarepath as given. It needs no other file from the build.
mkdir -p "$work/bin"
install -m 755 "$build/qemu-system-x86_64" "$work/bin/qemu-system-x86_64"
qemu=$work/bin/qemu-system-x86_64
"$qemu" --version | head -1
"$qemu" -device help | grep -q '"vhost-user-gpu-pci"' || die "the build has no vhost-user-gpu-pci device"
mapfile -t fwdirs < <("$qemu" -L help)
for f in bios-256k.bin linuxboot_dma.bin; do
	found=0
	for d in "${fwdirs[@]}"; do [[ -f $d/$f ]] && found=1; done
	((found)) || die "$f is in none of ${fwdirs[*]}: install qemu-system-x86 and seabios"
done
echo "build-qemu.sh: built $qemu"
