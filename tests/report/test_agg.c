// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the aggregator: keys, commands, counters, error codes, overflow, slow samples, merge. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "report/agg.h"
#include "report/hist.h"

static const struct agg_config default_cfg = {
	.max_keys = 1000, .max_slow = 10, .slow_threshold_us = 100000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

static struct agg_input input(uint64_t tid, const char *db, const char *user, const char *ip,
			      uint64_t latency_us)
{
	struct agg_input in = { 0 };

	in.template_id = tid;
	in.template_text = "SELECT ? FROM t";
	in.template_len = strlen(in.template_text);
	in.sql = "SELECT 1 FROM t";
	in.sql_len = strlen(in.sql);
	in.db = db;
	in.db_len = db ? strlen(db) : 0;
	in.user = user;
	in.user_len = user ? strlen(user) : 0;
	if (inet_pton(AF_INET, ip, in.client_addr) == 1)
		in.family = AF_INET;
	else if (inet_pton(AF_INET6, ip, in.client_addr) == 1)
		in.family = AF_INET6;
	in.client_port = 40000;
	in.ts_us = 1700000000000000ull;
	in.latency_us = latency_us;
	return in;
}

static struct agg *new_agg(const struct agg_config *cfg)
{
	struct agg *a = agg_new(cfg);

	assert_non_null(a);
	return a;
}

static bool no_other(const struct agg *a)
{
	unsigned int c;

	for (c = 0; c < AGG_CMD_COUNT; c++)
		if (agg_other(a, c))
			return false;
	return true;
}

static uint64_t err_count(const struct agg_stat *s, uint16_t code)
{
	unsigned int i;

	for (i = 0; i < s->err_n; i++)
		if (s->err_code[i] == code)
			return s->err_count[i];
	return 0;
}

static void test_keys(void **state)
{
	struct agg *a = new_agg(&default_cfg);
	struct agg_input in = input(1, "db1", "u1", "10.0.0.1", 50);

	(void)state;
	assert_int_equal(agg_add(a, &in), 0);
	in.client_port = 40001; /* the port is not part of the key */
	in.client_addr[7] = 0xaa; /* nor are the unused bytes of an IPv4 address */
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_stat_count(a), 1);
	assert_int_equal(agg_stat_at(a, 0)->count, 2);

	in = input(1, "db1", "u1", "10.0.0.2", 50);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(1, "db2", "u1", "10.0.0.1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(1, "db1", "u2", "10.0.0.1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(2, "db1", "u1", "10.0.0.1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(1, "db1", "u1", "::1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	/* db "" and db NULL are the same key; "db1u" + "" differs from "db1" + "u". */
	in = input(1, NULL, "u1", "10.0.0.1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(1, "", "u1", "10.0.0.1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(1, "db1u", "", "10.0.0.1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(1, "db1", "u", "10.0.0.1", 50);
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_stat_count(a), 9);
	assert_int_equal(agg_stat_at(a, 6)->count, 2);
	assert_true(no_other(a));
	assert_int_equal(agg_statements(a), 11);
	agg_free(a);
}

/* The prepare of a statement and its executes share a template, never a row. */
static void test_command_in_key(void **state)
{
	struct agg *a = new_agg(&default_cfg);
	struct agg_input in = input(1, "db1", "u1", "10.0.0.1", 50);
	const struct agg_stat *s;
	int i;

	(void)state;
	in.command = AGG_CMD_PREPARE;
	in.latency_us = 900;
	assert_int_equal(agg_add(a, &in), 0);
	in.command = AGG_CMD_EXECUTE;
	for (i = 0; i < 5; i++) {
		in.latency_us = 10 + i;
		assert_int_equal(agg_add(a, &in), 0);
	}
	in.command = AGG_CMD_QUERY;
	assert_int_equal(agg_add(a, &in), 0);
	in.command = AGG_CMD_OTHER;
	assert_int_equal(agg_add(a, &in), 0);
	in.command = (enum agg_cmd)77; /* out of range: counted as other */
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_stat_count(a), 4);
	s = agg_stat_at(a, 0);
	assert_int_equal(s->key.command, AGG_CMD_PREPARE);
	assert_int_equal(s->count, 1);
	assert_int_equal(s->lat.max, 900);
	s = agg_stat_at(a, 1);
	assert_int_equal(s->key.command, AGG_CMD_EXECUTE);
	assert_int_equal(s->count, 5);
	assert_int_equal(s->lat.max, 14); /* the prepare's 900 µs is not in the executes' */
	assert_int_equal(agg_stat_at(a, 2)->key.command, AGG_CMD_QUERY);
	assert_int_equal(agg_stat_at(a, 3)->key.command, AGG_CMD_OTHER);
	assert_int_equal(agg_stat_at(a, 3)->count, 2);
	assert_int_equal(agg_template_count(a), 1);
	agg_free(a);
}

static void test_cmd_names(void **state)
{
	enum agg_cmd c;
	unsigned int i;

	(void)state;
	for (i = 0; i < AGG_CMD_COUNT; i++) {
		assert_int_equal(agg_cmd_parse(agg_cmd_name(i), &c), 0);
		assert_int_equal(c, i);
	}
	assert_string_equal(agg_cmd_name(AGG_CMD_EXECUTE), "execute");
	assert_null(agg_cmd_name(AGG_CMD_COUNT));
	assert_int_equal(agg_cmd_parse("Execute", &c), -EINVAL);
	assert_int_equal(agg_cmd_parse("", &c), -EINVAL);
}

static void test_counters_and_errors(void **state)
{
	static const uint16_t codes[] = { 1146, 1062, 1146, 1213, 1205, 1045, 1064, 1062 };
	struct agg *a = new_agg(&default_cfg);
	const struct agg_stat *s;
	struct agg_input in;
	unsigned int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		in = input(7, "db", "u", "192.168.1.9", 10 + i);
		in.rows_sent = 3;
		in.rows_affected = 1;
		in.bytes_in = 100;
		in.bytes_out = 1000;
		in.no_index_used = i % 2;
		if (i < sizeof(codes) / sizeof(codes[0])) {
			in.status = AGG_STATUS_ERROR;
			in.error_code = codes[i];
		}
		assert_int_equal(agg_add(a, &in), 0);
	}
	s = agg_stat_at(a, 0);
	assert_int_equal(s->count, 10);
	assert_int_equal(s->errors, 8);
	assert_int_equal(s->rows_sent, 30);
	assert_int_equal(s->rows_affected, 10);
	assert_int_equal(s->bytes_in, 1000);
	assert_int_equal(s->bytes_out, 10000);
	assert_int_equal(s->no_index_used, 5);
	assert_int_equal(s->lat.count, 10);
	assert_int_equal(s->lat.min, 10);
	assert_int_equal(s->lat.max, 19);
	assert_int_equal(s->lat.sum, 145);
	/* Six codes: every one counted by itself, in ascending order. */
	assert_int_equal(s->err_n, 6);
	assert_int_equal(s->err_code[0], 1045);
	assert_int_equal(s->err_count[0], 1);
	assert_int_equal(s->err_code[1], 1062);
	assert_int_equal(s->err_count[1], 2);
	assert_int_equal(s->err_code[2], 1064);
	assert_int_equal(s->err_code[3], 1146);
	assert_int_equal(s->err_count[3], 2);
	assert_int_equal(s->err_code[4], 1205);
	assert_int_equal(s->err_code[5], 1213);
	assert_int_equal(s->err_other, 0);
	agg_free(a);
}

/* Past AGG_ERR_CODES codes, a row keeps the smallest ones and sums the others. */
static void test_error_codes_overflow(void **state)
{
	struct agg_stat s = { 0 };
	unsigned int i;

	(void)state;
	for (i = 0; i < AGG_ERR_CODES; i++)
		agg_stat_err_add(&s, (uint16_t)(2000 + 10 * i), i + 1);
	assert_int_equal(s.err_n, AGG_ERR_CODES);
	assert_int_equal(s.err_other, 0);
	/* Above every kept code: straight to other. */
	agg_stat_err_add(&s, 9000, 7);
	assert_int_equal(s.err_other, 7);
	assert_int_equal(err_count(&s, 9000), 0);
	/* A known code is still counted by name when the table is full. */
	agg_stat_err_add(&s, 2000, 5);
	assert_int_equal(err_count(&s, 2000), 6);
	/* Below the largest kept code: it takes that code's place, whose count joins other. */
	agg_stat_err_add(&s, 1000, 3);
	assert_int_equal(s.err_n, AGG_ERR_CODES);
	assert_int_equal(s.err_code[0], 1000);
	assert_int_equal(s.err_count[0], 3);
	assert_int_equal(s.err_code[AGG_ERR_CODES - 1], 2000 + 10 * (AGG_ERR_CODES - 2));
	assert_int_equal(err_count(&s, 2000 + 10 * (AGG_ERR_CODES - 1)), 0);
	assert_int_equal(s.err_other, 7 + AGG_ERR_CODES);
	/* The evicted code now counts in other, even when it comes back. */
	agg_stat_err_add(&s, 2000 + 10 * (AGG_ERR_CODES - 1), 1);
	assert_int_equal(s.err_other, 8 + AGG_ERR_CODES);
	for (i = 1; i < s.err_n; i++)
		assert_true(s.err_code[i - 1] < s.err_code[i]);
	/* Codes 0 and 65535 are codes like any other. */
	agg_stat_err_add(&s, 0, 1);
	assert_int_equal(s.err_code[0], 0);
	agg_stat_err_add(&s, 65535, 1);
	assert_int_equal(s.err_other, 10 + AGG_ERR_CODES + AGG_ERR_CODES - 2);
}

static void test_overflow_to_other(void **state)
{
	struct agg_config cfg = default_cfg;
	const struct agg_stat *o;
	struct agg_input in;
	struct agg *a;
	uint64_t t;

	(void)state;
	cfg.max_keys = 3;
	a = new_agg(&cfg);
	for (t = 1; t <= 5; t++) {
		in = input(t, "db", "u", "10.1.1.1", 10 * t);
		assert_int_equal(agg_add(a, &in), 0);
		assert_int_equal(agg_add(a, &in), 0);
	}
	assert_int_equal(agg_stat_count(a), 3);
	o = agg_other(a, AGG_CMD_QUERY);
	assert_non_null(o);
	assert_true(o->is_other);
	assert_int_equal(o->count, 4);
	assert_int_equal(o->lat.count, 4);
	assert_int_equal(agg_keys_overflow(a), 4);
	/* Overflowing statements of other commands get their command's "other" row. */
	in = input(6, "db", "u", "10.1.1.1", 10);
	in.command = AGG_CMD_PREPARE;
	assert_int_equal(agg_add(a, &in), 0);
	in.command = AGG_CMD_EXECUTE;
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_other(a, AGG_CMD_QUERY)->count, 4);
	assert_int_equal(agg_other(a, AGG_CMD_PREPARE)->count, 1);
	assert_int_equal(agg_other(a, AGG_CMD_EXECUTE)->count, 2);
	assert_int_equal(agg_other(a, AGG_CMD_EXECUTE)->key.command, AGG_CMD_EXECUTE);
	assert_null(agg_other(a, AGG_CMD_OTHER));
	assert_null(agg_other(a, AGG_CMD_COUNT));
	assert_int_equal(agg_keys_overflow(a), 7);
	/* An existing key still finds its row when the table is full. */
	in = input(2, "db", "u", "10.1.1.1", 10);
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_stat_at(a, 1)->count, 3);
	/* Only kept rows have template texts. */
	assert_int_equal(agg_template_count(a), 3);
	agg_reset(a);
	assert_int_equal(agg_stat_count(a), 0);
	assert_true(no_other(a));
	assert_int_equal(agg_keys_overflow(a), 0);
	assert_int_equal(agg_template_count(a), 0);
	in = input(9, "db", "u", "10.1.1.1", 10);
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_stat_count(a), 1);
	assert_int_equal(agg_stat_at(a, 0)->key.template_id, 9);
	agg_free(a);
}

