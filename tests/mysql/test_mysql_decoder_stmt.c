// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* MySQL decoder: prepared statements (prepare, execute with binary rows, cursors, close). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mysql/mysql_fx.h"

#define PREP_SQL "SELECT a, b FROM t WHERE id = ?"

static void connect_fx(struct fx *f, uint32_t caps)
{
	fx_greeting(f, 0xffffffffu & ~CLIENT_SSL & ~CLIENT_COMPRESS, 3);
	fx_login(f, caps, "app", "shop");
	fx_ok(f, 2, 0, 0x0002);
}

/* PREPARE_OK + definitions (EOFs unless deprecate_eof). */
static void prepare_fx(struct fx *f, uint32_t id, int ncols, int nparams, int deprecate_eof,
		       const char *sql)
{
	uint8_t seq = 1;
	FP(ok);

	fx_cmd(f, COM_STMT_PREPARE, sql);
	fp_u32(fp_u8(&ok, 0), id);
	fp_u16(fp_u16(&ok, ncols), nparams);
	fp_u16(fp_u8(&ok, 0), 0);
	FX_PKT(f, MP_DIR_TO_CLIENT, seq++, &ok);
	for (int i = 0; i < nparams; i++)
		fx_coldef(f, seq++, "?");
	if (nparams && !deprecate_eof)
		fx_eof(f, seq++, 2);
	for (int i = 0; i < ncols; i++)
		fx_coldef(f, seq++, "c");
	if (ncols && !deprecate_eof)
		fx_eof(f, seq++, 2);
}

static void execute_fx(struct fx *f, uint32_t id, uint8_t flags)
{
	FP(p);

	fp_u32(fp_u8(&p, COM_STMT_EXECUTE), id);
	fp_u32(fp_u8(&p, flags), 1);
	fp_u8(&p, 0);		   /* null bitmap */
	fp_u8(&p, 1);		   /* new params bound */
	fp_u16(&p, 0x03);	   /* LONG */
	fp_u32(&p, 42);
	FX_PKT(f, MP_DIR_TO_SERVER, 0, &p);
}

static void stmt_cmd_fx(struct fx *f, uint8_t cmd, uint32_t id, int fetch_rows)
{
	FP(p);

	fp_u32(fp_u8(&p, cmd), id);
	if (cmd == COM_STMT_FETCH)
		fp_u32(&p, fetch_rows);
	if (cmd == COM_STMT_SEND_LONG_DATA)
		fp_str(fp_u16(&p, 0), "blob data");
	FX_PKT(f, MP_DIR_TO_SERVER, 0, &p);
}

static uint8_t binary_rows_fx(struct fx *f, uint8_t seq, int nrows)
{
	for (int r = 0; r < nrows; r++) {
		FP(row);

		fp_u8(fp_u8(&row, 0x00), 0x00); /* header, null bitmap (2 cols + 2 offset) */
		fp_u32(&row, r);
		fp_lstr(&row, "name");
		FX_PKT(f, MP_DIR_TO_CLIENT, seq++, &row);
	}
	return seq;
}

/* Binary result set of 2 columns; returns the next sequence id. */
static uint8_t binary_resultset_fx(struct fx *f, int nrows, int deprecate_eof, uint16_t status)
{
	uint8_t seq = 1;

	fx_pkt(f, MP_DIR_TO_CLIENT, seq++, "\x02", 1);
	fx_coldef(f, seq++, "a");
	fx_coldef(f, seq++, "b");
	if (!deprecate_eof)
		fx_eof(f, seq++, 2);
	seq = binary_rows_fx(f, seq, nrows);
	if (deprecate_eof)
		fx_ok_fe(f, seq++, status);
	else
		fx_eof(f, seq++, status);
	return seq;
}

