// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* MySQL decoder against real MariaDB conversations and crafted text-protocol exchanges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mysql/mysql_fx.h"
#include "mysql/mysql_fx_real.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void run_ok(const struct fx_chunk *c, size_t n, const struct mysql_limits *lim,
		   struct fx_result *ref)
{
	assert_int_equal(fx_run_all(c, n, lim, ref), 0);
}

static void run_fx(struct fx *f, const struct mysql_limits *lim, struct fx_result *ref)
{
	fx_flush(f);
	run_ok(f->c, f->n, lim, ref);
}

static void assert_ev(const struct fx_ev *e, const char *cmd, const char *sql, int status)
{
	assert_string_equal(e->command, cmd);
	if (sql) {
		assert_false(e->sql_null);
		assert_string_equal(e->sql, sql);
	} else {
		assert_true(e->sql_null);
	}
	assert_int_equal(e->status, status);
}

static void test_real_basic(void **state)
{
	struct fx_result r;

	run_ok(fx_real_basic, N(fx_real_basic), NULL, &r);
	assert_int_equal(r.n, 3);
	assert_ev(&r.ev[0], "query", "SELECT 1 AS a, 'x' AS b", QE_STATUS_OK);
	assert_int_equal(r.ev[0].rows_sent, 1);
	assert_string_equal(r.ev[0].user, "mp");
	assert_string_equal(r.ev[0].db, "mp");
	assert_true(r.ev[0].conn_id_known);
	assert_int_equal(r.ev[0].conn_id, 0x14);
	assert_int_equal(r.ev[0].bytes_in, 28);
	assert_int_equal(r.ev[0].bytes_out, 88);
	assert_int_equal(r.ev[0].latency_us, 1000); /* response chunk 1 ms after the request */
	assert_int_equal(r.ev[0].first_byte_us, 1000);
	assert_ev(&r.ev[1], "query", "SELECT * FROM nosuch", QE_STATUS_ERROR);
	assert_int_equal(r.ev[1].error_code, 1146);
	assert_string_equal(r.ev[1].sqlstate, "42S02");
	assert_string_equal(r.ev[1].error_msg, "Table 'mp.nosuch' doesn't exist");
	assert_ev(&r.ev[2], "quit", NULL, QE_STATUS_OK);
	assert_true(r.ev[2].flags & QE_F_NO_RESPONSE);
	assert_int_equal(r.cnt.decode_errors, 0);
	assert_int_equal(r.cnt.midstream_conns, 0);
	fx_result_free(&r);
}

static void test_real_multi_call(void **state)
{
	struct fx_result r;

	run_ok(fx_real_multi, N(fx_real_multi), NULL, &r);
	assert_int_equal(r.n, 8);
	assert_ev(&r.ev[0], "query", "CREATE PROCEDURE IF NOT EXISTS p() BEGIN SELECT 1; SELECT 2,3; END",
		  QE_STATUS_OK);
	assert_ev(&r.ev[1], "query", "SELECT 1", QE_STATUS_OK);
	assert_int_equal(r.ev[1].rows_sent, 1);
	assert_true(r.ev[1].flags & QE_F_MULTI);
	assert_ev(&r.ev[2], "query", "SELECT 2", QE_STATUS_OK);
	/* CALL: two result sets and the CALL's own OK are one statement */
	assert_ev(&r.ev[3], "query", "CALL p()", QE_STATUS_OK);
	assert_int_equal(r.ev[3].rows_sent, 2);
	assert_ev(&r.ev[4], "query", "SELECT 3", QE_STATUS_OK);
	assert_ev(&r.ev[5], "query", "SELECT 5", QE_STATUS_OK);
	/* the ERR ends the batch: SELECT 4 never ran */
	assert_ev(&r.ev[6], "query", "SELECT * FROM nosuch", QE_STATUS_ERROR);
	assert_int_equal(r.ev[6].error_code, 1146);
	assert_ev(&r.ev[7], "quit", NULL, QE_STATUS_OK);
	/* bytes of a split query add up to the request's */
	assert_int_equal(r.ev[1].bytes_in + r.ev[2].bytes_in + r.ev[3].bytes_in + r.ev[4].bytes_in,
			 43);
	assert_int_equal(r.ev[2].bytes_in, strlen("SELECT 2"));
	fx_result_free(&r);
}