static void test_slow_samples(void **state)
{
	struct agg_config cfg = default_cfg;
	const struct agg_slow *s;
	uint64_t seen[3] = { 0 };
	struct agg_input in;
	struct agg *a;
	size_t i;

	(void)state;
	cfg.max_slow = 3;
	cfg.slow_threshold_us = 1000;
	cfg.sql_max_len = 8;
	a = new_agg(&cfg);
	/* Latencies 500..9500: 1000 and up are slow (9 of them); 3 slowest are kept. */
	for (i = 0; i < 10; i++) {
		in = input(1, "db", "u", "10.0.0.1", 500 + 1000 * ((i * 7) % 10));
		in.ts_us = 1000 + i;
		in.client_port = (uint16_t)(5000 + i);
		assert_int_equal(agg_add(a, &in), 0);
	}
	assert_int_equal(agg_slow_count(a), 3);
	assert_int_equal(agg_slow_dropped(a), 6);
	for (i = 0; i < 3; i++) {
		s = agg_slow_at(a, i);
		assert_true(s->latency_us >= 7500);
		seen[(s->latency_us - 7500) / 1000]++;
		assert_int_equal(s->sql_len, 8); /* cut at sql_max_len */
		assert_true(s->sql_truncated);
		assert_memory_equal(s->sql, "SELECT 1", 8);
		assert_int_equal(s->family, AF_INET);
		assert_int_equal(s->db_len, 2);
	}
	assert_int_equal(seen[0] + seen[1] + seen[2], 3);
	assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	agg_free(a);
}

