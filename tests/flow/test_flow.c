// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for the flow table: ordering, holes, gaps, lifecycle and bounds. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flow/flow.h"

#define MAX_CONNS 16
#define OUT_CAP 16384

/* What the consumer saw for one connection; gaps appear in `out` as '#' per missing byte. */
struct conn_rec {
	struct flow_key key;
	int midstream;
	int closed;
	int reason;
	char out[2][OUT_CAP];
	size_t outlen[2];
	uint64_t gap_bytes[2];
	int gaps[2];
};

struct rec {
	struct conn_rec conns[MAX_CONNS];
	int nconns;
};

static void *rec_open(void *ctx, const struct flow_key *k, uint64_t ts, int midstream)
{
	struct rec *r = ctx;
	struct conn_rec *c;

	assert_true(r->nconns < MAX_CONNS);
	c = &r->conns[r->nconns++];
	c->key = *k;
	c->midstream = midstream;
	c->reason = -1;
	return c;
}

static void rec_append(struct conn_rec *c, int dir, const char *p, char fill, size_t n)
{
	size_t i;

	for (i = 0; i < n && c->outlen[dir] < OUT_CAP - 1; i++)
		c->out[dir][c->outlen[dir]++] = p ? p[i] : fill;
	c->out[dir][c->outlen[dir]] = 0;
}

static void rec_data(void *ctx, void *user, int dir, const uint8_t *d, size_t n, uint64_t ts)
{
	struct conn_rec *c = user;

	assert_false(c->closed);
	rec_append(c, dir, (const char *)d, 0, n);
}

static void rec_gap(void *ctx, void *user, int dir, uint64_t n, uint64_t ts)
{
	struct conn_rec *c = user;

	assert_false(c->closed);
	assert_true(n > 0);
	c->gaps[dir]++;
	c->gap_bytes[dir] += n;
	rec_append(c, dir, NULL, '#', n);
}

static void rec_close(void *ctx, void *user, uint64_t ts, int reason)
{
	struct conn_rec *c = user;

	assert_false(c->closed);
	c->closed = 1;
	c->reason = reason;
}

static const struct flow_callbacks rec_cb = {
	.on_open = rec_open, .on_data = rec_data, .on_gap = rec_gap, .on_close = rec_close,
};

static struct rec R;

static struct flow_table *table(const struct flow_config *cfg)
{
	struct flow_table *t;

	memset(&R, 0, sizeof(R));
	t = flow_table_new(cfg, &rec_cb, &R);
	assert_non_null(t);
	return t;
}

struct conn {
	int v6;
	uint16_t cport;
};

static const struct conn C4 = { 0, 40000 };

/* Feeds one segment of connection c acknowledging ack; data may be shorter than len. */
static int feed_ack(struct flow_table *t, struct conn c, int dir, uint32_t seq, uint32_t ack,
		    uint8_t flags, const char *data, uint32_t len, uint32_t caplen, uint64_t ts)
{
	struct mp_seg_hdr h;
	uint8_t cl[16] = { 0 }, sv[16] = { 0 };

	memset(&h, 0, sizeof(h));
	if (c.v6) {
		cl[0] = 0x20, cl[1] = 0x01, cl[2] = 0x0d, cl[3] = 0xb8, cl[15] = 1;
		memcpy(sv, cl, 16);
		sv[15] = 2;
		h.family = 6;
	} else {
		cl[0] = 10, cl[3] = 1;
		sv[0] = 10, sv[3] = 2;
		h.family = 4;
	}
	memcpy(dir == MP_DIR_TO_SERVER ? h.saddr : h.daddr, cl, 16);
	memcpy(dir == MP_DIR_TO_SERVER ? h.daddr : h.saddr, sv, 16);
	h.sport = dir == MP_DIR_TO_SERVER ? c.cport : 3306;
	h.dport = dir == MP_DIR_TO_SERVER ? 3306 : c.cport;
	h.dir = dir;
	h.seq = seq;
	h.ack = ack;
	h.len = len;
	h.caplen = caplen;
	h.tcp_flags = flags | MP_TCP_ACK;
	h.ts_ns = ts;
	return flow_table_feed(t, &h, (const uint8_t *)data);
}

