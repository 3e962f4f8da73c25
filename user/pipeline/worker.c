// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Worker threads fed through single-producer/single-consumer byte rings, one per worker. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "pipeline/worker.h"

/*
 * A queue is a byte ring of records [rec_hdr][body], each a multiple of 8 bytes so headers
 * stay aligned. A record never wraps: when the tail of the ring is too short the producer
 * writes a WRAP record filling it and starts again at offset 0. head and tail count bytes
 * since the start and never wrap themselves (2^64 bytes is centuries).
 */
#define REC_ALIGN 8
#define REC_SEG 1
#define REC_WRAP 2
#define REC_BARRIER 3
#define REC_STOP 4

struct rec_hdr {
	uint32_t len; /* whole record, header included */
	uint32_t type;
};

#define REC_MAX (((sizeof(struct rec_hdr) + sizeof(struct mp_seg_hdr) + MP_MAX_CAPLEN) + \
		  REC_ALIGN - 1) & ~(size_t)(REC_ALIGN - 1))

/*
 * A sleeping worker is woken once per this many queued bytes, or when the producer ends a
 * batch (worker_pool_kick), not per record: a futex wake-up and the context switch it
 * causes cost more than decoding a small segment.
 */
#define KICK_BYTES (32 * 1024)

struct barrier {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int remaining;
	void (*fn)(void *wstate, void *arg);
	void *arg;
};

struct wqueue {
	_Alignas(64) _Atomic uint64_t head; /* written by the producer */
	_Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
	_Alignas(64) _Atomic int cons_waiting;
	_Atomic int prod_waiting;
	pthread_mutex_t mu;
	pthread_cond_t cv_data; /* consumer waits for records */
	pthread_cond_t cv_room; /* producer waits for room */
	uint8_t *buf;
	uint64_t size;
	/* Written by the producer only, read from anywhere: relaxed atomics, plain stores. */
	_Atomic uint64_t routed, routed_bytes, waits;
	uint64_t unkicked; /* producer only: bytes queued since the consumer was last woken */
	struct worker_pool *pool;
	int idx;
	int started;
	pthread_t thr;
};

struct worker_pool {
	struct worker_ops ops;
	void *arg;
	int n;		   /* threads; 0 = inline */
	int inline_mode;
	void *inline_state;
	struct worker_stats inline_st; /* caller's thread only */
	struct wqueue *q;
};

/* ---- hashing ---- */

/*
 * The endpoint pair in a fixed order (the smaller endpoint first), so both directions of a
 * connection hash alike whatever `dir` says.
 */
static uint64_t seg_hash(const struct mp_seg_hdr *h)
{
	struct {
		uint8_t a[16], b[16];
		uint16_t pa, pb;
		uint8_t family, pad[3];
	} k;
	size_t alen = h->family == 6 ? 16 : 4;
	int c = memcmp(h->saddr, h->daddr, alen);

	if (!c)
		c = (int)h->sport - (int)h->dport;
	memset(&k, 0, sizeof(k));
	memcpy(k.a, c <= 0 ? h->saddr : h->daddr, alen);
	memcpy(k.b, c <= 0 ? h->daddr : h->saddr, alen);
	k.pa = c <= 0 ? h->sport : h->dport;
	k.pb = c <= 0 ? h->dport : h->sport;
	k.family = h->family;
	return XXH3_64bits(&k, sizeof(k));
}

int worker_pool_pick(const struct worker_pool *p, const struct mp_seg_hdr *h)
{
	if (p->n <= 1)
		return 0;
	return (int)(((unsigned __int128)seg_hash(h) * (unsigned)p->n) >> 64);
}

/* ---- producer ---- */

/* Single writer: no locked instruction needed, only a tear-free store. */
static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* Wakes the consumer if it sleeps; the records it has not seen are already published. */
static void q_kick(struct wqueue *q)
{
	q->unkicked = 0;
	/* head was stored (seq_cst) before this load; the consumer stores its flag before it
	 * reads head: one of us sees the other. */
	if (atomic_load(&q->cons_waiting)) {
		pthread_mutex_lock(&q->mu);
		pthread_cond_signal(&q->cv_data);
		pthread_mutex_unlock(&q->mu);
	}
}