static void test_no_slow_kept(void **state)
{
	struct agg_config cfg = default_cfg;
	struct agg_input in = input(1, "db", "u", "10.0.0.1", 200000);
	struct agg *a;

	(void)state;
	cfg.max_slow = 0;
	a = new_agg(&cfg);
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_slow_count(a), 0);
	assert_int_equal(agg_slow_dropped(a), 1);
	agg_free(a);
}

static void test_templates(void **state)
{
	struct agg_config cfg = default_cfg;
	struct agg_input in = input(5, "db", "u", "10.0.0.1", 1);
	const char *text;
	struct agg *a;
	size_t len;

	(void)state;
	cfg.template_max_len = 6;
	a = new_agg(&cfg);
	assert_int_equal(agg_add(a, &in), 0);
	text = agg_template(a, 5, &len);
	assert_non_null(text);
	assert_int_equal(len, 6);
	assert_memory_equal(text, "SELECT", 6);
	assert_null(agg_template(a, 6, &len));
	agg_free(a);
	errno = 0;
	cfg.max_keys = 0;
	assert_null(agg_new(&cfg));
	assert_int_equal(errno, EINVAL);
}

/*
 * An empty statement (COM_QUERY "", server error 1065) has an empty template: its row and its
 * text must be kept without touching a NULL text buffer (undefined behaviour the sanitizer build
 * aborted on at the next period close).
 */
