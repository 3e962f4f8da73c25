// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* MySQL decoder: joining mid-stream, gaps, garbage and TLS streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mysql/mysql_fx.h"

static void query_ok(struct fx *f, const char *sql, int rows)
{
	fx_cmd(f, COM_QUERY, sql);
	fx_flush(f);
	if (rows)
		fx_resultset(f, 1, 1, rows, 0, 2);
	else
		fx_ok(f, 1, 0, 2);
	fx_flush(f);
}

static void test_midstream_join(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	/* the tail of a query and of its result set, then whole exchanges */
	FX_RAW_LIT(&f, MP_DIR_TO_SERVER, "ROM t WHERE a = 'x\x00\x03\x00'");
	FX_RAW_LIT(&f, MP_DIR_TO_CLIENT, "\x02r1\x05\x00\x00\x06\xfe\x00\x00\x02\x00");
	query_ok(&f, "SELECT a FROM t", 2);
	fx_cmd(&f, COM_PING, NULL);
	fx_ok(&f, 1, 0, 2);
	fx_cmd(&f, COM_QUERY, "DELETE FROM t");
	fx_ok(&f, 1, 3, 2);
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.ev[0].sql, "SELECT a FROM t");
	assert_int_equal(r.ev[0].rows_sent, 2);
	assert_true(r.ev[0].user_null);
	assert_true(r.ev[0].db_null);
	assert_false(r.ev[0].conn_id_known);
	assert_string_equal(r.ev[1].command, "ping");
	assert_int_equal(r.ev[2].rows_affected, 3);
	assert_int_equal(r.cnt.midstream_conns, 1);
	assert_true(r.cnt.skipped_bytes >= 22);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_gap_to_server(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	fx_greeting(&f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 8);
	fx_login(&f, CLIENT_MULTI_RESULTS, "u", "d");
	fx_ok(&f, 2, 0, 2);
	query_ok(&f, "SELECT 1", 1);
	/* the start of a request is lost: its rest and its response are skipped */
	fx_gap(&f, MP_DIR_TO_SERVER, 10);
	FX_RAW_LIT(&f, MP_DIR_TO_SERVER, "ERE id = 12345");
	fx_ok(&f, 1, 1, 2);
	fx_flush(&f);
	query_ok(&f, "SELECT 2", 2);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[0].sql, "SELECT 1");
	assert_string_equal(r.ev[1].sql, "SELECT 2");
	assert_int_equal(r.ev[1].rows_sent, 2);
	/* user and db survive a gap */
	assert_string_equal(r.ev[1].user, "u");
	assert_int_equal(r.cnt.skipped_responses, 1);
	assert_true(r.cnt.resyncs >= 1);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_gap_to_client(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	query_ok(&f, "SELECT 1", 1);
	fx_cmd(&f, COM_QUERY, "SELECT big FROM t");
	fx_pkt(&f, MP_DIR_TO_CLIENT, 1, "\x01", 1);
	fx_coldef(&f, 2, "big");
	fx_eof(&f, 3, 2);
	fx_gap(&f, MP_DIR_TO_CLIENT, 100000);
	FX_RAW_LIT(&f, MP_DIR_TO_CLIENT, "\x05\x00\x00\x09\x04rowx\x05\x00\x00\x0a\xfe\x00\x00\x02\x00");
	fx_flush(&f);
	query_ok(&f, "SELECT 3", 0);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	/* The request whose response the gap took is reported, unanswered and flagged. */
	assert_int_equal(r.n, 3);
	assert_string_equal(r.ev[0].sql, "SELECT 1");
	assert_string_equal(r.ev[1].sql, "SELECT big FROM t");
	assert_int_equal(r.ev[1].status, QE_STATUS_UNANSWERED);
	assert_true(r.ev[1].flags & QE_F_RESPONSE_LOST);
	assert_int_equal(r.ev[2].sql ? r.ev[2].status : -1, QE_STATUS_OK);
	assert_string_equal(r.ev[2].sql, "SELECT 3");
	assert_false(r.ev[2].flags & QE_F_RESPONSE_LOST);
	assert_int_equal(r.cnt.dropped_requests, 1);
	assert_int_equal(r.cnt.unanswered, 1);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_garbage(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: db:3306\r\nUser-Agent: curl/8\r\n\r\n";
	struct fx_result r;
	struct fx f;
	uint32_t x = 12345;
	char rnd[4096];

	for (size_t i = 0; i < sizeof(rnd); i++) {
		x = x * 1103515245 + 12345;
		rnd[i] = x >> 16;
	}
	fx_init(&f);
	fx_raw(&f, MP_DIR_TO_SERVER, http, sizeof(http) - 1);
	fx_flush(&f);
	FX_RAW_LIT(&f, MP_DIR_TO_CLIENT, "HTTP/1.1 400 Bad Request\r\n\r\n");
	fx_flush(&f);
	fx_raw(&f, MP_DIR_TO_SERVER, rnd, 2048);
	fx_flush(&f);
	fx_raw(&f, MP_DIR_TO_CLIENT, rnd + 2048, 2048);
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 0);
	assert_true(r.cnt.skipped_bytes > 1000);
	fx_result_free(&r);
	fx_free(&f);

	/* garbage inside an established connection: counted, then a resync */
	fx_init(&f);
	fx_greeting(&f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 8);
	fx_login(&f, CLIENT_MULTI_RESULTS, "u", "d");
	fx_ok(&f, 2, 0, 2);
	query_ok(&f, "SELECT 1", 1);
	fx_raw(&f, MP_DIR_TO_SERVER, http, sizeof(http) - 1);
	fx_flush(&f);
	FX_RAW_LIT(&f, MP_DIR_TO_CLIENT, "\x01\x00\x00\x07\xff");
	fx_flush(&f);
	query_ok(&f, "SELECT 2", 1);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].sql, "SELECT 2");
	assert_true(r.cnt.decode_errors >= 2);
	fx_result_free(&r);
	fx_free(&f);
}

