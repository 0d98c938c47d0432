/* SPDX-License-Identifier: MIT */
/*
 * reap.c - orphan reaping: the contexts and shared-heap iova ranges of a process that died
 * without destroying them (crash, SIGKILL, _exit) go back while the others keep running.
 *
 * DOC: owner tags
 *
 *   shared page: procs[256] {gs = gen|state, pid, start, pidns}   ctx_rec[id] = reaper|owner
 *   VM heap memfd: owner index handle -> owner tag           tag = gen:24 | slot:8
 *
 * A process claims a proc slot the first time it owns something (a context id, a heap range):
 * its pid and its start time (field 22 of /proc/<pid>/stat, clock ticks after boot). The pair
 * names one process for the life of the system: a pid is reused only after its process has
 * been waited for, and the new one starts later. A slot given back (device closed cleanly, or
 * recycled by a reaper) is claimed again with gen + 1, so a tag left somewhere names nobody
 * ("gone") instead of the slot's next owner. Why not pidfd_open(): a pidfd is a descriptor of
 * the process that opened it, useful only if opened by somebody else while the owner surely
 * lives, and it cannot be put in shared memory for the other survivors; numbers can.
 *
 * A tag is ALIVE (slot holds it and /proc shows that pid with that start time, not a zombie;
 * or the owner is in another pid namespace than the judge, whose /proc cannot tell),
 * DEAD (slot holds it, the process is gone, a zombie, or the pid is another process now), or
 * GONE (the slot was given back: everything the owner made on the host is already destroyed).
 *
 * DOC: a reap pass (at most one per process at a time; any number of processes at once)
 *
 *   1. snapshot the slots; DEAD ones (not this process's) are candidates
 *   2. claim ctx_rec[id] of every DEAD/GONE owner by CAS (owner, 0) -> (owner, me);
 *      also records whose reaper is DEAD/GONE (it died mid-pass) or is me (a pass timed out)
 *   3. SYNC round trip: every batch a dead process sent is processed now
 *   4. CTX_DESTROY each claimed context the host still has (its response slot is active),
 *      wait until processed: its jobs are finished or cancelled, its mappings gone
 *      then clear the records by CAS and give the ids back
 *   5. a DEAD slot that no ctx_rec names any more is recycled (CAS ACTIVE -> FREE) and
 *      reap_epoch is bumped: its tag is GONE
 *   6. when reap_epoch moved since this process last looked: in every heap it maps, under
 *      the heap lock, free each range whose owner tag is GONE
 *
 * Exactly once: a record is claimed by one CAS and cleared only by its claimer; a slot is
 * recycled by one CAS; a range is freed under its heap lock and leaves the index with it.
 * Iova safety: a range is freed only when its owner's tag is GONE, which happens after step 3
 * and after every context of the owner was destroyed and that was processed (step 4, or the
 * owner's own destroy before it died, which step 3's SYNC follows).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_priv.h"

#define GEN_MASK 0xffffffu
#define TAG(slot, gen) ((gen) << 8 | (slot))
#define TAG_SLOT(t) ((t)&0xffu)
#define TAG_GEN(t) ((t) >> 8)
#define GS(gen, state) ((uint64_t)(gen) << 32 | (state))
#define GS_GEN(gs) ((uint32_t)((gs) >> 32))
#define GS_STATE(gs) ((uint32_t)(gs))
#define REC(owner, reaper) ((uint64_t)(reaper) << 32 | (owner))
#define REC_OWNER(r) ((uint32_t)(r))
#define REC_REAPER(r) ((uint32_t)((r) >> 32))

enum tag_state { TAG_ALIVE, TAG_DEAD, TAG_GONE };

/* ---- processes ---- */

