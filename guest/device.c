/* SPDX-License-Identifier: MIT */
/*
 * device.c - opening and closing a device, the URI schemes, and what happens at fork().
 *
 * DOC: fork
 *
 *   fork() --prepare--> every device's process-local lock is taken (no call is half done)
 *                       and its batch is sent (the child may name what it holds)
 *          --parent---> locks released
 *          --child----> locks re-initialised, device marked "forked"
 *   first call in the child --> guest_enter(): the child becomes the owner of this view:
 *          - its copy of the parent's unsent batch is dropped (the parent sends it),
 *          - its copy of the parent's retire queue is dropped (the parent releases those),
 *          - objects created by the parent stay visible but read-only (-EPERM on use),
 *            except VMs, whose heaps are shared memory and which the child may allocate
 *            from and share into its own contexts.
 * Everything shared (socket, response area, seqno/id counters, error log, VM heaps) is
 * MAP_SHARED memory or an inherited fd, so no step needs the host. The child starts without an
 * owner tag (reap.c): it claims its own when it first takes a context id or a heap range, so
 * its leftovers can be reaped if it dies and its parent's never are while the parent lives.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_priv.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct viova_guest_device *g_devs;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void atfork_prepare(void)
{
	struct viova_guest_device *d;

	pthread_mutex_lock(&g_lock);
	for (d = g_devs; d; d = d->next_dev) {
		pthread_mutex_lock(&d->lock);
		/*
		 * Send what the parent has batched, so that everything it created before the
		 * fork reaches the host before anything the child sends (the child's first
		 * CTX_CREATE may share a VM whose context is still in that batch).
		 */
		if (!d->forked && !d->closing)
			guest_flush_locked(d);
	}
}

static void atfork_parent(void)
{
	struct viova_guest_device *d;

	for (d = g_devs; d; d = d->next_dev)
		pthread_mutex_unlock(&d->lock);
	pthread_mutex_unlock(&g_lock);
}

static void atfork_child(void)
{
	struct viova_guest_device *d;

	/* The only thread left is the one that forked; it held all of these in prepare. */
	for (d = g_devs; d; d = d->next_dev) {
		pthread_mutex_init(&d->lock, NULL);
		/* not taken in prepare (a reap pass may wait seconds); the child has no pass */
		pthread_mutex_init(&d->reap_lock, NULL);
		d->forked = true;
	}
	pthread_mutex_init(&g_lock, NULL);
}