/* The server greeted; where the HandshakeResponse belongs (sequence id 1, a few hundred
 * bytes) the client sends HTTP, or random bytes: a protocol error, counted once, and the
 * connection is not decoded further (the server refuses it with "Bad handshake"). */
static void test_not_a_handshake_response(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: db:3306\r\n\r\n";
	/* seq 1 but 5.5 MB long; seq 7, short */
	static const char big[] = "\x47\x45\x54\x01GET / HTTP/1.1";
	static const char seq7[] = "\x10\x00\x00\x07\x0d\xa2\x3a\x00\x00\x00\x00\x01";
	const struct {
		const char *p;
		size_t n;
	} bad[] = { { http, sizeof(http) - 1 }, { big, sizeof(big) - 1 },
		    { seq7, sizeof(seq7) - 1 } };
	struct fx_result r;
	struct fx f;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_init(&f);
		fx_greeting(&f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 8);
		fx_flush(&f);
		fx_raw(&f, MP_DIR_TO_SERVER, bad[i].p, bad[i].n);
		fx_flush(&f);
		fx_err(&f, 2, 1043, "08S01", "Bad handshake");
		fx_flush(&f);
		assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
		assert_int_equal(r.n, 0);
		assert_int_equal(r.cnt.decode_errors, 1);
		assert_int_equal(r.cnt.skipped_responses, 0);
		fx_result_free(&r);
		fx_free(&f);
	}
}

/* fx_run for a connection seen from its SYN (mysql_conn_opened); byte_by_byte feeds each
 * chunk one byte at a time. */
