// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The report bus: closed reports by seq in a bounded history each output reads at its own pace. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/bus.h"

struct bus_item {
	atomic_uint refs;
	uint64_t seq;
	size_t bytes;
	void *obj;
};

struct bus_reader {
	struct bus_reader *lnext, *lprev; /* bus->readers */
	struct bus *bus;
	struct bus_reader_config cfg;
	int kind; /* index into bus->kinds */
	/*
	 * next: the seq after the last one read (or after since), what *lost is measured from.
	 * from: the first seq it may still read; past next when the queue bound dropped reports.
	 */
	uint64_t next, from;
	uint64_t dropped;
};

struct bus {
	struct bus_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t more; /* a report was published or the bus closed */
	pthread_cond_t space; /* a reader read: a lossless reader may have room */
	/* The history, oldest first: ring[(head + i) % cap] for i < n. */
	struct bus_item **ring;
	size_t cap, head, n, bytes;
	uint64_t last_seq, published;
	bool closed;
	struct bus_reader *readers;
	size_t nkinds;
	struct bus_kind_stats kinds[BUS_MAX_KINDS];
};

static struct bus_item *ring_at(const struct bus *b, size_t i)
{
	return b->ring[(b->head + i) % b->cap];
}

/* Index of the first held report with seq >= seq (n when there is none). */
static size_t ring_find(const struct bus *b, uint64_t seq)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ring_at(b, mid)->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t reader_pos(const struct bus_reader *r)
{
	return r->from > r->next ? r->from : r->next;
}

/* Reports held that r has not read. Call with the lock held. */
static size_t reader_lag(const struct bus_reader *r)
{
	const struct bus *b = r->bus;

	return b->n - ring_find(b, reader_pos(r));
}

static void count_drops(struct bus_reader *r, uint64_t n)
{
	r->dropped += n;
	r->bus->kinds[r->kind].dropped += n;
}

struct bus *bus_new(const struct bus_config *cfg)
{
	struct bus *b;

	if (!cfg || !cfg->history) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->cfg = *cfg;
	b->cap = 16;
	b->ring = calloc(b->cap, sizeof(*b->ring));
	if (!b->ring) {
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->more, NULL);
	pthread_cond_init(&b->space, NULL);
	return b;
}

void bus_item_put(struct bus *b, struct bus_item *it)
{
	if (!it || atomic_fetch_sub(&it->refs, 1) != 1)
		return;
	if (b->cfg.free_obj)
		b->cfg.free_obj(it->obj);
	free(it);
}

