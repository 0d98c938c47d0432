# Shared helpers for the scripts/ entry points (sourced, not run).
# shellcheck shell=bash

VIOVA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$VIOVA_ROOT/build}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-$VIOVA_ROOT/build-asan}

# quietly CMD...: run CMD with its output kept out of the way; show it if CMD fails.
quietly() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if ((rc != 0)); then
    printf '%s\n' "$out" | tail -n 60 >&2
    echo "failed (exit $rc): $*" >&2
  fi
  return $rc
}

# configure DIR [meson setup args...]: set up DIR once, reconfigure if it exists.
configure() {
  local dir=$1; shift
  if [[ -f $dir/build.ninja ]]; then
    quietly meson setup --reconfigure "$dir" "$VIOVA_ROOT" "$@"
  else
    quietly meson setup "$dir" "$VIOVA_ROOT" "$@"
  fi
}

# compile DIR [targets...]
compile() {
  quietly meson compile -C "$@"
}

build_plain() {
  configure "$BUILD_DIR" -Dwerror=true
  compile "$BUILD_DIR"
}
