/* SPDX-License-Identifier: MIT */
/*
 * viova/host.h - libviova-host: the host side of one guest connection.
 *
 * DOC: what the host core does with a batch
 *
 *   transport --batch--> viova_host_process()
 *                          | decode (protocol/ strict decoder: copy out, then check)
 *                          v
 *                        guest context (id chosen by the guest, 1..max_contexts)
 *                          | its own VM names, its own buffer table (ids never cross contexts)
 *                          v
 *                        validate: quotas, ownership, alignment, window, reserved region,
 *                          | overlap, buffer bounds, busy (against the VM's va_space)
 *                          v
 *                        struct viova_backend_ops (sim | msm | i915)
 *
 * A command that fails changes nothing, is logged in the guest's error ring (seqno, command,
 * errno, reason, details) and through the log callback, and the batch goes on with the next
 * command. docs/architecture.md has the full pipeline and the rule for lost contexts;
 * docs/security.md lists every check.
 *
 * Threading: one thread calls everything below for a given host (the connection's thread).
 * The backend may report completions and faults from its own threads; the host handles them
 * under an internal lock that the hot path (successful mapping commands) never takes.
 *
 * Errors follow docs/conventions.md: 0 or a negative errno.
 */
#ifndef VIOVA_HOST_H
#define VIOVA_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "viova/backend.h"
#include "viova/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

struct viova_host;

/*
 * Quotas. max_contexts bounds both the context ids (1..max_contexts) and the number of live
 * contexts of the connection; max_vms .. max_bytes hold per guest context; the max_device_*
 * budgets hold for the sum over every context of the host (one guest device or connection):
 * without them a guest could hold max_contexts times the per-context quotas. Buffers closed
 * while a job still uses them count until released. 0 selects the default
 * (docs/security.md, "Budgets", says why these values).
 */
struct viova_host_quotas {
	uint32_t max_contexts; /* default 64, at most 4096 */
	uint32_t max_vms;      /* VM names per context (its own VM included); default 8, <= 64 */
	uint32_t max_buffers;  /* live buffers per context; default 65536 */
	uint32_t
	    max_mappings;   /* live mappings per context (SET_IOVA + bind pieces); default 65536 */
	uint64_t max_bytes; /* bytes of live buffers per context; default 1 GiB */
	uint32_t max_device_buffers;  /* live buffers, all contexts; default 262144, <= 2^26 */
	uint32_t max_device_mappings; /* live mappings, all contexts; default 262144, <= 2^26 */
	uint64_t max_device_bytes;    /* bytes of live buffers, all contexts; default 4 GiB */
};

/*
 * DOC: the daemon budget
 *
 * One struct viova_host_budget is shared by every host a process creates (viova-host makes one
 * at startup and hands it to each connection): buffers, their bytes and mappings of all guests
 * together stay under its limits, so many guests cannot together exhaust the host even when
 * each stays inside its own quotas. A host charges it together with its context and device
 * counters, in the same command, and returns each charge when the object goes (close, clear,
 * unbind, context destroy, host destroy). A command that would exceed it fails with EDQUOT
 * and changes nothing. Thread-safe: hosts on different threads charge it with atomic
 * compare-and-swap (no lock); the totals never exceed a limit, even transiently.
 */
struct viova_host_budget;

/* Limits of a daemon budget; 0 = unlimited (still counted). */
struct viova_host_budget_limits {
	uint64_t max_bytes;    /* bytes of live buffers */
	uint64_t max_buffers;  /* live buffers (closed-but-busy ones included) */
	uint64_t max_mappings; /* live mappings (SET_IOVA mappings + bind pieces) */
};

/* What a daemon budget holds right now. */
struct viova_host_budget_usage {
	struct viova_host_budget_limits limits;
	uint64_t bytes;
	uint64_t buffers;
	uint64_t mappings;
	uint32_t hosts; /* hosts created with this budget and not yet destroyed */
};

/*
 * viova_host_budget_create - a daemon budget with limits (NULL: every limit unlimited).
 * @out: the budget; the caller holds one reference, dropped by viova_host_budget_destroy().
 *       Each viova_host_create() with it takes another, dropped by viova_host_destroy(), so
 *       the budget may be released by its creator before the hosts that use it.
 *
 * Returns 0; -EINVAL NULL @out; -ENOMEM.
 */
