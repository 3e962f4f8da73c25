// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests report JSON: shape, escaping, templates once per client, late clients, read-back. */
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

#include "lib/jread.h"
#include "report/report.h"

static const struct agg_config cfg = {
	.max_keys = 2, .max_slow = 5, .slow_threshold_us = 1000,
	.template_max_len = 4096, .sql_max_len = 4096,
};

static const struct report_header hdr = {
	.version = REPORT_VERSION, .node = "db1:8667", .role = "slave", .seq = 42, .term = 3,
	.period_start_ms = 1700000000000ull, .period_end_ms = 1700000005000ull,
	.noutputs = 2,
	.outputs = { { "stdout", 1, 0 }, { "collector", 2, 5 } },
};

static const struct report_capture cap = {
	.packets = 1, .bytes = 2, .dropped = 3, .gaps = 4, .resyncs = 5,
	.tls_conns = 6, .decode_errors = 7, .unknown_stmt = 8, .keys_overflow = 9, .devices_detached = 1, .late = 2, .stalled_ms = 3,
	.unanswered = 4,
};

static struct agg_input input(uint64_t tid, const char *tmpl, const char *ip, uint64_t lat)
{
	struct agg_input in = { 0 };

	in.template_id = tid;
	in.template_text = tmpl;
	in.template_len = strlen(tmpl);
	in.sql = "select * from t where id = 42";
	in.sql_len = strlen(in.sql);
	in.db = "shop";
	in.db_len = 4;
	in.user = "app";
	in.user_len = 3;
	in.family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(in.family, ip, in.client_addr), 1);
	in.client_port = 40000;
	in.ts_us = 1700000001000000ull;
	in.latency_us = lat;
	in.rows_sent = 1;
	in.bytes_in = 40;
	in.bytes_out = 90;
	return in;
}

/* Renders one report into a NUL-terminated string owned by b. */
static const char *render(struct jbuf *b, const struct agg *a, struct template_seen *seen)
{
	jbuf_reset(b);
	assert_int_equal(report_write(b, &hdr, &cap, a, seen), 0);
	return b->out.data;
}

static void test_exact_small_report(void **state)
{
	struct agg *a = agg_new(&cfg);
	struct agg_input in = input(0xabc, "SELECT ?", "10.0.0.1", 5);
	struct jbuf b;

	(void)state;
	assert_non_null(a);
	jbuf_init(&b);
	assert_int_equal(agg_add(a, &in), 0);
	assert_string_equal(
		render(&b, a, NULL),
		"{\"version\":2,\"node\":\"db1:8667\",\"role\":\"slave\",\"seq\":42,\"term\":3,"
		"\"period_start_ms\":1700000000000,\"period_end_ms\":1700000005000,"
		"\"capture\":{\"packets\":1,\"bytes\":2,\"dropped\":3,\"gaps\":4,\"resyncs\":5,"
		"\"tls_conns\":6,\"decode_errors\":7,\"unknown_stmt\":8,\"keys_overflow\":9,\"devices_detached\":1,\"late\":2,\"stalled_ms\":3,\"unanswered\":4},"
		"\"outputs\":{\"stdout\":{\"readers\":1,\"dropped\":0},"
		"\"collector\":{\"readers\":2,\"dropped\":5}},"
		"\"slow_dropped\":0,"
		"\"templates\":{\"0000000000000abc\":\"SELECT ?\"},"
		"\"stats\":[{\"template_id\":\"0000000000000abc\",\"command\":\"query\","
		"\"db\":\"shop\",\"user\":\"app\","
		"\"client\":\"10.0.0.1\",\"count\":1,\"errors\":0,\"error_codes\":{},"
		"\"latency_us\":{\"sum\":5,\"min\":5,\"max\":5,\"p50\":5,\"p95\":5,\"p99\":5,"
		"\"hist\":[[5,1]]},\"rows_sent\":1,\"rows_affected\":0,\"bytes_in\":40,"
		"\"bytes_out\":90,\"no_index_used\":0}],"
		"\"slow\":[],\"running\":[],\"connections\":[]}");
	jbuf_free(&b);
	agg_free(a);
}