/* Feeds one segment of connection c; data may be shorter than len (truncated). */
static int feed_ex(struct flow_table *t, struct conn c, int dir, uint32_t seq, uint8_t flags,
		   const char *data, uint32_t len, uint32_t caplen, uint64_t ts)
{
	return feed_ack(t, c, dir, seq, 0, flags, data, len, caplen, ts);
}

static int feed(struct flow_table *t, struct conn c, int dir, uint32_t seq, uint8_t flags,
		const char *data, uint64_t ts)
{
	uint32_t n = data ? strlen(data) : 0;

	return feed_ex(t, c, dir, seq, flags, data, n, n, ts);
}

#define S MP_DIR_TO_SERVER
#define CL MP_DIR_TO_CLIENT

static void test_in_order_lifecycle(void **state)
{
	struct flow_table *t = table(NULL);
	const struct flow_counters *k = flow_table_counters(t);

	assert_int_equal(feed(t, C4, S, 999, MP_TCP_SYN, NULL, 1), 0);
	assert_int_equal(feed(t, C4, CL, 4999, MP_TCP_SYN, NULL, 2), 0);
	feed(t, C4, CL, 5000, 0, "greeting", 3);
	feed(t, C4, S, 1000, 0, "hello ", 4);
	feed(t, C4, S, 1006, 0, "world", 5);
	feed(t, C4, CL, 5008, 0, "ok", 6);
	assert_int_equal(R.nconns, 1);
	assert_int_equal(R.conns[0].midstream, 0);
	assert_string_equal(R.conns[0].out[S], "hello world");
	assert_string_equal(R.conns[0].out[CL], "greetingok");
	feed(t, C4, S, 1011, MP_TCP_FIN, NULL, 7);
	assert_false(R.conns[0].closed);
	feed(t, C4, CL, 5010, MP_TCP_FIN, NULL, 8);
	assert_true(R.conns[0].closed);
	assert_int_equal(R.conns[0].reason, FLOW_CLOSE_FIN);
	assert_int_equal(k->active, 0);
	assert_int_equal(k->closed_fin, 1);
	assert_int_equal(k->delivered_bytes, 21);
	assert_int_equal(k->gaps, 0);
	/* A late ACK or FIN retransmit opens nothing. */
	feed(t, C4, CL, 5010, MP_TCP_FIN, NULL, 9);
	assert_int_equal(R.nconns, 1);
	assert_int_equal(k->untracked, 1);
	flow_table_free(t);
}

/* Five segments of "abcdefghijklm", fed in every order (with a SYN first). */
static void test_every_permutation(void **state)
{
	static const char *txt = "abcdefghijklm";
	static const uint32_t off[] = { 0, 2, 5, 6, 10, 13 };
	int perm[5], c[5] = { 0 }, i, n = 0, tmp;

	for (i = 0; i < 5; i++)
		perm[i] = i;
	/* Heap's algorithm, iterative. */
	for (i = 0;;) {
		struct flow_table *t = table(NULL);
		int j;

		feed(t, C4, S, 0xfffffff8u, MP_TCP_SYN, NULL, 1); /* the stream crosses 2^32 */
		for (j = 0; j < 5; j++) {
			int s = perm[j];
			uint32_t len = off[s + 1] - off[s];

			feed_ex(t, C4, S, 0xfffffff9u + off[s], 0, txt + off[s], len, len, 2 + j);
		}
		assert_string_equal(R.conns[0].out[S], txt);
		assert_int_equal(flow_table_counters(t)->gaps, 0);
		assert_int_equal(flow_table_counters(t)->ooo_mem, 0);
		flow_table_free(t);
		n++;
		while (i < 5 && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= 5)
			break;
		j = (i % 2) ? c[i] : 0;
		tmp = perm[j];
		perm[j] = perm[i];
		perm[i] = tmp;
		c[i]++;
		i = 1;
	}
	assert_int_equal(n, 120);
}

