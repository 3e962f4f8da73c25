// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the worker pool: routing, ordering, barriers and back-pressure. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "flow/flow.h"
#include "pipeline/worker.h"

#define NCONN 128 /* 64 IPv4 connections, then 64 IPv6 ones */
#define CSTART 0xfffffff0u

/*
 * Workers must not call cmocka asserts (not thread-safe): they count what they saw and
 * what was wrong, and the test thread checks after a barrier or worker_pool_free.
 */
struct wstate {
	int idx;
	uint64_t segs;
	uint64_t bytes;
	uint32_t next_seq[NCONN]; /* per connection and direction: what must come next */
	uint32_t next_seq_rev[NCONN];
	uint64_t errors;
};

struct shared {
	struct worker_pool *pool;
	_Atomic int owner[NCONN]; /* worker idx + 1 that saw the connection first */
	_Atomic uint64_t errors;
	_Atomic uint64_t segs;
	_Atomic uint64_t seen; /* segments processed so far, visible while workers run */
	_Atomic int inits, finis, barrier_calls;
	_Atomic uint64_t barrier_seen; /* sum of per-worker segs seen by barrier fns */
	pthread_t caller;
	int inline_mode;
	int gate;	/* block in the first segment until the router has had to wait */
	_Atomic int gate_passed;
};

static void *w_init(void *arg, int idx)
{
	struct shared *sh = arg;
	struct wstate *w = calloc(1, sizeof(*w));

	if (sh->inline_mode && !pthread_equal(pthread_self(), sh->caller))
		atomic_fetch_add(&sh->errors, 1);
	w->idx = idx;
	for (int c = 0; c < NCONN; c++)
		w->next_seq_rev[c] = CSTART; /* the to-client direction crosses 2^32 */
	atomic_fetch_add(&sh->inits, 1);
	return w;
}

static struct shared *SH;

static void w_segment(void *ws, const struct mp_seg_hdr *h, const uint8_t *payload)
{
	struct wstate *w = ws;
	int to_server = h->dir == MP_DIR_TO_SERVER;
	int conn = (to_server ? h->sport : h->dport) - 40000;
	uint32_t *next = to_server ? &w->next_seq[conn] : &w->next_seq_rev[conn];
	int expect = 0;
	uint32_t i;

	if (SH->gate && !atomic_load(&SH->gate_passed)) {
		struct worker_stats st;

		/* Poll the condition under test: the router found this queue full. */
		do {
			sched_yield();
			worker_pool_stats(SH->pool, w->idx, &st);
		} while (!st.waits && !atomic_load(&SH->gate_passed));
		atomic_store(&SH->gate_passed, 1);
	}
	if (conn < 0 || conn >= NCONN) {
		w->errors++;
		return;
	}
	if (!atomic_compare_exchange_strong(&SH->owner[conn], &expect, w->idx + 1) &&
	    expect != w->idx + 1)
		w->errors++; /* the connection showed up on two workers */
	if (h->seq != *next)
		w->errors++; /* out of order or lost */
	*next = h->seq + 1;
	for (i = 0; i < h->caplen; i++)
		if (payload[i] != (uint8_t)(h->seq + i))
			w->errors++;
	w->segs++;
	w->bytes += h->caplen;
	atomic_fetch_add(&SH->seen, 1);
}

static void w_fini(void *ws)
{
	struct wstate *w = ws;

	atomic_fetch_add(&SH->errors, w->errors);
	atomic_fetch_add(&SH->segs, w->segs);
	atomic_fetch_add(&SH->finis, 1);
	free(w);
}

static void w_barrier(void *ws, void *arg)
{
	struct wstate *w = ws;
	struct shared *sh = arg;

	atomic_fetch_add(&sh->barrier_calls, 1);
	atomic_fetch_add(&sh->barrier_seen, w->segs);
}

static const struct worker_ops OPS = { .init = w_init, .segment = w_segment, .fini = w_fini };

static void make_seg(struct mp_seg_hdr *h, int conn, int dir, uint32_t seq, uint32_t caplen, int v6)
{
	uint8_t cl[16] = { 10, 0, 0, 1 }, sv[16] = { 10, 0, 0, 2 };

	if (v6) {
		cl[0] = sv[0] = 0xfd;
		cl[15] = (uint8_t)conn;
		sv[15] = 0x99;
	}
	memset(h, 0, sizeof(*h));
	h->family = v6 ? 6 : 4;
	h->dir = dir;
	memcpy(dir == MP_DIR_TO_SERVER ? h->saddr : h->daddr, cl, 16);
	memcpy(dir == MP_DIR_TO_SERVER ? h->daddr : h->saddr, sv, 16);
	h->sport = dir == MP_DIR_TO_SERVER ? 40000 + conn : 3306;
	h->dport = dir == MP_DIR_TO_SERVER ? 3306 : 40000 + conn;
	h->seq = seq;
	h->len = h->caplen = caplen;
}

static void fill(uint8_t *buf, uint32_t seq, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(seq + i);
}

static struct shared *shared_new(void)
{
	SH = calloc(1, sizeof(*SH));
	SH->caller = pthread_self();
	return SH;
}

