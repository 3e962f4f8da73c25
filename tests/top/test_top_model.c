// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests what `mysqlprobe top` shows: grouping, ranking, filter, window, health, texts, units. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "top/top_model.h"
#include "top/top_ui.h"

#define T0 1700000000000ull

static const struct agg_config acfg = {
	.max_keys = 1000, .max_slow = 8, .slow_threshold_us = 100000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

enum { FAST = 0x111, FAIL = 0x222, SLOW = 0x333 };

/* One statement of template id with text (or none: a later report names only the id). */
static void stmt(struct agg *a, uint64_t id, const char *text, const char *db, const char *ip,
		 uint64_t lat_us, uint16_t err)
{
	struct agg_input in = { 0 };

	in.template_id = id;
	in.command = AGG_CMD_QUERY;
	in.template_text = text;
	in.template_len = text ? strlen(text) : 0;
	in.sql = "select 1";
	in.sql_len = 8;
	in.db = db;
	in.db_len = strlen(db);
	in.user = "app";
	in.user_len = 3;
	in.family = AF_INET;
	inet_pton(AF_INET, ip, in.client_addr);
	in.client_port = 40000;
	in.ts_us = T0 * 1000 + lat_us;
	in.latency_us = lat_us;
	in.status = err ? AGG_STATUS_ERROR : AGG_STATUS_OK;
	in.error_code = err;
	in.rows_sent = err ? 0 : 1;
	assert_int_equal(agg_add(a, &in), 0);
}

static void add_period(struct top_model *m, struct agg *a, unsigned i, uint64_t dropped,
		       uint64_t lost)
{
	struct report_header h = { .version = 2, .seq = i + 1, .lost = lost };
	struct report_capture c = { .dropped = dropped };

	snprintf(h.node, sizeof(h.node), "db1:8667");
	snprintf(h.role, sizeof(h.role), "slave");
	h.period_start_ms = T0 + i * 1000ull;
	h.period_end_ms = h.period_start_ms + 1000;
	assert_int_equal(top_model_add(m, &h, &c, a), 0);
	agg_reset(a);
}

/* Period 1 names the texts; period 2 only the ids (a /collector client gets a text once). */
static struct top_model *three_templates(void)
{
	struct top_model *m = top_model_new();
	struct agg *a = agg_new(&acfg);
	int i;

	assert_non_null(m);
	assert_non_null(a);
	for (i = 0; i < 30; i++)
		stmt(a, FAST, "SELECT id FROM t WHERE id = ?", "shop", "10.0.0.1", 100, 0);
	for (i = 0; i < 10; i++)
		stmt(a, FAIL, "SELECT * FROM missing", "shop", "10.0.0.2", 50, 1146);
	stmt(a, SLOW, "SELECT SLEEP(?)", "report", "10.0.0.3", 250000, 0);
	add_period(m, a, 0, 0, 0);
	for (i = 0; i < 30; i++)
		stmt(a, FAST, NULL, "crm", "10.0.0.9", 100, 0);
	for (i = 0; i < 10; i++)
		stmt(a, FAIL, NULL, "shop", "10.0.0.2", 50, i % 2 ? 1146 : 1064);
	stmt(a, SLOW, NULL, "report", "10.0.0.3", 300000, 0);
	add_period(m, a, 1, 3, 2);
	agg_free(a);
	return m;
}

static uint64_t id_at(struct top_model *m, size_t i)
{
	const struct top_row *r = top_model_row(m, i);

	assert_non_null(r);
	return r->s->key.template_id;
}

static void test_grouped_and_ranked(void **state)
{
	struct top_model *m = three_templates();
	const struct top_row *r;

	assert_int_equal(top_model_view(m, TOP_SORT_LOAD, NULL), 0);
	/* One row per (template, command) whatever the db and client. */
	assert_int_equal(top_model_rows(m), 3);
	assert_int_equal(id_at(m, 0), SLOW);
	assert_int_equal(id_at(m, 1), FAST);
	assert_int_equal(id_at(m, 2), FAIL);
	r = top_model_row(m, 1);
	assert_int_equal(r->s->count, 60);
	assert_string_equal(r->text, "SELECT id FROM t WHERE id = ?"); /* kept from period 1 */
	assert_true(r->load > 0.00299 && r->load < 0.00301); /* 6 ms over 2 s */
	assert_true(r->rate > 29.9 && r->rate < 30.1);
	assert_int_equal(r->rows, 60);
	r = top_model_row(m, 2);
	assert_int_equal(r->s->errors, 20);
	assert_int_equal(r->s->err_n, 2); /* codes merged exactly across periods */
	assert_int_equal(r->s->err_code[0], 1064);
	assert_int_equal(r->s->err_count[0], 5);
	assert_int_equal(r->s->err_code[1], 1146);
	assert_int_equal(r->s->err_count[1], 15);

	assert_int_equal(top_model_view(m, TOP_SORT_COUNT, NULL), 0);
	assert_int_equal(id_at(m, 0), FAST);
	assert_int_equal(id_at(m, 2), SLOW);
	assert_int_equal(top_model_view(m, TOP_SORT_ERRORS, NULL), 0);
	assert_int_equal(id_at(m, 0), FAIL);
	assert_int_equal(top_model_view(m, TOP_SORT_P99, NULL), 0);
	assert_int_equal(id_at(m, 0), SLOW);
	r = top_model_row(m, 0);
	/* p99 of {250 ms, 300 ms} is 300 ms, within a bucket (1/64). */
	assert_true(r->p99_us >= 295000 && r->p99_us <= 300000);
	top_model_free(m);
}

static void test_filter(void **state)
{
	struct top_model *m = three_templates();

	assert_int_equal(top_model_view(m, TOP_SORT_LOAD, "missing"), 0); /* template text */
	assert_int_equal(top_model_rows(m), 1);
	assert_int_equal(id_at(m, 0), FAIL);
	assert_int_equal(top_model_view(m, TOP_SORT_LOAD, "crm"), 0); /* db: period 2 only */
	assert_int_equal(top_model_rows(m), 1);
	assert_int_equal(top_model_row(m, 0)->s->count, 30);
	assert_int_equal(top_model_view(m, TOP_SORT_LOAD, "10.0.0.3"), 0); /* client */
	assert_int_equal(top_model_rows(m), 1);
	assert_int_equal(id_at(m, 0), SLOW);
	assert_int_equal(top_model_view(m, TOP_SORT_LOAD, "nothing like it"), 0);
	assert_int_equal(top_model_rows(m), 0);
	assert_int_equal(top_model_view(m, TOP_SORT_LOAD, ""), 0);
	assert_int_equal(top_model_rows(m), 3);
	top_model_free(m);
}

static void test_health_slow_and_last(void **state)
{
	struct top_model *m = three_templates();
	const struct agg_slow *s[8];
	struct top_health h;

	top_model_health(m, &h);
	assert_int_equal(h.periods, 2);
	assert_int_equal(h.complete, 1); /* period 2 dropped segments */
	assert_int_equal(h.c.dropped, 3);
	assert_int_equal(h.lost, 2);
	assert_int_equal(top_model_slow(m, SLOW, s, 8), 2);
	assert_true(s[0]->ts_us < s[1]->ts_us);
	assert_int_equal(top_model_slow(m, FAST, s, 8), 0);
	assert_int_equal(top_model_last(m)->seq, 2);
	assert_true(top_model_seconds(m) == 2.0);
	top_model_free(m);
}

/* The window keeps TOP_KEEP reports: older ones leave it, with their counts. */
static void test_window(void **state)
{
	struct top_model *m = top_model_new();
	struct agg *a = agg_new(&acfg);
	unsigned i;

	for (i = 0; i < TOP_KEEP + 5; i++) {
		stmt(a, FAST, "SELECT ?", "", "10.0.0.1", 10, 0);
		add_period(m, a, i, 0, 0);
	}
	assert_int_equal(top_model_view(m, TOP_SORT_LOAD, NULL), 0);
	assert_int_equal(top_model_row(m, 0)->s->count, TOP_KEEP);
	assert_true(top_model_seconds(m) == TOP_KEEP);
	assert_int_equal(top_model_last(m)->seq, TOP_KEEP + 5);
	agg_free(a);
	top_model_free(m);
}

static void test_units(void **state)
{
	char b[32];

	top_fmt_us(850, b, sizeof(b));
	assert_string_equal(b, "850 µs");
	top_fmt_us(1234, b, sizeof(b));
	assert_string_equal(b, "1.23 ms");
	top_fmt_us(252600, b, sizeof(b));
	assert_string_equal(b, "252.6 ms");
	top_fmt_us(1250000, b, sizeof(b));
	assert_string_equal(b, "1.25 s");
	top_fmt_num(950, b, sizeof(b));
	assert_string_equal(b, "950");
	top_fmt_num(12500, b, sizeof(b));
	assert_string_equal(b, "12.5k");
	top_fmt_num(3200000, b, sizeof(b));
	assert_string_equal(b, "3.20M");
	top_fmt_num(0.96, b, sizeof(b));
	assert_string_equal(b, "0.96");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouped_and_ranked),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_health_slow_and_last),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
