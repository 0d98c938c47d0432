/* SPDX-License-Identifier: MIT */
/*
 * drm_probe.c - the "auto" backend (drm_probe.h): pick msm, i915 or sim by the driver name
 * DRM_IOCTL_VERSION reports on each render node.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <drm/drm.h>

#include "drm_probe.h"
#include "drm_seam.h"
#include "i915/i915.h"
#include "msm/msm.h"
#include "sim/sim.h"

/* Driver name of the node at path into name ("" when it does not open or answer). */
static void drm_probe_name(const struct drm_seam *s, const char *path, char *name, size_t len)
{
	struct drm_version v;
	int fd = s->open(s->cookie, path, O_RDWR);

	name[0] = '\0';
	if (fd < 0)
		return;
	memset(&v, 0, sizeof(v));
	v.name = name;
	v.name_len = len - 1;
	if (s->ioctl(s->cookie, fd, DRM_IOCTL_VERSION, &v) == 0)
		name[v.name_len < len - 1 ? v.name_len : len - 1] = '\0';
	else
		name[0] = '\0';
	s->close(s->cookie, fd);
}

/* Try the node at path: 0 and *out when its driver is msm or i915 and the backend takes it. */
static int drm_probe_try(const struct drm_seam *s, const char *path,
			 const struct viova_backend_config *config,
			 const struct viova_backend_events *events, void *cookie,
			 struct viova_backend **out, char *seen, size_t seen_len)
{
	struct viova_backend_config c = {0};
	char name[32];
	size_t used = strlen(seen);

	drm_probe_name(s, path, name, sizeof(name));
	if (!name[0])
		return -ENODEV;
	/* what was found goes into the fallback message; a log line, so only the first few */
	if (used < 200)
		snprintf(seen + used, seen_len - used, "%s%s=%s", used ? ", " : "", path, name);
	else if (!strstr(seen, ", ..."))
		snprintf(seen + used, seen_len - used, ", ...");
	if (config)
		c = *config;
	c.device = path;
	if (strcmp(name, "msm") == 0)
		return msm_backend_create(&c, events, cookie, out);
	if (strcmp(name, "i915") == 0)
		return i915_backend_create(&c, events, cookie, out);
	return -ENODEV;
}

int drm_probe_backend_create(const struct viova_backend_config *config,
			     const struct viova_backend_events *events, void *cookie,
			     struct viova_backend **out)
{
	const struct drm_seam *s = drm_seam_get();
	char path[64], seen[512] = "";
	int i, ret;

	if (!out)
		return -EINVAL;
	if (config && config->device) {
		ret = drm_probe_try(s, config->device, config, events, cookie, out, seen,
				    sizeof(seen));
		if (ret != -ENODEV)
			return ret;
	} else {
		for (i = 0; i < DRM_PROBE_NODES; i++) {
			snprintf(path, sizeof(path), "/dev/dri/renderD%d", 128 + i);
			ret =
			    drm_probe_try(s, path, config, events, cookie, out, seen, sizeof(seen));
			if (ret != -ENODEV)
				return ret;
		}
	}
	drm_seam_logf(s,
		      "auto: falling back to the sim backend (simulated GPU): no usable msm or "
		      "i915 render node (%s)",
		      seen[0] ? seen : "none found");
	return sim_backend_create(config, events, cookie, out);
}