static void run_opened(const struct fx *f, int byte_by_byte, struct fx_result *r)
{
	struct mysql_conn *c;

	memset(r, 0, sizeof(*r));
	c = mysql_conn_new(&fx_cb, r, NULL, &r->cnt);
	assert_non_null(c);
	mysql_conn_opened(c);
	for (size_t i = 0; i < f->n; i++) {
		const uint8_t *d = (const uint8_t *)f->c[i].data;
		uint64_t ts = 1000000000ull + i * 1000000ull;

		if (f->c[i].dir == FX_GAP_SERVER || f->c[i].dir == FX_GAP_CLIENT)
			mysql_gap(c, f->c[i].dir - FX_GAP_SERVER, f->c[i].len, ts);
		else if (byte_by_byte)
			for (size_t j = 0; j < f->c[i].len; j++)
				mysql_feed(c, f->c[i].dir, d + j, 1, ts);
		else
			mysql_feed(c, f->c[i].dir, d, f->c[i].len, ts);
	}
	mysql_conn_close(c, 2000000000ull);
	mysql_conn_free(c);
}

/* A connection seen from its SYN must start with the server's greeting. */
static void test_opened_not_mysql(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: db:3306\r\n\r\n";
	static const char resp[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	struct fx_result r;
	struct fx f;

	for (int bb = 0; bb < 2; bb++) {
		/* the client speaks first */
		fx_init(&f);
		fx_raw(&f, MP_DIR_TO_SERVER, http, sizeof(http) - 1);
		fx_flush(&f);
		fx_raw(&f, MP_DIR_TO_CLIENT, resp, sizeof(resp) - 1);
		fx_flush(&f);
		run_opened(&f, bb, &r);
		assert_int_equal(r.n, 0);
		assert_int_equal(r.cnt.decode_errors, 1);
		assert_int_equal(r.cnt.midstream_conns, 0);
		fx_result_free(&r);
		fx_free(&f);

		/* the server speaks first, but no greeting */
		fx_init(&f);
		fx_raw(&f, MP_DIR_TO_CLIENT, resp, sizeof(resp) - 1);
		fx_flush(&f);
		run_opened(&f, bb, &r);
		assert_int_equal(r.n, 0);
		assert_int_equal(r.cnt.decode_errors, 1);
		fx_result_free(&r);
		fx_free(&f);

		/* a MySQL connection: no error */
		fx_init(&f);
		fx_greeting(&f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 8);
		fx_login(&f, CLIENT_MULTI_RESULTS, "u", "d");
		fx_ok(&f, 2, 0, 2);
		query_ok(&f, "SELECT 1", 1);
		run_opened(&f, bb, &r);
		assert_int_equal(r.n, 1);
		assert_string_equal(r.ev[0].user, "u");
		assert_int_equal(r.cnt.decode_errors, 0);
		fx_result_free(&r);
		fx_free(&f);

		/* the greeting was lost: joined as mid-stream, no error */
		fx_init(&f);
		fx_gap(&f, MP_DIR_TO_CLIENT, 95);
		fx_login(&f, CLIENT_MULTI_RESULTS, "u", "d");
		fx_ok(&f, 2, 0, 2);
		query_ok(&f, "SELECT 1", 1);
		run_opened(&f, bb, &r);
		assert_int_equal(r.n, 1);
		assert_int_equal(r.cnt.decode_errors, 0);
		assert_int_equal(r.cnt.midstream_conns, 1);
		fx_result_free(&r);
		fx_free(&f);
	}
}

static void test_midstream_tls(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	FX_RAW_LIT(&f, MP_DIR_TO_SERVER, "\x17\x03\x03\x00\x25\x9a\x11\x42\x00\x00\x00\x03");
	FX_RAW_LIT(&f, MP_DIR_TO_CLIENT, "\x17\x03\x03\x01\x25\x9a\x11\x42\x00\x00\x00\x03");
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.cnt.tls_conns, 1);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_no_response_at_close(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	query_ok(&f, "SELECT 1", 0);
	fx_cmd(&f, COM_QUERY, "SELECT SLEEP(100)");
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	/* Never dropped: reported unanswered, with the time it waited until the close (the
	 * request is chunk 2 at 1.002 s, the close at 1.003 s). */
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].sql, "SELECT SLEEP(100)");
	assert_int_equal(r.ev[1].status, QE_STATUS_UNANSWERED);
	assert_int_equal(r.ev[1].ts_us, 1002000);
	assert_int_equal(r.ev[1].latency_us, 1000);
	assert_int_equal(r.ev[1].bytes_out, 0);
	assert_int_equal(r.cnt.unanswered, 1);
	assert_int_equal(r.cnt.dropped_requests, 0);
	assert_non_null(strstr(r.json.data, "\"first_byte_us\":null"));
	assert_non_null(strstr(r.json.data, "\"status\":\"unanswered\""));
	fx_result_free(&r);
	fx_free(&f);
}

