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

struct emu_call *emu_log_begin(struct emu_log *l, int fd, unsigned long req, const void *arg)
{
	struct emu_call *c = &l->ring[l->n++ % EMU_LOG_CALLS];

	c->fd = fd;
	c->request = req;
	c->ret = 0;
	memset(c->arg, 0, sizeof(c->arg));
	memset(c->out, 0, sizeof(c->out));
	memcpy(c->arg, arg, arg_bytes(req));
	return c;
}

int emu_log_take_fail(struct emu_log *l, unsigned long req)
{
	int err = 0;

	if (l->fail_req == req && l->fail_err) {
		err = l->fail_err;
		l->fail_req = 0;
		l->fail_err = 0;
	}
	return err;
}

int emu_log_end(struct emu_call *c, const void *arg, int ret)
{
	c->ret = ret;
	memcpy(c->out, arg, arg_bytes(c->request));
	return ret;
}

uint32_t emu_log_count(const struct emu_log *l)
{
	return l->n;
}

const struct emu_call *emu_log_call(const struct emu_log *l, uint32_t i)
{
	if (i >= l->n || l->n - i > EMU_LOG_CALLS)
		return NULL;
	return &l->ring[i % EMU_LOG_CALLS];
}

const struct emu_call *emu_log_last(const struct emu_log *l, unsigned long request)
{
	uint32_t i;

	for (i = l->n; i > 0 && l->n - i < EMU_LOG_CALLS; i--) {
		if (l->ring[(i - 1) % EMU_LOG_CALLS].request == request)
			return &l->ring[(i - 1) % EMU_LOG_CALLS];
	}
	return NULL;
}

void emu_log_fail_next(struct emu_log *l, unsigned long request, int err)
{
	l->fail_req = request;
	l->fail_err = err;
}
