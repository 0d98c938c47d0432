/* SPDX-License-Identifier: MIT */
/*
 * registry.c - viova_backend_create(): backends by name, each behind the same ops table:
 * "sim" (docs/sim.md), "msm" and "i915" (docs/drivers.md), and "auto": the first render node
 * driven by msm or i915, else sim (drm_probe.c).
 */
#include <errno.h>
#include <string.h>

#include "viova/backend.h"

#include "drm_probe.h"
#include "i915/i915.h"
#include "msm/msm.h"
#include "sim/sim.h"

struct backend_entry {
	const char *name;
	int (*create)(const struct viova_backend_config *config,
		      const struct viova_backend_events *events, void *cookie,
		      struct viova_backend **out);
};

static const struct backend_entry backends[] = {
    {"sim", sim_backend_create},
    {"msm", msm_backend_create},
    {"i915", i915_backend_create},
    {"auto", drm_probe_backend_create},
};

int viova_backend_create(const char *name, const struct viova_backend_config *config,
			 const struct viova_backend_events *events, void *cookie,
			 struct viova_backend **out)
{
	size_t i;

	if (!name || !out)
		return -EINVAL;
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (strcmp(name, backends[i].name) == 0)
			return backends[i].create(config, events, cookie, out);
	}
	return -ENOENT;
}