/* A pipeline cut by the close: each statement not answered is one event, in wire order; the
 * quit queued behind them is reported as usual. */
static void test_unanswered_multi_and_pipelined(void **state)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	fx_cmd(&f, COM_QUERY, "SELECT 1; SELECT SLEEP(9); SELECT 3");
	fx_flush(&f);
	fx_resultset(&f, 1, 1, 1, 0, 2 | SERVER_MORE_RESULTS_EXISTS);
	fx_flush(&f);
	fx_cmd(&f, COM_QUERY, "SELECT 4");
	fx_cmd(&f, COM_QUIT, NULL);
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 5);
	assert_int_equal(r.ev[0].status, QE_STATUS_OK);
	assert_string_equal(r.ev[1].sql, "SELECT SLEEP(9)");
	assert_int_equal(r.ev[1].status, QE_STATUS_UNANSWERED);
	assert_string_equal(r.ev[2].sql, "SELECT 3");
	assert_int_equal(r.ev[2].status, QE_STATUS_UNANSWERED);
	assert_string_equal(r.ev[3].sql, "SELECT 4");
	assert_int_equal(r.ev[3].status, QE_STATUS_UNANSWERED);
	assert_int_equal(r.ev[3].latency_us, 1000);
	assert_string_equal(r.ev[4].command, "quit");
	assert_int_equal(r.cnt.unanswered, 3);
	fx_result_free(&r);
	fx_free(&f);
}

static void running_event(void *ctx, const struct query_event *ev)
{
	(void)ctx;
	(void)ev;
}

/* mysql_conn_running: the statement being answered, its time so far; nothing once done. */
static void test_running(void **state)
{
	static const struct mysql_callbacks cb = { .on_event = running_event };
	struct mysql_conn *c = mysql_conn_new(&cb, NULL, NULL, NULL);
	struct query_event ev;
	struct fx f;

	fx_init(&f);
	fx_cmd(&f, COM_QUERY, "SELECT SLEEP(5)");
	fx_flush(&f);
	fx_ok(&f, 1, 0, 2);
	fx_flush(&f);
	assert_non_null(c);
	assert_int_equal(mysql_conn_running(c, 5000000000ull, &ev), 0);
	mysql_feed(c, f.c[0].dir, (const uint8_t *)f.c[0].data, f.c[0].len, 1000000000ull);
	assert_int_equal(mysql_conn_running(c, 3500000000ull, &ev), 1);
	assert_int_equal(ev.status, QE_STATUS_RUNNING);
	assert_int_equal(ev.ts_us, 1000000);
	assert_int_equal(ev.latency_us, 2500000);
	assert_int_equal(ev.sql_len, strlen("SELECT SLEEP(5)"));
	assert_memory_equal(ev.sql, "SELECT SLEEP(5)", ev.sql_len);
	assert_int_equal(mysql_conn_counters(c)->events, 0);
	mysql_feed(c, f.c[1].dir, (const uint8_t *)f.c[1].data, f.c[1].len, 6000000000ull);
	assert_int_equal(mysql_conn_running(c, 7000000000ull, &ev), 0);
	assert_int_equal(mysql_conn_counters(c)->events, 1);
	mysql_conn_free(c);
	fx_free(&f);
}

