// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Measures agg_add on existing keys (about 1,000 and 10,000 keys), agg_merge and report_write
 * of the larger set; prints one JSON line. Times are thread CPU time.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "report/agg.h"
#include "report/report.h"

#define NINPUTS 16384
#define CALLS 5000000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Feeds CALLS statements over nkeys existing keys; returns ns per agg_add. */
static double bench_add(unsigned int nkeys, struct agg *a, struct agg_input *in)
{
	static const char *const dbs[] = { "shop", "billing", "users", "analytics" };
	static const char *const users[] = { "app", "batch", "report" };
	uint64_t s = 88172645463325252ull, t0, k;
	size_t i;

	for (i = 0; i < NINPUTS; i++) {
		k = rnd(&s) % nkeys;
		in[i].template_id = 0x1234567800000000ull + k / 12;
		in[i].template_text = "SELECT a, b FROM t WHERE id = ?";
		in[i].template_len = strlen(in[i].template_text);
		in[i].sql = "SELECT a, b FROM t WHERE id = 42";
		in[i].sql_len = strlen(in[i].sql);
		in[i].db = dbs[k % 4];
		in[i].db_len = strlen(in[i].db);
		in[i].user = users[(k / 4) % 3];
		in[i].user_len = strlen(in[i].user);
		in[i].family = AF_INET;
		in[i].client_addr[0] = 10;
		in[i].client_addr[3] = (uint8_t)(k % 7);
		in[i].client_port = (uint16_t)(30000 + i);
		/* Each key has its own typical latency (100 µs .. 12.8 ms) and spreads up to 2x
		 * around it, as real statements do; all below the slow threshold. */
		in[i].latency_us = ((100ull << (k % 8)) * (100 + rnd(&s) % 100)) / 100;
		in[i].rows_sent = 1;
		in[i].bytes_in = 60;
		in[i].bytes_out = 200;
	}
	for (i = 0; i < NINPUTS; i++) /* warm up: every key exists before timing */
		agg_add(a, &in[i]);
	t0 = now_ns();
	for (i = 0; i < CALLS; i++)
		agg_add(a, &in[i % NINPUTS]);
	return (double)(now_ns() - t0) / CALLS;
}

int main(void)
{
	static struct agg_input in[NINPUTS];
	struct agg_config cfg = { .max_keys = 10000, .max_slow = 100, .slow_threshold_us = 100000,
				  .template_max_len = 4096, .sql_max_len = 4096 };
	struct agg *a = agg_new(&cfg), *b = agg_new(&cfg);
	struct report_header hdr = { .version = 1, .node = "bench:8667", .role = "slave" };
	struct report_capture cap = { 0 };
	double add_1k, add_10k;
	uint64_t t0, merge_ns, report_ns;
	size_t keys_1k;
	struct jbuf jb;

	if (!a || !b)
		return 1;
	add_1k = bench_add(1000, a, in);
	keys_1k = agg_stat_count(a);
	agg_reset(a);
	add_10k = bench_add(10000, a, in);
	t0 = now_ns();
	agg_merge(b, a);
	merge_ns = now_ns() - t0;
	jbuf_init(&jb);
	t0 = now_ns();
	report_write(&jb, &hdr, &cap, b, NULL);
	report_ns = now_ns() - t0;
	printf("{\"bench\":\"agg\",\"calls\":%d,\"keys_small\":%zu,\"agg_add_ns_small\":%.1f,"
	       "\"keys_large\":%zu,\"agg_add_ns_large\":%.1f,\"agg_merge_us\":%.1f,"
	       "\"report_write_us\":%.1f,\"report_bytes\":%zu}\n",
	       CALLS, keys_1k, add_1k, agg_stat_count(a), add_10k, merge_ns / 1000.0,
	       report_ns / 1000.0, jb.out.len);
	jbuf_free(&jb);
	agg_free(a);
	agg_free(b);
	return 0;
}