/*
 * Fills an aggregator with two rows (executes, queries), two overflow rows (a query, the
 * executes' prepare), errors and slow samples.
 */
static struct agg *sample_agg(void)
{
	struct agg *a = agg_new(&cfg);
	struct agg_input in;

	assert_non_null(a);
	in = input(1, "SELECT * FROM t WHERE id = ?", "10.0.0.1", 500);
	in.command = AGG_CMD_EXECUTE;
	assert_int_equal(agg_add(a, &in), 0);
	in.latency_us = 2500;
	in.status = AGG_STATUS_ERROR;
	in.error_code = 1146;
	assert_int_equal(agg_add(a, &in), 0);
	in = input(2, "UPDATE t SET a = ?", "fd00::1", 7000);
	in.ts_us += 5;
	in.rows_affected = 3;
	in.no_index_used = true;
	assert_int_equal(agg_add(a, &in), 0);
	in = input(3, "DELETE FROM t", "10.0.0.3", 10); /* third key: "other" */
	assert_int_equal(agg_add(a, &in), 0);
	in = input(1, "SELECT * FROM t WHERE id = ?", "10.0.0.1", 20);
	in.command = AGG_CMD_PREPARE; /* a new key too: the prepare's "other" */
	assert_int_equal(agg_add(a, &in), 0);
	/* Still running: listed with its own template text, in no row. */
	in = input(4, "SELECT SLEEP(?)", "10.0.0.4", 3000000);
	in.sql = "SELECT SLEEP(5)";
	in.sql_len = strlen(in.sql);
	assert_int_equal(agg_add_running(a, &in), 0);
	/* Logins: two failures of two codes and a success of one (user, client). */
	{
		uint8_t ip[16] = { 10, 0, 0, 5 };
		struct sess_table *t = agg_sessions(a);

		assert_int_equal(sess_add(t, SESS_OPENED, 0, "bob", 3, ip, AF_INET), 0);
		assert_int_equal(sess_add(t, SESS_LOGIN_FAILED, 1045, "bob", 3, ip, AF_INET), 0);
		assert_int_equal(sess_add(t, SESS_LOGIN_FAILED, 1044, "bob", 3, ip, AF_INET), 0);
		assert_int_equal(sess_add(t, SESS_LOGIN_OK, 0, "bob", 3, ip, AF_INET), 0);
		assert_int_equal(sess_add(t, SESS_CLOSED, 0, NULL, 0, ip, AF_INET), 0);
	}
	return a;
}