static void register_atfork(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

static void child_takeover(struct viova_guest_device *dev)
{
	dev->pid = getpid();
	dev->forked = false;
	guest_cmdbuf_reset(dev);
	guest_retire_drop(dev);
	memset(&dev->st, 0, sizeof(dev->st));
	dev->tag = 0; /* the parent's; the child claims its own when it first owns something */
	dev->reap_next_ns = 0;
}

int guest_enter(struct viova_guest_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	if (dev->forked)
		child_takeover(dev);
	return 0;
}

void guest_leave(struct viova_guest_device *dev)
{
	pthread_mutex_unlock(&dev->lock);
}

int guest_check_lost(struct viova_guest_device *dev)
{
	if (__atomic_load_n(&dev->sh->lost, __ATOMIC_ACQUIRE))
		return guest_err(-ENODEV, "the device is lost: the connection to the host is gone; "
					  "close the device and open it again");
	return 0;
}

void guest_mark_lost(struct viova_guest_device *dev, const char *why)
{
	if (!__atomic_exchange_n(&dev->sh->lost, 1, __ATOMIC_ACQ_REL))
		fprintf(stderr, "viova-guest: device lost: %s\n", why);
	guest_err(-ENODEV, "the device is lost (%s): close it and open it again", why);
}

uint32_t guest_next_id(struct viova_guest_device *dev)
{
	uint32_t id;

	/*
	 * 31 bits (vm.c marks sparse-range handles with bit 31); 0 is never an id. Wrapping
	 * after 2^31 creations would take hours at full speed, and ids of that age are long gone.
	 */
	do {
		id = __atomic_fetch_add(&dev->sh->next_id, 1, __ATOMIC_RELAXED) & 0x7fffffffu;
	} while (id == 0);
	return id;
}

int guest_ctx_id_alloc(struct viova_guest_device *dev, uint32_t *id)
{
	uint32_t i;

	for (i = 1; i <= dev->caps.max_contexts && i < GUEST_MAX_CTX_IDS; i++) {
		uint32_t bit = 1u << (i % 32);

		if (__atomic_load_n(&dev->sh->ctx_used[i / 32], __ATOMIC_RELAXED) & bit)
			continue;
		if (!(__atomic_fetch_or(&dev->sh->ctx_used[i / 32], bit, __ATOMIC_ACQ_REL) & bit)) {
			/* reaper 0, owner this process (0 when it has no tag: never reaped) */
			__atomic_store_n(&dev->sh->ctx_rec[i], guest_owner_tag(dev),
					 __ATOMIC_RELEASE);
			*id = i;
			return 0;
		}
	}
	return guest_err(-EAGAIN,
			 "all %" PRIu32 " context ids of the connection are in use (capset "
			 "max_contexts): destroy contexts first",
			 dev->caps.max_contexts);
}

void guest_ctx_id_release(struct viova_guest_device *dev, uint32_t id)
{
	if (id && id < GUEST_MAX_CTX_IDS)
		__atomic_fetch_and(&dev->sh->ctx_used[id / 32], ~(1u << (id % 32)),
				   __ATOMIC_ACQ_REL);
}

void guest_ctx_id_free(struct viova_guest_device *dev, uint32_t id)
{
	if (id && id < GUEST_MAX_CTX_IDS)
		__atomic_store_n(&dev->sh->ctx_rec[id], 0, __ATOMIC_RELEASE);
	guest_ctx_id_release(dev, id);
}

static bool cond_attached(struct viova_guest_device *dev, void *arg)
{
	int *ret = arg;

	*ret = viova_codec_resp_guest_attach(&dev->resp, dev->area, dev->area_size);
	return *ret != -EAGAIN;
}

static int check_caps(const struct viova_capset *c)
{
	if (!c->page_size || (c->page_size & (c->page_size - 1)) ||
	    c->min_alignment < c->page_size || (c->min_alignment & (c->min_alignment - 1)))
		return guest_err(-EPROTO,
				 "capset: page_size %" PRIu32 " / min_alignment %" PRIu32
				 " are not powers of two with min_alignment >= page_size",
				 c->page_size, c->min_alignment);
	if (!c->va_size || c->va_start + c->va_size < c->va_start)
		return guest_err(-EPROTO,
				 "capset: VA window 0x%" PRIx64 "+0x%" PRIx64 " is empty or wraps",
				 c->va_start, c->va_size);
	if (!c->max_contexts || c->max_contexts >= GUEST_MAX_CTX_IDS)
		return guest_err(-EPROTO, "capset: max_contexts %" PRIu32 " outside 1..%u",
				 c->max_contexts, GUEST_MAX_CTX_IDS - 1);
	if (c->max_batch_size < 4096)
		return guest_err(-EPROTO, "capset: max_batch_size %" PRIu32 " below 4096",
				 c->max_batch_size);
	return 0;
}

static int setup_shared(struct viova_guest_device *dev)
{
	size_t size = (sizeof(struct guest_shared) + 4095) & ~(size_t)4095;
	int ret;

	ret = guest_shm_create("viova-dev", size, (void **)&dev->sh);
	if (ret)
		return ret;
	dev->sh_size = size;
	ret = guest_shlock_init(&dev->sh->send_lock);
	if (ret == 0)
		ret = guest_shlock_init(&dev->sh->log_lock);
	if (ret)
		return guest_err(ret, "cannot initialise the shared locks (%s)", strerror(-ret));
	dev->sh->magic = GUEST_SHARED_MAGIC;
	dev->sh->next_seqno = 1;
	dev->sh->next_id = 1;
	return 0;
}

static void device_free(struct viova_guest_device *dev)
{
	guest_cmdbuf_fini(dev);
	if (dev->tp)
		dev->tops->close(dev->tp);
	if (dev->sh)
		munmap(dev->sh, dev->sh_size);
	pthread_mutex_destroy(&dev->lock);
	pthread_mutex_destroy(&dev->reap_lock);
	free(dev);
}

int viova_guest_device_open(const char *uri, const struct viova_guest_device_options *opts,
			    struct viova_guest_device **out)
{
	struct viova_guest_device_options o = {0};
	struct guest_transport_params tp = {0};
	struct guest_transport_info info = {0};
	struct viova_guest_device *dev;
	uint32_t batch, err_records;
	int ret, attach = -EAGAIN;
	uint64_t seq;

	guest_err_clear();
	if (!uri || !out)
		return guest_err(-EINVAL, "device_open: uri and out must not be NULL");
	if (opts)
		o = *opts;
	if (!o.timeout_ns)
		o.timeout_ns = GUEST_DEFAULT_TIMEOUT_NS;
	if (!o.area_size)
		o.area_size = GUEST_DEFAULT_AREA;
	if (o.area_size < GUEST_MIN_AREA || (o.area_size & 4095))
		return guest_err(-EINVAL,
				 "device_open: area_size %" PRIu32 " must be a multiple "
				 "of 4096 and at least %u",
				 o.area_size, GUEST_MIN_AREA);
	err_records = o.err_records ? o.err_records : GUEST_DEFAULT_ERR_RECORDS;
	if (err_records & (err_records - 1) || err_records > VIOVA_RESP_MAX_ERR_RECORDS)
		return guest_err(-EINVAL,
				 "device_open: err_records %" PRIu32 " must be a power of "
				 "two up to %u",
				 err_records, VIOVA_RESP_MAX_ERR_RECORDS);

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return guest_err(-ENOMEM, "device_open: out of memory");
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->reap_lock, NULL);
	dev->pid = getpid();
	dev->timeout_ns = o.timeout_ns;
	if (strncmp(uri, "unix:", 5) == 0) {
		dev->tops = &guest_transport_socket;
	} else if (strncmp(uri, "virtgpu:", 8) == 0) {
		dev->tops = &guest_transport_virtgpu;
	} else {
		free(dev);
		return guest_err(-EINVAL,
				 "device_open: \"%s\" is not a device URI: use "
				 "unix:/path/to/socket or virtgpu:/dev/dri/renderDN",
				 uri);
	}
	tp.timeout_ns = o.timeout_ns;
	tp.area_size = o.area_size;
	ret = dev->tops->open(uri + strlen(dev->tops->scheme) + 1, &tp, &dev->tp, &info);
	if (ret) {
		dev->tp = NULL;
		device_free(dev);
		return ret;
	}
	dev->caps = info.caps;
	dev->area = info.area;
	dev->area_size = o.area_size;
	dev->res_id = info.res_id;
	ret = check_caps(&dev->caps);
	if (ret == 0)
		ret = setup_shared(dev);
	if (ret)
		goto fail;

	batch = o.batch_size ? o.batch_size : GUEST_DEFAULT_BATCH;
	if (batch > dev->caps.max_batch_size)
		batch = dev->caps.max_batch_size;
	if (info.max_message > 64 && batch > info.max_message - 64)
		batch = info.max_message - 64;
	ret = guest_cmdbuf_init(dev, batch & ~7u);
	if (ret)
		goto fail;

	/* RESP_INIT first: nothing can be published before the host has the area. */
	GUEST_ENCODE(
	    dev, ret,
	    viova_codec_enc_resp_init(&dev->enc, dev->res_id, err_records, o.area_size, &seq));
	if (ret == 0)
		ret = guest_flush_locked(dev);
	if (ret)
		goto fail;
	ret = guest_wait(dev, cond_attached, &attach, o.timeout_ns);
	if (ret == 0 && attach != 0)
		ret =
		    guest_err(attach == -EPROTONOSUPPORT ? attach : -EPROTO,
			      "the host's response area header is invalid (%s)", strerror(-attach));
	else if (ret == -ETIMEDOUT)
		guest_err(ret,
			  "the host did not lay out the %" PRIu32 "-byte response area within "
			  "%" PRIu64 " ms (RESP_INIT refused? see the host log)",
			  o.area_size, o.timeout_ns / 1000000);
	if (ret)
		goto fail;
	dev->lane_count = GUEST_MAX_LANES;
	dev->lane_size = (dev->resp.lay.payload_size / GUEST_MAX_LANES) & ~63u;
	if (dev->lane_size < 1024) {
		ret = guest_err(-EPROTO,
				"the response area's payload region (%" PRIu32 " bytes) is "
				"too small: open with a larger area_size",
				dev->resp.lay.payload_size);
		goto fail;
	}

	pthread_once(&g_once, register_atfork);
	pthread_mutex_lock(&g_lock);
	dev->next_dev = g_devs;
	g_devs = dev;
	pthread_mutex_unlock(&g_lock);
	*out = dev;
	return 0;

fail:
	device_free(dev);
	return ret;
}

