#!/usr/bin/env bash
# Boot a real guest kernel under QEMU 10 (TCG) whose virtio-gpu device is served by viova-host
# (vhost-user-gpu), and run the viova workload inside it over virtgpu:/dev/dri/renderD128.
#   ./scripts/vm-demo.sh            (first run downloads the Debian kernel .deb and QEMU 10)
# Ends with "run-vm.sh: PASS ..." and exit 0, or prints the guest console and the daemon log.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
"$VIOVA_ROOT/scripts/deps.sh"
"$VIOVA_ROOT/tests/vm/install-deps.sh"
echo "== building viova"
build_plain
echo "== booting the VM (tests/vm/vm-session.sh)"
VIOVA_VM_REQUIRED=1 "$VIOVA_ROOT/tests/vm/vm-session.sh" "$VIOVA_ROOT/build-vm" \
  "$BUILD_DIR/host/daemon/viova-host" "$BUILD_DIR/tests/vm/viova_vm_test"