static void test_empty_template(void **state)
{
	struct agg_input in = input(7, "db", "u", "10.0.0.1", 1);
	struct agg *a = new_agg(&default_cfg), *m = new_agg(&default_cfg);
	const char *text;
	uint64_t id;
	size_t len;

	(void)state;
	in.template_text = "";
	in.template_len = 0;
	in.sql = "";
	in.sql_len = 0;
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_template_count(a), 1);
	assert_int_equal(agg_template_at(a, 0, &id, &text, &len), 0);
	assert_int_equal(id, 7);
	assert_int_equal(len, 0);
	assert_non_null(agg_template(a, 7, &len));
	assert_int_equal(len, 0);
	assert_int_equal(agg_merge(m, a), 0);
	assert_int_equal(agg_template_count(m), 1);
	agg_free(a);
	agg_free(m);
}

static void test_long_names_cut(void **state)
{
	struct agg *a = new_agg(&default_cfg);
	char longdb[600];
	struct agg_input in;

	(void)state;
	memset(longdb, 'd', sizeof(longdb) - 1);
	longdb[sizeof(longdb) - 1] = '\0';
	in = input(1, longdb, "u", "10.0.0.1", 1);
	assert_int_equal(agg_add(a, &in), 0);
	longdb[400] = 'x'; /* differs only past the cut: same row */
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(agg_stat_count(a), 1);
	assert_int_equal(agg_stat_at(a, 0)->key.db_len, AGG_NAME_MAX);
	agg_free(a);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static struct agg_input random_input(char *db, char *user, char *ip)
{
	struct agg_input in;

	sprintf(db, "db%u", (unsigned)(rnd() % 3));
	sprintf(user, "user%u", (unsigned)(rnd() % 4));
	sprintf(ip, rnd() % 2 ? "10.0.0.%u" : "fd00::%u", (unsigned)(rnd() % 5));
	in = input(rnd() % 20, db, user, ip, rnd() % 300000);
	in.command = (enum agg_cmd)(rnd() % AGG_CMD_COUNT);
	in.ts_us = 1000000 + rnd() % 1000000000;
	in.status = rnd() % 3 == 0 ? AGG_STATUS_ERROR : AGG_STATUS_OK;
	/* More codes than a row keeps: which ones it keeps must not depend on the merges. */
	in.error_code = in.status ? (uint16_t)(1000 + rnd() % (AGG_ERR_CODES + 8)) : 0;
	in.rows_sent = rnd() % 100;
	in.rows_affected = rnd() % 10;
	in.bytes_in = rnd() % 5000;
	in.bytes_out = rnd() % 50000;
	in.no_index_used = rnd() % 5 == 0;
	return in;
}

static const struct agg_stat *find_row(const struct agg *a, const struct agg_key *k)
{
	size_t i;

	for (i = 0; i < agg_stat_count(a); i++)
		if (memcmp(&agg_stat_at(a, i)->key, k, offsetof(struct agg_key, names)) == 0 &&
		    memcmp(agg_stat_at(a, i)->key.names, k->names, k->db_len + k->user_len) == 0)
			return agg_stat_at(a, i);
	return NULL;
}

static void assert_rows_equal(const struct agg_stat *x, const struct agg_stat *y)
{
	unsigned int i;

	assert_int_equal(x->count, y->count);
	assert_int_equal(x->errors, y->errors);
	assert_int_equal(x->rows_sent, y->rows_sent);
	assert_int_equal(x->rows_affected, y->rows_affected);
	assert_int_equal(x->bytes_in, y->bytes_in);
	assert_int_equal(x->bytes_out, y->bytes_out);
	assert_int_equal(x->no_index_used, y->no_index_used);
	/* Error codes: the same codes, counts and "other", exactly. */
	assert_int_equal(x->err_n, y->err_n);
	for (i = 0; i < x->err_n; i++) {
		assert_int_equal(x->err_code[i], y->err_code[i]);
		assert_int_equal(x->err_count[i], y->err_count[i]);
	}
	assert_int_equal(x->err_other, y->err_other);
	assert_int_equal(x->lat.count, y->lat.count);
	assert_int_equal(x->lat.sum, y->lat.sum);
	assert_int_equal(x->lat.min, y->lat.min);
	assert_int_equal(x->lat.max, y->lat.max);
	for (i = 0; i < HIST_BUCKETS; i++)
		assert_int_equal(hist_bucket_count(&x->lat, i), hist_bucket_count(&y->lat, i));
}

static int slow_cmp(const void *p, const void *q)
{
	const struct agg_slow *a = *(const struct agg_slow *const *)p;
	const struct agg_slow *b = *(const struct agg_slow *const *)q;

	return a->latency_us < b->latency_us ? -1 : a->latency_us > b->latency_us;
}

static void assert_aggs_equal(const struct agg *x, const struct agg *y)
{
	const struct agg_slow *sx[64], *sy[64];
	const char *tx, *ty;
	size_t i, lx, ly;

	assert_int_equal(agg_stat_count(x), agg_stat_count(y));
	assert_int_equal(agg_statements(x), agg_statements(y));
	for (i = 0; i < agg_stat_count(x); i++) {
		const struct agg_stat *r = agg_stat_at(x, i);
		const struct agg_stat *o = find_row(y, &r->key);

		assert_non_null(o);
		assert_rows_equal(r, o);
		tx = agg_template(x, r->key.template_id, &lx);
		ty = agg_template(y, r->key.template_id, &ly);
		assert_non_null(tx);
		assert_non_null(ty);
		assert_int_equal(lx, ly);
	}
	assert_int_equal(agg_slow_count(x), agg_slow_count(y));
	assert_int_equal(agg_slow_dropped(x), agg_slow_dropped(y));
	assert_true(agg_slow_count(x) <= 64);
	for (i = 0; i < agg_slow_count(x); i++) {
		sx[i] = agg_slow_at(x, i);
		sy[i] = agg_slow_at(y, i);
	}
	qsort(sx, agg_slow_count(x), sizeof(sx[0]), slow_cmp);
	qsort(sy, agg_slow_count(y), sizeof(sy[0]), slow_cmp);
	for (i = 0; i < agg_slow_count(x); i++) {
		assert_int_equal(sx[i]->latency_us, sy[i]->latency_us);
		assert_int_equal(sx[i]->ts_us, sy[i]->ts_us);
		assert_int_equal(sx[i]->template_id, sy[i]->template_id);
		assert_int_equal(sx[i]->sql_len, sy[i]->sql_len);
	}
}

static void test_merge_equals_single(void **state)
{
	/* 9600 possible keys: below max_keys, since which keys overflow depends on order. */
	struct agg_config cfg = { .max_keys = 10000, .max_slow = 10, .slow_threshold_us = 100000,
				  .template_max_len = 4096, .sql_max_len = 4096 };
	struct agg *w1 = new_agg(&cfg), *w2 = new_agg(&cfg);
	struct agg *one = new_agg(&cfg), *merged = new_agg(&cfg);
	char db[16], user[16], ip[64];
	struct agg_input in;
	int i, period;

	(void)state;
	/* Two periods: the second checks that reset workers start clean and reuse memory. */
	for (period = 0; period < 2; period++) {
		for (i = 0; i < 20000; i++) {
			in = random_input(db, user, ip);
			assert_int_equal(agg_add(i % 3 ? w1 : w2, &in), 0);
			assert_int_equal(agg_add(one, &in), 0);
		}
		assert_int_equal(agg_merge(merged, w1), 0);
		assert_int_equal(agg_merge(merged, w2), 0);
		assert_true(agg_slow_count(merged) == cfg.max_slow);
		assert_true(no_other(one));
		assert_aggs_equal(one, merged);
		agg_reset(w1);
		agg_reset(w2);
		agg_reset(one);
		agg_reset(merged);
	}
	agg_free(w1);
	agg_free(w2);
	agg_free(one);
	agg_free(merged);
}

/* Test mapping: 10.0.0.0..2 -> "a", other IPv4 -> "b", IPv6 -> no match (""). */
static const char *test_app(const void *ctx, uint8_t family, const uint8_t *addr, size_t *len)
{
	(void)ctx;
	if (family != AF_INET)
		return NULL;
	*len = 1;
	return addr[3] < 3 ? "a" : "b";
}

static unsigned int app_index(const struct agg_input *in)
{
	return in->family != AF_INET ? 0 : in->client_addr[3] < 3 ? 1 : 2;
}

/*
 * Re-keyed to [app, command, template] (and [command, server]), rows add up exactly: each
 * row equals the sum of the statements of its key, counted by hand, histogram included.
 */
static void test_merge_keyed(void **state)
{
	struct ref {
		uint64_t count, errors, rows_sent, sum, min, max, code1000;
		struct hist lat;
	} ref[20][AGG_CMD_COUNT][3];
	static const char *const apps[3] = { "", "a", "b" };
	struct agg_config cfg = default_cfg;
	struct agg *one, *keyed, *srv;
	char db[16], user[16], ip[64];
	struct agg_input in;
	uint64_t total = 0;
	size_t i, rows = 0;

	(void)state;
	cfg.max_keys = 10000;
	one = new_agg(&cfg);
	keyed = new_agg(&cfg);
	srv = new_agg(&cfg);
	memset(ref, 0, sizeof(ref));
	for (i = 0; i < 20000; i++) {
		struct ref *r;

		in = random_input(db, user, ip);
		assert_int_equal(agg_add(one, &in), 0);
		r = &ref[in.template_id][in.command][app_index(&in)];
		r->count++;
		r->errors += in.status == AGG_STATUS_ERROR;
		r->code1000 += in.status == AGG_STATUS_ERROR && in.error_code == 1000;
		r->rows_sent += in.rows_sent;
		r->sum += in.latency_us;
		r->min = r->count == 1 || in.latency_us < r->min ? in.latency_us : r->min;
		r->max = in.latency_us > r->max ? in.latency_us : r->max;
		assert_int_equal(hist_add(&r->lat, NULL, in.latency_us), 0);
	}
	assert_int_equal(agg_merge_keyed(keyed, one,
					 &(struct agg_project){ .keys = AGG_DIM_APP |
									 AGG_DIM_COMMAND |
									 AGG_DIM_TEMPLATE,
								.app = test_app,
								.server = "db1:8667" }),
			 0);
	assert_int_equal(agg_keys(keyed), AGG_DIM_APP | AGG_DIM_COMMAND | AGG_DIM_TEMPLATE);
	assert_true(no_other(keyed));
	for (i = 0; i < agg_stat_count(keyed); i++) {
		const struct agg_stat *s = agg_stat_at(keyed, i);
		const struct agg_key *k = &s->key;
		unsigned int ai;
		struct ref *r;

		for (ai = 0; ai < 3; ai++)
			if (k->app_len == strlen(apps[ai]) && !memcmp(agg_key_app(k), apps[ai], k->app_len))
				break;
		assert_true(ai < 3);
		assert_int_equal(k->db_len + k->user_len + k->server_len + k->family, 0);
		r = &ref[k->template_id][k->command][ai];
		assert_int_equal(s->count, r->count);
		assert_int_equal(s->errors, r->errors);
		assert_int_equal(s->rows_sent, r->rows_sent);
		assert_int_equal(s->lat.count, r->count);
		assert_int_equal(s->lat.sum, r->sum);
		assert_int_equal(s->lat.min, r->min);
		assert_int_equal(s->lat.max, r->max);
		assert_int_equal(hist_percentile(&s->lat, 0.99), hist_percentile(&r->lat, 0.99));
		assert_int_equal(hist_percentile(&s->lat, 0.5), hist_percentile(&r->lat, 0.5));
		assert_int_equal(s->err_n ? (s->err_code[0] == 1000 ? s->err_count[0] : 0) : 0,
				 r->code1000);
		/* The template text follows the row. */
		assert_non_null(agg_template(keyed, k->template_id, &(size_t){ 0 }));
		total += s->count;
		r->count = UINT64_MAX; /* each key once */
	}
	for (unsigned int t = 0; t < 20; t++)
		for (unsigned int c = 0; c < AGG_CMD_COUNT; c++)
			for (unsigned int a = 0; a < 3; a++) {
				rows += ref[t][c][a].count != 0;
				hist_reset(&ref[t][c][a].lat, NULL);
			}
	assert_int_equal(rows, agg_stat_count(keyed));
	assert_int_equal(total, 20000);
	assert_int_equal(agg_statements(keyed), 20000);
	assert_int_equal(agg_slow_count(keyed), agg_slow_count(one));

	/* [command, server]: one row per command, every one naming the node; no template. */
	assert_int_equal(agg_merge_keyed(srv, one,
					 &(struct agg_project){ .keys = AGG_DIM_COMMAND |
									 AGG_DIM_SERVER,
								.server = "db1:8667" }),
			 0);
	assert_int_equal(agg_stat_count(srv), AGG_CMD_COUNT);
	for (i = 0, total = 0; i < agg_stat_count(srv); i++) {
		const struct agg_stat *s = agg_stat_at(srv, i);

		assert_int_equal(s->key.template_id, 0);
		assert_int_equal(s->key.server_len, 8);
		assert_memory_equal(agg_key_server(&s->key), "db1:8667", 8);
		total += s->count;
	}
	assert_int_equal(total, 20000);
	assert_int_equal(agg_template_count(srv), 0);
	agg_free(one);
	agg_free(keyed);
	agg_free(srv);
}

static void add_errors(struct agg *a, uint16_t first, uint16_t last, uint64_t times)
{
	struct agg_input in = input(1, "db", "u", "10.0.0.1", 5);
	unsigned int code;
	uint64_t t;

	in.status = AGG_STATUS_ERROR;
	for (code = first; code <= last; code++) {
		for (t = 0; t < times; t++) {
			in.error_code = (uint16_t)code;
			assert_int_equal(agg_add(a, &in), 0);
		}
	}
}

/* Merges of rows with overlapping and with disjoint code sets count every code exactly. */
static void test_error_codes_merge_sets(void **state)
{
	struct agg *w1 = new_agg(&default_cfg), *w2 = new_agg(&default_cfg);
	struct agg *one = new_agg(&default_cfg), *dst = new_agg(&default_cfg);
	const struct agg_stat *s;
	unsigned int i;

	(void)state;
	/* Overlapping: 1000..1009 twice each and 1005..1014 three times each. */
	add_errors(w1, 1000, 1009, 2);
	add_errors(w2, 1005, 1014, 3);
	assert_int_equal(agg_merge(dst, w2), 0);
	assert_int_equal(agg_merge(dst, w1), 0);
	s = agg_stat_at(dst, 0);
	assert_int_equal(s->errors, 50);
	assert_int_equal(s->err_n, 15);
	for (i = 1000; i <= 1014; i++)
		assert_int_equal(err_count(s, (uint16_t)i),
				 (i <= 1009 ? 2 : 0) + (i >= 1005 ? 3 : 0));
	assert_int_equal(s->err_other, 0);
	/* Disjoint, 20 codes in all: the 16 smallest by name, the 4 others summed, exactly as
	 * one aggregator that saw everything counts them, whichever side comes first. */
	agg_reset(w1);
	agg_reset(w2);
	agg_reset(dst);
	add_errors(w1, 2000, 2009, 1);
	add_errors(w2, 1000, 1009, 4);
	add_errors(one, 2000, 2009, 1);
	add_errors(one, 1000, 1009, 4);
	assert_int_equal(agg_merge(dst, w1), 0);
	assert_int_equal(agg_merge(dst, w2), 0);
	s = agg_stat_at(dst, 0);
	assert_int_equal(s->err_n, AGG_ERR_CODES);
	for (i = 1000; i <= 1009; i++)
		assert_int_equal(err_count(s, (uint16_t)i), 4);
	for (i = 2000; i < 2000 + AGG_ERR_CODES - 10; i++)
		assert_int_equal(err_count(s, (uint16_t)i), 1);
	assert_int_equal(s->err_other, 20 - AGG_ERR_CODES);
	assert_aggs_equal(one, dst);
	agg_free(w1);
	agg_free(w2);
	agg_free(one);
	agg_free(dst);
}

/*
 * Many codes on few keys, split over four workers and merged in different orders and
 * groupings (workers, then hosts): every result equals the single aggregator, codes beyond
 * AGG_ERR_CODES included.
 */
static void test_error_codes_merge_exact(void **state)
{
	struct agg *w[4], *one = new_agg(&default_cfg), *flat = new_agg(&default_cfg);
	struct agg *h1 = new_agg(&default_cfg), *h2 = new_agg(&default_cfg);
	struct agg *tree = new_agg(&default_cfg);
	struct agg_input in;
	unsigned int i, k, round;

	(void)state;
	for (i = 0; i < 4; i++)
		w[i] = new_agg(&default_cfg);
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 3000; i++) {
			in = input(1 + rnd() % 2, "db", "u", "10.0.0.1", 5);
			in.status = AGG_STATUS_ERROR;
			/* Worker k mostly sees codes from 1000 + 10k: tables fill differently. */
			k = rnd() % 5 ? i % 4 : (unsigned int)(rnd() % 4);
			in.error_code = (uint16_t)(1000 + (i % 4) * 10 + rnd() % (round + 5));
			assert_int_equal(agg_add(w[k], &in), 0);
			assert_int_equal(agg_add(one, &in), 0);
		}
		for (i = 4; i-- > 0;)
			assert_int_equal(agg_merge(flat, w[i]), 0);
		assert_int_equal(agg_merge(h1, w[2]), 0);
		assert_int_equal(agg_merge(h1, w[0]), 0);
		assert_int_equal(agg_merge(h2, w[3]), 0);
		assert_int_equal(agg_merge(h2, w[1]), 0);
		assert_int_equal(agg_merge(tree, h2), 0);
		assert_int_equal(agg_merge(tree, h1), 0);
		assert_aggs_equal(one, flat);
		assert_aggs_equal(one, tree);
		assert_true(agg_stat_at(one, 0)->err_other > 0); /* 20 codes or more */
		for (i = 0; i < 4; i++)
			agg_reset(w[i]);
		agg_reset(one);
		agg_reset(flat);
		agg_reset(h1);
		agg_reset(h2);
		agg_reset(tree);
	}
	for (i = 0; i < 4; i++)
		agg_free(w[i]);
	agg_free(one);
	agg_free(flat);
	agg_free(h1);
	agg_free(h2);
	agg_free(tree);
}

