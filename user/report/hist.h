/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Mergeable latency histogram with fixed log-linear buckets, in microseconds. */
#ifndef MP_HIST_H
#define MP_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/jbuf.h"
#include "lib/jread.h"

/*
 * Bucket layout (fixed, so histograms from any worker or host merge by adding counts):
 *
 *   values are integer microseconds; HIST_SUB = 64 linear sub-buckets per power of two.
 *   bucket i, 0 <= i < 128:        holds exactly the value i                (width 1)
 *   bucket i = 64*g + s, g >= 2:   holds [(64+s) << (g-1), (65+s) << (g-1) - 1]
 *                                  with s in 0..63, g in 2..26               (width 2^(g-1))
 *
 * so a value v >= 64 lands in g = floor(log2 v) - 5, i = 64*(g-1) + (v >> (g-1)).
 * There are HIST_BUCKETS = 27*64 = 1728 buckets covering 0 .. 2^32-1 µs (71.6 minutes);
 * larger values are counted in the last bucket (sum and max stay exact).
 * A bucket is named by its inclusive upper bound ("le", as in Prometheus): bucket i holds
 * the values v with upper(i-1) < v <= upper(i).
 *
 * Precision: a bucket is at most 1/64 of its lower bound wide, and percentiles report the
 * bucket's midpoint (clamped to [min, max]), so a percentile is within 1/128 (0.79%) of the
 * exact nearest-rank value.
 *
 * Storage is sparse by group (64 counters per power of two, allocated on first use) because
 * one statement key rarely spans more than a few powers of two, and an aggregator holds
 * thousands of keys. Groups come from a hist_pool so a period reset recycles them.
 * Bucket counters are 32-bit and saturate (4 billion values of one key in one bucket in one
 * period is beyond any real load); count and sum are 64-bit.
 */
#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_GROUPS 27
#define HIST_BUCKETS (HIST_GROUPS * HIST_SUB)
#define HIST_MAX_US ((1ull << 32) - 1)

struct hist {
	uint64_t count;
	uint64_t sum; /* saturates at UINT64_MAX */
	uint64_t min; /* 0 when count == 0 */
	uint64_t max;
	uint32_t *grp[HIST_GROUPS]; /* HIST_SUB counters each; NULL = all zero */
};

/* Recycles histogram groups between periods; NULL means plain calloc/free. */
struct hist_pool {
	void *free_list;
	size_t free_count;
};

/* Bucket index of a value (values above HIST_MAX_US map to the last bucket). */
static inline unsigned int hist_bucket(uint64_t v)
{
	unsigned int g;

	if (v > HIST_MAX_US)
		v = HIST_MAX_US;
	if (v < 2 * HIST_SUB)
		return (unsigned int)v;
	g = 63 - __builtin_clzll(v) - (HIST_SUB_BITS - 1);
	return HIST_SUB * (g - 1) + (unsigned int)(v >> (g - 1));
}

/* Smallest value of bucket i (i < HIST_BUCKETS). */
uint64_t hist_bucket_lower(unsigned int i);
/* Largest value of bucket i (inclusive upper bound, the number exported in "hist"). */
uint64_t hist_bucket_upper(unsigned int i);

void hist_init(struct hist *h);
/* Returns every group to the pool (or frees it when pool is NULL) and zeroes h. */
void hist_reset(struct hist *h, struct hist_pool *pool);
/* Frees the pool's cached groups. Accepts NULL. */
void hist_pool_drain(struct hist_pool *pool);

/* Records one value. Returns 0, or -ENOMEM (nothing recorded). */
int hist_add(struct hist *h, struct hist_pool *pool, uint64_t v);
/* dst += src (counts, sum, min, max). Returns 0 or -ENOMEM (dst may be partly merged). */
int hist_merge(struct hist *dst, struct hist_pool *pool, const struct hist *src);
/* Count held by bucket i. */
uint64_t hist_bucket_count(const struct hist *h, unsigned int i);

/*
 * Nearest-rank percentile (q in 0..1; rank ceil(q*count)) as the bucket midpoint clamped to
 * [min, max]. Returns 0 for an empty histogram.
 */
uint64_t hist_percentile(const struct hist *h, double q);

/*
 * Adds count values to the bucket whose inclusive upper bound is upper_us, leaving sum, min
 * and max alone (the sparse form carries them separately). Returns 0, -EINVAL if upper_us is
 * not a bucket bound, or -ENOMEM.
 */
int hist_add_bucket(struct hist *h, struct hist_pool *pool, uint64_t upper_us, uint64_t count);

/* One bucket's count as read from a report (bucket index, not bound). */
struct hist_cell {
	uint64_t count;
	uint32_t i; /* < HIST_BUCKETS */
};

/* The bucket whose inclusive upper bound is upper_us: 0, or -EINVAL when none is. */
int hist_bucket_of_upper(uint64_t upper_us, uint32_t *i);

/*
 * Adds cells to h and, when summary is true and a cell counted anything, folds sum, min and
 * max in as hist_parse_node does. Returns 0 or -ENOMEM (h may be partly merged).
 */
int hist_merge_cells(struct hist *h, struct hist_pool *pool, const struct hist_cell *c, size_t n,
		     bool summary, uint64_t sum, uint64_t min, uint64_t max);

/* Writes the sparse array [[bucket_upper_us, count], ...] of non-empty buckets, ascending. */
void hist_write_sparse(const struct hist *h, struct jbuf *b);
/* Writes {"sum","min","max","p50","p95","p99","hist"} — the report's "latency_us" object. */
void hist_write_json(const struct hist *h, struct jbuf *b);
/*
 * Parses a "latency_us" object (as written by hist_write_json) or a bare sparse array from
 * JSON text and merges it into h. Returns 0, -EINVAL on malformed input (h may be partly
 * merged) or -ENOMEM.
 */
int hist_parse_json(struct hist *h, struct hist_pool *pool, const char *json, size_t len);
/* Same, from a node of a document already read with jread_load (a report's "latency_us"). */
int hist_parse_node(struct hist *h, struct hist_pool *pool, struct jread *r, jnode_t *n);

#endif /* MP_HIST_H */