static void test_duplicates_and_overlaps(void **state)
{
	struct flow_table *t = table(NULL);
	const struct flow_counters *k = flow_table_counters(t);
	const char *txt = "0123456789abcdefghijklmnopqrstuvwxyz";

	feed(t, C4, S, 99, MP_TCP_SYN, NULL, 1);
	feed_ex(t, C4, S, 100, 0, txt, 10, 10, 2);		/* [0,10) */
	feed_ex(t, C4, S, 100, 0, txt, 10, 10, 3);		/* exact duplicate */
	assert_int_equal(k->retransmits, 1);
	feed_ex(t, C4, S, 105, 0, txt + 5, 10, 10, 4);	/* [5,15): half old */
	assert_int_equal(k->overlaps, 1);
	assert_string_equal(R.conns[0].out[S], "0123456789abcde");
	/* Out of order with overlaps among the buffered pieces. */
	feed_ex(t, C4, S, 120, 0, txt + 20, 5, 5, 5);		/* [20,25) */
	feed_ex(t, C4, S, 118, 0, txt + 18, 10, 10, 6);	/* [18,28) overlaps it */
	feed_ex(t, C4, S, 122, 0, txt + 22, 2, 2, 7);		/* inside: all duplicate */
	assert_string_equal(R.conns[0].out[S], "0123456789abcde");
	feed_ex(t, C4, S, 110, 0, txt + 10, 26, 26, 8);	/* [10,36) covers everything */
	assert_string_equal(R.conns[0].out[S], txt);
	assert_int_equal(k->gaps, 0);
	assert_int_equal(k->ooo_mem, 0);
	assert_int_equal(k->delivered_bytes, 36);
	flow_table_free(t);
}

static void test_wraparound(void **state)
{
	struct flow_table *t = table(NULL);

	feed(t, C4, CL, 0xfffffffdu, MP_TCP_SYN, NULL, 1);
	feed(t, C4, CL, 0x00000001u, 0, "DEF", 2); /* after the wrap, ahead of a hole */
	feed(t, C4, CL, 0xfffffffeu, 0, "ab", 3);  /* ends exactly at 2^32 */
	assert_string_equal(R.conns[0].out[CL], "ab");
	feed(t, C4, CL, 0x00000000u, 0, "cD", 4);  /* fills the hole, overlaps "D" */
	assert_string_equal(R.conns[0].out[CL], "abcDEF");
	feed(t, C4, CL, 0xffffffffu, 0, "bc", 5);  /* old, across the wrap */
	assert_int_equal(flow_table_counters(t)->retransmits, 1);
	feed(t, C4, CL, 0x00000004u, 0, "G", 6);
	assert_string_equal(R.conns[0].out[CL], "abcDEFG");
	flow_table_free(t);
}

static void test_hole_timeout(void **state)
{
	struct flow_config cfg = { .hole_timeout_ns = 1000 };
	struct flow_table *t = table(&cfg);
	const struct flow_counters *k = flow_table_counters(t);

	feed(t, C4, S, 0, MP_TCP_SYN, NULL, 100);
	feed(t, C4, S, 1, 0, "abc", 100);
	feed(t, C4, S, 10, 0, "xyz", 200); /* hole [4,10) */
	feed(t, C4, S, 14, 0, "Q", 300);   /* second hole [13,14) */
	flow_table_expire(t, 1199);
	assert_string_equal(R.conns[0].out[S], "abc");
	flow_table_expire(t, 1200); /* first hole is 1000 old; the second one (300) not yet */
	assert_string_equal(R.conns[0].out[S], "abc######xyz");
	assert_int_equal(k->gaps_timeout, 1);
	flow_table_expire(t, 1300);
	assert_string_equal(R.conns[0].out[S], "abc######xyz#Q");
	assert_int_equal(R.conns[0].gaps[S], 2);
	assert_int_equal(k->gap_bytes, 7);
	assert_int_equal(k->ooo_mem, 0);
	/* The stream goes on from there; the lost bytes arriving late are old now. */
	feed(t, C4, S, 4, 0, "defghi", 1400);
	feed(t, C4, S, 15, 0, "R", 1500);
	assert_string_equal(R.conns[0].out[S], "abc######xyz#QR");
	assert_int_equal(k->retransmits, 1);
	/* A hole also times out on the flow's own traffic, without an expire call. */
	feed(t, C4, S, 20, 0, "late", 1600);
	feed(t, C4, CL, 7, 0, "z", 2700);
	assert_string_equal(R.conns[0].out[S], "abc######xyz#QR####late");
	flow_table_free(t);
}

