// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The master's merge path on one core: N simulated slaves each send a report of R rows per
 * period (the same R keys on every slave: the same application on sharded servers), as a
 * slave sends it (report_write, template texts once per link, snappy). For each period the
 * bench does what a master does with each message, through the master's own reader
 * (report_read_msg: snappy-uncompress, then report_msg_parse reads and checks the whole
 * message) and merge_offer (its rows straight into the period); then merge_poll emits the
 * merged period. Prints one JSON line: CPU time per step, rows merged per second, bytes per
 * slave per period, peak RSS. "snappy" is timed apart by uncompressing each message once
 * more (untimed in the total); "parse" is report_read_msg less that.
 *
 *   merge_bench [--slaves N] [--rows R] [--periods P]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <snappy-c.h>

#include "cluster/merge.h"
#include "cluster/report_read.h"
#include "cluster/template_store.h"
#include "lib/jbuf.h"
#include "report/agg.h"
#include "report/report.h"
#include "report/template_seen.h"

#define PERIOD_MS 1000
#define T0 1700000000000ull
#define TEMPLATES 2000

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: the machine may be shared */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static long vm_hwm_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* One slave's period: R rows over TEMPLATES templates x R / TEMPLATES clients. */
static int fill(struct agg *a, unsigned rows, unsigned slave, uint64_t period_start,
		char texts[][64])
{
	static const char *const dbs[] = { "shop", "billing", "users", "analytics" };
	uint64_t s = 0x9E3779B97F4A7C15ull ^ ((uint64_t)slave << 32) ^ period_start;
	struct agg_input in;

	for (unsigned i = 0; i < rows; i++) {
		unsigned t = i % TEMPLATES, c = i / TEMPLATES;

		/* A few statements per row, latencies spread over the histogram. */
		for (unsigned k = 0; k < 1 + rnd(&s) % 3; k++) {
			memset(&in, 0, sizeof(in));
			in.template_id = 0x5eed000000000000ull + t;
			in.template_text = texts[t];
			in.template_len = strlen(texts[t]);
			in.command = AGG_CMD_EXECUTE;
			in.db = dbs[t % 4];
			in.db_len = strlen(in.db);
			in.user = "app";
			in.user_len = 3;
			in.family = AF_INET;
			in.client_addr[0] = 10;
			in.client_addr[1] = 1;
			in.client_addr[2] = (uint8_t)(c >> 8);
			in.client_addr[3] = (uint8_t)c;
			in.ts_us = (period_start + 1 + i % 900) * 1000;
			in.latency_us = 50 + rnd(&s) % 20000;
			in.rows_sent = 1;
			in.bytes_in = 60;
			in.bytes_out = 200;
			if (agg_add(a, &in))
				return -ENOMEM;
		}
	}
	return 0;
}

static const char *store_text(void *ctx, uint64_t id, size_t *len)
{
	return template_store_get(ctx, id, len);
}