/*
 * The same connection joined after its handshake: the compressed framing is told from the
 * bytes (a client chunk starting with a compressed packet that holds a request). Detection
 * looks at chunk starts, as the flow delivers whole TCP segments, so this fixture is fed whole
 * rather than split at every offset (split, the request would not start a chunk).
 */
static void test_compress_midstream(void **state)
{
	struct fx_result r;

	(void)state;
	fx_run(fx_real_compress + 3, N(fx_real_compress) - 3, FX_WHOLE, NULL, &r);
	assert_int_equal(r.cnt.compressed_conns, 1);
	assert_int_equal(r.cnt.compressed_midstream, 1);
	assert_int_equal(r.cnt.midstream_conns, 1);
	assert_int_equal(r.n, 3);
	assert_ev(&r.ev[0], "query", "SELECT 1", QE_STATUS_OK);
	assert_int_equal(r.ev[0].rows_sent, 1);
	assert_true(r.ev[0].flags & QE_F_COMPRESSED);
	assert_ev(&r.ev[1], "query", "SELECT REPEAT('a', 3000) AS r", QE_STATUS_OK);
	assert_int_equal(r.ev[1].rows_sent, 1);
	assert_ev(&r.ev[2], "quit", NULL, QE_STATUS_OK);
	assert_int_equal(r.cnt.decode_errors, 0);
	assert_int_equal(r.cnt.framing_undecided, 0);
	fx_result_free(&r);

	/* Joined after the first request: its response is skipped, the next one decoded. */
	fx_run(fx_real_compress + 4, N(fx_real_compress) - 4, FX_WHOLE, NULL, &r);
	assert_int_equal(r.cnt.compressed_midstream, 1);
	assert_int_equal(r.n, 2);
	assert_ev(&r.ev[0], "query", "SELECT REPEAT('a', 3000) AS r", QE_STATUS_OK);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);

	/* Only server bytes: nothing can be told, counted once at close. */
	fx_run(fx_real_compress + 4, 1, FX_WHOLE, NULL, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.cnt.framing_undecided, 1);
	fx_result_free(&r);
}

static void test_real_compress(void **state)
{
	struct fx_result r;

	run_ok(fx_real_compress, N(fx_real_compress), NULL, &r);
	assert_int_equal(r.cnt.compressed_conns, 1);
	assert_int_equal(r.n, 3);
	assert_ev(&r.ev[0], "query", "SELECT 1", QE_STATUS_OK);
	assert_int_equal(r.ev[0].rows_sent, 1);
	assert_true(r.ev[0].flags & QE_F_COMPRESSED);
	assert_ev(&r.ev[1], "query", "SELECT REPEAT('a', 3000) AS r", QE_STATUS_OK);
	assert_int_equal(r.ev[1].rows_sent, 1);
	assert_true(r.ev[1].bytes_out > 3000); /* uncompressed bytes */
	assert_ev(&r.ev[2], "quit", NULL, QE_STATUS_OK);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
}

static void test_real_infile(void **state)
{
	struct fx_result r;

	run_ok(fx_real_infile, N(fx_real_infile), NULL, &r);
	assert_int_equal(r.n, 3);
	assert_ev(&r.ev[0], "query", "CREATE TABLE IF NOT EXISTS t2(a int, b varchar(10))",
		  QE_STATUS_OK);
	assert_ev(&r.ev[1], "query", "LOAD DATA LOCAL INFILE '/tmp/dec/infile.txt' INTO TABLE t2",
		  QE_STATUS_OK);
	assert_int_equal(r.ev[1].rows_affected, 3);
	assert_int_equal(r.ev[1].bytes_in, 63 + 16 + 4); /* command, file data, empty packet */
	assert_ev(&r.ev[2], "quit", NULL, QE_STATUS_OK);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
}