static void test_pipeline_overflow(void **state)
{
	struct mysql_limits lim = { .max_pending = 4 };
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	for (int i = 0; i < 6; i++)
		fx_cmd(&f, COM_PING, NULL);
	fx_flush(&f);
	for (int i = 0; i < 6; i++)
		fx_ok(&f, 1, 0, 2);
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, &lim, &r), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.cnt.pipeline_overflow, 1);
	assert_int_equal(r.cnt.dropped_requests, 4);
	fx_result_free(&r);
	fx_free(&f);
}

static void feed_chunks(struct mysql_conn *c, const struct fx *f, size_t from, size_t to,
			uint64_t ts)
{
	for (size_t i = from; i < to; i++)
		mysql_feed(c, f->c[i].dir, (const uint8_t *)f->c[i].data, f->c[i].len, ts);
}

/* The watcher's identity: fills a mid-stream connection, follows a schema change the wire
 * did not show, but not over a newer one it did; a connection seen from its greeting keeps
 * its own and ignores another id's row. */
static void test_learn(void **state)
{
	struct mysql_identity id = { .conn_id = 42, .user = "app", .user_len = 3, .db = "shop",
				     .db_len = 4, .taken_ns = 1500000000ull };
	struct fx_result r;
	struct mysql_conn *c;
	struct fx f;

	fx_init(&f);
	query_ok(&f, "SELECT 1", 0);		/* chunks 0-1 */
	query_ok(&f, "SELECT 2", 0);		/* 2-3 */
	query_ok(&f, "USE other", 0);		/* 4-5 */
	query_ok(&f, "SELECT 3", 0);		/* 6-7 */
	query_ok(&f, "SELECT 4", 0);		/* 8-9 */
	memset(&r, 0, sizeof(r));
	c = mysql_conn_new(&fx_cb, &r, NULL, &r.cnt);
	assert_non_null(c);
	feed_chunks(c, &f, 0, 2, 1000000000ull);
	assert_int_equal(mysql_conn_learn(c, &id), 1);
	assert_int_equal(mysql_conn_learn(c, &id), 0); /* nothing new */
	feed_chunks(c, &f, 2, 4, 2000000000ull);
	feed_chunks(c, &f, 4, 6, 3000000000ull); /* USE other at 3 s */
	/* A row read at 2.5 s, before the USE: the wire is newer. */
	id.taken_ns = 2500000000ull;
	assert_int_equal(mysql_conn_learn(c, &id), 0);
	feed_chunks(c, &f, 6, 8, 3500000000ull);
	/* A row read at 4 s: a USE the wire never showed (a procedure's, say). */
	id.db = "third";
	id.db_len = 5;
	id.taken_ns = 4000000000ull;
	assert_int_equal(mysql_conn_learn(c, &id), 1);
	feed_chunks(c, &f, 8, 10, 4500000000ull);
	mysql_conn_close(c, 5000000000ull);
	mysql_conn_free(c);
	assert_int_equal(r.n, 5);
	assert_true(r.ev[0].user_null && r.ev[0].db_null && !r.ev[0].conn_id_known);
	assert_string_equal(r.ev[1].user, "app");
	assert_string_equal(r.ev[1].db, "shop");
	assert_int_equal(r.ev[1].conn_id, 42);
	assert_string_equal(r.ev[3].db, "other");
	assert_string_equal(r.ev[4].db, "third");
	fx_result_free(&r);
	fx_free(&f);

	/* Seen from its greeting: the wire's identity stands. */
	fx_init(&f);
	fx_greeting(&f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 7);
	fx_login(&f, CLIENT_PROTOCOL_41, "u", "d");
	fx_ok(&f, 2, 0, 2);
	fx_flush(&f);
	query_ok(&f, "SELECT 1", 0);
	memset(&r, 0, sizeof(r));
	c = mysql_conn_new(&fx_cb, &r, NULL, &r.cnt);
	feed_chunks(c, &f, 0, f.n, 1000000000ull);
	id.conn_id = 99;
	assert_int_equal(mysql_conn_learn(c, &id), 0);
	id.conn_id = 7;
	id.user = "other";
	id.user_len = 5;
	assert_int_equal(mysql_conn_learn(c, &id), 1); /* the db only: the row is newer */
	query_ok(&f, "SELECT 2", 0);
	feed_chunks(c, &f, f.n - 2, f.n, 5000000000ull);
	mysql_conn_close(c, 6000000000ull);
	mysql_conn_free(c);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].user, "u");
	assert_string_equal(r.ev[1].db, "third");
	assert_int_equal(r.ev[1].conn_id, 7);
	fx_result_free(&r);
	fx_free(&f);
}