void bus_free(struct bus *b)
{
	if (!b)
		return;
	while (b->n) {
		bus_item_put(b, ring_at(b, 0));
		b->head = (b->head + 1) % b->cap;
		b->n--;
	}
	free(b->ring);
	pthread_cond_destroy(&b->more);
	pthread_cond_destroy(&b->space);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static int ring_grow(struct bus *b)
{
	size_t cap = b->cap * 2, i;
	struct bus_item **ring = calloc(cap, sizeof(*ring));

	if (!ring)
		return -ENOMEM;
	for (i = 0; i < b->n; i++)
		ring[i] = ring_at(b, i);
	free(b->ring);
	b->ring = ring;
	b->cap = cap;
	b->head = 0;
	return 0;
}

/* A lossless reader with a full queue holds the publisher back. Call with the lock held. */
static bool lossless_full(const struct bus *b)
{
	const struct bus_reader *r;

	for (r = b->readers; r; r = r->lnext)
		if (r->cfg.lossless && reader_lag(r) >= r->cfg.queue)
			return true;
	return false;
}

/* Whether the oldest report may leave the history. Call with the lock held. */
static bool may_evict(const struct bus *b)
{
	const struct bus_reader *r;
	uint64_t seq;

	if (b->n <= 1)
		return false; /* the newest report is always kept */
	if (b->n <= b->cfg.history && (!b->cfg.history_bytes || b->bytes <= b->cfg.history_bytes))
		return false;
	seq = ring_at(b, 0)->seq;
	for (r = b->readers; r; r = r->lnext)
		if (r->cfg.lossless && reader_pos(r) <= seq)
			return false;
	return true;
}

static void evict(struct bus *b)
{
	while (may_evict(b)) {
		struct bus_item *it = ring_at(b, 0);
		struct bus_reader *r;

		/* Every reader that had not read it loses it. */
		for (r = b->readers; r; r = r->lnext)
			if (reader_pos(r) <= it->seq)
				count_drops(r, 1);
		b->head = (b->head + 1) % b->cap;
		b->n--;
		b->bytes -= it->bytes;
		bus_item_put(b, it);
	}
}

/* Readers lagging more than their queue lose their oldest unread reports. */
static void enforce_queues(struct bus *b)
{
	struct bus_reader *r;

	for (r = b->readers; r; r = r->lnext) {
		size_t lag;

		if (!r->cfg.queue || r->cfg.lossless)
			continue;
		lag = reader_lag(r);
		if (lag <= r->cfg.queue)
			continue;
		count_drops(r, lag - r->cfg.queue);
		r->from = ring_at(b, b->n - r->cfg.queue)->seq;
	}
}

int bus_publish(struct bus *b, uint64_t seq, void *obj, size_t bytes)
{
	struct bus_item *it = malloc(sizeof(*it));
	struct bus_reader *r;
	int err = 0;

	pthread_mutex_lock(&b->lock);
	while (!b->closed && lossless_full(b))
		pthread_cond_wait(&b->space, &b->lock);
	if (!it)
		err = -ENOMEM;
	else if (b->closed)
		err = -ESHUTDOWN;
	else if (seq <= b->last_seq)
		err = -EINVAL;
	else if (b->n == b->cap)
		err = ring_grow(b);
	if (err) {
		pthread_mutex_unlock(&b->lock);
		free(it);
		if (b->cfg.free_obj)
			b->cfg.free_obj(obj);
		return err;
	}
	atomic_init(&it->refs, 1);
	it->seq = seq;
	it->bytes = bytes;
	it->obj = obj;
	b->ring[(b->head + b->n) % b->cap] = it;
	b->n++;
	b->bytes += bytes;
	b->last_seq = seq;
	b->published++;
	evict(b);
	enforce_queues(b);
	for (r = b->readers; r; r = r->lnext)
		if (r->cfg.wake)
			r->cfg.wake(r->cfg.ctx);
	pthread_cond_broadcast(&b->more);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void bus_close(struct bus *b)
{
	pthread_mutex_lock(&b->lock);
	b->closed = true;
	pthread_cond_broadcast(&b->more);
	pthread_cond_broadcast(&b->space);
	pthread_mutex_unlock(&b->lock);
}

/* Index of kind in b->kinds, added if new; -ENOSPC when full. Call with the lock held. */
static int kind_index(struct bus *b, const char *kind)
{
	size_t i;

	for (i = 0; i < b->nkinds; i++)
		if (!strcmp(b->kinds[i].kind, kind))
			return (int)i;
	if (b->nkinds == BUS_MAX_KINDS)
		return -ENOSPC;
	snprintf(b->kinds[i].kind, BUS_KIND_LEN, "%s", kind);
	b->nkinds++;
	return (int)i;
}

/* Where a reader starting after since begins, per bus_reader_new()'s contract. */
static uint64_t start_after(const struct bus *b, uint64_t since)
{
	if (since > b->last_seq)
		return 1; /* an earlier run's seq: everything this run still holds */
	return since + 1;
}

struct bus_reader *bus_reader_new(struct bus *b, const struct bus_reader_config *cfg)
{
	struct bus_reader *r;
	int kind;

	if (!cfg || !cfg->kind || strlen(cfg->kind) >= BUS_KIND_LEN ||
	    (cfg->lossless && !cfg->queue)) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->bus = b;
	r->cfg = *cfg;
	r->cfg.kind = NULL; /* not kept: the kind's name lives in b->kinds */
	pthread_mutex_lock(&b->lock);
	kind = kind_index(b, cfg->kind);
	if (kind < 0) {
		pthread_mutex_unlock(&b->lock);
		free(r);
		errno = -kind;
		return NULL;
	}
	r->kind = kind;
	b->kinds[kind].readers++;
	r->next = cfg->start == BUS_START_AFTER ? start_after(b, cfg->since) : b->last_seq + 1;
	r->from = r->next;
	r->lnext = b->readers;
	if (b->readers)
		b->readers->lprev = r;
	b->readers = r;
	pthread_mutex_unlock(&b->lock);
	return r;
}

void bus_reader_free(struct bus_reader *r)
{
	struct bus *b;

	if (!r)
		return;
	b = r->bus;
	pthread_mutex_lock(&b->lock);
	if (r->lprev)
		r->lprev->lnext = r->lnext;
	else
		b->readers = r->lnext;
	if (r->lnext)
		r->lnext->lprev = r->lprev;
	b->kinds[r->kind].readers--;
	/* A lossless reader going away may release the publisher. */
	pthread_cond_broadcast(&b->space);
	pthread_mutex_unlock(&b->lock);
	free(r);
}

/* Takes the next report for r if there is one. Call with the lock held. */
static int read_locked(struct bus_reader *r, struct bus_item **item, uint64_t *lost)
{
	struct bus *b = r->bus;
	size_t i = ring_find(b, reader_pos(r));
	struct bus_item *it;

	if (i == b->n)
		return b->closed ? -ESHUTDOWN : -EAGAIN;
	it = ring_at(b, i);
	atomic_fetch_add(&it->refs, 1);
	*item = it;
	*lost = it->seq - r->next;
	r->next = r->from = it->seq + 1;
	b->kinds[r->kind].delivered++;
	pthread_cond_broadcast(&b->space);
	return 0;
}

int bus_read(struct bus_reader *r, struct bus_item **item, uint64_t *lost)
{
	int err;

	pthread_mutex_lock(&r->bus->lock);
	err = read_locked(r, item, lost);
	pthread_mutex_unlock(&r->bus->lock);
	return err;
}

int bus_read_wait(struct bus_reader *r, struct bus_item **item, uint64_t *lost,
		  unsigned timeout_ms)
{
	struct bus *b = r->bus;
	struct timespec dl;
	int err, rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->lock);
	while ((err = read_locked(r, item, lost)) == -EAGAIN && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&b->more, &b->lock, &dl);
	pthread_mutex_unlock(&b->lock);
	return err == -EAGAIN ? -ETIMEDOUT : err;
}

void *bus_item_obj(const struct bus_item *it)
{
	return it->obj;
}

size_t bus_item_bytes(const struct bus_item *it)
{
	return it->bytes;
}

uint64_t bus_item_seq(const struct bus_item *it)
{
	return it->seq;
}

uint64_t bus_pending(struct bus *b, const void *owner)
{
	const struct bus_reader *r;
	uint64_t n = 0;

	pthread_mutex_lock(&b->lock);
	for (r = b->readers; r; r = r->lnext)
		if (!owner || r->cfg.owner == owner)
			n += reader_lag(r);
	pthread_mutex_unlock(&b->lock);
	return n;
}

void bus_get_stats(struct bus *b, struct bus_stats *out)
{
	pthread_mutex_lock(&b->lock);
	out->published = b->published;
	out->last_seq = b->last_seq;
	out->oldest_seq = b->n ? ring_at(b, 0)->seq : 0;
	out->held = b->n;
	out->held_bytes = b->bytes;
	out->nkinds = b->nkinds;
	memcpy(out->kinds, b->kinds, sizeof(out->kinds));
	pthread_mutex_unlock(&b->lock);
}

uint64_t bus_reader_dropped(struct bus_reader *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->bus->lock);
	n = r->dropped;
	pthread_mutex_unlock(&r->bus->lock);
	return n;
}

uint64_t bus_reader_lag(struct bus_reader *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->bus->lock);
	n = reader_lag(r);
	pthread_mutex_unlock(&r->bus->lock);
	return n;
}

void bus_reader_count_lost(struct bus_reader *r, uint64_t n)
{
	pthread_mutex_lock(&r->bus->lock);
	count_drops(r, n);
	pthread_mutex_unlock(&r->bus->lock);
}