static void test_symmetric_pick(void **state)
{
	struct shared *sh = shared_new();
	struct worker_pool *p = worker_pool_new(7, 0, &OPS, sh);
	int used[7] = { 0 }, c, i;

	assert_non_null(p);
	assert_int_equal(worker_pool_size(p), 7);
	for (c = 0; c < NCONN / 2; c++) {
		for (i = 0; i < 2; i++) {
			struct mp_seg_hdr a, b;

			make_seg(&a, c, MP_DIR_TO_SERVER, 0, 0, i);
			make_seg(&b, c, MP_DIR_TO_CLIENT, 0, 0, i);
			assert_int_equal(worker_pool_pick(p, &a), worker_pool_pick(p, &b));
			/* `dir` plays no part: only the endpoint pair. */
			b.dir = MP_DIR_TO_SERVER;
			assert_int_equal(worker_pool_pick(p, &a), worker_pool_pick(p, &b));
			used[worker_pool_pick(p, &a)]++;
		}
	}
	for (i = 0; i < 7; i++)
		assert_true(used[i] > 0); /* 128 keys spread over every worker */
	worker_pool_free(p);
	assert_int_equal(sh->inits, 7);
	assert_int_equal(sh->finis, 7);
	free(sh);
}

/* Routes `rounds` segments per connection and direction; caplen 0 means varied sizes. */
static uint64_t route_all(struct worker_pool *p, int rounds, uint32_t caplen, int v6)
{
	static uint8_t buf[MP_MAX_CAPLEN];
	uint32_t seq_s[NCONN / 2] = { 0 }, seq_c[NCONN / 2];
	uint64_t n = 0;
	int r, c;

	for (c = 0; c < NCONN / 2; c++)
		seq_c[c] = CSTART;
	for (r = 0; r < rounds; r++) {
		for (c = 0; c < NCONN / 2; c++) {
			struct mp_seg_hdr h;
			uint32_t len = caplen ? caplen : (uint32_t)(r * 7 + c) % 300;

			make_seg(&h, c + v6 * NCONN / 2, MP_DIR_TO_SERVER, seq_s[c]++, len, v6);
			fill(buf, h.seq, len);
			assert_int_equal(worker_pool_route(p, &h, buf), 0);
			make_seg(&h, c + v6 * NCONN / 2, MP_DIR_TO_CLIENT, seq_c[c]++, len, v6);
			fill(buf, h.seq, len);
			assert_int_equal(worker_pool_route(p, &h, buf), 0);
			n += 2;
		}
	}
	return n;
}

static void test_order_and_barrier(void **state)
{
	struct shared *sh = shared_new();
	struct worker_pool *p = worker_pool_new(4, 0, &OPS, sh);
	uint64_t n, routed = 0;
	int i;

	assert_non_null(p);
	sh->pool = p;
	n = route_all(p, 200, 0, 0);
	assert_int_equal(worker_pool_barrier(p, w_barrier, sh), 0);
	/* Every segment routed before the barrier was seen when it ran, in every worker. */
	assert_int_equal(sh->barrier_calls, 4);
	assert_int_equal(sh->barrier_seen, n);
	n += route_all(p, 10, 0, 1);
	sh->barrier_seen = 0;
	assert_int_equal(worker_pool_barrier(p, w_barrier, sh), 0);
	assert_int_equal(sh->barrier_calls, 8);
	assert_int_equal(sh->barrier_seen, n);
	for (i = 0; i < 4; i++) {
		struct worker_stats st;

		worker_pool_stats(p, i, &st);
		routed += st.routed;
	}
	assert_int_equal(routed, n);
	worker_pool_free(p);
	assert_int_equal(sh->segs, n);
	assert_int_equal(sh->errors, 0);
	free(sh);
}

static void test_backpressure(void **state)
{
	struct shared *sh = shared_new();
	/* The smallest queue holds four 60 KB records; the first worker blocks until the
	 * router has had to wait, so waiting is certain, and nothing may be lost. */
	struct worker_pool *p = worker_pool_new(2, 1, &OPS, sh);
	struct worker_stats st;
	uint64_t n, waits = 0;
	int i;

	assert_non_null(p);
	sh->pool = p;
	sh->gate = 1;
	n = route_all(p, 4, 60000, 0);
	assert_int_equal(worker_pool_barrier(p, w_barrier, sh), 0);
	assert_int_equal(sh->barrier_seen, n);
	assert_true(sh->gate_passed);
	for (i = 0; i < 2; i++) {
		worker_pool_stats(p, i, &st);
		waits += st.waits;
	}
	assert_true(waits > 0);
	worker_pool_free(p);
	assert_int_equal(sh->segs, n);
	assert_int_equal(sh->errors, 0);
	free(sh);
}

