// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests the period's table for a terminal: ranking, numbers, units, health, width, cuts. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <cmocka.h>

#include "roles/table_out.h"

#define T0 1700000000000ull /* 22:13:20 UTC */

static const struct agg_config acfg = {
	.max_keys = 1000, .max_slow = 8, .slow_threshold_us = 100000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

static void stmt(struct agg *a, uint64_t id, enum agg_cmd cmd, const char *text,
		 uint64_t lat_us, uint16_t err)
{
	struct agg_input in = { 0 };

	in.template_id = id;
	in.command = cmd;
	in.template_text = text;
	in.template_len = strlen(text);
	in.db = "shop";
	in.db_len = 4;
	in.user = "app";
	in.user_len = 3;
	in.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.1", in.client_addr);
	in.ts_us = T0 * 1000;
	in.latency_us = lat_us;
	in.status = err ? AGG_STATUS_ERROR : AGG_STATUS_OK;
	in.error_code = err;
	assert_int_equal(agg_add(a, &in), 0);
}

/* The table of a (2 s period) in out, width columns. */
static void render(struct buf *out, const struct agg *a, const struct report_capture *c,
		   unsigned width)
{
	struct report_header h = { .version = 2, .seq = 1 };

	h.period_start_ms = T0;
	h.period_end_ms = T0 + 2000;
	buf_reset(out);
	assert_int_equal(table_out_write(out, &h, c, a, width), 0);
}

/* Line i (0-based) of text, in line (empty when there is none). */
static void line_at(const char *text, int i, char *line, size_t len)
{
	const char *p = text, *e;

	while (i-- > 0 && p && (p = strchr(p, '\n')))
		p++;
	line[0] = '\0';
	if (!p)
		return;
	e = strchr(p, '\n');
	snprintf(line, len, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
}

/* Display columns of the widest line ("µ" is two bytes, one column). */
static size_t widest(const char *text)
{
	size_t w = 0, c = 0;

	for (const char *p = text; *p; p++) {
		if (*p == '\n') {
			w = c > w ? c : w;
			c = 0;
		} else if (((unsigned char)*p & 0xc0) != 0x80) {
			c++;
		}
	}
	return c > w ? c : w;
}

static void test_ranked_rows(void **state)
{
	struct agg *a = agg_new(&acfg);
	struct report_capture c = { .packets = 321, .dropped = 2, .gaps = 1, .decode_errors = 4,
				     .stalled_ms = 5 };
	struct buf out = { 0 };
	char l[512];
	int i;

	for (i = 0; i < 60; i++)
		stmt(a, 1, AGG_CMD_QUERY, "SELECT id FROM t WHERE id = ?", 500, 0);
	for (i = 0; i < 20; i++)
		stmt(a, 2, AGG_CMD_QUERY, "SELECT * FROM no_such_table", 100, 1146);
	for (i = 0; i < 4; i++)
		stmt(a, 3, AGG_CMD_QUERY, "SELECT SLEEP(?)", 250000, 0);
	render(&out, a, &c, 100);
	line_at(out.data, 0, l, sizeof(l));
	assert_string_equal(l, "22:13:20-22:13:22  84 statements, 42/s, 3 templates");
	line_at(out.data, 1, l, sizeof(l));
	assert_string_equal(l, "  LOAD   COUNT      /S      MEAN       P99 ERRORS TEMPLATE");
	/* By load: 1 s of SLEEP over 2 s, then 30 ms, then 2 ms. */
	line_at(out.data, 2, l, sizeof(l));
	assert_string_equal(l, "  0.50       4       2  250.0 ms  250.0 ms      0 SELECT SLEEP(?)");
	line_at(out.data, 3, l, sizeof(l));
	assert_string_equal(l, "  0.01      60      30    500 µs    500 µs      0 "
			       "SELECT id FROM t WHERE id = ?");
	line_at(out.data, 4, l, sizeof(l));
	assert_string_equal(l, "  0.00      20      10    100 µs    100 µs     20 "
			       "SELECT * FROM no_such_table");
	line_at(out.data, 5, l, sizeof(l));
	assert_string_equal(l, "capture: 321 packets, 2 dropped, 1 gaps, 4 decode errors, "
			       "5 ms stalled");
	line_at(out.data, 6, l, sizeof(l));
	assert_string_equal(l, "");
	assert_int_equal(out.data[out.len - 1], '\n');
	agg_free(a);
	buf_free(&out);
}

static void test_width_and_cuts(void **state)
{
	struct agg *a = agg_new(&acfg);
	struct report_capture c = { .tls_conns = 1 };
	char text[300], l[512];
	struct buf out = { 0 };

	/* 200 characters, a newline and a two-byte character where the cut falls. */
	memset(text, 'x', 200);
	memcpy(text, "SELECT\n", 7);
	memcpy(text + 40, "é", 2);
	text[200] = '\0';
	stmt(a, 7, AGG_CMD_EXECUTE, text, 1000, 0);
	render(&out, a, &c, 80);
	assert_true(widest(out.data) <= 80);
	line_at(out.data, 2, l, sizeof(l));
	assert_non_null(strstr(l, "execute: SELECT xxx"));
	assert_int_equal(strlen(l) - 3, strstr(l, "...") - l); /* ends in "..." */
	assert_null(strchr(l, '\t'));
	/* What does not fit the health line goes on the next. */
	line_at(out.data, 4, l, sizeof(l));
	assert_string_equal(l, "         1 TLS connections (not decoded)");
	/* A cut never splits a character: "é" is kept whole or dropped. */
	render(&out, a, &c, 50 + 9 + 41 + 3); /* numbers, "execute: ", text to é, "..." */
	line_at(out.data, 2, l, sizeof(l));
	assert_non_null(strstr(l, "xé..."));
	render(&out, a, &c, 50 + 9 + 41 + 2);
	line_at(out.data, 2, l, sizeof(l));
	assert_non_null(strstr(l, "xx..."));
	/* Narrower than the numbers: the numbers stay whole, the text goes. */
	render(&out, a, &c, 20);
	assert_true(widest(out.data) <= TABLE_OUT_MIN_WIDTH + 20);
	line_at(out.data, 2, l, sizeof(l));
	assert_true(strlen(l) <= TABLE_OUT_MIN_WIDTH + 1);
	agg_free(a);
	buf_free(&out);
}

static void test_a_handful_of_rows(void **state)
{
	struct agg *a = agg_new(&acfg);
	struct report_capture c = { 0 };
	struct buf out = { 0 };
	char text[32], l[256];

	for (int i = 0; i < TABLE_OUT_ROWS + 5; i++) {
		snprintf(text, sizeof(text), "SELECT %d", i);
		stmt(a, 100 + i, AGG_CMD_QUERY, text, 1000 + i, 0);
	}
	render(&out, a, &c, 100);
	line_at(out.data, 2 + TABLE_OUT_ROWS, l, sizeof(l));
	assert_string_equal(l, "(5 more templates)");
	line_at(out.data, 2, l, sizeof(l));
	assert_non_null(strstr(l, "SELECT 14")); /* the slowest first */
	agg_free(a);
	buf_free(&out);
}

static void test_idle_period(void **state)
{
	struct agg *a = agg_new(&acfg);
	struct report_capture c = { 0 };
	struct buf out = { 0 };

	render(&out, a, &c, 100);
	assert_string_equal(out.data, "22:13:20-22:13:22  0 statements, 0/s, 0 templates\n"
				      "capture: 0 packets, 0 dropped, 0 gaps, 0 decode errors, "
				      "0 ms stalled\n\n");
	agg_free(a);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranked_rows),
		cmocka_unit_test(test_width_and_cuts),
		cmocka_unit_test(test_a_handful_of_rows),
		cmocka_unit_test(test_idle_period),
	};

	setenv("TZ", "UTC", 1);
	tzset();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