static void q_wait_room(struct wqueue *q, uint64_t head, uint64_t need)
{
	if (q->size - (head - atomic_load(&q->tail)) >= need)
		return;
	stat_add(&q->waits, 1);
	/* The consumer may sleep on records nobody woke it for yet. */
	q_kick(q);
	pthread_mutex_lock(&q->mu);
	/* Flag first, then re-check: the consumer stores tail, then reads the flag, so one of
	 * us sees the other (both seq_cst) and no wake-up is lost. */
	atomic_store(&q->prod_waiting, 1);
	while (q->size - (head - atomic_load(&q->tail)) < need)
		pthread_cond_wait(&q->cv_room, &q->mu);
	atomic_store(&q->prod_waiting, 0);
	pthread_mutex_unlock(&q->mu);
}

/* Appends [rec_hdr type][a][b] as one record, waiting for room. */
static void q_push(struct wqueue *q, uint32_t type, const void *a, size_t alen, const void *b,
		   size_t blen)
{
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint64_t off = head & (q->size - 1), contig = q->size - off;
	uint32_t need = (sizeof(struct rec_hdr) + alen + blen + REC_ALIGN - 1) & ~(REC_ALIGN - 1);
	struct rec_hdr *r;

	q_wait_room(q, head, need <= contig ? need : contig + need);
	if (need > contig) {
		r = (struct rec_hdr *)(q->buf + off);
		r->len = contig;
		r->type = REC_WRAP;
		head += contig;
		off = 0;
	}
	r = (struct rec_hdr *)(q->buf + off);
	r->len = need;
	r->type = type;
	if (alen)
		memcpy(r + 1, a, alen);
	if (blen)
		memcpy((uint8_t *)(r + 1) + alen, b, blen);
	atomic_store(&q->head, head + need);
	stat_add(&q->routed_bytes, need);
	q->unkicked += need;
	if (q->unkicked >= KICK_BYTES || type != REC_SEG)
		q_kick(q);
}

int worker_pool_route(struct worker_pool *p, const struct mp_seg_hdr *h, const uint8_t *payload)
{
	struct wqueue *q;

	if (h->caplen > MP_MAX_CAPLEN)
		return -EINVAL;
	if (p->inline_mode) {
		p->inline_st.routed++;
		p->inline_st.routed_bytes += sizeof(*h) + h->caplen;
		p->ops.segment(p->inline_state, h, payload);
		return 0;
	}
	q = &p->q[worker_pool_pick(p, h)];
	stat_add(&q->routed, 1);
	q_push(q, REC_SEG, h, sizeof(*h), payload, h->caplen);
	return 0;
}

void worker_pool_kick(struct worker_pool *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->q[i].unkicked)
			q_kick(&p->q[i]);
}

/* ---- consumer ---- */

/* Records usually come in bursts: look again a few times before paying for a sleep. */
#define Q_SPIN 200

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void q_wait_data(struct wqueue *q, uint64_t tail)
{
	int i;

	for (i = 0; i < Q_SPIN; i++) {
		if (atomic_load_explicit(&q->head, memory_order_relaxed) != tail)
			return;
		cpu_relax();
	}
	pthread_mutex_lock(&q->mu);
	atomic_store(&q->cons_waiting, 1);
	while (atomic_load(&q->head) == tail)
		pthread_cond_wait(&q->cv_data, &q->mu);
	atomic_store(&q->cons_waiting, 0);
	pthread_mutex_unlock(&q->mu);
}

