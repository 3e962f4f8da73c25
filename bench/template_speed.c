// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Templater throughput on one core: sysbench-style statements and 10 KiB statements. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql/template.h"

#define BIG_MIN_LEN (10 * 1024)

struct pool {
	char **sql;
	size_t *len;
	size_t n;
	size_t bytes;
};

struct rng {
	uint64_t s;
};

static uint32_t rnd(struct rng *r, uint32_t n)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s % n);
}

/* sysbench's c/pad strings: groups of 11 digits joined by '-'. */
static void rnd_digits(struct rng *r, char *out, int groups)
{
	int g, i, o = 0;

	for (g = 0; g < groups; g++) {
		if (g)
			out[o++] = '-';
		for (i = 0; i < 11; i++)
			out[o++] = (char)('0' + rnd(r, 10));
	}
	out[o] = '\0';
}

/* One statement of oltp_read_write, in its proportions (10 point selects per 18). */
static int gen_sysbench(struct rng *r, char *buf, size_t cap, unsigned i)
{
	unsigned t = 1 + rnd(r, 10), id = 1 + rnd(r, 1000000), k = i % 18;
	char c[128], pad[64];

	if (k < 10)
		return snprintf(buf, cap, "SELECT c FROM sbtest%u WHERE id=%u", t, id);
	switch (k) {
	case 10:
		return snprintf(buf, cap, "SELECT c FROM sbtest%u WHERE id BETWEEN %u AND %u", t,
				id, id + 99);
	case 11:
		return snprintf(buf, cap,
				"SELECT SUM(k) FROM sbtest%u WHERE id BETWEEN %u AND %u", t, id,
				id + 99);
	case 12:
		return snprintf(buf, cap,
				"SELECT c FROM sbtest%u WHERE id BETWEEN %u AND %u ORDER BY c", t,
				id, id + 99);
	case 13:
		return snprintf(buf, cap,
				"SELECT DISTINCT c FROM sbtest%u WHERE id BETWEEN %u AND %u ORDER BY c",
				t, id, id + 99);
	case 14:
		return snprintf(buf, cap, "UPDATE sbtest%u SET k=k+1 WHERE id=%u", t, id);
	case 15:
		rnd_digits(r, c, 10);
		return snprintf(buf, cap, "UPDATE sbtest%u SET c='%s' WHERE id=%u", t, c, id);
	case 16:
		return snprintf(buf, cap, "DELETE FROM sbtest%u WHERE id=%u", t, id);
	default:
		rnd_digits(r, c, 10);
		rnd_digits(r, pad, 5);
		return snprintf(buf, cap,
				"INSERT INTO sbtest%u (id, k, c, pad) VALUES (%u, %u, '%s', '%s')", t,
				id, rnd(r, 1000000), c, pad);
	}
}

/* 10 KiB statements: a multi-row INSERT, a long IN list, a long OR chain. */
static int gen_big(struct rng *r, char *buf, size_t cap, unsigned i)
{
	int n = 0;

	switch (i % 3) {
	case 0:
		n = snprintf(buf, cap, "INSERT INTO t (a, b, c) VALUES ");
		while (n < BIG_MIN_LEN)
			n += snprintf(buf + n, cap - n, "%s(%u, 'row %u', NOW())",
				      n > 40 ? ", " : "", rnd(r, 100000), rnd(r, 1000));
		return n;
	case 1:
		n = snprintf(buf, cap, "SELECT * FROM t WHERE id IN (");
		while (n < BIG_MIN_LEN)
			n += snprintf(buf + n, cap - n, "%s%u", n > 30 ? ", " : "",
				      rnd(r, 1000000));
		return n + snprintf(buf + n, cap - n, ")");
	default:
		n = snprintf(buf, cap, "SELECT a, b FROM t /* report */ WHERE x = 1");
		while (n < BIG_MIN_LEN)
			n += snprintf(buf + n, cap - n, " OR (col%u = 'v%u' AND n > -%u)",
				      rnd(r, 50), rnd(r, 1000), rnd(r, 100));
		return n;
	}
}

