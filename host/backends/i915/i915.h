/* SPDX-License-Identifier: MIT */
/*
 * i915.h - the i915 backend's entry point (registered as "i915" in registry.c). docs/drivers.md.
 */
#ifndef VIOVA_BACKENDS_I915_H
#define VIOVA_BACKENDS_I915_H

#include "viova/backend.h"

/* Default render node when config->device is NULL. */
#define I915_DEFAULT_DEVICE "/dev/dri/renderD128"

/* The guest's VA window starts here (buffers above 4 GiB: every offset needs 48-bit support). */
#define I915_VA_START 0x100000000ull

/*
 * i915_backend_create - open config->device through the drm seam and check it is a usable
 * i915: driver name, softpin (I915_PARAM_HAS_EXEC_SOFTPIN) and a full 48-bit ppGTT
 * (I915_CONTEXT_PARAM_GTT_SIZE). Returns 0; -ENODEV otherwise, with one line through the seam's
 * log naming what was found; -ENOMEM.
 */
int i915_backend_create(const struct viova_backend_config *config,
			const struct viova_backend_events *events, void *cookie,
			struct viova_backend **out);

#endif /* VIOVA_BACKENDS_I915_H */