/* A segment smaller than a wake-up batch reaches a sleeping worker once the batch ends. */
static void test_kick(void **state)
{
	struct shared *sh = shared_new();
	struct worker_pool *p = worker_pool_new(2, 0, &OPS, sh);
	struct timespec idle = { 0, 2000000 };
	uint8_t buf[64];
	struct mp_seg_hdr h;
	int round, spins;

	assert_non_null(p);
	sh->pool = p;
	for (round = 0; round < 20; round++) {
		/* Not synchronisation: gives the worker time to stop spinning and sleep, the
		 * case under test. The check below polls for the outcome. */
		nanosleep(&idle, NULL);
		make_seg(&h, 3, MP_DIR_TO_SERVER, (uint32_t)round, 64, 0);
		fill(buf, h.seq, 64);
		assert_int_equal(worker_pool_route(p, &h, buf), 0);
		worker_pool_kick(p);
		for (spins = 0; atomic_load(&sh->seen) != (uint64_t)round + 1 && spins < 5000000;
		     spins++)
			sched_yield();
		assert_int_equal(atomic_load(&sh->seen), round + 1);
	}
	worker_pool_free(p);
	assert_int_equal(sh->errors, 0);
	free(sh);
}

/* workers 0 and 1 both run in the caller's thread. */
static void check_inline(int workers)
{
	struct shared *sh = shared_new();
	struct worker_pool *p;
	struct worker_stats st;
	struct mp_seg_hdr h;
	uint64_t n;

	sh->inline_mode = 1;
	p = worker_pool_new(workers, 0, &OPS, sh);
	assert_non_null(p);
	sh->pool = p;
	assert_int_equal(worker_pool_size(p), 1);
	assert_int_equal(sh->inits, 1);
	n = route_all(p, 5, 0, 0);
	assert_int_equal(worker_pool_barrier(p, w_barrier, sh), 0);
	assert_int_equal(sh->barrier_calls, 1);
	assert_int_equal(sh->barrier_seen, n); /* synchronous: already processed */
	worker_pool_stats(p, 0, &st);
	assert_int_equal(st.routed, n);
	make_seg(&h, 0, MP_DIR_TO_SERVER, 0, 0, 0);
	h.caplen = MP_MAX_CAPLEN + 1;
	assert_int_equal(worker_pool_route(p, &h, NULL), -EINVAL);
	worker_pool_free(p);
	assert_int_equal(sh->finis, 1);
	assert_int_equal(sh->errors, 0);
	free(sh);
}

static void test_inline_mode(void **state)
{
	check_inline(0);
	check_inline(1);
	assert_null(worker_pool_new(-1, 0, &OPS, NULL));
	worker_pool_free(NULL);
}

/* The intended use: one flow table per worker, fed only from that worker's thread. */
struct fw {
	struct flow_table *t;
	struct shared *sh;
};

static void fw_data(void *ctx, void *user, int dir, const uint8_t *d, size_t n, uint64_t ts)
{
	struct fw *w = ctx;

	atomic_fetch_add(&w->sh->segs, n);
}

static void fw_gap(void *ctx, void *user, int dir, uint64_t n, uint64_t ts)
{
	struct fw *w = ctx;

	atomic_fetch_add(&w->sh->errors, 1);
}

static const struct flow_callbacks FW_CB = { .on_data = fw_data, .on_gap = fw_gap };

static void *fw_init(void *arg, int idx)
{
	struct fw *w = calloc(1, sizeof(*w));

	w->sh = arg;
	w->t = flow_table_new(NULL, &FW_CB, w);
	return w;
}

static void fw_segment(void *ws, const struct mp_seg_hdr *h, const uint8_t *payload)
{
	struct fw *w = ws;

	flow_table_feed(w->t, h, payload);
}

static void fw_fini(void *ws)
{
	struct fw *w = ws;

	atomic_fetch_add(&w->sh->barrier_seen, flow_table_counters(w->t)->opened);
	flow_table_free(w->t);
	free(w);
}

static void test_flow_tables_in_workers(void **state)
{
	static const struct worker_ops ops = {
		.init = fw_init, .segment = fw_segment, .fini = fw_fini,
	};
	static uint8_t buf[1000];
	struct shared *sh = shared_new();
	struct worker_pool *p = worker_pool_new(3, 0, &ops, sh);
	uint32_t seq[NCONN][2] = { { 0 } };
	uint64_t sent = 0;
	int r, c;

	assert_non_null(p);
	for (r = 0; r < 50; r++) {
		for (c = 0; c < NCONN; c++) {
			struct mp_seg_hdr h;
			int dir = r & 1;
			uint32_t len = 1 + (r * 31 + c) % 1000;

			make_seg(&h, c, dir, seq[c][dir], len, c & 1);
			seq[c][dir] += len;
			assert_int_equal(worker_pool_route(p, &h, buf), 0);
			sent += len;
		}
	}
	worker_pool_free(p);
	assert_int_equal(sh->segs, sent);	  /* every byte delivered, in order */
	assert_int_equal(sh->errors, 0);	  /* no gap: order kept within each connection */
	assert_int_equal(sh->barrier_seen, NCONN); /* one flow per connection: none split across workers */
	free(sh);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_symmetric_pick),
		cmocka_unit_test(test_order_and_barrier),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_kick),
		cmocka_unit_test(test_inline_mode),
		cmocka_unit_test(test_flow_tables_in_workers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
