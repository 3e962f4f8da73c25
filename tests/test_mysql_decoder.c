// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* MySQL decoder against real MariaDB conversations and crafted text-protocol exchanges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mysql_fx.h"
#include "mysql_fx_real.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void run_ok(const struct fx_chunk *c, size_t n, const struct mysql_limits *lim,
		   struct fx_result *ref)
{
	assert_int_equal(fx_run_all(c, n, lim, ref), 0);
}

static void __attribute__((unused)) run_fx(struct fx *f, const struct mysql_limits *lim, struct fx_result *ref)
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_basic),
		cmocka_unit_test(test_real_multi_call),
		cmocka_unit_test(test_real_compress),
		cmocka_unit_test(test_real_infile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
