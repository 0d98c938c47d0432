# Shared helpers for the scripts/ entry points (sourced, not run).
# shellcheck shell=bash

VIOVA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$VIOVA_ROOT/build}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-$VIOVA_ROOT/build-asan}

# configure DIR [meson setup args...]: set up DIR once, reconfigure if it exists.
configure() {
  local dir=$1; shift
  if [[ -f $dir/build.ninja ]]; then
    meson setup --reconfigure "$dir" "$VIOVA_ROOT" "$@" >/dev/null
  else
    meson setup "$dir" "$VIOVA_ROOT" "$@" >/dev/null
  fi
}

build_plain() {
  configure "$BUILD_DIR" -Dwerror=true
  meson compile -C "$BUILD_DIR" >/dev/null
}