#define CAPS_BASE (CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_SESSION_TRACK)

/* Greeting, login, OK: a connection ready for commands. */
static void connect_fx(struct fx *f, uint32_t caps, const char *user, const char *db)
{
	fx_greeting(f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 77);
	fx_login(f, caps, user, db);
	fx_ok(f, 2, 0, 0x0002);
}

static void test_auth_switch(void **state)
{
	struct fx f;
	struct fx_result r;
	FP(sw);

	fx_init(&f);
	fx_greeting(&f, 0xffffffffu & ~CLIENT_SSL, 5);
	fx_login(&f, CAPS_BASE, "alice", "shop");
	fp_cstr(fp_u8(&sw, 0xfe), "caching_sha2_password");
	fp_str(&sw, "0123456789abcdefghij");
	FX_PKT(&f, MP_DIR_TO_CLIENT, 2, &sw);
	fx_pkt(&f, MP_DIR_TO_SERVER, 3, "0123456789abcdefghijklmnopqrstuv", 32);
	fx_pkt(&f, MP_DIR_TO_CLIENT, 4, "\x01\x03", 2); /* fast auth success */
	fx_ok(&f, 5, 0, 2);
	fx_cmd(&f, COM_PING, NULL);
	fx_ok(&f, 1, 0, 2);
	fx_cmd(&f, COM_QUIT, NULL);
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 2);
	assert_ev(&r.ev[0], "ping", NULL, QE_STATUS_OK);
	assert_string_equal(r.ev[0].user, "alice");
	assert_string_equal(r.ev[0].db, "shop");
	assert_int_equal(r.ev[0].conn_id, 5);
	assert_int_equal(r.ev[0].bytes_in, 5);
	assert_int_equal(r.ev[0].bytes_out, 11);
	assert_ev(&r.ev[1], "quit", NULL, QE_STATUS_OK);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_ssl_request(void **state)
{
	struct fx f;
	struct fx_result r;
	FP(p);

	fx_init(&f);
	fx_greeting(&f, 0xffffffffu, 9);
	fp_u32(&p, CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION);
	fp_u32(&p, 1 << 24);
	fp_u8(&p, 0x21);
	fp_mem(&p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 23);
	FX_PKT(&f, MP_DIR_TO_SERVER, 1, &p);
	FX_RAW_LIT(&f, MP_DIR_TO_SERVER, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
	FX_RAW_LIT(&f, MP_DIR_TO_CLIENT, "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03");
	FX_RAW_LIT(&f, MP_DIR_TO_SERVER, "\x17\x03\x03\x00\x20\x00\x00\x00\x03SELECT 1");
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.cnt.tls_conns, 1);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
	fx_free(&f);
}

static void text_protocol(int deprecate_eof)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	connect_fx(&f, CAPS_BASE | (deprecate_eof ? CLIENT_DEPRECATE_EOF : 0), "bob", NULL);
	fx_cmd(&f, COM_QUERY, "SELECT c FROM t");
	fx_resultset(&f, 1, 2, 3, deprecate_eof, 0x0002 | SERVER_QUERY_NO_INDEX_USED);
	fx_cmd(&f, COM_QUERY, "SELECT c FROM t WHERE 0");
	fx_resultset(&f, 1, 1, 0, deprecate_eof, 0x0002);
	fx_cmd(&f, COM_QUERY, "UPDATE t SET c = 1");
	fx_ok(&f, 1, 42, 0x0002 | SERVER_QUERY_NO_GOOD_INDEX_USED);
	fx_cmd(&f, COM_QUERY, "SELEC 1");
	fx_err(&f, 1, 1064, "42000", "You have an error");
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 4);
	assert_ev(&r.ev[0], "query", "SELECT c FROM t", QE_STATUS_OK);
	assert_int_equal(r.ev[0].rows_sent, 3);
	assert_int_equal(r.ev[0].flags & (QE_F_NO_INDEX_USED | QE_F_NO_GOOD_INDEX_USED),
			 QE_F_NO_INDEX_USED);
	assert_true(r.ev[0].user_null == 0 && r.ev[0].db_null);
	assert_int_equal(r.ev[1].rows_sent, 0);
	assert_int_equal(r.ev[2].rows_affected, 42);
	assert_true(r.ev[2].flags & QE_F_NO_GOOD_INDEX_USED);
	assert_int_equal(r.ev[3].error_code, 1064);
	assert_string_equal(r.ev[3].sqlstate, "42000");
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_text_eof(void **state)
{
	text_protocol(0);
}

