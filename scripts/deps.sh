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

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: missing packages (${missing[*]}) and not root; install them or run as root" >&2; exit 1; }
  SUDO=sudo
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && \
       $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps.sh: installing ${missing[*]} failed (apt output above)" >&2
  exit 1
fi