/* The order of the consumer's callbacks across both directions. */
static char order[64];

static void ord_data(void *ctx, void *user, int dir, const uint8_t *d, size_t n, uint64_t ts)
{
	strncat(order, dir == S ? "d" : "D", sizeof(order) - strlen(order) - 1);
	rec_data(ctx, user, dir, d, n, ts);
}

static void ord_gap(void *ctx, void *user, int dir, uint64_t n, uint64_t ts)
{
	strncat(order, dir == S ? "g" : "G", sizeof(order) - strlen(order) - 1);
	rec_gap(ctx, user, dir, n, ts);
}

/*
 * A hole the peer has acknowledged is never filled (the peer has the bytes; the capture lost
 * them): it is a gap at once, reported before the acknowledging segment's own data, so the
 * consumer learns of the lost response before it sees the next request.
 */
static void test_hole_acked(void **state)
{
	static const struct flow_callbacks cb = {
		.on_open = rec_open, .on_data = ord_data, .on_gap = ord_gap, .on_close = rec_close,
	};
	struct flow_table *t;
	const struct flow_counters *k;

	memset(&R, 0, sizeof(R));
	order[0] = 0;
	t = flow_table_new(NULL, &cb, &R);
	assert_non_null(t);
	k = flow_table_counters(t);
	feed(t, C4, S, 99, MP_TCP_SYN, NULL, 1);
	feed(t, C4, CL, 499, MP_TCP_SYN, NULL, 2);
	feed_ack(t, C4, S, 100, 500, 0, "Q1", 2, 2, 3);
	feed_ack(t, C4, CL, 500, 102, 0, "r1", 2, 2, 4);
	/* [502,505) is lost; [505,508) waits behind it */
	feed_ack(t, C4, CL, 505, 102, 0, "r33", 3, 3, 5);
	/* an ack of what was seen, or one without the ACK flag, changes nothing */
	feed_ack(t, C4, S, 102, 502, 0, NULL, 0, 0, 6);
	{
		struct mp_seg_hdr h = { 0 };

		h.family = 4, h.saddr[0] = 10, h.saddr[3] = 1, h.daddr[0] = 10, h.daddr[3] = 2;
		h.sport = 40000, h.dport = 3306, h.dir = S, h.seq = 102, h.ack = 508;
		h.tcp_flags = MP_TCP_PSH, h.ts_ns = 7;
		flow_table_feed(t, &h, NULL);
	}
	assert_string_equal(R.conns[0].out[CL], "r1");
	assert_int_equal(k->gaps, 0);
	/* the client's next request acknowledges the whole response */
	feed_ack(t, C4, S, 102, 508, 0, "Q2", 2, 2, 8);
	assert_string_equal(R.conns[0].out[CL], "r1###r33");
	assert_string_equal(R.conns[0].out[S], "Q1Q2");
	assert_string_equal(order, "dDGDd");
	assert_int_equal(k->gaps, 1);
	assert_int_equal(k->gaps_acked, 1);
	/* a lost tail, with nothing buffered after it: the next request's ack shows it */
	feed_ack(t, C4, S, 104, 511, 0, "Q3", 2, 2, 9);
	assert_string_equal(R.conns[0].out[CL], "r1###r33###");
	assert_string_equal(order, "dDGDdGd");
	/* the FIN's sequence number is acknowledged too, but it is no data */
	feed_ack(t, C4, CL, 511, 106, MP_TCP_FIN, NULL, 0, 0, 10);
	feed_ack(t, C4, S, 106, 512, MP_TCP_FIN, NULL, 0, 0, 11);
	assert_int_equal(k->gaps, 2);
	assert_int_equal(k->gaps_acked, 2);
	assert_int_equal(k->gaps_timeout, 0);
	assert_int_equal(k->ooo_mem, 0);
	assert_int_equal(R.conns[0].reason, FLOW_CLOSE_FIN);
	flow_table_free(t);
}

