/* SPDX-License-Identifier: MIT */
/* emu_log.c - see emu_log.h. */
#include <asm/ioctl.h>
#include <string.h>

#include "emu_log.h"

static size_t arg_bytes(unsigned long req)
{
	size_t sz = _IOC_SIZE(req);

	return sz < EMU_LOG_ARG ? sz : EMU_LOG_ARG;
}

void emu_log_init(struct emu_log *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->owner = pthread_self();
}

void emu_log_fini(struct emu_log *l)
{
	pthread_mutex_destroy(&l->lock);
}

static bool is_owner(const struct emu_log *l)
{
	return pthread_equal(l->owner, pthread_self()) != 0;
}

uint32_t emu_log_begin(struct emu_log *l, int fd, unsigned long req, const void *arg)
{
	struct emu_call *c;
	uint32_t seq;

	pthread_mutex_lock(&l->lock);
	seq = l->n++;
	c = &l->ring[seq % EMU_LOG_CALLS];
	c->fd = fd;
	c->request = req;
	c->ret = 0;
	c->own = is_owner(l);
	l->own_n += c->own;
	memset(c->arg, 0, sizeof(c->arg));
	memset(c->out, 0, sizeof(c->out));
	memcpy(c->arg, arg, arg_bytes(req));
	pthread_mutex_unlock(&l->lock);
	return seq;
}

int emu_log_take_fail(struct emu_log *l, unsigned long req)
{
	int err = 0;

	pthread_mutex_lock(&l->lock);
	if (l->fail_req == req && l->fail_err && is_owner(l)) {
		err = l->fail_err;
		l->fail_req = 0;
		l->fail_err = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

int emu_log_end(struct emu_log *l, uint32_t seq, const void *arg, int ret)
{
	struct emu_call *c;

	pthread_mutex_lock(&l->lock);
	/* a blocking wait may have let the ring wrap over its record: then it is gone */
	if (l->n - seq <= EMU_LOG_CALLS) {
		c = &l->ring[seq % EMU_LOG_CALLS];
		c->ret = ret;
		memcpy(c->out, arg, arg_bytes(c->request));
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

uint32_t emu_log_count(struct emu_log *l)
{
	uint32_t n;

	pthread_mutex_lock(&l->lock);
	n = l->n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

uint32_t emu_log_own_count(struct emu_log *l)
{
	uint32_t n;

	pthread_mutex_lock(&l->lock);
	n = l->own_n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

const struct emu_call *emu_log_call(struct emu_log *l, uint32_t i)
{
	const struct emu_call *c = NULL;

	pthread_mutex_lock(&l->lock);
	if (i < l->n && l->n - i <= EMU_LOG_CALLS)
		c = &l->ring[i % EMU_LOG_CALLS];
	pthread_mutex_unlock(&l->lock);
	return c;
}

static const struct emu_call *last(struct emu_log *l, unsigned long request, bool own_only)
{
	const struct emu_call *c = NULL;
	uint32_t i;

	pthread_mutex_lock(&l->lock);
	for (i = l->n; i > 0 && l->n - i < EMU_LOG_CALLS; i--) {
		const struct emu_call *r = &l->ring[(i - 1) % EMU_LOG_CALLS];

		if (r->request == request && (r->own || !own_only)) {
			c = r;
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return c;
}

const struct emu_call *emu_log_last(struct emu_log *l, unsigned long request)
{
	return last(l, request, false);
}

const struct emu_call *emu_log_last_own(struct emu_log *l, unsigned long request)
{
	return last(l, request, true);
}

void emu_log_fail_next(struct emu_log *l, unsigned long request, int err)
{
	pthread_mutex_lock(&l->lock);
	l->fail_req = request;
	l->fail_err = err;
	pthread_mutex_unlock(&l->lock);
}