int viova_host_budget_create(const struct viova_host_budget_limits *limits,
			     struct viova_host_budget **out);

/* viova_host_budget_destroy - drop the creator's reference (freed with the last one). */
void viova_host_budget_destroy(struct viova_host_budget *b);

/*
 * viova_host_budget_usage - a snapshot of b's counters; any thread. Each counter is read
 * atomically, the set is not (another thread may be charging meanwhile).
 * Returns 0 or -EINVAL (NULL argument).
 */
int viova_host_budget_usage(const struct viova_host_budget *b,
			    struct viova_host_budget_usage *out);

/* Log levels of the log callback. */
#define VIOVA_HOST_LOG_ERROR 0 /* a command failed; the message names value, bound and fix */
#define VIOVA_HOST_LOG_WARN 1  /* asynchronous trouble: GPU fault, lost context, teardown */
#define VIOVA_HOST_LOG_INFO 2  /* lifecycle: response area attached, contexts created */

/*
 * Log callback. msg is valid during the call only. Called from the connection's thread, and
 * from a backend thread for asynchronous faults (then under the host's event lock: do not call
 * back into the host from it).
 */
typedef void (*viova_host_log_fn)(void *cookie, int level, const char *msg);

/*
 * Transport callback for RESP_INIT: make the shared memory named res_id (socket: 0 = the memfd
 * received with the message; virtio-gpu: a guest-backed resource id) available to the host.
 * Return 0 with *mem pointing to at least size bytes, 8-byte aligned, that stay mapped until
 * resp_unmap (or viova_host_destroy); or a negative errno (-ENOENT unknown res_id, -EINVAL size
 * larger than the object), which RESP_INIT reports to the guest.
 */
typedef int (*viova_host_resp_map_fn)(void *cookie, uint32_t res_id, uint64_t size, void **mem);
/* Release what resp_map returned (called once, at viova_host_destroy). May be NULL. */
typedef void (*viova_host_resp_unmap_fn)(void *cookie, uint32_t res_id, void *mem, uint64_t size);

/*
 * Creates the backend instance. NULL means viova_backend_create(). Tests pass a function that
 * wraps the real backend (e.g. to count or fail calls); it must hand events and cookie to the
 * backend it creates unchanged, and the instance it returns is released with ops->destroy.
 */
typedef int (*viova_host_backend_create_fn)(const char *name,
					    const struct viova_backend_config *config,
					    const struct viova_backend_events *events, void *cookie,
					    struct viova_backend **out);

struct viova_host_config {
	const char *backend;				   /* backend name; NULL = "sim" */
	const struct viova_backend_config *backend_config; /* may be NULL */
	viova_host_backend_create_fn backend_create;	   /* NULL = viova_backend_create */
	struct viova_host_quotas quotas;
	uint32_t max_batch_size;	 /* bytes; 0 = 1 MiB; 64 .. 2^31 */
	uint64_t teardown_timeout_ns;	 /* wait for a context's jobs at teardown; 0 = 1 s */
	viova_host_resp_map_fn resp_map; /* NULL: RESP_INIT fails with ENODEV */
	viova_host_resp_unmap_fn resp_unmap;
	void *transport_cookie; /* passed to resp_map / resp_unmap */
	viova_host_log_fn log;	/* may be NULL */
	void *log_cookie;
	/* Daemon budget shared with other hosts (NULL: none); the host holds a reference. */
	struct viova_host_budget *budget;
	/* What this host is called in budget messages, e.g. "connection 5"; copied, at most 31
	 * bytes kept; NULL = "this device". */
	const char *name;
};

/*
 * viova_host_create - a host for one guest connection, with its own backend instance.
 * @cfg: configuration; copied (strings and the backend config are read during the call only)
 * @out: the new host, released with viova_host_destroy()
 *
 * Returns 0; -EINVAL for NULL arguments or a quota / size out of range; -ENOENT unknown backend
 * name; -ENODEV backend not usable here; -ENOMEM.
 */