static void test_shape(void **state)
{
	struct agg *a = sample_agg();
	jnode_t *root, *n, *st, *sl;
	struct jread r;
	struct jbuf b;
	const char *json;
	uint64_t v;

	(void)state;
	jbuf_init(&b);
	json = render(&b, a, NULL);
	assert_int_equal(jread_load(&r, json, strlen(json)), 0);
	root = jread_root(&r);
	assert_int_equal(jread_u64(jread_get(&r, root, "version"), &v), 0);
	assert_int_equal(v, 2);
	assert_string_equal(jread_str(jread_get(&r, root, "role"), NULL), "slave");
	n = jread_get(&r, root, "capture");
	assert_int_equal(jread_obj_len(n), 13);
	assert_int_equal(jread_u64(jread_get(&r, n, "unknown_stmt"), &v), 0);
	assert_int_equal(v, 8);
	n = jread_get(&r, root, "templates");
	assert_int_equal(jread_obj_len(n), 2);
	{
		jnode_t *run = jread_get(&r, root, "running"), *e;
		uint64_t el;

		assert_non_null(run);
		assert_int_equal(jread_len(run), 1);
		e = jread_at(&r, run, 0);
		assert_string_equal(jread_str(jread_get(&r, e, "template"), NULL), "SELECT SLEEP(?)");
		assert_string_equal(jread_str(jread_get(&r, e, "sql"), NULL), "SELECT SLEEP(5)");
		assert_string_equal(jread_str(jread_get(&r, e, "client"), NULL), "10.0.0.4:40000");
		assert_int_equal(jread_u64(jread_get(&r, e, "elapsed_us"), &el), 0);
		assert_int_equal(el, 3000000);
		run = jread_get(&r, root, "connections");
		assert_non_null(run);
		assert_int_equal(jread_len(run), 2);
		e = jread_at(&r, run, 0);
		assert_string_equal(jread_str(jread_get(&r, e, "user"), NULL), "bob");
		assert_string_equal(jread_str(jread_get(&r, e, "client"), NULL), "10.0.0.5");
		assert_int_equal(jread_u64(jread_get(&r, jread_get(&r, e, "error_codes"), "1045"),
					   &el), 0);
		assert_int_equal(el, 1);
	}
	assert_string_equal(jread_str(jread_get(&r, n, "0000000000000002"), NULL),
			    "UPDATE t SET a = ?");
	n = jread_get(&r, root, "stats");
	assert_int_equal(jread_len(n), 4);
	st = jread_at(&r, n, 0);
	assert_string_equal(jread_str(jread_get(&r, st, "template_id"), NULL), "0000000000000001");
	assert_string_equal(jread_str(jread_get(&r, st, "command"), NULL), "execute");
	assert_string_equal(jread_str(jread_get(&r, st, "client"), NULL), "10.0.0.1");
	assert_int_equal(jread_u64(jread_get(&r, st, "errors"), &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(jread_u64(jread_get(&r, jread_get(&r, st, "error_codes"), "1146"), &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(jread_u64(jread_get(&r, jread_get(&r, st, "latency_us"), "p99"), &v), 0);
	assert_true(v >= 2475 && v <= 2500);
	assert_int_equal(jread_len(jread_get(&r, jread_get(&r, st, "latency_us"), "hist")), 2);
	st = jread_at(&r, n, 1);
	assert_string_equal(jread_str(jread_get(&r, st, "command"), NULL), "query");
	assert_string_equal(jread_str(jread_get(&r, st, "client"), NULL), "fd00::1");
	assert_int_equal(jread_u64(jread_get(&r, st, "no_index_used"), &v), 0);
	assert_int_equal(v, 1);
	/* Overflow rows come last, one per command. */
	st = jread_at(&r, n, 2);
	assert_string_equal(jread_str(jread_get(&r, st, "template_id"), NULL), "other");
	assert_string_equal(jread_str(jread_get(&r, st, "command"), NULL), "query");
	assert_string_equal(jread_str(jread_get(&r, st, "client"), NULL), "");
	st = jread_at(&r, n, 3);
	assert_string_equal(jread_str(jread_get(&r, st, "template_id"), NULL), "other");
	assert_string_equal(jread_str(jread_get(&r, st, "command"), NULL), "prepare");
	assert_int_equal(jread_u64(jread_get(&r, st, "count"), &v), 0);
	assert_int_equal(v, 1);
	/* Slow samples come in time order with "ip:port" clients. */
	n = jread_get(&r, root, "slow");
	assert_int_equal(jread_len(n), 2);
	sl = jread_at(&r, n, 0);
	assert_string_equal(jread_str(jread_get(&r, sl, "client"), NULL), "10.0.0.1:40000");
	assert_string_equal(jread_str(jread_get(&r, sl, "status"), NULL), "error");
	assert_int_equal(jread_u64(jread_get(&r, sl, "error_code"), &v), 0);
	assert_int_equal(v, 1146);
	assert_string_equal(jread_str(jread_get(&r, sl, "sql"), NULL),
			    "select * from t where id = 42");
	sl = jread_at(&r, n, 1);
	assert_string_equal(jread_str(jread_get(&r, sl, "client"), NULL), "[fd00::1]:40000");
	assert_string_equal(jread_str(jread_get(&r, sl, "status"), NULL), "ok");
	jread_free(&r);
	jbuf_free(&b);
	agg_free(a);
}

static size_t templates_in(const char *json)
{
	jnode_t *t;
	struct jread r;
	size_t n;

	assert_int_equal(jread_load(&r, json, strlen(json)), 0);
	t = jread_get(&r, jread_root(&r), "templates");
	assert_non_null(t);
	n = jread_obj_len(t);
	jread_free(&r);
	return n;
}

static void test_templates_once_per_client(void **state)
{
	struct template_seen *early = template_seen_new(1000), *late = template_seen_new(1000);
	struct agg *a = sample_agg();
	struct agg_input in;
	struct jbuf b;

	(void)state;
	assert_non_null(early);
	assert_non_null(late);
	jbuf_init(&b);
	assert_int_equal(templates_in(render(&b, a, early)), 2);
	assert_int_equal(templates_in(render(&b, a, early)), 0); /* same period again: none */
	/* Next period: one known template, one new. */
	agg_reset(a);
	in = input(1, "SELECT * FROM t WHERE id = ?", "10.0.0.1", 5);
	assert_int_equal(agg_add(a, &in), 0);
	in = input(4, "SELECT ? FROM dual", "10.0.0.1", 5);
	assert_int_equal(agg_add(a, &in), 0);
	assert_int_equal(templates_in(render(&b, a, early)), 1);
	assert_true(strstr(b.out.data, "\"0000000000000004\":\"SELECT ? FROM dual\"") != NULL);
	/* A client connecting now gets every text this period's rows need. */
	assert_int_equal(templates_in(render(&b, a, late)), 2);
	assert_true(strstr(b.out.data, "\"0000000000000001\":") != NULL);
	assert_int_equal(templates_in(render(&b, a, late)), 0);
	/* Without a set (stdout), every text every time. */
	assert_int_equal(templates_in(render(&b, a, NULL)), 2);
	template_seen_free(early);
	template_seen_free(late);
	jbuf_free(&b);
	agg_free(a);
}

static void test_tmpl_seen_bounded(void **state)
{
	struct template_seen *s = template_seen_new(3);
	uint64_t i;

	(void)state;
	assert_non_null(s);
	assert_int_equal(template_seen_add(s, 0), 1); /* id 0 is an id like any other */
	assert_int_equal(template_seen_add(s, 0), 0);
	assert_true(template_seen_has(s, 0));
	assert_int_equal(template_seen_add(s, 7), 1);
	assert_int_equal(template_seen_add(s, 8), 1);
	assert_int_equal(template_seen_resets(s), 0);
	assert_int_equal(template_seen_add(s, 9), 1); /* full: forget everything, keep 9 */
	assert_int_equal(template_seen_resets(s), 1);
	assert_false(template_seen_has(s, 0));
	assert_false(template_seen_has(s, 7));
	assert_true(template_seen_has(s, 9));
	assert_int_equal(template_seen_count(s), 1);
	template_seen_free(s);
	/* Growth keeps every id. */
	s = template_seen_new(100000);
	for (i = 1; i <= 5000; i++)
		assert_int_equal(template_seen_add(s, i * 0x100000001ull), 1);
	for (i = 1; i <= 5000; i++)
		assert_true(template_seen_has(s, i * 0x100000001ull));
	assert_false(template_seen_has(s, 3));
	template_seen_free(s);
	template_seen_free(NULL);
}

static void test_escaping(void **state)
{
	static const char nasty[] = "a\"b\\c\nd\te\x01 \x7f \xc3\xa9 \xe2\x80\xa8 \xff \xc3 "
				    "\xed\xa0\x80 \xf0\x9f\x98\x80 \xc0\xaf";
	static const char expect_json[] =
		"\"a\\\"b\\\\c\\nd\\te\\u0001 \\u007f \xc3\xa9 \\u2028 \xef\xbf\xbd \xef\xbf\xbd "
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80 \xef\xbf\xbd\xef\xbf\xbd\"";
	static const char expect_text[] =
		"a\"b\\c\nd\te\x01 \x7f \xc3\xa9 \xe2\x80\xa8 \xef\xbf\xbd \xef\xbf\xbd "
		"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \xf0\x9f\x98\x80 \xef\xbf\xbd\xef\xbf\xbd";
	struct jread r;
	struct jbuf b;
	const char *s;
	size_t len;

	(void)state;
	jbuf_init(&b);
	jbuf_strn(&b, nasty, sizeof(nasty) - 1);
	assert_string_equal(b.out.data, expect_json);
	/* It reads back to the repaired text. */
	assert_int_equal(jread_load(&r, b.out.data, b.out.len), 0);
	s = jread_str(jread_root(&r), &len);
	assert_int_equal(len, sizeof(expect_text) - 1);
	assert_memory_equal(s, expect_text, len);
	jread_free(&r);
	/* An embedded NUL is escaped, not a terminator. */
	jbuf_reset(&b);
	jbuf_strn(&b, "x\0y", 3);
	assert_string_equal(b.out.data, "\"x\\u0000y\"");
	jbuf_free(&b);
}

static void test_jbuf_commas(void **state)
{
	struct jbuf b;

	(void)state;
	jbuf_init(&b);
	jbuf_obj_open(&b);
	jbuf_key(&b, "a");
	jbuf_arr_open(&b);
	jbuf_arr_open(&b);
	jbuf_arr_close(&b);
	jbuf_u64(&b, 1);
	jbuf_obj_open(&b);
	jbuf_obj_close(&b);
	jbuf_i64(&b, -2);
	jbuf_arr_close(&b);
	jbuf_key(&b, "b");
	jbuf_null(&b);
	jbuf_key(&b, "c");
	jbuf_bool(&b, false);
	jbuf_key(&b, "d");
	jbuf_hex64(&b, 0x0123456789abcdefull);
	jbuf_obj_close(&b);
	assert_int_equal(jbuf_error(&b), 0);
	assert_string_equal(b.out.data,
			    "{\"a\":[[],1,{},-2],\"b\":null,\"c\":false,"
			    "\"d\":\"0123456789abcdef\"}");
	jbuf_free(&b);
	jbuf_free(NULL);
}

static void test_read_back(void **state)
{
	struct agg *a = sample_agg(), *back = agg_new(&cfg);
	struct report_header h;
	struct report_capture c;
	const struct agg_stat *x, *y;
	const char *text;
	struct jbuf b;
	size_t i, len;
	unsigned int k;

	(void)state;
	assert_non_null(back);
	jbuf_init(&b);
	render(&b, a, NULL);
	assert_int_equal(report_parse(back, &h, &c, b.out.data, b.out.len), 0);
	assert_string_equal(h.node, "db1:8667");
	assert_int_equal(h.seq, 42);
	assert_int_equal(h.term, 3);
	assert_int_equal(h.noutputs, 2);
	assert_memory_equal(h.outputs, hdr.outputs, 2 * sizeof(hdr.outputs[0]));
	assert_int_equal(h.period_end_ms, hdr.period_end_ms);
	assert_memory_equal(&c, &cap, sizeof(c));
	assert_int_equal(agg_stat_count(back), agg_stat_count(a));
	assert_int_equal(agg_statements(back), agg_statements(a));
	for (i = 0; i < agg_stat_count(a); i++) {
		x = agg_stat_at(a, i);
		y = agg_stat_at(back, i);
		assert_memory_equal(&x->key, &y->key, offsetof(struct agg_key, names));
		assert_memory_equal(x->key.names, y->key.names, x->key.db_len + x->key.user_len);
		assert_int_equal(x->count, y->count);
		assert_int_equal(x->errors, y->errors);
		assert_int_equal(x->err_n, y->err_n);
		assert_memory_equal(x->err_code, y->err_code, sizeof(x->err_code));
		assert_memory_equal(x->err_count, y->err_count, sizeof(x->err_count));
		assert_int_equal(x->rows_affected, y->rows_affected);
		assert_int_equal(x->lat.sum, y->lat.sum);
		assert_int_equal(x->lat.min, y->lat.min);
		for (k = 0; k < HIST_BUCKETS; k++)
			assert_int_equal(hist_bucket_count(&x->lat, k),
					 hist_bucket_count(&y->lat, k));
		text = agg_template(back, x->key.template_id, &len);
		assert_non_null(text);
	}
	assert_int_equal(agg_other(back, AGG_CMD_QUERY)->count, 1);
	assert_int_equal(agg_other(back, AGG_CMD_PREPARE)->count, 1);
	assert_null(agg_other(back, AGG_CMD_EXECUTE));
	assert_int_equal(agg_slow_count(back), 2);
	assert_int_equal(agg_running_count(back), 1);
	assert_int_equal(sess_count(agg_sessions(back)), 2);
	assert_int_equal(sess_at(agg_sessions(back), 0)->failed, 2);
	assert_int_equal(sess_at(agg_sessions(back), 0)->err_n, 2);
	assert_int_equal(sess_at(agg_sessions(back), 0)->err_code[0], 1044);
	assert_int_equal(sess_at(agg_sessions(back), 1)->closed, 1);
	assert_int_equal(agg_statements(back), agg_statements(a));
	/* Rendering the read-back aggregator gives the same document (slow in time order). */
	{
		struct jbuf b2;

		jbuf_init(&b2);
		render(&b2, back, NULL);
		assert_string_equal(b.out.data, b2.out.data);
		jbuf_free(&b2);
	}
	assert_int_equal(report_parse(back, NULL, NULL, "{\"version\":2}", 13), -EINVAL);
	/* seq and term are required; outputs may be left out. */
	{
		char *doc = strdup(b.out.data), *p = strstr(doc, "\"seq\"");

		assert_non_null(p);
		p[1] = 'x';
		assert_int_equal(report_parse(back, NULL, NULL, doc, strlen(doc)), -EINVAL);
		free(doc);
		char minimal[512];

		snprintf(minimal, sizeof(minimal),
			 "{\"version\":%d,\"node\":\"n\",\"role\":\"slave\",\"seq\":1,\"term\":0,"
			 "\"period_start_ms\":0,\"period_end_ms\":1,\"capture\":{\"packets\":0,"
			 "\"bytes\":0,\"dropped\":0,\"gaps\":0,\"resyncs\":0,\"tls_conns\":0,"
			 "\"decode_errors\":0,\"unknown_stmt\":0,\"keys_overflow\":0,\"devices_detached\":0,\"late\":0,\"stalled_ms\":0},"
			 "\"templates\":{},\"stats\":[],\"slow\":[]}",
			 REPORT_VERSION);
		assert_int_equal(report_parse(back, &h, NULL, minimal, strlen(minimal)), 0);
		assert_int_equal(h.noutputs, 0);
	}
	assert_int_equal(report_parse(back, NULL, NULL, "{", 1), -EINVAL);
	jbuf_free(&b);
	agg_free(a);
	agg_free(back);
}

/* Parses doc with the first occurrence of from replaced by to. */
static int parse_edited(const char *doc, const char *from, const char *to)
{
	const char *at = strstr(doc, from);
	struct agg *a = agg_new(&cfg);
	char *edited;
	size_t n;
	int err;

	assert_non_null(at);
	assert_non_null(a);
	n = strlen(doc) - strlen(from) + strlen(to);
	edited = malloc(n + 1);
	assert_non_null(edited);
	snprintf(edited, n + 1, "%.*s%s%s", (int)(at - doc), doc, to, at + strlen(from));
	err = report_parse(a, NULL, NULL, edited, n);
	free(edited);
	agg_free(a);
	return err;
}

static void test_parse_rejects(void **state)
{
	struct agg *a = sample_agg();
	struct jbuf b;
	const char *doc;

	(void)state;
	jbuf_init(&b);
	doc = render(&b, a, NULL);
	assert_int_equal(parse_edited(doc, "\"version\"", "\"version\""), 0);
	/* Version 1 rows mix commands: they cannot be merged into version 2 rows. */
	assert_int_equal(parse_edited(doc, "\"version\":2", "\"version\":1"), -EINVAL);
	assert_int_equal(parse_edited(doc, "\"command\":\"execute\",", ""), -EINVAL);
	assert_int_equal(parse_edited(doc, "\"execute\"", "\"Execute\""), -EINVAL);
	assert_int_equal(parse_edited(doc, "\"execute\"", "3"), -EINVAL);
	/* Error codes must add up to errors, with no zero count and no code above 65535. */
	assert_int_equal(parse_edited(doc, "{\"1146\":1}", "{\"1146\":2}"), -EINVAL);
	assert_int_equal(parse_edited(doc, "{\"1146\":1}", "{\"1146\":1,\"1062\":0}"), -EINVAL);
	assert_int_equal(parse_edited(doc, "{\"1146\":1}", "{\"70000\":1}"), -EINVAL);
	assert_int_equal(parse_edited(doc, "{\"1146\":1}", "{\"-1\":1}"), -EINVAL);
	assert_int_equal(parse_edited(doc, "{\"1146\":1}", "{\"1062\":1}"), 0);
	/* "other" only stands for codes above a full table of AGG_ERR_CODES codes. */
	assert_int_equal(parse_edited(doc, "{\"1146\":1}", "{\"other\":1}"), -EINVAL);
	/* A period that ends before it starts (a sink would compute a negative length). */
	assert_int_equal(parse_edited(doc, "\"period_end_ms\":1700000005000",
				      "\"period_end_ms\":1699999999999"), -EINVAL);
	jbuf_free(&b);
	agg_free(a);
}

static void add_errors(struct agg *a, unsigned int first, unsigned int last, unsigned int times)
{
	struct agg_input in = input(9, "SELECT ?", "10.0.0.9", 5);
	unsigned int code, t;

	in.command = AGG_CMD_EXECUTE;
	in.status = AGG_STATUS_ERROR;
	for (code = first; code <= last; code++) {
		for (t = 0; t < times; t++) {
			in.error_code = (uint16_t)code;
			assert_int_equal(agg_add(a, &in), 0);
		}
	}
}

/*
 * Two hosts' reports with more codes in all than a row keeps, read back into one aggregator:
 * the document is the one a single agent seeing both hosts' statements writes.
 */
static void test_error_codes_merge_through_reports(void **state)
{
	struct agg *h1 = agg_new(&cfg), *h2 = agg_new(&cfg), *one = agg_new(&cfg);
	struct agg *merged = agg_new(&cfg);
	struct jbuf b, b1;

	(void)state;
	assert_true(h1 && h2 && one && merged);
	jbuf_init(&b);
	jbuf_init(&b1);
	add_errors(h1, 1500, 1500 + AGG_ERR_CODES, 2); /* a full table and "other" */
	add_errors(h2, 1000, 1009, 3);
	add_errors(h2, 1505, 1509, 1);
	add_errors(one, 1500, 1500 + AGG_ERR_CODES, 2);
	add_errors(one, 1000, 1009, 3);
	add_errors(one, 1505, 1509, 1);
	render(&b, h1, NULL);
	assert_non_null(strstr(b.out.data, "\"other\":2}"));
	assert_int_equal(report_parse(merged, NULL, NULL, b.out.data, b.out.len), 0);
	render(&b, h2, NULL);
	assert_int_equal(report_parse(merged, NULL, NULL, b.out.data, b.out.len), 0);
	render(&b, one, NULL);
	render(&b1, merged, NULL);
	assert_string_equal(b.out.data, b1.out.data);
	/* 1000..1009 by name, then 1500..1505; 1506..1509 and above are in "other". */
	assert_non_null(strstr(b.out.data, "\"1000\":3,"));
	assert_non_null(strstr(b.out.data, "\"1505\":3,\"other\":"));
	jbuf_free(&b);
	jbuf_free(&b1);
	agg_free(h1);
	agg_free(h2);
	agg_free(one);
	agg_free(merged);
}

/* Long texts (beyond libyaml's 1024-byte simple-key window) read back intact. */
static void test_long_template_reads_back(void **state)
{
	struct agg_config big = cfg;
	struct agg *a, *back;
	struct agg_input in;
	const char *text;
	struct jbuf b;
	char *t;
	size_t len;

	(void)state;
	big.template_max_len = 200000;
	a = agg_new(&big);
	back = agg_new(&big);
	assert_non_null(a);
	assert_non_null(back);
	t = malloc(100001);
	assert_non_null(t);
	memset(t, 'x', 100000);
	t[100000] = '\0';
	t[5000] = ':';
	t[6000] = '"';
	in = input(77, t, "10.0.0.1", 3);
	assert_int_equal(agg_add(a, &in), 0);
	jbuf_init(&b);
	render(&b, a, NULL);
	assert_int_equal(report_parse(back, NULL, NULL, b.out.data, b.out.len), 0);
	text = agg_template(back, 77, &len);
	assert_non_null(text);
	assert_int_equal(len, 100000);
	assert_memory_equal(text, t, len);
	free(t);
	jbuf_free(&b);
	agg_free(a);
	agg_free(back);
}

static const char *app_a(const void *ctx, uint8_t family, const uint8_t *addr, size_t *len)
{
	(void)ctx;
	if (family != AF_INET)
		return NULL; /* no match: "" */
	*len = 6;
	return "flight";
}

/* A report keyed by report.keys says so, carries app and server, and reads back as such. */
static void test_keys_read_back(void **state)
{
	struct agg *a = sample_agg(), *keyed = agg_new(&cfg), *back = agg_new(&cfg);
	const unsigned int keys = AGG_DIM_APP | AGG_DIM_COMMAND | AGG_DIM_TEMPLATE | AGG_DIM_SERVER;
	const char *json;
	struct jbuf b;
	size_t i;

	(void)state;
	assert_non_null(keyed);
	assert_non_null(back);
	assert_int_equal(agg_merge_keyed(keyed, a,
					 &(struct agg_project){ .keys = keys, .app = app_a,
								.server = "db1:8667" }),
			 0);
	jbuf_init(&b);
	json = render(&b, keyed, NULL);
	assert_non_null(strstr(json, "\"keys\":[\"template\",\"command\",\"app\",\"server\"]"));
	assert_non_null(strstr(json, "\"client\":\"\",\"app\":\"flight\",\"server\":\"db1:8667\""));
	assert_non_null(strstr(json, "\"app\":\"\",\"server\":\"db1:8667\"")); /* fd00::1 */
	assert_int_equal(report_parse(back, NULL, NULL, b.out.data, b.out.len), 0);
	assert_int_equal(agg_keys(back), keys);
	assert_int_equal(agg_stat_count(back), agg_stat_count(keyed));
	for (i = 0; i < agg_stat_count(keyed); i++) {
		const struct agg_stat *x = agg_stat_at(keyed, i), *y = agg_stat_at(back, i);

		assert_memory_equal(&x->key, &y->key, offsetof(struct agg_key, names));
		assert_memory_equal(x->key.names, y->key.names,
				    x->key.db_len + x->key.user_len + x->key.app_len +
					    x->key.server_len);
		assert_int_equal(x->count, y->count);
	}
	/* A default report has neither "keys" nor app/server, and reads back as the default. */
	json = render(&b, a, NULL);
	assert_null(strstr(json, "\"keys\""));
	assert_null(strstr(json, "\"app\":"));
	assert_null(strstr(json, "\"server\":"));
	agg_reset(back);
	assert_int_equal(report_parse(back, NULL, NULL, b.out.data, b.out.len), 0);
	assert_int_equal(agg_keys(back), AGG_KEYS_DEFAULT);
	/* An unknown dimension is refused. */
	{
		char *bad = strdup(render(&b, keyed, NULL)), *k = strstr(bad, "\"server\"]");

		memcpy(k, "\"serveX\"", 8);
		agg_reset(back);
		assert_int_equal(report_parse(back, NULL, NULL, bad, strlen(bad)), -EINVAL);
		free(bad);
	}
	jbuf_free(&b);
	agg_free(a);
	agg_free(keyed);
	agg_free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_small_report),
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_templates_once_per_client),
		cmocka_unit_test(test_tmpl_seen_bounded),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_jbuf_commas),
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_error_codes_merge_through_reports),
		cmocka_unit_test(test_long_template_reads_back),
		cmocka_unit_test(test_keys_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
