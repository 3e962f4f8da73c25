// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests ClickHouse rows: exact JSONEachRow lines, row numbering, the other row, the DDL. */
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

#include "lib/jread.h"
#include "sinks/ch_rows.h"

static const struct agg_config cfg = {
	.max_keys = 2, .max_slow = 5, .slow_threshold_us = 1000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

static const struct report_header hdr = {
	.version = REPORT_VERSION, .node = "db1:8667", .role = "slave", .seq = 42, .term = 3,
	.period_start_ms = 1700000000000ull, .period_end_ms = 1700000001500ull,
	.started_ms = 1699999990000ull,
};

static struct agg_input input(uint64_t tid, const char *tmpl, uint64_t lat)
{
	struct agg_input in = { 0 };

	in.template_id = tid;
	in.template_text = tmpl;
	in.template_len = strlen(tmpl);
	in.sql = "select \"x\"";
	in.sql_len = strlen(in.sql);
	in.db = "shop";
	in.db_len = 4;
	in.user = "app";
	in.user_len = 3;
	in.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "10.0.0.1", in.client_addr), 1);
	in.client_port = 40000;
	in.ts_us = 1700000001000000ull;
	in.latency_us = lat;
	in.rows_sent = 2;
	in.bytes_in = 40;
	in.bytes_out = 90;
	return in;
}

static void test_exact_rows(void **state)
{
	struct agg *a = agg_new(&cfg);
	struct agg_input in = input(0xabc, "SELECT ?", 5);
	struct jbuf b;

	(void)state;
	jbuf_init(&b);
	assert_int_equal(agg_add(a, &in), 0);
	in.latency_us = 2000; /* a second statement, slow, in a bucket of width 16 */
	in.status = AGG_STATUS_ERROR;
	in.error_code = 1062;
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(ch_rows_metrics(&b, &hdr, a), 1);
	assert_string_equal(
		b.out.data,
		"{\"period_start\":1700000000,\"period_start_ms\":1700000000000,"
		"\"period_length\":2,\"period_length_ms\":1500,\"term\":3,\"agent\":\"db1:8667\","
		"\"started_ms\":1699999990000,\"seq\":42,\"row_no\":0,\"late\":0,"
		"\"queryid\":\"0000000000000abc\",\"fingerprint\":\"SELECT ?\",\"command\":\"query\","
		"\"schema\":\"shop\",\"username\":\"app\",\"client_host\":\"10.0.0.1\","
		"\"app\":\"\",\"server\":\"\","
		"\"num_queries\":2,\"num_queries_with_errors\":1,\"errors.code\":[1062],"
		"\"errors.count\":[1],\"errors_other\":0,\"m_query_time_sum\":2005,"
		"\"m_query_time_min\":5,\"m_query_time_max\":2000,\"m_query_time_p99\":2000,"
		"\"m_query_time_histMap.b\":[5,2015],\"m_query_time_histMap.c\":[1,1],"
		"\"m_rows_sent_sum\":4,\"m_rows_affected_sum\":0,\"m_bytes_sent_sum\":180,"
		"\"m_bytes_received_sum\":80,\"m_no_index_used_sum\":0}\n");
	jbuf_reset(&b);
	assert_int_equal(ch_rows_slow(&b, &hdr, a), 1);
	assert_string_equal(
		b.out.data,
		"{\"period_start\":1700000000,\"period_start_ms\":1700000000000,"
		"\"period_length\":2,\"period_length_ms\":1500,\"term\":3,\"agent\":\"db1:8667\","
		"\"started_ms\":1699999990000,\"seq\":42,\"row_no\":0,\"late\":0,"
		"\"ts\":1700000001,\"ts_us\":1700000001000000,\"query_time_us\":2000,"
		"\"queryid\":\"0000000000000abc\",\"schema\":\"shop\",\"username\":\"app\","
		"\"client_host\":\"10.0.0.1\",\"client_port\":40000,\"is_error\":1,"
		"\"error_code\":1062,\"example\":\"select \\\"x\\\"\",\"example_truncated\":0}\n");
	jbuf_free(&b);
	agg_free(a);
}

/* Each line alone is a JSON object; returns the lines, checks row_no runs 0.. in order. */
static size_t check_lines(const char *text)
{
	size_t n = 0;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		struct jread r;
		jnode_t *row;
		uint64_t v;

		assert_non_null(nl);
		assert_int_equal(jread_load(&r, p, (size_t)(nl - p)), 0);
		row = jread_get(&r, jread_root(&r), "row_no");
		assert_non_null(row);
		assert_int_equal(jread_u64(row, &v), 0);
		assert_int_equal(v, n);
		jread_free(&r);
		n++;
		p = nl + 1;
	}
	return n;
}

/* Past max_keys the other row comes last, its queryid "other"; numbering stays dense. */
static void test_other_row_and_numbering(void **state)
{
	struct agg *a = agg_new(&cfg);
	struct jbuf b;

	(void)state;
	jbuf_init(&b);
	for (uint64_t t = 1; t <= 4; t++) {
		struct agg_input in = input(t, "SELECT ?", 10 * t);

		assert_int_equal(agg_add(a, &in), 0);
	}
	assert_int_equal(ch_rows_metrics(&b, &hdr, a), 3);
	assert_int_equal(check_lines(b.out.data), 3);
	assert_non_null(strstr(b.out.data, "\"row_no\":2,\"late\":0,\"queryid\":\"other\","
					   "\"fingerprint\":\"\""));
	/* The same report gives the same bytes: a retry re-derives the same rows. */
	{
		struct jbuf again;

		jbuf_init(&again);
		ch_rows_metrics(&again, &hdr, a);
		assert_string_equal(again.out.data, b.out.data);
		jbuf_free(&again);
	}
	jbuf_free(&b);
	agg_free(a);
}

static void test_ddl(void **state)
{
	struct buf b = { 0 };

	(void)state;
	assert_int_equal(ch_ddl_database(&b, "mp"), 0);
	assert_string_equal(b.data, "CREATE DATABASE IF NOT EXISTS `mp`");
	for (int t = 0; t < CH_TABLES; t++) {
		buf_reset(&b);
		assert_int_equal(ch_ddl_table(&b, "mp", t), 0);
		assert_non_null(strstr(b.data, "CREATE TABLE IF NOT EXISTS `mp`."));
		assert_non_null(strstr(b.data, ch_table_name(t)));
		assert_non_null(strstr(b.data, "ENGINE = ReplacingMergeTree"));
		assert_non_null(strstr(b.data, "ORDER BY (agent, started_ms, seq, row_no)"));
		/* 18.16 has none of these. */
		assert_null(strstr(b.data, "DateTime64"));
		assert_null(strstr(b.data, "TTL"));
	}
	assert_non_null(strstr(b.data, "slow"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_rows),
		cmocka_unit_test(test_other_row_and_numbering),
		cmocka_unit_test(test_ddl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