static void test_text_deprecate_eof(void **state)
{
	text_protocol(1);
}

static void test_pipelined(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	connect_fx(&f, CAPS_BASE, "u", "d");
	/* three requests in one segment, then all three responses in one segment */
	fx_cmd(&f, COM_QUERY, "SELECT 1");
	fx_cmd(&f, COM_PING, NULL);
	fx_cmd(&f, COM_QUERY, "INSERT INTO t VALUES (1)");
	fx_flush(&f);
	fx_resultset(&f, 1, 1, 1, 0, 2);
	fx_ok(&f, 1, 0, 2);
	fx_ok(&f, 1, 1, 2);
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 3);
	assert_ev(&r.ev[0], "query", "SELECT 1", QE_STATUS_OK);
	assert_int_equal(r.ev[0].rows_sent, 1);
	assert_ev(&r.ev[1], "ping", NULL, QE_STATUS_OK);
	assert_ev(&r.ev[2], "query", "INSERT INTO t VALUES (1)", QE_STATUS_OK);
	assert_int_equal(r.ev[2].rows_affected, 1);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_init_db_use(void **state)
{
	struct fx f;
	struct fx_result r;
	FP(ok);

	fx_init(&f);
	connect_fx(&f, CAPS_BASE, "u", NULL);
	fx_cmd(&f, COM_INIT_DB, "shop");
	fx_ok(&f, 1, 0, 2);
	fx_cmd(&f, COM_QUERY, "SELECT 1");
	fx_ok(&f, 1, 0, 2);
	fx_cmd(&f, COM_QUERY, "/* c */ use `my db`");
	fx_ok(&f, 1, 0, 2);
	fx_cmd(&f, COM_QUERY, "SELECT 2");
	fx_ok(&f, 1, 0, 2);
	fx_cmd(&f, COM_QUERY, "USE nosuch");
	fx_err(&f, 1, 1049, "42000", "Unknown database 'nosuch'");
	fx_cmd(&f, COM_QUERY, "SELECT 3");
	fx_ok(&f, 1, 0, 2);
	/* a schema change reported only through session state tracking */
	fx_cmd(&f, COM_QUERY, "CALL switch_db()");
	fp_u8(fp_u8(fp_u8(&ok, 0), 0), 0);
	fp_u16(fp_u16(&ok, 0x0002 | SERVER_SESSION_STATE_CHANGED), 0);
	fp_u8(&ok, 0);		       /* info */
	fp_u8(&ok, 7);		       /* session state length */
	fp_u8(fp_u8(&ok, SESSION_TRACK_SCHEMA), 5);
	fp_lstr(&ok, "logs");
	FX_PKT(&f, MP_DIR_TO_CLIENT, 1, &ok);
	fx_cmd(&f, COM_QUERY, "SELECT 4");
	fx_ok(&f, 1, 0, 2);
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 8);
	assert_ev(&r.ev[0], "init_db", NULL, QE_STATUS_OK);
	assert_true(r.ev[0].db_null);
	assert_string_equal(r.ev[1].db, "shop");
	assert_string_equal(r.ev[3].db, "my db");
	assert_int_equal(r.ev[4].status, QE_STATUS_ERROR);
	assert_string_equal(r.ev[5].db, "my db");
	assert_string_equal(r.ev[7].db, "logs");
	fx_result_free(&r);
	fx_free(&f);
}

