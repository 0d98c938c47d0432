#!/usr/bin/env bash
# Install what the VM test needs on the build host, only if missing:
#   qemu-system-x86 >= 10 from bookworm-backports (vhost-user-gpu-pci + memfd guest RAM under TCG),
#   cpio, xz-utils, kmod (depmod for the unpacked kernel), libdrm-dev (the drm_probe guest binary).
# The bookworm-backports apt source is the one scripts/deps.sh adds; this script never adds a
# second one, it runs scripts/deps.sh when the source is missing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
die() { echo "install-deps.sh: $*" >&2; exit 1; }

SUDO=
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || die "not root and no sudo: install qemu-system-x86 (bookworm-backports), cpio, xz-utils, kmod yourself"
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive

qemu_major() {
	command -v qemu-system-x86_64 >/dev/null || { echo 0; return; }
	qemu-system-x86_64 --version | awk '/version/ { split($4, v, "."); print v[1]; exit }'
}

missing=()
for p in cpio xz-utils kmod libdrm-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "install-deps.sh: installing ${missing[*]}"
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if (($(qemu_major) >= 10)); then
	exit 0
fi
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	"$here/../../scripts/deps.sh"
fi
grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
	die "no bookworm-backports apt source after scripts/deps.sh; add it (see scripts/deps.sh)"
if ! apt-cache policy qemu-system-x86 | grep -q 'bookworm-backports'; then
	$SUDO apt-get update -qq
fi
cand=$(apt-cache policy qemu-system-x86 |
	awk 'match($0, /[0-9]+:1[0-9]\.[^ ]*bpo[^ ]*/) { print substr($0, RSTART, RLENGTH); exit }')
[[ -n $cand ]] || die "bookworm-backports offers no qemu-system-x86 10.x (apt-cache policy qemu-system-x86)"
echo "install-deps.sh: installing qemu-system-x86 $cand from bookworm-backports"
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
(($(qemu_major) >= 10)) || die "qemu-system-x86_64 is still older than 10 after the install"