struct sess_log {
	int kind[8];
	uint16_t code[8];
	char user[8][16];
	int n;
};

static void sess_cb(void *ctx, const struct mysql_session_event *ev)
{
	struct sess_log *l = ctx;

	assert_true(l->n < 8);
	l->kind[l->n] = ev->kind;
	l->code[l->n] = ev->error_code;
	snprintf(l->user[l->n], sizeof(l->user[0]), "%.*s", (int)ev->user_len,
		 ev->user ? ev->user : "?");
	l->n++;
}

/* Logins: OPENED once with the outcome (OK, or ERR with its code), CLOSED at the end; a
 * connection joined mid-stream only closes. */
static void test_sessions(void **state)
{
	static const struct mysql_callbacks cb = { .on_session = sess_cb };
	struct sess_log l;
	struct mysql_conn *c;
	struct fx f;

	for (int denied = 0; denied < 2; denied++) {
		fx_init(&f);
		fx_greeting(&f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 7);
		fx_login(&f, CLIENT_PROTOCOL_41, "bob", "shop");
		if (denied)
			fx_err(&f, 2, 1045, "28000", "Access denied");
		else
			fx_ok(&f, 2, 0, 2);
		fx_flush(&f);
		memset(&l, 0, sizeof(l));
		c = mysql_conn_new(&cb, &l, NULL, NULL);
		mysql_conn_opened(c);
		feed_chunks(c, &f, 0, f.n, 1000000000ull);
		mysql_conn_close(c, 2000000000ull);
		mysql_conn_free(c);
		assert_int_equal(l.n, 3);
		assert_int_equal(l.kind[0], MYSQL_SESSION_OPENED);
		assert_int_equal(l.kind[1], denied ? MYSQL_SESSION_LOGIN_FAILED :
						     MYSQL_SESSION_LOGIN_OK);
		assert_int_equal(l.code[1], denied ? 1045 : 0);
		assert_string_equal(l.user[1], "bob");
		assert_int_equal(l.kind[2], MYSQL_SESSION_CLOSED);
		fx_free(&f);
	}
	fx_init(&f);
	query_ok(&f, "SELECT 1", 0);
	memset(&l, 0, sizeof(l));
	c = mysql_conn_new(&cb, &l, NULL, NULL);
	feed_chunks(c, &f, 0, f.n, 1000000000ull);
	mysql_conn_close(c, 2000000000ull);
	mysql_conn_free(c);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.kind[0], MYSQL_SESSION_CLOSED);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_midstream_join),
		cmocka_unit_test(test_gap_to_server),
		cmocka_unit_test(test_gap_to_client),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_not_a_handshake_response),
		cmocka_unit_test(test_opened_not_mysql),
		cmocka_unit_test(test_midstream_tls),
		cmocka_unit_test(test_no_response_at_close),
		cmocka_unit_test(test_unanswered_multi_and_pipelined),
		cmocka_unit_test(test_running),
		cmocka_unit_test(test_learn),
		cmocka_unit_test(test_sessions),
		cmocka_unit_test(test_pipeline_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