static void prepared(int deprecate_eof)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	connect_fx(&f, CLIENT_MULTI_RESULTS | (deprecate_eof ? CLIENT_DEPRECATE_EOF : 0));
	prepare_fx(&f, 1, 2, 1, deprecate_eof, PREP_SQL);
	execute_fx(&f, 1, 0);
	binary_resultset_fx(&f, 3, deprecate_eof, 2 | SERVER_QUERY_NO_INDEX_USED);
	stmt_cmd_fx(&f, COM_STMT_SEND_LONG_DATA, 1, 0);
	stmt_cmd_fx(&f, COM_STMT_RESET, 1, 0);
	fx_ok(&f, 1, 0, 2);
	/* cursor: definitions and an end marker saying a cursor exists, rows by fetch */
	execute_fx(&f, 1, 1);
	fx_pkt(&f, MP_DIR_TO_CLIENT, 1, "\x02", 1);
	fx_coldef(&f, 2, "a");
	fx_coldef(&f, 3, "b");
	if (deprecate_eof)
		fx_ok_fe(&f, 4, 2 | SERVER_STATUS_CURSOR_EXISTS);
	else
		fx_eof(&f, 4, 2 | SERVER_STATUS_CURSOR_EXISTS);
	stmt_cmd_fx(&f, COM_STMT_FETCH, 1, 2);
	binary_rows_fx(&f, 1, 2);
	if (deprecate_eof)
		fx_ok_fe(&f, 3, 2 | SERVER_STATUS_CURSOR_EXISTS);
	else
		fx_eof(&f, 3, 2 | SERVER_STATUS_CURSOR_EXISTS);
	stmt_cmd_fx(&f, COM_STMT_CLOSE, 1, 0);
	/* executing a closed statement: unknown */
	execute_fx(&f, 1, 0);
	fx_err(&f, 1, 1243, "HY000", "Unknown prepared statement handler");
	/* a prepare with neither parameters nor columns */
	prepare_fx(&f, 2, 0, 0, deprecate_eof, "DO 1");
	execute_fx(&f, 2, 0);
	fx_ok(&f, 1, 0, 2);
	/* an error at prepare time */
	fx_cmd(&f, COM_STMT_PREPARE, "SELEC ?");
	fx_err(&f, 1, 1064, "42000", "syntax");
	fx_cmd(&f, COM_QUERY, "SELECT 1");
	fx_resultset(&f, 1, 1, 1, deprecate_eof, 2);
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 12);
	assert_string_equal(r.ev[0].command, "prepare");
	assert_string_equal(r.ev[0].sql, PREP_SQL);
	assert_int_equal(r.ev[0].status, QE_STATUS_OK);
	assert_int_equal(r.ev[0].bytes_out, deprecate_eof ? 16 + 3 * 32 : 16 + 3 * 32 + 2 * 9);
	assert_string_equal(r.ev[1].command, "execute");
	assert_string_equal(r.ev[1].sql, PREP_SQL);
	assert_int_equal(r.ev[1].rows_sent, 3);
	assert_true(r.ev[1].flags & QE_F_NO_INDEX_USED);
	assert_string_equal(r.ev[2].command, "send_long_data");
	assert_true(r.ev[2].sql_null);
	assert_true(r.ev[2].flags & QE_F_NO_RESPONSE);
	assert_string_equal(r.ev[3].command, "stmt_reset");
	assert_string_equal(r.ev[4].command, "execute");
	assert_true(r.ev[4].flags & QE_F_CURSOR);
	assert_int_equal(r.ev[4].rows_sent, 0);
	assert_string_equal(r.ev[5].command, "stmt_fetch");
	assert_int_equal(r.ev[5].rows_sent, 2);
	assert_string_equal(r.ev[6].command, "stmt_close");
	assert_string_equal(r.ev[7].command, "execute");
	assert_true(r.ev[7].sql_null);
	assert_int_equal(r.ev[7].error_code, 1243);
	assert_string_equal(r.ev[8].command, "prepare");
	assert_string_equal(r.ev[9].sql, "DO 1");
	assert_string_equal(r.ev[10].command, "prepare");
	assert_int_equal(r.ev[10].status, QE_STATUS_ERROR);
	assert_string_equal(r.ev[11].sql, "SELECT 1");
	assert_int_equal(r.ev[11].rows_sent, 1);
	/* The command byte travels with its name (the aggregator keys rows by it). */
	assert_int_equal(r.ev[0].cmd, COM_STMT_PREPARE);
	assert_int_equal(r.ev[1].cmd, COM_STMT_EXECUTE);
	assert_int_equal(r.ev[5].cmd, COM_STMT_FETCH);
	assert_int_equal(r.ev[6].cmd, COM_STMT_CLOSE);
	assert_int_equal(r.ev[11].cmd, COM_QUERY);
	assert_int_equal(r.cnt.unknown_stmt, 1);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_prepared_eof(void **state)
{
	prepared(0);
}

static void test_prepared_deprecate_eof(void **state)
{
	prepared(1);
}

/* Joined mid-stream, CLIENT_DEPRECATE_EOF unknown: a prepare's trailing EOF is
 * recognised by its sequence id, its absence by the next response. */
static void midstream_prepare(int deprecate_eof)
{
	struct fx f;
	struct fx_result r;

	fx_init(&f);
	prepare_fx(&f, 5, 1, 1, deprecate_eof, "SELECT x FROM y WHERE z = ?");
	fx_cmd(&f, COM_QUERY, "SELECT 1");
	fx_resultset(&f, 1, 1, 1, deprecate_eof, 2);
	prepare_fx(&f, 6, 1, 0, deprecate_eof, "SELECT 2");
	fx_flush(&f);
	assert_int_equal(fx_run_all(f.c, f.n, NULL, &r), 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.ev[0].command, "prepare");
	assert_int_equal(r.ev[0].bytes_out, deprecate_eof ? 16 + 2 * 32 : 16 + 2 * 32 + 2 * 9);
	assert_true(r.ev[0].user_null);
	assert_false(r.ev[0].conn_id_known);
	assert_string_equal(r.ev[1].sql, "SELECT 1");
	assert_int_equal(r.ev[1].rows_sent, 1);
	/* the last one is flushed at close */
	assert_string_equal(r.ev[2].sql, "SELECT 2");
	assert_int_equal(r.cnt.midstream_conns, 1);
	assert_int_equal(r.cnt.decode_errors, 0);
	fx_result_free(&r);
	fx_free(&f);
}

static void test_midstream_prepare_eof(void **state)
{
	midstream_prepare(0);
}

static void test_midstream_prepare_deprecate_eof(void **state)
{
	midstream_prepare(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prepared_eof),
		cmocka_unit_test(test_prepared_deprecate_eof),
		cmocka_unit_test(test_midstream_prepare_eof),
		cmocka_unit_test(test_midstream_prepare_deprecate_eof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
