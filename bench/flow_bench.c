// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Flow table benchmark: feed throughput, memory per connection, bounds under 100k connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flow/flow.h"
#include "pipeline/worker.h"

#define BENCH_CONNS 1000
#define BENCH_REQ 120
#define BENCH_RESP 1400

struct sink {
	uint64_t bytes;
	uint64_t gaps;
	uint64_t bad; /* bytes that are not the pattern fed: must stay 0 */
};

static void *sink_open(void *ctx, const struct flow_key *k, uint64_t ts, int midstream)
{
	return ctx;
}

static void sink_data(void *ctx, void *user, int dir, const uint8_t *d, size_t n, uint64_t ts)
{
	struct sink *s = ctx;

	s->bytes += n;
	s->bad += d[n - 1] != 'x' && d[n - 1] != 'y'; /* touch the data like a decoder would */
}

static void sink_gap(void *ctx, void *user, int dir, uint64_t n, uint64_t ts)
{
	((struct sink *)ctx)->gaps++;
}

static const struct flow_callbacks sink_cb = {
	.on_open = sink_open, .on_data = sink_data, .on_gap = sink_gap,
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

static void seg_init(struct mp_seg_hdr *h, uint32_t conn, int dir, uint32_t seq, uint32_t len,
		     uint64_t ts)
{
	memset(h, 0, sizeof(*h));
	h->family = 4;
	h->dir = dir;
	h->saddr[0] = dir ? 10 : 172;
	h->daddr[0] = dir ? 172 : 10;
	/* Client address and port from the connection number: up to 2^32 distinct keys. */
	memcpy(dir ? &h->daddr[1] : &h->saddr[1], &conn, 3);
	h->sport = dir ? 3306 : 1024 + (conn >> 24);
	h->dport = dir ? 1024 + (conn >> 24) : 3306;
	h->seq = seq;
	h->len = h->caplen = len;
	h->tcp_flags = MP_TCP_ACK | MP_TCP_PSH;
	h->ts_ns = ts;
}

/*
 * (a) BENCH_CONNS connections each doing request/response rounds; `reorder` swaps every
 * 100th response with the next one of its connection (a held segment, then a fill).
 */
static double bench_feed(uint64_t rounds, int reorder, uint64_t *segs_out, uint64_t *bytes_out,
			 size_t *mem_growth)
{
	static uint8_t payload[BENCH_RESP * 2];
	struct sink s = { 0 };
	struct flow_table *t = flow_table_new(NULL, &sink_cb, &s);
	uint32_t cseq[BENCH_CONNS] = { 0 }, sseq[BENCH_CONNS] = { 0 };
	uint64_t r, segs = 0, ts = 1;
	size_t mem0 = 0;
	double t0 = 0;
	uint32_t c, rs = BENCH_RESP;

	memset(payload, 'x', sizeof(payload));
	for (r = 0; r < rounds; r++) {
		/* Rounds 0 and 1 open the flows and grow the buffer pool: time the steady state. */
		if (r == 2) {
			mem0 = flow_table_mem(t);
			t0 = now_s();
		}
		for (c = 0; c < BENCH_CONNS; c++, ts += 1000) {
			struct mp_seg_hdr h;

			seg_init(&h, c, MP_DIR_TO_SERVER, cseq[c], BENCH_REQ, ts);
			flow_table_feed(t, &h, payload);
			cseq[c] += BENCH_REQ;
			/* Not in round 0: a flow joined mid-stream starts at its first segment. */
			if (reorder && r && (r + c) % 100 == 0) {
				seg_init(&h, c, MP_DIR_TO_CLIENT, sseq[c] + rs, rs, ts);
				flow_table_feed(t, &h, payload);
				seg_init(&h, c, MP_DIR_TO_CLIENT, sseq[c], rs, ts);
				flow_table_feed(t, &h, payload);
			} else {
				seg_init(&h, c, MP_DIR_TO_CLIENT, sseq[c], rs, ts);
				flow_table_feed(t, &h, payload);
				seg_init(&h, c, MP_DIR_TO_CLIENT, sseq[c] + rs, rs, ts);
				flow_table_feed(t, &h, payload);
			}
			sseq[c] += 2 * BENCH_RESP;
			if (r >= 2)
				segs += 3;
		}
	}
	t0 = now_s() - t0;
	*segs_out = segs;
	*bytes_out = segs / 3 * (BENCH_REQ + 2 * BENCH_RESP);
	*mem_growth = flow_table_mem(t) - mem0;
	if (s.gaps || s.bad)
		fprintf(stderr, "flow_bench: unexpected gaps %llu, bad data %llu\n",
			(unsigned long long)s.gaps, (unsigned long long)s.bad);
	flow_table_free(t);
	return t0;
}

/* (d) the same workload routed through a worker pool, one flow table per worker. */
struct pool_w {
	struct flow_table *t;
	struct sink s;
};

static void *pool_init(void *arg, int idx)
{
	struct pool_w *w = calloc(1, sizeof(*w));

	w->t = flow_table_new(NULL, &sink_cb, &w->s);
	return w;
}

static void pool_segment(void *ws, const struct mp_seg_hdr *h, const uint8_t *payload)
{
	flow_table_feed(((struct pool_w *)ws)->t, h, payload);
}

static void pool_fini(void *ws)
{
	struct pool_w *w = ws;

	if (w->s.gaps || w->s.bad)
		fprintf(stderr, "flow_bench: pool: unexpected gaps or bad data\n");
	flow_table_free(w->t);
	free(w);
}

static double bench_pool(int workers, uint64_t rounds, uint64_t *segs_out, uint64_t *waits)
{
	static const struct worker_ops ops = {
		.init = pool_init, .segment = pool_segment, .fini = pool_fini,
	};
	static uint8_t payload[BENCH_RESP];
	struct worker_pool *p = worker_pool_new(workers, 4u << 20, &ops, NULL);
	uint32_t cseq[BENCH_CONNS] = { 0 }, sseq[BENCH_CONNS] = { 0 };
	uint64_t r, ts = 1;
	double t0 = now_s();
	uint32_t c;
	int i;

	memset(payload, 'x', sizeof(payload));
	for (r = 0; r < rounds; r++) {
		for (c = 0; c < BENCH_CONNS; c++, ts += 1000) {
			struct mp_seg_hdr h;

			seg_init(&h, c, MP_DIR_TO_SERVER, cseq[c], BENCH_REQ, ts);
			worker_pool_route(p, &h, payload);
			seg_init(&h, c, MP_DIR_TO_CLIENT, sseq[c], BENCH_RESP, ts);
			worker_pool_route(p, &h, payload);
			cseq[c] += BENCH_REQ;
			sseq[c] += BENCH_RESP;
		}
	}
	*waits = 0;
	for (i = 0; i < worker_pool_size(p); i++) {
		struct worker_stats st;

		worker_pool_stats(p, i, &st);
		*waits += st.waits;
	}
	worker_pool_free(p); /* drains: the time includes every segment processed */
	*segs_out = rounds * BENCH_CONNS * 2;
	return now_s() - t0;
}

/* (b) memory per tracked connection with n connections open. */
static void bench_mem(uint32_t n, double *per_conn, double *rss_per_conn, double *per_flow)
{
	struct sink s = { 0 };
	struct flow_config cfg = { .max_connections = n };
	size_t rss0 = rss_bytes(), mem, mem0;
	struct flow_table *t = flow_table_new(&cfg, &sink_cb, &s);
	uint8_t p[1] = { 'q' };
	uint32_t c;

	mem0 = flow_table_mem(t);
	for (c = 0; c < n; c++) {
		struct mp_seg_hdr h;

		seg_init(&h, c, MP_DIR_TO_SERVER, 1, 1, c + 1);
		flow_table_feed(t, &h, p);
	}
	mem = flow_table_mem(t);
	*per_conn = (double)mem / flow_table_counters(t)->active;
	*per_flow = (double)(mem - mem0) / flow_table_counters(t)->active;
	*rss_per_conn = (double)(rss_bytes() - rss0) / flow_table_counters(t)->active;
	flow_table_free(t);
}

int main(int argc, char **argv)
{
	uint64_t rounds = argc > 1 ? strtoull(argv[1], NULL, 10) : 3000;
	uint64_t segs, bytes, rsegs, rbytes;
	size_t growth, rgrowth;
	double dt, rdt, per_conn, rss_per_conn, per_flow, pdt;
	uint64_t psegs, pwaits;
	int workers = argc > 2 ? atoi(argv[2]) : 2;
	const uint32_t offered = 100000, max_conn = 65536;
	struct flow_config cfg = { .max_connections = max_conn };
	struct flow_config def;
	struct sink s = { 0 };
	struct flow_table *t;
	const struct flow_counters *k;
	uint8_t p[BENCH_REQ];
	size_t mem, mem0, bound;
	uint32_t c;

	if (rounds < 3)
		rounds = 3;
	dt = bench_feed(rounds, 0, &segs, &bytes, &growth);
	rdt = bench_feed(rounds, 1, &rsegs, &rbytes, &rgrowth);
	bench_mem(offered, &per_conn, &rss_per_conn, &per_flow);
	pdt = bench_pool(workers, rounds / 2, &psegs, &pwaits);

	/* (c) 100k connections offered to a 64k table, each with a hole and a buffered
	 * segment behind it: flows and buffers must both stay within their bounds. */
	memset(p, 'y', sizeof(p));
	t = flow_table_new(&cfg, &sink_cb, &s);
	k = flow_table_counters(t);
	mem0 = flow_table_mem(t);
	for (c = 0; c < offered; c++) {
		struct mp_seg_hdr h;

		seg_init(&h, c, MP_DIR_TO_SERVER, 1, BENCH_REQ, c + 1);
		flow_table_feed(t, &h, p);
		seg_init(&h, c, MP_DIR_TO_SERVER, 1 + 2 * BENCH_REQ, BENCH_REQ, c + 1);
		flow_table_feed(t, &h, p);
	}
	flow_config_default(&def);
	mem = flow_table_mem(t);
	/* The empty table (buckets), flows up to the bound (slab rounding included), the
	 * out-of-order pool: nothing else may grow. */
	bound = mem0 + (size_t)((max_conn + 256) * per_flow) + def.max_ooo_total;
	printf("{\"bench\":\"flow\",\"rounds\":%llu,\"conns\":%d,"
	       "\"segments\":%llu,\"seconds\":%.3f,\"seg_per_s\":%.0f,\"mb_per_s\":%.1f,"
	       "\"steady_mem_growth\":%zu,"
	       "\"reorder_segments\":%llu,\"reorder_seg_per_s\":%.0f,\"reorder_mem_growth\":%zu,"
	       "\"mem_conns\":%u,\"bytes_per_conn\":%.1f,\"flow_bytes\":%.1f,"
	       "\"rss_bytes_per_conn\":%.1f,"
	       "\"offered\":%u,\"max_connections\":%u,\"active\":%llu,\"table_full\":%llu,"
	       "\"ooo_mem\":%llu,\"max_ooo_total\":%llu,\"gaps_overflow\":%llu,"
	       "\"table_mem\":%zu,\"mem_bound\":%zu,\"within_bounds\":%s,"
	       "\"pool_workers\":%d,\"pool_segments\":%llu,\"pool_seg_per_s\":%.0f,"
	       "\"pool_waits\":%llu}\n",
	       (unsigned long long)rounds, BENCH_CONNS, (unsigned long long)segs, dt, segs / dt,
	       bytes / dt / 1e6, growth, (unsigned long long)rsegs, rsegs / rdt, rgrowth, offered,
	       per_conn, per_flow, rss_per_conn, offered, max_conn, (unsigned long long)k->active,
	       (unsigned long long)k->table_full, (unsigned long long)k->ooo_mem,
	       (unsigned long long)def.max_ooo_total, (unsigned long long)k->gaps_overflow, mem,
	       bound,
	       k->active <= max_conn && k->ooo_mem <= def.max_ooo_total && mem <= bound ? "true"
										      : "false",
	       workers, (unsigned long long)psegs, psegs / pdt, (unsigned long long)pwaits);
	flow_table_free(t);
	return 0;
}