static void test_merge_overflow(void **state)
{
	struct agg_config cfg = default_cfg;
	struct agg *w1, *w2, *dst;
	struct agg_input in;
	uint64_t t;

	(void)state;
	cfg.max_keys = 4;
	w1 = new_agg(&cfg);
	w2 = new_agg(&cfg);
	dst = new_agg(&cfg);
	for (t = 0; t < 6; t++) {
		in = input(t, "db", "u", "10.0.0.1", 5);
		assert_int_equal(agg_add(w1, &in), 0); /* keys 0..3 kept, 4 and 5 to other */
		in = input(10 + t, "db", "u", "10.0.0.1", 5);
		assert_int_equal(agg_add(w2, &in), 0);
	}
	assert_int_equal(agg_merge(dst, w1), 0);
	assert_int_equal(agg_merge(dst, w2), 0);
	assert_int_equal(agg_stat_count(dst), 4);
	assert_int_equal(agg_statements(dst), 12);
	assert_int_equal(agg_other(dst, AGG_CMD_QUERY)->count, 8);
	assert_int_equal(agg_keys_overflow(dst), 8);
	agg_free(w1);
	agg_free(w2);
	agg_free(dst);
}

/* Running statements: kept apart from rows and slow samples, the longest max_slow, merged
 * across aggregators like slow samples, emptied by a reset. */