static void barrier_run(struct barrier *b, void *wstate)
{
	b->fn(wstate, b->arg);
	pthread_mutex_lock(&b->mu);
	if (--b->remaining == 0)
		pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Runs one record; returns 1 for STOP. */
static int q_run_record(struct wqueue *q, void *wstate, const struct rec_hdr *r)
{
	const struct worker_ops *ops = &q->pool->ops;

	switch (r->type) {
	case REC_SEG: {
		const struct mp_seg_hdr *h = (const void *)(r + 1);

		ops->segment(wstate, h, (const uint8_t *)(h + 1));
		break;
	}
	case REC_BARRIER: {
		struct barrier *b;

		memcpy(&b, r + 1, sizeof(b));
		barrier_run(b, wstate);
		break;
	}
	case REC_STOP:
		return 1;
	default:
		break;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct wqueue *q = arg;
	struct worker_pool *p = q->pool;
	void *wstate = p->ops.init ? p->ops.init(p->arg, q->idx) : NULL;
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
	int stop = 0;

	while (!stop) {
		uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);

		if (head == tail) {
			q_wait_data(q, tail);
			continue;
		}
		while (tail != head && !stop) {
			const struct rec_hdr *r = (const void *)(q->buf + (tail & (q->size - 1)));

			stop = q_run_record(q, wstate, r);
			tail += r->len;
			/* Same pairing as q_wait_room: store, then look at the flag. */
			atomic_store(&q->tail, tail);
			if (atomic_load(&q->prod_waiting)) {
				pthread_mutex_lock(&q->mu);
				pthread_cond_signal(&q->cv_room);
				pthread_mutex_unlock(&q->mu);
			}
		}
	}
	if (p->ops.fini)
		p->ops.fini(wstate);
	return NULL;
}

/* ---- pool ---- */

int worker_pool_barrier(struct worker_pool *p, void (*fn)(void *wstate, void *arg), void *arg)
{
	struct barrier b = { .remaining = p->n, .fn = fn, .arg = arg };
	struct barrier *bp = &b;
	int i;

	if (p->inline_mode) {
		fn(p->inline_state, arg);
		return 0;
	}
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	for (i = 0; i < p->n; i++)
		q_push(&p->q[i], REC_BARRIER, &bp, sizeof(bp), NULL, 0);
	pthread_mutex_lock(&b.mu);
	while (b.remaining > 0)
		pthread_cond_wait(&b.cv, &b.mu);
	pthread_mutex_unlock(&b.mu);
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	return 0;
}

static uint64_t queue_size(size_t want)
{
	uint64_t size = 1;

	if (want < 2 * REC_MAX)
		want = 2 * REC_MAX;
	while (size < want)
		size <<= 1;
	return size;
}

static int q_start(struct worker_pool *p, struct wqueue *q, int idx, uint64_t size)
{
	int err;

	q->pool = p;
	q->idx = idx;
	q->size = size;
	q->buf = malloc(size);
	if (!q->buf)
		return -ENOMEM;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv_data, NULL);
	pthread_cond_init(&q->cv_room, NULL);
	err = pthread_create(&q->thr, NULL, worker_main, q);
	if (err)
		return -err;
	q->started = 1;
	return 0;
}

struct worker_pool *worker_pool_new(int n, size_t queue_bytes, const struct worker_ops *ops,
				    void *arg)
{
	struct worker_pool *p;
	uint64_t size = queue_size(queue_bytes);
	int i, err = 0;

	if (n < 0 || n > 1024 || !ops || !ops->segment) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	p->ops = *ops;
	p->arg = arg;
	if (n <= 1) {
		p->inline_mode = 1;
		p->inline_state = ops->init ? ops->init(arg, 0) : NULL;
		return p;
	}
	/* Aligned so the producer's and consumer's cursors never share a cache line. */
	err = -posix_memalign((void **)&p->q, 64, n * sizeof(*p->q));
	if (err)
		goto cleanup;
	memset(p->q, 0, n * sizeof(*p->q));
	p->n = n;
	for (i = 0; i < n && !err; i++)
		err = q_start(p, &p->q[i], i, size);
cleanup:
	if (err) {
		worker_pool_free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

int worker_pool_size(const struct worker_pool *p)
{
	return p->n ? p->n : 1;
}

void worker_pool_stats(const struct worker_pool *p, int idx, struct worker_stats *st)
{
	if (p->inline_mode)
		*st = p->inline_st;
	else if (idx >= 0 && idx < p->n) {
		const struct wqueue *q = &p->q[idx];

		st->routed = atomic_load_explicit(&q->routed, memory_order_relaxed);
		st->routed_bytes = atomic_load_explicit(&q->routed_bytes, memory_order_relaxed);
		st->waits = atomic_load_explicit(&q->waits, memory_order_relaxed);
	} else
		memset(st, 0, sizeof(*st));
}

void worker_pool_free(struct worker_pool *p)
{
	int i;

	if (!p)
		return;
	if (p->inline_mode && p->ops.fini)
		p->ops.fini(p->inline_state);
	for (i = 0; i < p->n; i++) {
		struct wqueue *q = &p->q[i];

		if (q->started) {
			q_push(q, REC_STOP, NULL, 0, NULL, 0);
			pthread_join(q->thr, NULL);
		}
		if (q->buf) {
			pthread_cond_destroy(&q->cv_room);
			pthread_cond_destroy(&q->cv_data);
			pthread_mutex_destroy(&q->mu);
		}
		free(q->buf);
	}
	free(p->q);
	free(p);
}