static void test_change_user(void **state)
{
	struct fx f;
	struct fx_result r;
	FP(cu);
	FP(sw);

	fx_init(&f);
	connect_fx(&f, CAPS_BASE, "u1", "d1");
	fx_cmd(&f, COM_QUERY, "SELECT 1");
	fx_ok(&f, 1, 0, 2);
	fp_cstr(fp_u8(&cu, COM_CHANGE_USER), "u2");
	fp_str(fp_u8(&cu, 20), "01234567890123456789");
	fp_cstr(&cu, "d2");
	fp_u16(&cu, 0x21);
	fp_cstr(&cu, "mysql_native_password");
	FX_PKT(&f, MP_DIR_TO_SERVER, 0, &cu);
	fp_cstr(fp_u8(&sw, 0xfe), "mysql_native_password");
	fp_str(&sw, "abcdefghijabcdefghij");
	fp_u8(&sw, 0);
	FX_PKT(&f, MP_DIR_TO_CLIENT, 1, &sw);
	fx_pkt(&f, MP_DIR_TO_SERVER, 2, "01234567890123456789", 20);
	fx_ok(&f, 3, 0, 2);
	fx_cmd(&f, COM_QUERY, "SELECT 2");
	fx_ok(&f, 1, 0, 2);
	fx_cmd(&f, COM_RESET_CONNECTION, NULL);
	fx_ok(&f, 1, 0, 2);
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 4);
	assert_string_equal(r.ev[0].user, "u1");
	assert_ev(&r.ev[1], "change_user", NULL, QE_STATUS_OK);
	assert_int_equal(r.ev[1].bytes_in, 4 + cu.n + 4 + 20);
	assert_string_equal(r.ev[2].user, "u2");
	assert_string_equal(r.ev[2].db, "d2");
	assert_ev(&r.ev[3], "reset_connection", NULL, QE_STATUS_OK);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_multi_result_ok(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	connect_fx(&f, CAPS_BASE | CLIENT_DEPRECATE_EOF, "u", "d");
	fx_cmd(&f, COM_QUERY, "INSERT INTO t VALUES (1); UPDATE t SET a = 2; SELECT a FROM t");
	fx_ok(&f, 1, 1, 2 | SERVER_MORE_RESULTS_EXISTS);
	fx_ok(&f, 2, 5, 2 | SERVER_MORE_RESULTS_EXISTS);
	fx_resultset(&f, 3, 1, 2, 1, 2);
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 3);
	assert_ev(&r.ev[0], "query", "INSERT INTO t VALUES (1)", QE_STATUS_OK);
	assert_int_equal(r.ev[0].rows_affected, 1);
	assert_ev(&r.ev[1], "query", "UPDATE t SET a = 2", QE_STATUS_OK);
	assert_int_equal(r.ev[1].rows_affected, 5);
	assert_ev(&r.ev[2], "query", "SELECT a FROM t", QE_STATUS_OK);
	assert_int_equal(r.ev[2].rows_sent, 2);
	/* later statements start where the previous one ended */
	assert_true(r.ev[1].ts_us >= r.ev[0].ts_us);
	fx_result_free(&r);
	fx_free(&f);
}

/* Runs f through a decoder without a statement splitter (split_sql is optional), each
 * chunk whole or byte by byte. */
static void run_nosplit(struct fx *f, int bytes, struct fx_result *r)
{
	static const struct mysql_callbacks cb = { .on_event = fx_on_event };
	struct mysql_conn *c;

	fx_flush(f);
	memset(r, 0, sizeof(*r));
	c = mysql_conn_new(&cb, r, NULL, &r->cnt);
	assert_non_null(c);
	for (size_t i = 0; i < f->n; i++) {
		const uint8_t *d = (const uint8_t *)f->c[i].data;

		for (size_t off = 0; off < f->c[i].len; off += bytes ? 1 : f->c[i].len)
			mysql_feed(c, f->c[i].dir, d + off, bytes ? 1 : f->c[i].len - off,
				   1000000000ull + i * 1000000ull);
	}
	mysql_conn_close(c, 2000000000ull);
	mysql_conn_free(c);
}

