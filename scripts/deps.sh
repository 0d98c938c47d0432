#!/usr/bin/env bash
# Install the Debian packages viova needs, only if they are missing.
# Idempotent and quiet: "apt-get update" runs once, and only when something is missing.
set -euo pipefail

packages=(
  build-essential pkg-config meson ninja-build
  clang libclang-rt-14-dev      # sanitizer build and libFuzzer targets
  libcmocka-dev libdrm-dev
  python3                       # docs/spec consistency check
  valgrind
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# msm/i915 backends (docs/drivers.md) build against the kernel's uapi headers <drm/msm_drm.h>,
# <drm/i915_drm.h>. bookworm's linux-libc-dev ships no drm/ headers and libdrm's copies lack
# MSM_INFO_SET_IOVA: the bookworm-backports linux-libc-dev has them.
need_uapi=0
grep -qs MSM_INFO_SET_IOVA /usr/include/drm/msm_drm.h || need_uapi=1

if ((${#missing[@]} == 0 && need_uapi == 0)); then
  exit 0
fi

SUDO=
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: missing packages (${missing[*]}) and not root; install them or run as root" >&2; exit 1; }
  SUDO=sudo
fi

# Add bookworm-backports once, on the mirror the main Debian source already uses.
if ((need_uapi)) && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deps.sh: adding bookworm-backports ($mirror) for linux-libc-dev's drm uapi headers"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" | $SUDO tee /etc/apt/sources.list.d/viova-bookworm-backports.sources >/dev/null
fi

echo "deps.sh: installing ${missing[*]}${missing[*]:+ }$( ((need_uapi)) && echo 'linux-libc-dev (bookworm-backports)')"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && \
       { ((${#missing[@]} == 0)) || \
         $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } && \
       { ((need_uapi == 0)) || \
         $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports linux-libc-dev; }; \
     } >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps.sh: installing packages failed (apt output above)" >&2
  exit 1
fi
