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
cache=$VIOVA_ROOT/build-vm
mkdir -p "$cache"
"$VIOVA_ROOT/tests/vm/build-initramfs.sh" "$cache" "$BUILD_DIR/tests/vm/viova_vm_test"
sock=$cache/viova-gpu.sock
rm -f "$sock"
"$BUILD_DIR/host/daemon/viova-host" --socket-path "$sock" --backend sim >"$cache/viova-host.log" 2>&1 &
host_pid=$!
trap 'kill $host_pid 2>/dev/null; wait $host_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
rc=0
"$VIOVA_ROOT/tests/vm/run-vm.sh" "$cache" --gpu vhost-user "$sock" --test /bin/viova_vm_test || rc=$?
if ((rc != 0)); then
  echo "== viova-host log ($cache/viova-host.log)"
  tail -n 30 "$cache/viova-host.log"
fi
exit $rc