/* A schema change tracked in the first result's OK applies when the statement (here the
 * whole unsplit query) ends, packets later: the decoder keeps its own copy of the name. */
static void test_schema_change_before_last_result(void **state)
{
	struct fx f;
	struct fx_result r;
	FP(ok);

	fx_init(&f);
	connect_fx(&f, CAPS_BASE, "u", "d");
	fx_cmd(&f, COM_QUERY, "USE logs; SELECT 1");
	fp_u8(fp_u8(fp_u8(&ok, 0), 0), 0);
	fp_u16(fp_u16(&ok, 0x0002 | SERVER_MORE_RESULTS_EXISTS | SERVER_SESSION_STATE_CHANGED), 0);
	fp_u8(&ok, 0); /* info */
	fp_u8(&ok, 7); /* session state length */
	fp_u8(fp_u8(&ok, SESSION_TRACK_SCHEMA), 5);
	fp_lstr(&ok, "logs");
	FX_PKT(&f, MP_DIR_TO_CLIENT, 1, &ok);
	fx_resultset(&f, 2, 1, 1, 0, 2);
	fx_cmd(&f, COM_QUERY, "SELECT 2");
	fx_ok(&f, 1, 0, 2);
	for (int bytes = 0; bytes < 2; bytes++) {
		run_nosplit(&f, bytes, &r);
		assert_int_equal(r.n, 2);
		assert_ev(&r.ev[0], "query", "USE logs; SELECT 1", QE_STATUS_OK);
		assert_string_equal(r.ev[0].db, "d"); /* the schema it ran in */
		assert_int_equal(r.ev[0].rows_sent, 1);
		assert_string_equal(r.ev[1].db, "logs");
		assert_int_equal(r.cnt.decode_errors, 0);
		fx_result_free(&r);
	}
	fx_free(&f);
}

static void test_big_packet(void **state)
{
	size_t len = 17u << 20, kept = 1024; /* > 16 MiB: two physical packets */
	struct mysql_limits lim = { .max_sql = kept };
	struct fx_result r;
	struct fx f;
	uint8_t *q = malloc(len);

	memset(q, 'a', len);
	memcpy(q, "\x03SELECT '", 9);
	q[len - 1] = '\'';
	fx_init(&f);
	connect_fx(&f, CAPS_BASE, "u", "d");
	fx_pkt(&f, MP_DIR_TO_SERVER, 0, q, MYSQL_MAX_PACKET);
	fx_pkt(&f, MP_DIR_TO_SERVER, 1, q + MYSQL_MAX_PACKET, len - MYSQL_MAX_PACKET);
	fx_resultset(&f, 2, 1, 1, 0, 2);
	fx_flush(&f);
	for (size_t split = 0; split < 3; split++) {
		fx_run(f.c, f.n, split ? (split == 1 ? 3 : 1u << 20) : FX_WHOLE, &lim, &r);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.ev[0].sql_len, kept);
		assert_true(r.ev[0].flags & QE_F_TRUNCATED);
		assert_int_equal(r.ev[0].bytes_in, len + 8);
		assert_int_equal(r.ev[0].rows_sent, 1);
		assert_int_equal(r.cnt.truncated, 1);
		fx_result_free(&r);
	}
	fx_free(&f);
	free(q);
}