static void test_bound_overflow(void **state)
{
	/* Two chunks of buffer per flow: a third out-of-order segment forces a gap. */
	struct flow_config cfg = { .max_ooo_bytes = 4096 };
	struct flow_table *t = table(&cfg);
	const struct flow_counters *k = flow_table_counters(t);

	feed(t, C4, S, 0, MP_TCP_SYN, NULL, 1);
	feed(t, C4, S, 1, 0, "a", 2);
	feed(t, C4, S, 5, 0, "e", 3);
	feed(t, C4, S, 7, 0, "g", 4);
	assert_int_equal(k->ooo_mem, 4096);
	assert_string_equal(R.conns[0].out[S], "a");
	feed(t, C4, S, 9, 0, "i", 5);
	assert_int_equal(k->gaps_overflow, 1);
	assert_string_equal(R.conns[0].out[S], "a###e");
	assert_true(k->ooo_mem <= 4096);
	feed(t, C4, S, 6, 0, "f", 6);
	feed(t, C4, S, 8, 0, "h", 7);
	assert_string_equal(R.conns[0].out[S], "a###efghi");
	flow_table_free(t);
}

static void test_global_bound(void **state)
{
	struct flow_config cfg = { .max_ooo_total = 4096 };
	struct flow_table *t = table(&cfg);
	const struct flow_counters *k = flow_table_counters(t);
	struct conn c2 = { 0, 40001 };

	feed(t, C4, S, 0, MP_TCP_SYN, NULL, 1);
	feed(t, c2, S, 0, MP_TCP_SYN, NULL, 1);
	feed(t, C4, S, 3, 0, "c", 2);
	feed(t, C4, S, 5, 0, "e", 3);
	feed(t, c2, S, 3, 0, "C", 4); /* table full of buffers: the oldest hole (C4) goes */
	assert_int_equal(k->gaps_overflow, 1);
	assert_string_equal(R.conns[0].out[S], "##c");
	assert_string_equal(R.conns[1].out[S], "");
	assert_true(k->ooo_mem <= 4096);
	/* A segment that cannot be buffered at all: skip to it at once. */
	struct flow_config tiny = { .max_ooo_bytes = 1 };
	flow_table_free(t);
	t = table(&tiny);
	feed(t, C4, S, 0, MP_TCP_SYN, NULL, 1);
	feed(t, C4, S, 3, 0, "c", 2);
	assert_string_equal(R.conns[0].out[S], "##c");
	assert_int_equal(flow_table_counters(t)->ooo_mem, 0);
	flow_table_free(t);
}

static void test_truncated(void **state)
{
	struct flow_table *t = table(NULL);
	const struct flow_counters *k = flow_table_counters(t);

	feed(t, C4, CL, 0, MP_TCP_SYN, NULL, 1);
	feed_ex(t, C4, CL, 1, 0, "abcdefghij", 10, 4, 2); /* 4 captured of 10 */
	assert_string_equal(R.conns[0].out[CL], "abcd######");
	assert_int_equal(k->truncated, 1);
	assert_int_equal(k->gap_bytes, 6);
	/* Truncated and out of order: the cut tail becomes a gap when reached. */
	feed_ex(t, C4, CL, 15, 0, "pqrstu", 6, 2, 3);
	feed_ex(t, C4, CL, 21, 0, "v", 1, 1, 4);
	feed_ex(t, C4, CL, 11, 0, "klmn", 4, 4, 5);
	assert_string_equal(R.conns[0].out[CL], "abcd######klmnpq####v");
	assert_int_equal(k->gaps, 2);
	assert_int_equal(k->ooo_mem, 0);
	/* Nothing captured at all. */
	feed_ex(t, C4, CL, 22, 0, NULL, 3, 0, 6);
	feed(t, C4, CL, 25, 0, "w", 7);
	assert_string_equal(R.conns[0].out[CL], "abcd######klmnpq####v###w");
	/* Buffered bytes inside a cut tail are delivered, the rest of the tail is a gap. */
	feed(t, C4, CL, 31, 0, "XYZ", 8);
	feed_ex(t, C4, CL, 26, 0, "xy", 10, 2, 9);
	assert_string_equal(R.conns[0].out[CL], "abcd######klmnpq####v###wxy###XYZ##");
	flow_table_free(t);
}