static bool cond_seqno(struct viova_guest_device *dev, void *arg)
{
	return guest_processed(dev) >= *(uint64_t *)arg;
}

void viova_guest_device_close(struct viova_guest_device *dev)
{
	struct viova_guest_device **pp;
	struct viova_guest_ctx *c, *cn;
	struct viova_guest_vm *v, *vn;
	uint64_t local, target;
	bool lost, settled;

	if (!dev)
		return;
	pthread_mutex_lock(&g_lock);
	for (pp = &g_devs; *pp; pp = &(*pp)->next_dev) {
		if (*pp == dev) {
			*pp = dev->next_dev;
			break;
		}
	}
	pthread_mutex_unlock(&g_lock);

	guest_enter(dev);
	dev->closing = true;
	lost = __atomic_load_n(&dev->sh->lost, __ATOMIC_ACQUIRE);
	/* Destroy what this process made; the parent's objects (in a child) are only forgotten. */
	for (c = dev->ctxs; c && !lost; c = c->next) {
		if (guest_mine(dev, c->owner))
			guest_ctx_destroy_locked(c, &local);
	}
	settled = !lost && guest_flush_locked(dev) == 0;
	if (settled && dev->sent_real) {
		target = dev->sent_real;
		for (c = dev->ctxs; c; c = c->next) {
			if (guest_mine(dev, c->owner)) {
				guest_retire_ctx_gone(dev, c->id, target);
				guest_ctx_id_free(dev, c->id);
			}
		}
		guest_leave(dev);
		settled = guest_wait(dev, cond_seqno, &target, dev->timeout_ns) == 0;
		guest_enter(dev);
	}
	for (c = dev->ctxs; c; c = cn) {
		cn = c->next;
		guest_ctx_forget(c);
	}
	dev->ctxs = NULL;
	guest_retire_poll(dev);
	guest_retire_drop(dev);
	for (v = dev->vms; v; v = vn) {
		vn = v->next;
		guest_heap_unmap(&v->heap);
		free(v);
	}
	dev->vms = NULL;
	/*
	 * Everything this process made is gone on the host: what it still holds in shared heaps
	 * (ranges never freed, retire entries not ready) may be reaped by the others now. If the
	 * host did not confirm in time, the slot stays and is reaped once this process is dead.
	 */
	if (settled)
		guest_owner_release(dev);
	guest_leave(dev);
	device_free(dev);
}