int viova_host_create(const struct viova_host_config *cfg, struct viova_host **out);

/*
 * viova_host_destroy - tear the connection down: every context (its jobs waited for up to
 * teardown_timeout_ns, then cancelled by the backend), mapping, buffer and VM is released in
 * that order, then the backend and the response area. NULL is ignored.
 */
void viova_host_destroy(struct viova_host *h);

/*
 * viova_host_process - decode and apply one batch, command by command, in order.
 * @batch: the batch as received (may be guest-writable memory: every command is copied out
 *         before it is looked at); read during the call only
 * @len: bytes received
 *
 * Whatever happens inside (malformed framing, failing commands), the batch's last seqno is
 * published as processed once it is done, so no guest waits forever. Failed commands are
 * reported in the error ring and through the log callback.
 * Returns the number of commands (and batch-level rejections) that failed, >= 0; or -EINVAL
 * for a NULL host, or a NULL batch with len > 0.
 */
int viova_host_process(struct viova_host *h, const void *batch, size_t len);

/*
 * viova_host_get_caps - the capset this host announces (what QUERY CAPS answers and what a
 * virtio-gpu transport returns for GET_CAPSET). Returns 0 or -EINVAL (NULL argument).
 */
int viova_host_get_caps(const struct viova_host *h, struct viova_capset *caps);

/*
 * viova_host_ctx_stats - per-context statistics (what QUERY CTX_STATS answers).
 * Returns 0; -EINVAL NULL argument; -ENOENT no live context ctx_id.
 */
int viova_host_ctx_stats(struct viova_host *h, uint32_t ctx_id, struct viova_ctx_stats *out);

/* Connection-wide counters, for tests and diagnostics. */
struct viova_host_counters {
	/* live objects the host holds (all zero after every context is destroyed) */
	uint32_t contexts;
	uint32_t vms;
	uint32_t buffers;      /* includes closed buffers still used by unfinished jobs */
	uint32_t zombies;      /* closed by the guest, released when their last job completes */
	uint32_t mappings;     /* SET_IOVA mappings + bind pieces, all VMs */
	uint32_t jobs_pending; /* contexts' submitted fences not yet completed */
	uint64_t bytes;	       /* bytes of live buffers */
	/* traffic */
	uint64_t batches;
	uint64_t commands;	 /* commands decoded (valid or not) */
	uint64_t failed;	 /* commands and batch-level rejections that failed */
	uint64_t backend_calls;	 /* calls into the backend ops table made by the core */
	uint64_t errors_logged;	 /* records written to the error ring */
	uint64_t errors_dropped; /* records lost: ring full, or no response area yet */
	uint64_t faults;	 /* GPU faults reported by the backend */
	uint64_t processed_seqno;
};

/* viova_host_counters - copy the counters. Returns 0 or -EINVAL (NULL argument). */
int viova_host_counters(const struct viova_host *h, struct viova_host_counters *out);

/*
 * viova_host_last_error - message of the most recent command failure on the connection's
 * thread ("" if none), e.g. "SET_IOVA (seqno 12, ctx 3): range 0x1000+0x2000 overlaps mapping
 * of buffer 7 at 0x2000+0x1000 in context 3: ...". Valid until the next viova_host_process().
 */
const char *viova_host_last_error(const struct viova_host *h);

/*
 * viova_host_ctx_lost - 0 if context ctx_id is live and not lost; otherwise the positive wire
 * errno that lost it (VIOVA_EFAULT for a GPU fault, ...). -ENOENT if there is no such context.
 */
int viova_host_ctx_lost(struct viova_host *h, uint32_t ctx_id);

/*
 * viova_host_mem_bytes - heap bytes held by the host core (contexts, buffer tables, VMs and
 * their address-space trackers), not counting the backend or the response area.
 */
size_t viova_host_mem_bytes(const struct viova_host *h);

/* The backend instance (for tests that check the backend's own view). Owned by the host. */
struct viova_backend *viova_host_backend(struct viova_host *h);

#ifdef __cplusplus
}
#endif

#endif /* VIOVA_HOST_H */