/* Fields of /proc/<pid>/stat. Returns 0, -ENOENT (no such process) or another error. */
static int proc_stat(pid_t pid, char *state, long *threads, uint64_t *start)
{
	unsigned long long st;
	char path[48], buf[1024], *p;
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = errno;
	close(fd);
	if (n <= 0)
		return n == 0 || err == ESRCH ? -ENOENT : -err;
	buf[n] = '\0';
	/* the command name (field 2) may hold anything: the fields start after its last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			 "%ld %*d %llu",
			 state, threads, &st) != 3)
		return -EPROTO;
	*start = st;
	return 0;
}

/* This process's start time and pid namespace (0 when the kernel does not show it). */
static int self_ident(uint64_t *start, uint64_t *pidns)
{
	struct stat st;
	long threads;
	char state;

	*pidns = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
	return proc_stat(getpid(), &state, &threads, start);
}

/* Is the process (pid, start) still running? When /proc cannot tell: yes (never guess). */
static bool proc_alive(pid_t pid, uint64_t start)
{
	uint64_t st;
	long threads;
	char state;
	int ret = proc_stat(pid, &state, &threads, &st);

	if (ret == -ENOENT)
		return false;
	if (ret)
		return true;
	if (st != start)
		return false; /* the pid names a newer process: ours is gone */
	/* exited but not yet waited for (a zombie leader with live threads still runs) */
	return !((state == 'Z' || state == 'X') && threads <= 1);
}

struct proc_view {
	uint64_t gs;
	pid_t pid;
	uint64_t start;
	uint64_t pidns;
};

/* A consistent copy of a slot (pid and start change only while the slot is CLAIMING). */
static void proc_read(const struct guest_proc *p, struct proc_view *v)
{
	uint64_t again;

	do {
		v->gs = __atomic_load_n(&p->gs, __ATOMIC_ACQUIRE);
		v->pid = __atomic_load_n(&p->pid, __ATOMIC_RELAXED);
		v->start = __atomic_load_n(&p->start, __ATOMIC_RELAXED);
		v->pidns = __atomic_load_n(&p->pidns, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		again = __atomic_load_n(&p->gs, __ATOMIC_RELAXED);
	} while (again != v->gs);
}

/* What tag is, given a view of its slot (alive: the slot's process, when ACTIVE). */
static enum tag_state view_state(const struct proc_view *v, uint32_t tag, bool alive)
{
	if (GS_GEN(v->gs) != TAG_GEN(tag) || GS_STATE(v->gs) == GUEST_PROC_FREE)
		return TAG_GONE;
	if (GS_STATE(v->gs) == GUEST_PROC_CLAIMING)
		return TAG_ALIVE; /* not used by anyone yet: keep away */
	return alive ? TAG_ALIVE : TAG_DEAD;
}

uint32_t guest_owner_tag(struct viova_guest_device *dev)
{
	uint64_t start, pidns, gs;
	uint32_t s, gen;

	if (dev->tag)
		return dev->tag;
	for (s = 0; s < GUEST_MAX_PROCS; s++) {
		struct guest_proc *p = &dev->sh->procs[s];

		gs = __atomic_load_n(&p->gs, __ATOMIC_ACQUIRE);
		if (GS_STATE(gs) != GUEST_PROC_FREE)
			continue;
		gen = (GS_GEN(gs) + 1) & GEN_MASK;
		if (!gen)
			gen = 1; /* a tag is never 0 */
		if (!__atomic_compare_exchange_n(&p->gs, &gs, GS(gen, GUEST_PROC_CLAIMING), false,
						 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		if (self_ident(&start, &pidns)) {
			/* no /proc: nobody could tell this process dead, so it owns untagged */
			__atomic_store_n(&p->gs, GS(gen, GUEST_PROC_FREE), __ATOMIC_RELEASE);
			return 0;
		}
		__atomic_store_n(&p->pid, (int32_t)dev->pid, __ATOMIC_RELAXED);
		__atomic_store_n(&p->start, start, __ATOMIC_RELAXED);
		__atomic_store_n(&p->pidns, pidns, __ATOMIC_RELAXED);
		__atomic_store_n(&p->gs, GS(gen, GUEST_PROC_ACTIVE), __ATOMIC_RELEASE);
		dev->tag = TAG(s, gen);
		return dev->tag;
	}
	return 0; /* 256 owners at once: this one's contexts and ranges are never reaped */
}

void guest_owner_release(struct viova_guest_device *dev)
{
	struct guest_proc *p;
	uint64_t gs;

	if (!dev->tag)
		return;
	p = &dev->sh->procs[TAG_SLOT(dev->tag)];
	gs = GS(TAG_GEN(dev->tag), GUEST_PROC_ACTIVE);
	if (__atomic_compare_exchange_n(&p->gs, &gs, GS(TAG_GEN(dev->tag), GUEST_PROC_FREE), false,
					__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		__atomic_add_fetch(&dev->sh->reap_epoch, 1, __ATOMIC_RELEASE);
	dev->tag = 0;
}

/* ---- a reap pass ---- */

struct reap_pass {
	struct viova_guest_device *dev;
	uint32_t me;	/* this process's tag (0: it cannot claim records) */
	uint64_t pidns; /* this process's pid namespace */
	struct proc_view view[GUEST_MAX_PROCS];
	bool alive[GUEST_MAX_PROCS];
	uint32_t dead[GUEST_MAX_PROCS];
	uint32_t ndead;
	uint64_t claimed[GUEST_MAX_CTX_IDS]; /* the record as claimed: REC(owner, me) */
	uint32_t claimed_id[GUEST_MAX_CTX_IDS];
	uint32_t nclaimed;
	struct viova_guest_reap out;
};

static uint32_t ctx_id_limit(const struct viova_guest_device *dev)
{
	return dev->caps.max_contexts < GUEST_MAX_CTX_IDS ? dev->caps.max_contexts + 1
							  : GUEST_MAX_CTX_IDS;
}

/* A pid of another pid namespace means nothing in this one's /proc: take it as alive. */
static bool view_alive(const struct reap_pass *rp, const struct proc_view *v)
{
	return v->pidns != rp->pidns || proc_alive(v->pid, v->start);
}

/* Step 1. */
static void pass_snapshot(struct reap_pass *rp)
{
	uint32_t s;

	for (s = 0; s < GUEST_MAX_PROCS; s++) {
		struct proc_view *v = &rp->view[s];
		uint32_t tag;

		proc_read(&rp->dev->sh->procs[s], v);
		rp->alive[s] = true;
		if (GS_STATE(v->gs) != GUEST_PROC_ACTIVE)
			continue;
		tag = TAG(s, GS_GEN(v->gs));
		if (tag == rp->me)
			continue;
		rp->alive[s] = view_alive(rp, v);
		if (!rp->alive[s])
			rp->dead[rp->ndead++] = tag;
	}
}

static enum tag_state pass_state(struct reap_pass *rp, uint32_t tag)
{
	struct proc_view v;
	uint32_t s = TAG_SLOT(tag);

	if (GS_GEN(rp->view[s].gs) == TAG_GEN(tag))
		return view_state(&rp->view[s], tag, rp->alive[s]);
	/* the slot changed since the snapshot: look again */
	proc_read(&rp->dev->sh->procs[s], &v);
	return view_state(&v, tag, GS_STATE(v.gs) != GUEST_PROC_ACTIVE || view_alive(rp, &v));
}

/* Step 2. */
static void pass_claim(struct reap_pass *rp)
{
	uint64_t *recs = rp->dev->sh->ctx_rec;
	uint32_t id, lim = ctx_id_limit(rp->dev);

	for (id = 1; rp->me && id < lim; id++) {
		uint64_t rec = __atomic_load_n(&recs[id], __ATOMIC_ACQUIRE);
		uint32_t owner = REC_OWNER(rec), reaper = REC_REAPER(rec);

		if (!owner)
			continue;
		if (reaper != rp->me) {
			if (pass_state(rp, owner) == TAG_ALIVE)
				continue;
			if (reaper && pass_state(rp, reaper) == TAG_ALIVE)
				continue; /* another survivor is on it */
			if (!__atomic_compare_exchange_n(&recs[id], &rec, REC(owner, rp->me), false,
							 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				continue;
		}
		rp->claimed[rp->nclaimed] = REC(owner, rp->me);
		rp->claimed_id[rp->nclaimed++] = id;
	}
}

/* Step 3: one SYNC; everything sent before it (by anybody) is processed after it. */
static int pass_sync(struct viova_guest_device *dev)
{
	uint64_t local = 0, seq = 0;
	int ret;

	guest_enter(dev);
	ret = guest_check_lost(dev);
	if (ret == 0)
		GUEST_ENCODE(dev, ret, viova_codec_enc_sync(&dev->enc, &local));
	if (ret == 0)
		ret = guest_flush_locked(dev);
	if (ret == 0)
		seq = guest_real_seqno(dev, local);
	guest_leave(dev);
	if (ret == 0)
		ret = guest_wait_seqno(dev, seq, dev->timeout_ns);
	if (ret == -ETIMEDOUT)
		guest_err(ret,
			  "reap: the host has not processed SYNC (seqno %" PRIu64
			  ") within %" PRIu64 " ms; call viova_guest_device_reap again later",
			  seq, dev->timeout_ns / 1000000);
	return ret;
}

/* A VM named on the host through a context that is gone now: name it through one of ours. */
static void vm_forget_host_ctx(struct viova_guest_device *dev, uint32_t id)
{
	struct viova_guest_ctx *c;
	struct viova_guest_vm *v;

	for (v = dev->vms; v; v = v->next) {
		if (v->host_ctx_id != id)
			continue;
		v->host_ctx_id = 0;
		for (c = dev->ctxs; c && !v->extra; c = c->next) {
			if (c->vm == v && guest_mine(dev, c->owner)) {
				v->host_ctx_id = c->id;
				break;
			}
		}
	}
}

/* Step 4, encoding: CTX_DESTROY for each claimed context the host has. */
static int pass_encode_destroys(struct reap_pass *rp, uint64_t *gate)
{
	struct viova_guest_device *dev = rp->dev;
	uint64_t local = 0;
	uint32_t i, n = 0;
	int ret = 0;

	guest_enter(dev);
	for (i = 0; i < rp->nclaimed && ret == 0; i++) {
		struct viova_resp_ctx slot = {0};
		uint32_t id = rp->claimed_id[i];

		/* the id will name somebody else's context: no VM may be shared through it */
		vm_forget_host_ctx(dev, id);
		viova_codec_resp_guest_ctx(&dev->resp, id, &slot);
		if (!slot.active)
			continue; /* its CTX_CREATE never came, was refused, or it was destroyed */
		GUEST_ENCODE(dev, ret, viova_codec_enc_ctx_destroy(&dev->enc, id, &local));
		n += ret == 0;
	}
	if (ret == 0 && n)
		ret = guest_flush_locked(dev);
	if (ret == 0 && n)
		*gate = guest_real_seqno(dev, local);
	guest_leave(dev);
	if (ret)
		return guest_err(ret,
				 "reap: cannot send CTX_DESTROY for %" PRIu32
				 " orphaned contexts (%s); the next pass retries",
				 rp->nclaimed, strerror(-ret));
	rp->out.contexts += n;
	return 0;
}

/* Step 4. */
static int pass_destroy(struct reap_pass *rp)
{
	struct viova_guest_device *dev = rp->dev;
	uint64_t gate = 0;
	uint32_t i;
	int ret;

	ret = pass_encode_destroys(rp, &gate);
	if (ret == 0 && gate)
		ret = guest_wait_seqno(dev, gate, dev->timeout_ns);
	if (ret == -ETIMEDOUT)
		return guest_err(ret,
				 "reap: the host has not processed the CTX_DESTROY of %" PRIu32
				 " orphaned contexts (seqno %" PRIu64 ") within %" PRIu64
				 " ms; call viova_guest_device_reap again later",
				 rp->out.contexts, gate, dev->timeout_ns / 1000000);
	if (ret)
		return ret; /* the records stay claimed by this process: its next pass finishes */
	for (i = 0; i < rp->nclaimed; i++) {
		uint64_t rec = rp->claimed[i];
		uint32_t id = rp->claimed_id[i];

		if (__atomic_compare_exchange_n(&dev->sh->ctx_rec[id], &rec, 0, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			guest_ctx_id_release(dev, id);
	}
	return 0;
}

/* Step 5. */
static void pass_recycle(struct reap_pass *rp)
{
	const uint64_t *recs = rp->dev->sh->ctx_rec;
	uint32_t i, id, lim = ctx_id_limit(rp->dev);

	for (i = 0; i < rp->ndead; i++) {
		uint32_t tag = rp->dead[i];
		struct guest_proc *p = &rp->dev->sh->procs[TAG_SLOT(tag)];
		uint64_t gs = GS(TAG_GEN(tag), GUEST_PROC_ACTIVE);

		for (id = 1; id < lim; id++) {
			if (REC_OWNER(__atomic_load_n(&recs[id], __ATOMIC_ACQUIRE)) == tag)
				break; /* a context of it is still being reaped (by somebody) */
		}
		if (id < lim)
			continue;
		if (__atomic_compare_exchange_n(&p->gs, &gs, GS(TAG_GEN(tag), GUEST_PROC_FREE),
						false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			__atomic_add_fetch(&rp->dev->sh->reap_epoch, 1, __ATOMIC_RELEASE);
			rp->out.processes++;
		}
	}
}

static bool tag_gone(void *arg, uint32_t tag)
{
	struct viova_guest_device *dev = arg;
	struct proc_view v;

	proc_read(&dev->sh->procs[TAG_SLOT(tag)], &v);
	return view_state(&v, tag, true) == TAG_GONE;
}

/* Step 6. */
static void pass_sweep(struct reap_pass *rp)
{
	struct viova_guest_device *dev = rp->dev;
	struct viova_guest_vm *v;
	uint32_t epoch;

	guest_enter(dev);
	epoch = __atomic_load_n(&dev->sh->reap_epoch, __ATOMIC_ACQUIRE);
	if (epoch != dev->reap_epoch) {
		for (v = dev->vms; v; v = v->next) {
			/* a broken heap (-EUCLEAN) keeps everything: it is not trusted */
			if (guest_heap_lock(&v->heap, dev))
				continue;
			rp->out.ranges += guest_heap_reap(&v->heap, tag_gone, dev);
			guest_heap_unlock(&v->heap);
		}
		dev->reap_epoch = epoch;
	}
	guest_leave(dev);
}

static int reap_pass(struct viova_guest_device *dev, struct viova_guest_reap *out)
{
	struct reap_pass *rp;
	uint64_t start, pidns;
	int ret;

	if (self_ident(&start, &pidns))
		return guest_err(-EOPNOTSUPP,
				 "reap: /proc/self/stat is unreadable: without /proc a dead "
				 "process cannot be told from a live one; mount /proc");
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return guest_err(-ENOMEM, "reap: out of memory");
	rp->dev = dev;
	rp->pidns = pidns;
	guest_enter(dev);
	rp->me = guest_owner_tag(dev);
	ret = guest_check_lost(dev);
	guest_leave(dev);
	if (ret == 0) {
		pass_snapshot(rp);
		pass_claim(rp);
	}
	if (ret == 0 && (rp->ndead || rp->nclaimed)) {
		ret = pass_sync(dev);
		if (ret == 0)
			ret = pass_destroy(rp);
		if (ret == 0)
			pass_recycle(rp);
	}
	if (ret == 0)
		pass_sweep(rp);
	*out = rp->out;
	free(rp);
	return ret;
}

int viova_guest_device_reap(struct viova_guest_device *dev, struct viova_guest_reap *reaped)
{
	struct viova_guest_reap r = {0};
	int ret;

	if (!dev)
		return guest_err(-EINVAL, "device_reap: dev is NULL");
	pthread_mutex_lock(&dev->reap_lock);
	ret = reap_pass(dev, &r);
	pthread_mutex_unlock(&dev->reap_lock);
	if (reaped)
		*reaped = r;
	return ret;
}

void guest_reap_auto(struct viova_guest_device *dev, uint64_t interval_ns)
{
	struct viova_guest_reap r;
	uint64_t now = guest_now_ns();
	char saved[320];

	if (interval_ns && now < __atomic_load_n(&dev->reap_next_ns, __ATOMIC_RELAXED))
		return;
	if (pthread_mutex_trylock(&dev->reap_lock))
		return; /* another thread of this process is reaping */
	__atomic_store_n(&dev->reap_next_ns,
			 now + (interval_ns ? interval_ns : GUEST_REAP_INTERVAL_NS),
			 __ATOMIC_RELAXED);
	/* The caller's own failure, if any, is what its last-error message must say. */
	snprintf(saved, sizeof(saved), "%s", viova_guest_last_error());
	reap_pass(dev, &r);
	guest_err(0, "%s", saved);
	pthread_mutex_unlock(&dev->reap_lock);
}