/* A segment split around buffered pieces can need more room than reserved: the part that
 * does not fit is dropped and counted, and the bound holds. */
static void test_ooo_dropped(void **state)
{
	struct flow_config cfg = { .max_ooo_bytes = 4096 };
	struct flow_table *t = table(&cfg);
	const struct flow_counters *k = flow_table_counters(t);

	feed(t, C4, S, 0, MP_TCP_SYN, NULL, 1);
	feed(t, C4, S, 5, 0, "e", 2);
	feed(t, C4, S, 3, 0, "cdefgh", 3); /* pieces [3,5) and [6,9): only one more fits */
	assert_int_equal(k->ooo_dropped, 1);
	assert_int_equal(k->ooo_mem, 4096);
	feed(t, C4, S, 1, 0, "ab", 4);
	assert_string_equal(R.conns[0].out[S], "abcde");
	feed(t, C4, S, 6, 0, "fgh", 5);
	assert_string_equal(R.conns[0].out[S], "abcdefgh");
	assert_int_equal(k->gaps, 0);
	flow_table_free(t);
}

static void test_rst_and_reuse(void **state)
{
	struct flow_table *t = table(NULL);
	const struct flow_counters *k = flow_table_counters(t);

	feed(t, C4, S, 0, MP_TCP_SYN, NULL, 1);
	feed(t, C4, S, 1, 0, "q1", 2);
	feed(t, C4, S, 10, 0, "later", 3); /* buffered behind a hole */
	feed(t, C4, CL, 77, MP_TCP_RST, NULL, 4);
	assert_true(R.conns[0].closed);
	assert_int_equal(R.conns[0].reason, FLOW_CLOSE_RST);
	/* Close flushes what was buffered, with the hole as a gap. */
	assert_string_equal(R.conns[0].out[S], "q1#######later");
	assert_int_equal(k->closed_rst, 1);
	assert_int_equal(k->ooo_mem, 0);
	/* Same 4-tuple again: a new connection; a SYN after data means reuse. */
	feed(t, C4, S, 500, MP_TCP_SYN, NULL, 5);
	feed(t, C4, S, 501, MP_TCP_SYN, NULL, 5); /* SYN retransmit: same flow */
	feed(t, C4, S, 502, 0, "x", 6);
	assert_int_equal(R.nconns, 2);
	feed(t, C4, S, 9000, MP_TCP_SYN, NULL, 7);
	assert_int_equal(R.nconns, 3);
	assert_int_equal(R.conns[1].reason, FLOW_CLOSE_EVICTED);
	assert_string_equal(R.conns[1].out[S], "x");
	feed(t, C4, S, 9001, 0, "new", 8);
	assert_string_equal(R.conns[2].out[S], "new");
	flow_table_free(t);
	assert_int_equal(R.conns[2].reason, FLOW_CLOSE_SHUTDOWN);
}

static void test_fin_waits_for_data(void **state)
{
	struct flow_config cfg = { .hole_timeout_ns = 100 };
	struct flow_table *t = table(&cfg);

	feed(t, C4, S, 0, MP_TCP_SYN, NULL, 1);
	feed(t, C4, CL, 0, MP_TCP_SYN, NULL, 1);
	feed(t, C4, S, 1, 0, "ab", 2);
	feed(t, C4, S, 5, MP_TCP_FIN, "ef", 3); /* "cd" not seen yet */
	feed(t, C4, CL, 1, MP_TCP_FIN, NULL, 4);
	assert_false(R.conns[0].closed);
	feed(t, C4, S, 3, 0, "cd", 5); /* the late segment settles the FIN */
	assert_true(R.conns[0].closed);
	assert_int_equal(R.conns[0].reason, FLOW_CLOSE_FIN);
	assert_string_equal(R.conns[0].out[S], "abcdef");

	/* A hole before the FIN with nothing buffered: a gap after hole_timeout_ns. */
	feed(t, C4, S, 100, MP_TCP_SYN, NULL, 10);
	feed(t, C4, S, 101, 0, "ab", 11);
	feed(t, C4, S, 105, MP_TCP_FIN, NULL, 12);
	feed(t, C4, CL, 50, MP_TCP_FIN, NULL, 13);
	flow_table_expire(t, 100);
	assert_false(R.conns[1].closed);
	flow_table_expire(t, 113);
	assert_true(R.conns[1].closed);
	assert_int_equal(R.conns[1].reason, FLOW_CLOSE_FIN);
	assert_string_equal(R.conns[1].out[S], "ab##");
	flow_table_free(t);
}

