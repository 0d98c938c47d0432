/* SPDX-License-Identifier: MIT */
/*
 * vm_creation.c - `./scripts/bench.sh vm`, the guest half: runs inside a QEMU guest (see
 * tests/vm/) and measures buffer creation with local iovas against a synchronous round trip per
 * buffer over the real channel: libviova-guest's virtgpu transport -> the guest kernel's
 * virtio_gpu driver -> vhost-user-gpu -> viova-host (sim backend). The modes are those of
 * creation.h, so the numbers compare directly with `bench.sh guest` (unix socket, no VM).
 *
 * usage: viova_vm_bench [virtgpu:/dev/dri/renderD128]
 * Prints the table and "BENCH vm ..." lines on stdout (the serial console); exit 0 on success.
 * The counts are smaller than bench_guest's because the guest runs under TCG.
 */
#include <stdio.h>

#include "creation.h"

#define SEC 1000000000ull

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : "virtgpu:/dev/dri/renderD128";
	const struct creation_params params = {
	    .local_n = 10000, .rt_n = 500, .rounds = 3, .sync_timeout_ns = 60 * SEC};
	struct viova_guest_device *dev;
	struct creation_result best;
	char what[160];
	int ret;

	ret = viova_guest_device_open(uri, NULL, &dev);
	if (ret) {
		fprintf(stderr, "viova_vm_bench: opening %s failed (%d): %s\n", uri, ret,
			viova_guest_last_error());
		return 1;
	}
	ret = creation_bench(dev, &params, &best);
	viova_guest_device_close(dev);
	if (ret)
		return 1;
	snprintf(what, sizeof(what),
		 "guest buffer creation inside a VM over %s (virtio-gpu -> vhost-user -> "
		 "viova-host sim)",
		 uri);
	creation_report("vm", what, &params, &best);
	return 0;
}
