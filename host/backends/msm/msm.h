/* SPDX-License-Identifier: MIT */
/*
 * msm.h - the msm backend's entry point (registered as "msm" in registry.c). docs/drivers.md.
 */
#ifndef VIOVA_BACKENDS_MSM_H
#define VIOVA_BACKENDS_MSM_H

#include "viova/backend.h"

/* Default render node when config->device is NULL. */
#define MSM_DEFAULT_DEVICE "/dev/dri/renderD128"

/*
 * msm_backend_create - open config->device through the drm seam and check it is a usable msm.
 * Returns 0; -ENODEV when the node cannot be opened, is not "msm", or has no per-process
 * address space (no MSM_PARAM_VA_START / VA_SIZE: the kernel cannot take guest-chosen iovas),
 * with one line through the seam's log naming what was found; -ENOMEM.
 */
int msm_backend_create(const struct viova_backend_config *config,
		       const struct viova_backend_events *events, void *cookie,
		       struct viova_backend **out);

#endif /* VIOVA_BACKENDS_MSM_H */