int main(int argc, char **argv)
{
	unsigned nslaves = 100, rows = 10000, periods = 3;
	struct agg_config acfg = {
		.max_keys = 10000, .max_slow = 100, .slow_threshold_us = 1000000,
		.template_max_len = 4096, .sql_max_len = 4096,
	};
	static char texts[TEMPLATES][64];
	uint64_t t_snappy = 0, t_parse = 0, t_merge = 0, t_emit = 0, t0, merged_rows = 0;
	size_t wire_first = 0, wire_steady = 0, json_steady = 0;
	struct template_seen **seen;
	struct template_store *store;
	struct agg *src;
	struct report_read rd;
	struct merge *m;
	struct jbuf b;
	char **msg;
	size_t *msg_len;
	char name[32];
	struct buf plain = { 0 };

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--slaves"))
			nslaves = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--rows"))
			rows = (unsigned)atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--periods"))
			periods = (unsigned)atoi(argv[i + 1]);
	}
	if (!nslaves || !rows || periods < 2) {
		fprintf(stderr, "usage: merge_bench [--slaves N] [--rows R] [--periods P>=2]\n");
		return 2;
	}
	acfg.max_keys = rows;
	for (unsigned t = 0; t < TEMPLATES; t++)
		snprintf(texts[t], sizeof(texts[t]), "SELECT c%u FROM sbtest%u WHERE id = ?", t,
			 t % 32);
	struct merge_config mc = { .acfg = acfg, .period_ms = PERIOD_MS, .wait_ms = 500 };

	m = merge_new(&mc);
	store = template_store_new(256u << 20);
	src = agg_new(&acfg);
	if (report_read_init(&rd, &acfg, 0))
		return 1;
	seen = calloc(nslaves, sizeof(*seen));
	msg = calloc(nslaves, sizeof(*msg));
	msg_len = calloc(nslaves, sizeof(*msg_len));
	if (!m || !store || !src || !seen || !msg || !msg_len)
		return 1;
	jbuf_init(&b);
	for (unsigned k = 0; k < nslaves; k++) {
		snprintf(name, sizeof(name), "10.0.%u.%u:8667", k / 250, k % 250 + 1);
		seen[k] = template_seen_new(100000);
		if (!seen[k] || merge_node_add(m, name, 0, 0) || merge_node_set_up(m, name, true))
			return 1;
	}
	for (unsigned p = 0; p < periods; p++) {
		uint64_t start = T0 + (uint64_t)p * PERIOD_MS;

		/* The slaves' messages of this period (not timed: that is the slaves' work). */
		for (unsigned k = 0; k < nslaves; k++) {
			struct report_header h = { .version = REPORT_VERSION, .seq = p + 1,
						   .started_ms = T0 - 1000,
						   .period_start_ms = start,
						   .period_end_ms = start + PERIOD_MS };
			struct report_capture c = { 0 };
			size_t n;

			snprintf(h.node, sizeof(h.node), "10.0.%u.%u:8667", k / 250, k % 250 + 1);
			snprintf(h.role, sizeof(h.role), "slave");
			agg_reset(src);
			jbuf_reset(&b);
			if (fill(src, rows, k, start, texts) ||
			    report_write(&b, &h, &c, src, seen[k]))
				return 1;
			n = snappy_max_compressed_length(b.out.len);
			free(msg[k]);
			msg[k] = malloc(n);
			if (!msg[k] || snappy_compress(b.out.data, b.out.len, msg[k], &n) != SNAPPY_OK)
				return 1;
			msg_len[k] = n;
			if (p == 0)
				wire_first += n;
			else if (p == periods - 1)
				wire_steady += n, json_steady += b.out.len;
		}
		/* The master's work, timed step by step. */
		for (unsigned k = 0; k < nslaves; k++) {
			const struct report_msg *rm;
			const char *why, *text;
			uint64_t id, t_read;
			size_t n, len;

			/* snappy alone, to say how much of the read it is (not in the total) */
			t0 = cpu_ns();
			if (snappy_uncompressed_length(msg[k], msg_len[k], &n) != SNAPPY_OK ||
			    buf_reserve(&plain, n + 1) ||
			    snappy_uncompress(msg[k], msg_len[k], plain.data, &n) != SNAPPY_OK)
				return 1;
			t_snappy += cpu_ns() - t0;
			t0 = cpu_ns();
			if (report_read_msg(&rd, msg[k], msg_len[k], 1, &rm, &why)) {
				fprintf(stderr, "merge_bench: period %u, slave %u: %s\n", p, k, why);
				return 1;
			}
			t_read = cpu_ns() - t0;
			t_parse += t_read;
			t0 = cpu_ns();
			for (size_t i = 0; i < report_msg_template_count(rm); i++)
				if (!report_msg_template_at(rm, i, &id, &text, &len))
					template_store_put(store, id, text, len);
			snprintf(name, sizeof(name), "10.0.%u.%u:8667", k / 250, k % 250 + 1);
			if (merge_offer(m, name, rm, store_text, store) != MERGE_MERGED) {
				fprintf(stderr, "merge_bench: merge_offer did not merge\n");
				return 1;
			}
			t_merge += cpu_ns() - t0;
			merged_rows += report_msg_rows(rm);
		}
		t0 = cpu_ns();
		struct merge_out o;

		if (merge_poll(m, start + PERIOD_MS, &o) != 1) {
			fprintf(stderr, "merge_bench: period %u not emitted\n", p);
			return 1;
		}
		if (agg_stat_count(o.a) != rows) {
			fprintf(stderr, "merge_bench: merged %zu rows, want %u\n",
				agg_stat_count(o.a), rows);
			return 1;
		}
		merge_out_free(&o);
		t_emit += cpu_ns() - t0;
	}
	/* report_read_msg uncompressed too: its time holds one snappy step. */
	uint64_t total = t_parse + t_merge + t_emit;

	t_parse = t_parse > t_snappy ? t_parse - t_snappy : 0;

	printf("{\"slaves\":%u,\"rows\":%u,\"periods\":%u,\"merged_rows\":%llu,"
	       "\"cpu_ms\":{\"snappy\":%.1f,\"parse\":%.1f,\"merge\":%.1f,\"emit\":%.1f},"
	       "\"rows_per_s\":%.0f,\"period_cpu_ms\":%.1f,"
	       "\"bytes_per_slave_first\":%zu,\"bytes_per_slave\":%zu,\"json_bytes_per_slave\":%zu,"
	       "\"vm_hwm_mib\":%.1f}\n",
	       nslaves, rows, periods, (unsigned long long)merged_rows, t_snappy / 1e6,
	       t_parse / 1e6, t_merge / 1e6, t_emit / 1e6, merged_rows * 1e9 / (double)total,
	       total / 1e6 / periods, wire_first / nslaves, wire_steady / nslaves,
	       json_steady / nslaves, vm_hwm_kib() / 1024.0);
	return 0;
}