static void test_midstream(void **state)
{
	struct flow_table *t = table(NULL);
	const struct flow_counters *k = flow_table_counters(t);

	feed(t, C4, CL, 70000, 0, "row", 1);
	assert_int_equal(R.nconns, 1);
	assert_int_equal(R.conns[0].midstream, 1);
	assert_int_equal(k->midstream, 1);
	feed(t, C4, CL, 69990, 0, "earlier", 2); /* before the join point: never delivered */
	feed(t, C4, S, 123, 0, "SELECT", 3);
	feed(t, C4, CL, 70003, 0, "s", 4);
	assert_string_equal(R.conns[0].out[CL], "rows");
	assert_string_equal(R.conns[0].out[S], "SELECT");
	assert_int_equal(k->retransmits, 1);
	flow_table_free(t);
}

static void test_idle_expiry(void **state)
{
	struct flow_config cfg = { .idle_timeout_ns = 1000 };
	struct flow_table *t = table(&cfg);
	struct conn c2 = { 0, 40001 };

	feed(t, C4, S, 1, 0, "a", 100);
	feed(t, c2, S, 1, 0, "b", 500);
	feed(t, C4, S, 2, 0, "a", 600); /* C4 is now the most recent */
	flow_table_expire(t, 1499);
	assert_false(R.conns[0].closed);
	assert_false(R.conns[1].closed);
	flow_table_expire(t, 1500);
	assert_false(R.conns[0].closed);
	assert_true(R.conns[1].closed);
	assert_int_equal(R.conns[1].reason, FLOW_CLOSE_EXPIRED);
	flow_table_expire(t, 1600);
	assert_true(R.conns[0].closed);
	assert_int_equal(flow_table_counters(t)->expired, 2);
	assert_int_equal(flow_table_counters(t)->active, 0);
	flow_table_free(t);
}

static void test_max_connections(void **state)
{
	struct flow_config cfg = { .max_connections = 4, .idle_timeout_ns = 1000 };
	struct flow_table *t = table(&cfg);
	const struct flow_counters *k = flow_table_counters(t);
	int i;

	for (i = 0; i < 6; i++) {
		struct conn c = { 0, 50000 + i };

		feed(t, c, S, 1, 0, "x", 10);
		feed(t, c, CL, 1, 0, "y", 10);
	}
	assert_int_equal(R.nconns, 4);
	assert_int_equal(k->active, 4);
	assert_int_equal(k->table_full, 4); /* both segments of the two refused connections */
	assert_int_equal(k->opened, 4);
	/* A close makes room. */
	feed(t, (struct conn){ 0, 50000 }, S, 2, MP_TCP_RST, NULL, 20);
	feed(t, (struct conn){ 0, 50005 }, S, 1, 0, "z", 30);
	assert_int_equal(R.nconns, 5);
	/* Full again: an idle flow is reclaimed only once it is past the idle timeout. */
	feed(t, (struct conn){ 0, 50006 }, S, 1, 0, "z", 1009);
	assert_int_equal(k->table_full, 5);
	feed(t, (struct conn){ 0, 50006 }, S, 1, 0, "z", 1010);
	assert_int_equal(R.nconns, 6);
	assert_int_equal(k->expired, 1);
	assert_true(k->active <= 4);
	flow_table_free(t);
}