int viova_guest_device_caps(const struct viova_guest_device *dev, struct viova_capset *caps)
{
	if (!dev || !caps)
		return guest_err(-EINVAL, "device_caps: dev and caps must not be NULL");
	*caps = dev->caps;
	return 0;
}

int viova_guest_device_stats(struct viova_guest_device *dev, struct viova_guest_stats *st)
{
	if (!dev || !st)
		return guest_err(-EINVAL, "device_stats: dev and st must not be NULL");
	guest_enter(dev);
	dev->st.retire_pending = guest_retire_count(dev);
	dev->st.processed_seqno = guest_processed(dev);
	dev->st.last_seqno = dev->sent_real;
	dev->st.lock_recoveries = __atomic_load_n(&dev->sh->lock_recoveries, __ATOMIC_RELAXED);
	*st = dev->st;
	guest_leave(dev);
	return 0;
}

int viova_guest_host_stats(const char *uri, uint64_t timeout_ns, struct viova_guest_host_stats *st)
{
	char why[256];
	int ret;

	if (!uri || !st)
		return guest_err(-EINVAL, "host_stats: uri and st must not be NULL");
	if (strncmp(uri, "unix:", 5) != 0)
		return guest_err(-EOPNOTSUPP,
				 "host_stats: \"%s\": daemon statistics are served on "
				 "unix: sockets only",
				 uri);
	why[0] = '\0';
	ret = guest_socket_host_stats(uri + 5, timeout_ns ? timeout_ns : GUEST_DEFAULT_TIMEOUT_NS,
				      st, why, sizeof(why));
	if (ret)
		return guest_err(ret, "host_stats: %s", why);
	return 0;
}
