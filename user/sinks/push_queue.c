// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The pusher's queue: the newest reports in memory, the older ones in a bounded spool. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/push_queue.h"
#include "sinks/spool.h"

/* A spooled message is its seq (8 bytes, little-endian) then the message. */
#define PQ_HDR 8
#define PQ_TABLE "report"

struct pq_msg {
	uint64_t seq;
	unsigned char *data;
	size_t len;
};

struct push_queue {
	struct spool *spool;
	bool has_dir;
	struct pq_msg *mem; /* ring of mem_max */
	size_t mem_max, head, n;
	struct buf tmp;
	_Atomic uint64_t len;
};

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

struct push_queue *push_queue_open(const char *dir, uint64_t spool_bytes, size_t mem_max)
{
	struct push_queue *q;

	if (!mem_max) {
		errno = EINVAL;
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->mem_max = mem_max;
	q->has_dir = dir && *dir;
	q->mem = calloc(mem_max, sizeof(*q->mem));
	q->spool = q->mem ? spool_open(dir, spool_bytes) : NULL;
	if (!q->spool) {
		int e = errno ? errno : ENOMEM;

		free(q->mem);
		free(q);
		errno = e;
		return NULL;
	}
	atomic_store(&q->len, spool_batches(q->spool));
	return q;
}

/* Spools one message, dropping the spool's oldest until it fits. Returns the drops (this one
 * included when it cannot fit in an empty spool), or -ENOMEM. */
static int spool_in(struct push_queue *q, const struct pq_msg *m)
{
	int dropped = 0, err;

	buf_reset(&q->tmp);
	if (buf_reserve(&q->tmp, PQ_HDR + m->len))
		return -ENOMEM;
	put_le64((unsigned char *)q->tmp.data, m->seq);
	memcpy(q->tmp.data + PQ_HDR, m->data, m->len);
	q->tmp.len = PQ_HDR + m->len;
	for (;;) {
		err = spool_put(q->spool, PQ_TABLE, 1, q->tmp.data, q->tmp.len);
		if (!err)
			return dropped;
		if (err != -ENOSPC || !spool_batches(q->spool))
			return dropped + 1; /* too large for the bound, or the disk failed: lost */
		spool_pop(q->spool);
		dropped++;
	}
}

static void mem_free(struct pq_msg *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

int push_queue_put(struct push_queue *q, uint64_t seq, const void *data, size_t len)
{
	struct pq_msg *slot;
	int dropped = 0;

	if (q->n == q->mem_max) {
		/* The oldest in memory is newer than everything spooled: it goes to the spool's end. */
		struct pq_msg *old = &q->mem[q->head];

		dropped = spool_in(q, old);
		if (dropped < 0)
			return dropped;
		mem_free(old);
		q->head = (q->head + 1) % q->mem_max;
		q->n--;
	}
	slot = &q->mem[(q->head + q->n) % q->mem_max];
	slot->data = malloc(len ? len : 1);
	if (!slot->data)
		return -ENOMEM;
	memcpy(slot->data, data, len);
	slot->len = len;
	slot->seq = seq;
	q->n++;
	atomic_store(&q->len, q->n + spool_batches(q->spool));
	return dropped;
}

int push_queue_peek(struct push_queue *q, uint64_t *seq, struct buf *msg)
{
	const char *table;
	size_t rows;
	int err;

	if (spool_batches(q->spool)) {
		err = spool_peek(q->spool, &table, &rows, &q->tmp);
		if (err)
			return err;
		if (q->tmp.len < PQ_HDR)
			return -EINVAL;
		*seq = get_le64((const unsigned char *)q->tmp.data);
		buf_reset(msg);
		return buf_append(msg, q->tmp.data + PQ_HDR, q->tmp.len - PQ_HDR);
	}
	if (!q->n)
		return -ENOENT;
	*seq = q->mem[q->head].seq;
	buf_reset(msg);
	return buf_append(msg, q->mem[q->head].data, q->mem[q->head].len);
}

void push_queue_pop(struct push_queue *q)
{
	if (spool_batches(q->spool)) {
		spool_pop(q->spool);
	} else if (q->n) {
		mem_free(&q->mem[q->head]);
		q->head = (q->head + 1) % q->mem_max;
		q->n--;
	}
	atomic_store(&q->len, q->n + spool_batches(q->spool));
}

uint64_t push_queue_len(const struct push_queue *q)
{
	return atomic_load(&q->len);
}

uint64_t push_queue_spool_bytes(const struct push_queue *q)
{
	return spool_bytes(q->spool);
}

uint64_t push_queue_close(struct push_queue *q)
{
	uint64_t lost = 0;
	int n;

	if (!q)
		return 0;
	while (q->n) {
		struct pq_msg *m = &q->mem[q->head];

		/* With a dir the next start pushes them; in memory they end here. */
		n = q->has_dir ? spool_in(q, m) : 1;
		lost += n < 0 ? 1 : (uint64_t)n;
		mem_free(m);
		q->head = (q->head + 1) % q->mem_max;
		q->n--;
	}
	if (!q->has_dir)
		lost += spool_batches(q->spool);
	spool_close(q->spool);
	buf_free(&q->tmp);
	free(q->mem);
	free(q);
	return lost;
}