static void test_keys_v4_v6(void **state)
{
	struct flow_table *t = table(NULL);
	struct conn c6 = { 1, 40000 };
	struct flow_key k;
	struct mp_seg_hdr h = { 0 };

	feed(t, C4, S, 1, 0, "a", 1);
	feed(t, C4, CL, 1, 0, "b", 1);
	feed(t, c6, S, 1, 0, "c", 1);
	feed(t, c6, CL, 1, 0, "d", 1);
	assert_int_equal(R.nconns, 2);
	assert_int_equal(R.conns[0].key.family, 4);
	assert_int_equal(R.conns[0].key.client_port, 40000);
	assert_int_equal(R.conns[0].key.server_port, 3306);
	assert_int_equal(R.conns[0].key.client_addr[3], 1);
	assert_int_equal(R.conns[0].key.server_addr[3], 2);
	assert_string_equal(R.conns[0].out[S], "a");
	assert_string_equal(R.conns[0].out[CL], "b");
	assert_int_equal(R.conns[1].key.family, 6);
	assert_int_equal(R.conns[1].key.client_addr[15], 1);
	assert_int_equal(R.conns[1].key.server_addr[15], 2);
	assert_string_equal(R.conns[1].out[CL], "d");
	/* Garbage beyond an IPv4 address does not split a connection. */
	h.family = 4;
	h.dir = S;
	h.saddr[0] = 10, h.saddr[3] = 1, h.saddr[9] = 0xee;
	h.daddr[0] = 10, h.daddr[3] = 2;
	h.sport = 40000, h.dport = 3306;
	assert_int_equal(flow_key_from_seg(&h, &k), 0);
	assert_memory_equal(&k, &R.conns[0].key, sizeof(k));
	h.family = 5;
	assert_int_equal(flow_key_from_seg(&h, &k), -EINVAL);
	assert_int_equal(flow_table_feed(t, &h, NULL), -EINVAL);
	h.family = 4;
	h.dir = 2;
	assert_int_equal(flow_table_feed(t, &h, NULL), -EINVAL);
	h.dir = S;
	h.len = 1;
	h.caplen = 2;
	assert_int_equal(flow_table_feed(t, &h, (const uint8_t *)"ab"), -EINVAL);
	assert_int_equal(flow_table_counters(t)->malformed, 3);
	flow_table_free(t);
}

/* A long stream of full-size segments, every pair swapped: the buffer is reused, bounded. */
static void test_large_segments_reordered(void **state)
{
	static char buf[1448];
	struct flow_table *t = table(NULL);
	const struct flow_counters *k = flow_table_counters(t);
	uint32_t seq0 = 0xffff0000u, i, n = 200;
	size_t mem_after_warmup = 0;

	memset(buf, 'x', sizeof(buf));
	feed(t, C4, CL, seq0 - 1, MP_TCP_SYN, NULL, 1);
	for (i = 0; i < n; i += 2) {
		feed_ex(t, C4, CL, seq0 + (i + 1) * 1448, 0, buf, 1448, 1448, 2 + i);
		feed_ex(t, C4, CL, seq0 + i * 1448, 0, buf, 1448, 1448, 2 + i);
		if (i == 10)
			mem_after_warmup = flow_table_mem(t);
	}
	assert_int_equal(k->delivered_bytes, (uint64_t)n * 1448);
	assert_int_equal(k->out_of_order, n / 2);
	assert_int_equal(k->gaps, 0);
	assert_int_equal(flow_table_mem(t), mem_after_warmup); /* no growth: chunks recycled */
	flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_lifecycle),
		cmocka_unit_test(test_every_permutation),
		cmocka_unit_test(test_duplicates_and_overlaps),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_hole_timeout),
		cmocka_unit_test(test_hole_acked),
		cmocka_unit_test(test_bound_overflow),
		cmocka_unit_test(test_global_bound),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_ooo_dropped),
		cmocka_unit_test(test_rst_and_reuse),
		cmocka_unit_test(test_fin_waits_for_data),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_idle_expiry),
		cmocka_unit_test(test_max_connections),
		cmocka_unit_test(test_keys_v4_v6),
		cmocka_unit_test(test_large_segments_reordered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
