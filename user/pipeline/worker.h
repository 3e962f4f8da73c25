/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Worker threads: routes each connection's segments to one worker through a bounded queue. */
#ifndef MP_WORKER_H
#define MP_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include "lib/compat.h"

#include "capture_abi.h"

/* What a worker does; knows nothing of the routing. Every call for one worker happens in
 * that worker's thread (or the caller's, in inline mode), one at a time. */
struct worker_ops {
	/* Per-worker state, created in the worker thread. NULL is a valid state. */
	void *(*init)(void *arg, int idx);
	/* One segment: h then h->caplen payload bytes, valid only during the call. */
	void (*segment)(void *wstate, const struct mp_seg_hdr *h, const uint8_t *payload);
	/* Last call for the worker, after its queue is drained. May be NULL. */
	void (*fini)(void *wstate);
};

struct worker_stats {
	uint64_t routed;       /* segments queued (or run, inline) */
	uint64_t routed_bytes; /* queue bytes they took */
	uint64_t waits;	       /* times the router found the queue full and waited for room */
};

struct worker_pool;

/*
 * Starts n worker threads, each with a queue of queue_bytes (rounded up to a power of two,
 * at least twice the largest record). n == 0 or 1 runs everything inline in the caller's
 * thread, in call order: one worker thread would only add a copy and a wake-up per batch to
 * the same serial work.
 * Returns NULL with errno set (EINVAL, ENOMEM, or pthread_create's error).
 */
struct worker_pool *worker_pool_new(int n, size_t queue_bytes, const struct worker_ops *ops,
				    void *arg);

/* The worker a segment belongs to: the same for both directions of a connection. */
int worker_pool_pick(const struct worker_pool *p, const struct mp_seg_hdr *h);

/*
 * Copies the segment into its worker's queue, waiting for room when the queue is full
 * (never drops). Single producer: call from one thread only. Returns 0, or -EINVAL when
 * caplen exceeds MP_MAX_CAPLEN. A sleeping worker is woken per KICK_BYTES queued, not per
 * segment: call worker_pool_kick() at the end of each batch.
 */
int worker_pool_route(struct worker_pool *p, const struct mp_seg_hdr *h, const uint8_t *payload);

/* Wakes every worker with segments it was not woken for (end of a capture batch). */
void worker_pool_kick(struct worker_pool *p);

/* Runs fn(wstate, arg) in every worker after everything routed before this call, and waits
 * until all have returned. Same thread as worker_pool_route. Returns 0. */
int worker_pool_barrier(struct worker_pool *p, void (*fn)(void *wstate, void *arg), void *arg);

/* Number of workers (1 in inline mode). */
int worker_pool_size(const struct worker_pool *p);

/* Fills *st for worker idx; callable from any thread (the counters are atomic). */
void worker_pool_stats(const struct worker_pool *p, int idx, struct worker_stats *st);

/* Drains every queue, calls fini in each worker, joins the threads. Accepts NULL. */
void worker_pool_free(struct worker_pool *p);

#endif /* MP_WORKER_H */