static void test_running(void **state)
{
	struct agg_config cfg = default_cfg;
	struct agg *a, *b;
	struct agg_input in;
	const struct agg_slow *r;
	uint64_t longest = 0;

	(void)state;
	cfg.max_slow = 2;
	a = new_agg(&cfg);
	b = new_agg(&cfg);
	in = input(7, "shop", "app", "10.0.0.9", 3000000);
	in.template_text = "SELECT SLEEP(?)";
	in.template_len = strlen(in.template_text);
	assert_int_equal(agg_add_running(a, &in), 0);
	in.latency_us = 1000000;
	assert_int_equal(agg_add_running(a, &in), 0);
	in.latency_us = 2000000;
	assert_int_equal(agg_add_running(b, &in), 0);
	assert_int_equal(agg_statements(a), 0);
	assert_int_equal(agg_stat_count(a), 0);
	assert_int_equal(agg_slow_count(a), 0);
	assert_int_equal(agg_merge(a, b), 0);
	assert_int_equal(agg_running_count(a), 2);
	assert_int_equal(agg_running_dropped(a), 1); /* the 1 s one */
	for (size_t i = 0; i < agg_running_count(a); i++) {
		r = agg_running_at(a, i);
		assert_true(r->latency_us >= 2000000);
		assert_int_equal(r->tmpl_len, strlen("SELECT SLEEP(?)"));
		assert_memory_equal(r->tmpl, "SELECT SLEEP(?)", r->tmpl_len);
		assert_int_equal(r->db_len, 4);
		longest = r->latency_us > longest ? r->latency_us : longest;
	}
	assert_int_equal(longest, 3000000);
	agg_reset(a);
	assert_int_equal(agg_running_count(a), 0);
	assert_int_equal(agg_running_dropped(a), 0);
	agg_free(a);
	agg_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_command_in_key),
		cmocka_unit_test(test_cmd_names),
		cmocka_unit_test(test_counters_and_errors),
		cmocka_unit_test(test_error_codes_overflow),
		cmocka_unit_test(test_overflow_to_other),
		cmocka_unit_test(test_slow_samples),
		cmocka_unit_test(test_no_slow_kept),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_empty_template),
		cmocka_unit_test(test_long_names_cut),
		cmocka_unit_test(test_merge_equals_single),
		cmocka_unit_test(test_merge_keyed),
		cmocka_unit_test(test_error_codes_merge_sets),
		cmocka_unit_test(test_error_codes_merge_exact),
		cmocka_unit_test(test_merge_overflow),
		cmocka_unit_test(test_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
