// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Mergeable latency histogram with fixed log-linear buckets, in microseconds. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/hist.h"
#include "lib/jread.h"

#define GROUP_BYTES (HIST_SUB * sizeof(uint32_t))

uint64_t hist_bucket_lower(unsigned int i)
{
	unsigned int g = i / HIST_SUB;

	if (i < 2 * HIST_SUB)
		return i;
	return (uint64_t)(HIST_SUB + i % HIST_SUB) << (g - 1);
}

uint64_t hist_bucket_upper(unsigned int i)
{
	unsigned int g = i / HIST_SUB;

	if (i < 2 * HIST_SUB)
		return i;
	return hist_bucket_lower(i) + (1ull << (g - 1)) - 1;
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static uint32_t *pool_get(struct hist_pool *pool)
{
	uint32_t *g;

	if (!pool || !pool->free_list)
		return calloc(HIST_SUB, sizeof(uint32_t));
	g = pool->free_list;
	memcpy(&pool->free_list, g, sizeof(void *));
	pool->free_count--;
	memset(g, 0, GROUP_BYTES);
	return g;
}

/* A free group stores the next free group's address in its first bytes. */
static void pool_put(struct hist_pool *pool, uint32_t *g)
{
	if (!pool) {
		free(g);
		return;
	}
	memcpy(g, &pool->free_list, sizeof(void *));
	pool->free_list = g;
	pool->free_count++;
}

void hist_pool_drain(struct hist_pool *pool)
{
	uint32_t *g;

	if (!pool)
		return;
	while ((g = pool->free_list)) {
		memcpy(&pool->free_list, g, sizeof(void *));
		free(g);
	}
	pool->free_count = 0;
}

void hist_reset(struct hist *h, struct hist_pool *pool)
{
	unsigned int g;

	for (g = 0; g < HIST_GROUPS; g++)
		if (h->grp[g])
			pool_put(pool, h->grp[g]);
	hist_init(h);
}

/* Counter of bucket i, allocating its group on first use; NULL on allocation failure. */
static uint32_t *hist_slot(struct hist *h, struct hist_pool *pool, unsigned int i)
{
	unsigned int g = i / HIST_SUB;

	if (!h->grp[g]) {
		h->grp[g] = pool_get(pool);
		if (!h->grp[g])
			return NULL;
	}
	return &h->grp[g][i % HIST_SUB];
}

uint64_t hist_bucket_count(const struct hist *h, unsigned int i)
{
	const uint32_t *g;

	if (i >= HIST_BUCKETS)
		return 0;
	g = h->grp[i / HIST_SUB];
	return g ? g[i % HIST_SUB] : 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t sat_add32(uint32_t a, uint64_t b)
{
	return b > UINT32_MAX - a ? UINT32_MAX : (uint32_t)(a + b);
}

/* Folds the sum/min/max of parsed buckets into h, which held prev_count values before. */
static void hist_add_summary(struct hist *h, uint64_t prev_count, uint64_t sum, uint64_t min,
			     uint64_t max)
{
	h->sum = sat_add(h->sum, sum);
	if (!prev_count || min < h->min)
		h->min = min;
	if (max > h->max)
		h->max = max;
}

int hist_add(struct hist *h, struct hist_pool *pool, uint64_t v)
{
	uint32_t *slot = hist_slot(h, pool, hist_bucket(v));

	if (!slot)
		return -ENOMEM;
	if (*slot != UINT32_MAX)
		(*slot)++;
	if (!h->count || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum = sat_add(h->sum, v);
	return 0;
}

int hist_merge(struct hist *dst, struct hist_pool *pool, const struct hist *src)
{
	unsigned int g, s;

	if (!src->count)
		return 0;
	for (g = 0; g < HIST_GROUPS; g++) {
		if (!src->grp[g])
			continue;
		if (!dst->grp[g]) {
			dst->grp[g] = pool_get(pool);
			if (!dst->grp[g])
				return -ENOMEM;
		}
		for (s = 0; s < HIST_SUB; s++)
			dst->grp[g][s] = sat_add32(dst->grp[g][s], src->grp[g][s]);
	}
	if (!dst->count || src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum = sat_add(dst->sum, src->sum);
	return 0;
}

uint64_t hist_percentile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0, c, mid;
	unsigned int i;

	if (!h->count)
		return 0;
	if (!(q > 0))
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		if (!h->grp[i / HIST_SUB]) {
			i += HIST_SUB - 1; /* skip the empty group */
			continue;
		}
		c = h->grp[i / HIST_SUB][i % HIST_SUB];
		seen += c;
		if (c && seen >= rank)
			break;
	}
	if (i >= HIST_BUCKETS)
		return h->max; /* counts and count disagree (bad parsed input): stay in range */
	mid = hist_bucket_lower(i) + (hist_bucket_upper(i) - hist_bucket_lower(i)) / 2;
	if (mid < h->min)
		mid = h->min;
	if (mid > h->max)
		mid = h->max;
	return mid;
}

int hist_add_bucket(struct hist *h, struct hist_pool *pool, uint64_t upper_us, uint64_t count)
{
	unsigned int i = hist_bucket(upper_us);
	uint32_t *slot;

	if (upper_us > HIST_MAX_US || hist_bucket_upper(i) != upper_us)
		return -EINVAL;
	if (!count)
		return 0;
	slot = hist_slot(h, pool, i);
	if (!slot)
		return -ENOMEM;
	*slot = sat_add32(*slot, count);
	h->count = sat_add(h->count, count);
	return 0;
}

int hist_bucket_of_upper(uint64_t upper_us, uint32_t *i)
{
	*i = hist_bucket(upper_us);
	return upper_us > HIST_MAX_US || hist_bucket_upper(*i) != upper_us ? -EINVAL : 0;
}

int hist_merge_cells(struct hist *h, struct hist_pool *pool, const struct hist_cell *c, size_t n,
		     bool summary, uint64_t sum, uint64_t min, uint64_t max)
{
	uint64_t before = h->count;
	uint32_t *slot;

	for (size_t k = 0; k < n; k++) {
		if (!c[k].count)
			continue;
		slot = hist_slot(h, pool, c[k].i);
		if (!slot)
			return -ENOMEM;
		*slot = sat_add32(*slot, c[k].count);
		h->count = sat_add(h->count, c[k].count);
	}
	if (summary && h->count != before)
		hist_add_summary(h, before, sum, min, max);
	return 0;
}

void hist_write_sparse(const struct hist *h, struct jbuf *b)
{
	unsigned int g, s;

	jbuf_arr_open(b);
	for (g = 0; g < HIST_GROUPS; g++) {
		if (!h->grp[g])
			continue;
		for (s = 0; s < HIST_SUB; s++) {
			if (!h->grp[g][s])
				continue;
			jbuf_arr_open(b);
			jbuf_u64(b, hist_bucket_upper(g * HIST_SUB + s));
			jbuf_u64(b, h->grp[g][s]);
			jbuf_arr_close(b);
		}
	}
	jbuf_arr_close(b);
}

void hist_write_json(const struct hist *h, struct jbuf *b)
{
	jbuf_obj_open(b);
	jbuf_key(b, "sum");
	jbuf_u64(b, h->sum);
	jbuf_key(b, "min");
	jbuf_u64(b, h->min);
	jbuf_key(b, "max");
	jbuf_u64(b, h->max);
	jbuf_key(b, "p50");
	jbuf_u64(b, hist_percentile(h, 0.50));
	jbuf_key(b, "p95");
	jbuf_u64(b, hist_percentile(h, 0.95));
	jbuf_key(b, "p99");
	jbuf_u64(b, hist_percentile(h, 0.99));
	jbuf_key(b, "hist");
	hist_write_sparse(h, b);
	jbuf_obj_close(b);
}

/* Merges a sparse [[upper, count], ...] node. */
static int hist_parse_sparse(struct hist *h, struct hist_pool *pool, struct jread *r,
			     jnode_t *arr)
{
	uint64_t upper, count;
	jnode_t *pair;
	size_t i, n;
	int err;

	if (!jread_is_arr(arr))
		return -EINVAL;
	n = jread_len(arr);
	for (i = 0; i < n; i++) {
		pair = jread_at(r, arr, i);
		if (jread_len(pair) != 2 || jread_u64(jread_at(r, pair, 0), &upper) ||
		    jread_u64(jread_at(r, pair, 1), &count))
			return -EINVAL;
		err = hist_add_bucket(h, pool, upper, count);
		if (err)
			return err;
	}
	return 0;
}

int hist_parse_node(struct hist *h, struct hist_pool *pool, struct jread *r, jnode_t *n)
{
	uint64_t sum, min, max, before = h->count;
	int err;

	if (jread_is_arr(n))
		return hist_parse_sparse(h, pool, r, n);
	if (jread_u64(jread_get(r, n, "sum"), &sum) || jread_u64(jread_get(r, n, "min"), &min) ||
	    jread_u64(jread_get(r, n, "max"), &max) || min > max)
		return -EINVAL;
	err = hist_parse_sparse(h, pool, r, jread_get(r, n, "hist"));
	if (err)
		return err;
	if (h->count != before)
		hist_add_summary(h, before, sum, min, max);
	return 0;
}

int hist_parse_json(struct hist *h, struct hist_pool *pool, const char *json, size_t len)
{
	struct jread r;
	int err;

	err = jread_load(&r, json, len);
	if (!err)
		err = hist_parse_node(h, pool, &r, jread_root(&r));
	jread_free(&r);
	return err;
}
