/* SPDX-License-Identifier: MIT */
/*
 * drm_probe.h - the "auto" backend: the first render node driven by msm or i915, else sim.
 */
#ifndef VIOVA_DRM_PROBE_H
#define VIOVA_DRM_PROBE_H

#include "viova/backend.h"

/* Render nodes probed by "auto" when config->device is NULL: renderD128 .. renderD(128+N-1). */
#define DRM_PROBE_NODES 64

/*
 * drm_probe_backend_create - "auto": with config->device, that node's driver (msm or i915);
 * without, each /dev/dri/renderD128.. in turn. The first node whose driver is msm or i915 AND
 * whose backend accepts it wins; otherwise the sim backend, with one line through the seam's
 * log saying why. Returns what the chosen backend's create returns.
 */
int drm_probe_backend_create(const struct viova_backend_config *config,
			     const struct viova_backend_events *events, void *cookie,
			     struct viova_backend **out);

#endif /* VIOVA_DRM_PROBE_H */