static void test_query_attributes(void **state)
{
	struct fx f;
	struct fx_result r;
	FP(q);
	FP(q2);

	fx_init(&f);
	connect_fx(&f, CAPS_BASE | CLIENT_QUERY_ATTRIBUTES, "u", "d");
	fp_str(fp_u8(fp_u8(fp_u8(&q, COM_QUERY), 0), 1), "SELECT 1");
	FX_PKT(&f, MP_DIR_TO_SERVER, 0, &q);
	fx_ok(&f, 1, 0, 2);
	/* two attributes: a LONG and a string */
	fp_u8(fp_u8(fp_u8(&q2, COM_QUERY), 2), 1);
	fp_u8(fp_u8(&q2, 0), 1);
	fp_lstr(fp_u16(&q2, 0x03), "a");
	fp_lstr(fp_u16(&q2, 0xfe), "trace");
	fp_u32(&q2, 7);
	fp_lstr(&q2, "xyz");
	fp_str(&q2, "SELECT 2");
	FX_PKT(&f, MP_DIR_TO_SERVER, 0, &q2);
	fx_ok(&f, 1, 0, 2);
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 2);
	assert_ev(&r.ev[0], "query", "SELECT 1", QE_STATUS_OK);
	assert_ev(&r.ev[1], "query", "SELECT 2", QE_STATUS_OK);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_other_commands(void **state)
{
	struct fx f;
	struct fx_result r;
	FP(opt);
	FP(stat);

	fx_init(&f);
	connect_fx(&f, CAPS_BASE, "u", "d");
	fx_cmd(&f, COM_STATISTICS, NULL);
	fp_str(&stat, "Uptime: 5  Threads: 1  Questions: 9");
	FX_PKT(&f, MP_DIR_TO_CLIENT, 1, &stat);
	fx_cmd(&f, COM_FIELD_LIST, "t\0");
	fx_coldef(&f, 1, "a");
	fx_coldef(&f, 2, "b");
	fx_eof(&f, 3, 2);
	fp_u16(fp_u8(&opt, COM_SET_OPTION), 1);
	FX_PKT(&f, MP_DIR_TO_SERVER, 0, &opt);
	fx_eof(&f, 1, 2);
	fx_cmd(&f, COM_PROCESS_INFO, NULL);
	fx_resultset(&f, 1, 3, 2, 0, 2);
	fx_cmd(&f, 0x0c, "\x05\x00\x00\x00"); /* COM_PROCESS_KILL */
	fx_err(&f, 1, 1094, "HY000", "Unknown thread id: 5");
	/* MariaDB cached metadata: column count, then "metadata follows" = 0 */
	fx_cmd(&f, COM_QUERY, "SELECT 1");
	fx_pkt(&f, MP_DIR_TO_CLIENT, 1, "\x01\x00", 2);
	fx_pkt(&f, MP_DIR_TO_CLIENT, 2, "\x01" "1", 2);
	fx_ok_fe(&f, 3, 2);
	run_fx(&f, NULL, &r);
	assert_int_equal(r.n, 6);
	assert_ev(&r.ev[0], "statistics", NULL, QE_STATUS_OK);
	assert_int_equal(r.ev[0].bytes_out, 4 + stat.n);
	assert_ev(&r.ev[1], "field_list", NULL, QE_STATUS_OK);
	assert_int_equal(r.ev[1].rows_sent, 0);
	assert_int_equal(r.ev[1].bytes_out, 2 * 32 + 9);
	assert_ev(&r.ev[2], "set_option", NULL, QE_STATUS_OK);
	assert_ev(&r.ev[3], "process_info", NULL, QE_STATUS_OK);
	assert_int_equal(r.ev[3].rows_sent, 2);
	assert_ev(&r.ev[4], "process_kill", NULL, QE_STATUS_ERROR);
	assert_int_equal(r.ev[4].error_code, 1094);
	assert_ev(&r.ev[5], "query", "SELECT 1", QE_STATUS_OK);
	assert_int_equal(r.ev[5].rows_sent, 1);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_basic),
		cmocka_unit_test(test_real_multi_call),
		cmocka_unit_test(test_real_compress),
		cmocka_unit_test(test_compress_midstream),
		cmocka_unit_test(test_real_infile),
		cmocka_unit_test(test_auth_switch),
		cmocka_unit_test(test_ssl_request),
		cmocka_unit_test(test_text_eof),
		cmocka_unit_test(test_text_deprecate_eof),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_init_db_use),
		cmocka_unit_test(test_change_user),
		cmocka_unit_test(test_multi_result_ok),
		cmocka_unit_test(test_schema_change_before_last_result),
		cmocka_unit_test(test_big_packet),
		cmocka_unit_test(test_query_attributes),
		cmocka_unit_test(test_other_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
