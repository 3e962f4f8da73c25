// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Query event JSON lines: field order, nulls, string escaping, invalid UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "mysql/event_json.h"

static void assert_str(const char *in, size_t n, const char *want)
{
	struct buf b = { 0 };

	assert_int_equal(json_append_str(&b, in, n), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void test_escaping(void **state)
{
	assert_str("abc", 3, "\"abc\"");
	assert_str("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	assert_str("\n\r\t\x01\x1f", 5, "\"\\n\\r\\t\\u0001\\u001f\"");
	assert_str("a\0b", 3, "\"a\\u0000b\"");
	assert_str("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* invalid: lone continuation, truncated sequence, overlong, surrogate, > U+10FFFF */
	assert_str("\x80", 1, "\"\\ufffd\"");
	assert_str("\xc3", 1, "\"\\ufffd\"");
	assert_str("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
	assert_str("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	assert_str("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	assert_str("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	assert_str("\xff" "a", 2, "\"\\ufffda\"");
	assert_str(NULL, 0, "null");
	assert_str("", 0, "\"\"");
}

static void test_event_full(void **state)
{
	struct query_event ev;
	struct buf b = { 0 };
	const char *want =
		"{\"ts_us\":1700000000000000,\"latency_us\":250,\"first_byte_us\":200,"
		"\"client\":\"10.0.0.2:51000\",\"server\":\"[2001:db8::1]:3306\",\"conn_id\":42,"
		"\"user\":\"app\",\"db\":\"shop\",\"command\":\"query\","
		"\"sql\":\"SELECT 'x\\\"'\",\"template\":\"SELECT ?\","
		"\"template_id\":\"00000000deadbeef\",\"status\":\"error\",\"error_code\":1146,"
		"\"sqlstate\":\"42S02\",\"error_message\":\"no table\",\"rows_sent\":1,"
		"\"rows_affected\":2,\"bytes_in\":30,\"bytes_out\":70,"
		"\"flags\":[\"no_index_used\",\"truncated\"]}\n";

	memset(&ev, 0, sizeof(ev));
	ev.ts_us = 1700000000000000ull;
	ev.latency_us = 250;
	ev.first_byte_us = 200;
	ev.client.family = 4;
	memcpy(ev.client.addr, "\x0a\x00\x00\x02", 4);
	ev.client.port = 51000;
	ev.server.family = 6;
	memcpy(ev.server.addr, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	ev.server.port = 3306;
	ev.conn_id = 42;
	ev.conn_id_known = 1;
	ev.user = "app";
	ev.user_len = 3;
	ev.db = "shop";
	ev.db_len = 4;
	ev.command = "query";
	ev.sql = "SELECT 'x\"'";
	ev.sql_len = strlen(ev.sql);
	ev.template = "SELECT ?";
	ev.template_len = 8;
	ev.has_template = 1;
	ev.template_id = 0xdeadbeef;
	ev.status = QE_STATUS_ERROR;
	ev.error_code = 1146;
	memcpy(ev.sqlstate, "42S02", 6);
	ev.error_msg = "no table";
	ev.error_msg_len = 8;
	ev.rows_sent = 1;
	ev.rows_affected = 2;
	ev.bytes_in = 30;
	ev.bytes_out = 70;
	ev.flags = QE_F_NO_INDEX_USED | QE_F_TRUNCATED;
	assert_int_equal(event_json_append(&b, &ev), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void test_event_unknowns(void **state)
{
	struct query_event ev;
	struct buf b = { 0 };
	const char *want =
		"{\"ts_us\":5,\"latency_us\":0,\"first_byte_us\":null,\"client\":null,\"server\":null,"
		"\"conn_id\":null,\"user\":null,\"db\":null,\"command\":\"quit\",\"sql\":null,"
		"\"template\":null,\"template_id\":null,\"status\":\"ok\",\"error_code\":0,"
		"\"sqlstate\":null,\"error_message\":null,\"rows_sent\":0,\"rows_affected\":0,"
		"\"bytes_in\":5,\"bytes_out\":0,\"flags\":[\"no_response\"]}\n";

	memset(&ev, 0, sizeof(ev));
	ev.ts_us = 5;
	ev.command = "quit";
	ev.bytes_in = 5;
	ev.flags = QE_F_NO_RESPONSE;
	assert_int_equal(event_json_append(&b, &ev), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void test_buf_printf_grows(void **state)
{
	struct buf b = { 0 };
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	assert_int_equal(buf_printf(&b, "%s-%d", big, 7), 0);
	assert_int_equal(b.len, 1001);
	assert_memory_equal(b.data + 999, "-7", 2);
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(b.len, 1001);
	buf_free(&b);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_event_full),
		cmocka_unit_test(test_event_unknowns),
		cmocka_unit_test(test_buf_printf_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