static int pool_fill(struct pool *p, size_t n, int big, uint64_t seed)
{
	size_t cap = big ? 4 * BIG_MIN_LEN : 1024, i;
	struct rng r = { seed };
	char *buf = malloc(cap);

	p->sql = calloc(n, sizeof(*p->sql));
	p->len = calloc(n, sizeof(*p->len));
	if (!buf || !p->sql || !p->len) {
		free(buf);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		int l = big ? gen_big(&r, buf, cap, i) : gen_sysbench(&r, buf, cap, i);

		p->sql[i] = strndup(buf, l);
		if (!p->sql[i]) {
			free(buf);
			return -ENOMEM;
		}
		p->len[i] = l;
		p->bytes += l;
	}
	p->n = n;
	free(buf);
	return 0;
}

static void pool_free(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->sql[i]);
	free(p->sql);
	free(p->len);
}

/* The input for other tools: one statement per line, ";"-terminated (pt-fingerprint's form). */
static int pool_dump(const struct pool *p, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		return -errno;
	for (i = 0; i < p->n; i++)
		fprintf(f, "%.*s;\n", (int)p->len[i], p->sql[i]);
	return fclose(f) ? -errno : 0;
}

/*
 * CPU time of this thread, not wall time: the machine is shared, and "per core" means the
 * time we actually ran. The wall time is reported beside it.
 */
static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Normalises the pool round after round for at least `seconds`; prints one JSON object. */
static void run(const char *name, const struct pool *p, double seconds, int last)
{
	static char out[TEMPLATE_MAX_LEN_DEFAULT + 1];
	struct template_info info;
	uint64_t sink = 0, stmts = 0, bytes = 0;
	double t0 = cpu_s(), w0 = wall_s(), dt;
	size_t i;

	do {
		for (i = 0; i < p->n; i++) {
			template_make(p->sql[i], p->len[i], out, sizeof(out), NULL, &info);
			sink += info.id;
		}
		stmts += p->n;
		bytes += p->bytes;
		dt = cpu_s() - t0;
	} while (dt < seconds);
	printf("\"%s\": {\"statements\": %llu, \"cpu_seconds\": %.3f, \"wall_seconds\": %.3f, "
	       "\"stmts_per_s\": %.0f, \"mb_per_s\": %.1f, \"avg_len\": %.0f, "
	       "\"sink\": \"%016llx\"}%s",
	       name, (unsigned long long)stmts, dt, wall_s() - w0, stmts / dt, bytes / dt / 1e6,
	       (double)p->bytes / p->n, (unsigned long long)sink, last ? "" : ", ");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "dump-sysbench", required_argument, NULL, 'd' },
		{ "dump-big", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dump_sb = NULL, *dump_big = NULL;
	struct pool sb = { 0 }, big = { 0 };
	double seconds = 2.0;
	size_t count = 100000;
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "s:d:b:n:", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'd':
			dump_sb = optarg;
			break;
		case 'b':
			dump_big = optarg;
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: template_speed [--seconds S] [--count N] "
					"[--dump-sysbench FILE] [--dump-big FILE]\n");
			return 2;
		}
	}
	if (!count || pool_fill(&sb, count, 0, 42) || pool_fill(&big, count / 100 + 3, 1, 43)) {
		fprintf(stderr, "template_speed: failed to generate the statements\n");
		goto cleanup;
	}
	if ((dump_sb && pool_dump(&sb, dump_sb)) || (dump_big && pool_dump(&big, dump_big))) {
		fprintf(stderr, "template_speed: failed to write the statements\n");
		goto cleanup;
	}
	printf("{\"bench\": \"template_speed\", ");
	run("sysbench", &sb, seconds, 0);
	run("big_10k", &big, seconds, 1);
	printf("}\n");
	rc = 0;
cleanup:
	pool_free(&sb);
	pool_free(&big);
	return rc;
}
