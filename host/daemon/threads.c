/* SPDX-License-Identifier: MIT */
/*
 * threads.c - the connection threads of both servers (socket mode, socket_server.c; vhost-user
 * mode, vhost_server.c): one thread per accepted connection, tracked so that the main thread
 * can join the ones that ended and stop all of them at shutdown.
 *
 *   accept ─> daemon_thread_start: linked into set->live, thread started (under d->lock)
 *   thread ends ─> daemon_thread_end_locked: unlinked, socket closed, moved to set->dead,
 *                  conns_done broadcast ─> the caller writes wake_fd
 *   main thread ─> daemon_threads_reap: join and free what is in set->dead
 *   shutdown ─> daemon_threads_shutdown_locked (shutdown() every live socket), then
 *               daemon_threads_join_all (bounded wait, then join)
 *
 * The socket is closed under d->lock once unlinked, so a shutdown() walking set->live never
 * hits a descriptor number the process has reused meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"

int daemon_thread_start(struct daemon *d, struct daemon_threads *set, struct daemon_thread *t,
			void *(*fn)(void *), void *arg)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	/* Checked with the link, atomically: a shutdown walking set->live misses no thread. */
	if (d->stopping) {
		pthread_mutex_unlock(&d->lock);
		return -ESHUTDOWN;
	}
	t->next = set->live;
	set->live = t;
	set->count++;
	/* Under the lock: the thread's end (which takes it) cannot run before started is set. */
	ret = pthread_create(&t->thread, NULL, fn, arg);
	t->started = ret == 0;
	pthread_mutex_unlock(&d->lock);
	return -ret;
}

void daemon_thread_end_locked(struct daemon *d, struct daemon_threads *set,
			      struct daemon_thread *t)
{
	struct daemon_thread **pp;

	for (pp = &set->live; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	set->count--;
	t->next = set->dead;
	set->dead = t;
	pthread_cond_broadcast(&d->conns_done);
}

void daemon_threads_reap(struct daemon *d, struct daemon_threads *set)
{
	struct daemon_thread *t, *next;

	pthread_mutex_lock(&d->lock);
	t = set->dead;
	set->dead = NULL;
	pthread_mutex_unlock(&d->lock);
	for (; t; t = next) {
		next = t->next;
		if (t->started)
			pthread_join(t->thread, NULL);
		free(t); /* the first member of its connection struct */
	}
}

void daemon_threads_shutdown_locked(struct daemon_threads *set, int how)
{
	for (struct daemon_thread *t = set->live; t; t = t->next)
		shutdown(t->fd, how);
}

unsigned daemon_threads_join_all(struct daemon *d, struct daemon_threads *set, unsigned grace_ms,
				 void (*still)(struct daemon *d, struct daemon_thread *t,
					       unsigned grace_ms))
{
	struct daemon_thread *t;
	struct timespec dl;
	unsigned left = 0;

	daemon_deadline_ms(&dl, grace_ms);
	pthread_mutex_lock(&d->lock);
	while (set->live && pthread_cond_timedwait(&d->conns_done, &d->lock, &dl) != ETIMEDOUT)
		;
	for (t = set->live; t; t = t->next, left++)
		still(d, t, grace_ms);
	pthread_mutex_unlock(&d->lock);
	daemon_threads_reap(d, set);
	return left;
}
