#!/usr/bin/env bash
# Install what is missing, build, and run the main job on the embedded default.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$VIOVA_ROOT/scripts/deps.sh"
echo "== building viova"
build_plain
exec "$BUILD_DIR/tools/viova" demo "$@"
