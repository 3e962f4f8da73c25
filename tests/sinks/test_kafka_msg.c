// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests Kafka stats messages: the key, and a value that is the report's identity plus its row. */
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

#include "sinks/kafka_msg.h"

static const struct agg_config cfg = {
	.max_keys = 1, .max_slow = 0, .slow_threshold_us = 1000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

static const struct report_header hdr = {
	.version = REPORT_VERSION, .node = "db1:8667", .role = "slave", .seq = 7, .term = 2,
	.period_start_ms = 1700000000000ull, .period_end_ms = 1700000001000ull,
	.started_ms = 1699999990000ull,
};

static void add(struct agg *a, uint64_t tid, const char *tmpl)
{
	struct agg_input in = { 0 };

	in.template_id = tid;
	in.template_text = tmpl;
	in.template_len = strlen(tmpl);
	in.db = "shop";
	in.db_len = 4;
	in.user = "app";
	in.user_len = 3;
	in.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "10.0.0.1", in.client_addr), 1);
	in.latency_us = 5;
	assert_int_equal(agg_add(a, &in), 0);
}

static void test_value_and_key(void **state)
{
	struct agg *a = agg_new(&cfg);
	struct jbuf v, row, whole;
	char key[KAFKA_KEY_MAX];

	(void)state;
	jbuf_init(&v);
	jbuf_init(&row);
	jbuf_init(&whole);
	add(a, 0xabc, "SELECT \"q\"");
	add(a, 0xdef, "SELECT 2"); /* past max_keys: the other row */
	assert_int_equal(kafka_msg_key(key, agg_stat_at(a, 0)), 16);
	assert_string_equal(key, "0000000000000abc");
	assert_int_equal(kafka_msg_value(&v, &row, &hdr, a, agg_stat_at(a, 0)), 0);
	/* Identity, then the row exactly as the report writes it, then the template text. */
	report_write_stat(&whole, agg_stat_at(a, 0), agg_keys(a));
	assert_true(strncmp(v.out.data,
			    "{\"node\":\"db1:8667\",\"seq\":7,\"term\":2,"
			    "\"period_start_ms\":1700000000000,\"period_end_ms\":1700000001000,"
			    "\"started_ms\":1699999990000,\"template_id\":\"0000000000000abc\","
			    "\"command\":\"query\",\"db\":\"shop\",\"user\":\"app\","
			    "\"client\":\"10.0.0.1\",\"count\":1,",
			    200) == 0);
	assert_non_null(memmem(v.out.data, v.out.len, whole.out.data + 1, whole.out.len - 2));
	assert_non_null(strstr(v.out.data, ",\"template\":\"SELECT \\\"q\\\"\"}"));
	assert_null(strchr(v.out.data, '\n'));

	assert_int_equal(kafka_msg_key(key, agg_other(a, AGG_CMD_QUERY)), 5);
	assert_string_equal(key, "other");
	assert_int_equal(kafka_msg_value(&v, &row, &hdr, a, agg_other(a, AGG_CMD_QUERY)), 0);
	assert_non_null(strstr(v.out.data, "\"template_id\":\"other\""));
	assert_non_null(strstr(v.out.data, ",\"template\":\"\"}"));
	/* Keyed by report.keys [app, command, template, server]: the message carries them. */
	{
		struct agg *k = agg_new(&cfg);

		assert_int_equal(agg_merge_keyed(k, a,
						 &(struct agg_project){
							 .keys = AGG_DIM_APP | AGG_DIM_COMMAND |
								 AGG_DIM_TEMPLATE | AGG_DIM_SERVER,
							 .server = "db1:8667" }),
				 0);
		assert_int_equal(kafka_msg_value(&v, &row, &hdr, k, agg_stat_at(k, 0)), 0);
		assert_non_null(strstr(v.out.data, "\"db\":\"\",\"user\":\"\",\"client\":\"\","
						   "\"app\":\"\",\"server\":\"db1:8667\",\"count\":1,"));
		assert_non_null(strstr(v.out.data, ",\"template\":\"SELECT \\\"q\\\"\"}"));
		agg_free(k);
	}
	jbuf_free(&v);
	jbuf_free(&row);
	jbuf_free(&whole);
	agg_free(a);
}

/* The events stream's key: what "%016llx" writes, without printf. */
static void test_key_id(void **state)
{
	static const uint64_t ids[] = { 0, 1, 0xabc, 0xbbba3212427a1f23ull, UINT64_MAX,
					0x8000000000000000ull, 0x0123456789abcdefull };
	char key[KAFKA_KEY_MAX], want[KAFKA_KEY_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		memset(key, 'x', sizeof(key));
		snprintf(want, sizeof(want), "%016llx", (unsigned long long)ids[i]);
		assert_int_equal(kafka_msg_key_id(key, ids[i]), 16);
		assert_string_equal(key, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_and_key),
		cmocka_unit_test(test_key_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
