// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The response parser alone: packets in, verdicts and what each packet said out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "mysql/mysql_fx.h"
#include "mysql/mysql_resp.h"

/* Feeds one payload as a whole packet with sequence id seq. */
static int feed(struct mysql_resp *rs, uint8_t seq, const struct fx_p *p,
		struct mysql_resp_out *o)
{
	struct mysql_pkt pkt = { .data = p->b, .kept = p->n, .len = p->n, .wire = p->n + 4,
				 .seq = seq };

	memset(o, 0xa5, sizeof(*o)); /* nothing may be read that the parser did not set */
	return mysql_resp_packet(rs, &pkt, o);
}

static void ok_pkt(struct fx_p *p, uint64_t affected, uint16_t status, const char *schema)
{
	p->n = 0;
	fp_lenenc(fp_lenenc(fp_u8(p, 0x00), affected), 0);
	fp_u16(fp_u16(p, status), 0);
	if (!schema)
		return;
	/* info "", then the session state changes: one SESSION_TRACK_SCHEMA entry */
	fp_lenenc(p, 0);
	fp_lenenc(p, 2 + 1 + strlen(schema));
	fp_u8(p, SESSION_TRACK_SCHEMA);
	fp_lenenc(p, 1 + strlen(schema));
	fp_lstr(p, schema);
}

static void eof_pkt(struct fx_p *p, uint16_t status)
{
	p->n = 0;
	fp_u16(fp_u16(fp_u8(p, 0xfe), 0), status);
}

static void err_pkt(struct fx_p *p, uint16_t code, const char *state, const char *msg)
{
	p->n = 0;
	fp_u16(fp_u8(p, 0xff), code);
	fp_str(fp_u8(p, '#'), state);
	fp_str(p, msg);
}

static void str_pkt(struct fx_p *p, const char *s)
{
	p->n = 0;
	fp_str(p, s);
}

static void test_ok_with_schema(void **state)
{
	struct mysql_resp rs;
	struct mysql_resp_out o;
	FP(p);

	(void)state;
	mysql_resp_init(&rs);
	mysql_resp_start(&rs, MYSQL_RM_RESULT, 0, 1);
	ok_pkt(&p, 3, SERVER_SESSION_STATE_CHANGED | SERVER_QUERY_NO_INDEX_USED, "shop");
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_OK);
	assert_int_equal(o.affected_rows, 3);
	assert_int_equal(o.rows, 0);
	assert_int_equal(o.status, SERVER_SESSION_STATE_CHANGED | SERVER_QUERY_NO_INDEX_USED);
	assert_non_null(o.schema);
	assert_int_equal(o.schema_len, 4);
	assert_memory_equal(o.schema, "shop", 4);
	/* Without CLIENT_SESSION_TRACK negotiated, the bytes after the status are not state. */
	mysql_resp_set_caps(&rs, CLIENT_PROTOCOL_41);
	mysql_resp_start(&rs, MYSQL_RM_ONE, 0, 1);
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_OK);
	assert_null(o.schema);
}

/* Two result sets (SERVER_MORE_RESULTS_EXISTS), then the final OK. */
static void test_result_sets(void **state)
{
	struct mysql_resp rs;
	struct mysql_resp_out o;
	uint8_t seq = 1;
	FP(p);

	(void)state;
	mysql_resp_init(&rs);
	mysql_resp_start(&rs, MYSQL_RM_RESULT, 0, 1);
	for (int set = 0; set < 2; set++) {
		p.n = 0;
		fp_lenenc(&p, 2);
		assert_int_equal(feed(&rs, seq++, &p, &o), MYSQL_RESP_MORE);
		assert_int_equal(o.what, MYSQL_RW_PART);
		str_pkt(&p, "\3def\2db\1t\1t\1c\1c");
		for (int i = 0; i < 2; i++)
			assert_int_equal(feed(&rs, seq++, &p, &o), MYSQL_RESP_MORE);
		eof_pkt(&p, 0);
		assert_int_equal(feed(&rs, seq++, &p, &o), MYSQL_RESP_MORE);
		assert_int_equal(rs.deprecate_eof, 0); /* learned from that EOF */
		str_pkt(&p, "\2r1\2r2");
		for (int i = 0; i < 3 + set; i++) {
			assert_int_equal(feed(&rs, seq++, &p, &o), MYSQL_RESP_MORE);
			assert_int_equal(o.what, MYSQL_RW_PART);
		}
		eof_pkt(&p, SERVER_MORE_RESULTS_EXISTS | SERVER_QUERY_NO_GOOD_INDEX_USED);
		assert_int_equal(feed(&rs, seq++, &p, &o), MYSQL_RESP_MORE);
		assert_int_equal(o.what, MYSQL_RW_ROWS_END);
		assert_int_equal(o.rows, 3 + set);
		assert_int_equal(o.affected_rows, 0);
		assert_int_equal(o.status,
				 SERVER_MORE_RESULTS_EXISTS | SERVER_QUERY_NO_GOOD_INDEX_USED);
	}
	ok_pkt(&p, 0, 0, NULL);
	assert_int_equal(feed(&rs, seq++, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_OK);
	assert_int_equal(o.rows, 0);
	assert_int_equal(mysql_resp_next_seq(&rs), seq);
}

/* An ERR in the middle of the rows: the rows sent before it come with it. */
static void test_err_after_rows(void **state)
{
	struct mysql_resp rs;
	struct mysql_resp_out o;
	FP(p);

	(void)state;
	mysql_resp_init(&rs);
	mysql_resp_set_caps(&rs, CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF);
	mysql_resp_start(&rs, MYSQL_RM_RESULT, 0, 1);
	fp_lenenc(&p, 1);
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_MORE);
	str_pkt(&p, "\3def\2db\1t\1t\1c\1c");
	assert_int_equal(feed(&rs, 2, &p, &o), MYSQL_RESP_MORE);
	str_pkt(&p, "\2r1");
	assert_int_equal(feed(&rs, 3, &p, &o), MYSQL_RESP_MORE);
	assert_int_equal(feed(&rs, 4, &p, &o), MYSQL_RESP_MORE);
	/* MariaDB's progress report looks like an ERR with code 0xffff: not the end. */
	err_pkt(&p, 0xffff, "00000", "stage 1");
	assert_int_equal(feed(&rs, 5, &p, &o), MYSQL_RESP_MORE);
	assert_int_equal(o.what, MYSQL_RW_PART);
	err_pkt(&p, 1317, "70100", "Query execution was interrupted");
	assert_int_equal(feed(&rs, 6, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_ERR);
	assert_int_equal(o.rows, 2);
	assert_int_equal(o.err_code, 1317);
	assert_non_null(o.sqlstate);
	assert_memory_equal(o.sqlstate, "70100", 5);
	assert_int_equal(o.err_len, strlen("Query execution was interrupted"));
	assert_memory_equal(o.err_msg, "Query execution was interrupted", o.err_len);
	/* COM_FIELD_LIST: its "rows" are definitions, not rows. */
	mysql_resp_start(&rs, MYSQL_RM_ROWS, 0, 0);
	str_pkt(&p, "\3def\2db\1t\1t\1c\1c");
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_MORE);
	eof_pkt(&p, 0);
	assert_int_equal(feed(&rs, 2, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_ROWS_END);
	assert_int_equal(o.rows, 0);
}

/* Prepare with CLIENT_DEPRECATE_EOF unknown: the EOF after the definitions may not come. */
static void test_prepare_optional_eof(void **state)
{
	struct mysql_resp rs;
	struct mysql_resp_out o;
	FP(p);

	(void)state;
	mysql_resp_init(&rs);
	mysql_resp_start(&rs, MYSQL_RM_PREPARE, 0, 1);
	fp_u16(fp_u16(fp_u32(fp_u8(&p, 0x00), 77), 1), 0); /* id 77, 1 column, 0 params */
	fp_u16(fp_u8(&p, 0), 0);
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_MORE);
	assert_int_equal(o.what, MYSQL_RW_PREPARED);
	assert_int_equal(o.stmt_id, 77);
	assert_int_equal(o.ncols, 1);
	assert_int_equal(o.nparams, 0);
	assert_false(mysql_resp_complete_but_eof(&rs));
	str_pkt(&p, "\3def\2db\1t\1t\1c\1c");
	assert_int_equal(feed(&rs, 2, &p, &o), MYSQL_RESP_MORE);
	assert_true(mysql_resp_complete_but_eof(&rs));
	/* The next packet does not continue the sequence: it answers the next request. */
	ok_pkt(&p, 0, 0, NULL);
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_NOT_MINE);
	assert_int_equal(rs.deprecate_eof, 1);
	/* Now known: the same response ends at its last definition. */
	mysql_resp_start(&rs, MYSQL_RM_PREPARE, 0, 1);
	p.n = 0;
	fp_u16(fp_u16(fp_u32(fp_u8(&p, 0x00), 78), 1), 0);
	fp_u16(fp_u8(&p, 0), 0);
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_MORE);
	str_pkt(&p, "\3def\2db\1t\1t\1c\1c");
	assert_int_equal(feed(&rs, 2, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_PART);
}

static void test_auth_infile_and_violations(void **state)
{
	struct mysql_resp rs;
	struct mysql_resp_out o;
	FP(p);

	(void)state;
	mysql_resp_init(&rs);
	/* COM_CHANGE_USER: an auth switch (0xfe) and more data (0x01) before the OK. */
	mysql_resp_start(&rs, MYSQL_RM_AUTH, 0, 1);
	str_pkt(&p, "\xfe" "caching_sha2_password");
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_MORE);
	assert_int_equal(o.what, MYSQL_RW_PART);
	mysql_resp_client_packet(&rs, 2);
	assert_int_equal(mysql_resp_next_seq(&rs), 3);
	str_pkt(&p, "\x01\x03");
	assert_int_equal(feed(&rs, 3, &p, &o), MYSQL_RESP_MORE);
	ok_pkt(&p, 0, 0, NULL);
	assert_int_equal(feed(&rs, 4, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_OK);
	/* LOCAL INFILE: the request for the file, then the server's OK. */
	mysql_resp_start(&rs, MYSQL_RM_RESULT, 0, 1);
	str_pkt(&p, "\xfb/tmp/data.csv");
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_MORE);
	assert_int_equal(o.what, MYSQL_RW_INFILE);
	ok_pkt(&p, 5, 0, NULL);
	assert_int_equal(feed(&rs, 4, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.affected_rows, 5);
	/* COM_STATISTICS answers with a string. */
	mysql_resp_start(&rs, MYSQL_RM_ONE, 0, 1);
	str_pkt(&p, "Uptime: 5");
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_DONE);
	assert_int_equal(o.what, MYSQL_RW_PART);
	/* No response packet is empty; a column count is never 0. */
	mysql_resp_start(&rs, MYSQL_RM_RESULT, 0, 1);
	p.n = 0;
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_BAD);
	fp_u8(&p, 0xfc); /* a truncated 2-byte count */
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_BAD);
	fp_u16(&p, 0); /* a count of 0 */
	assert_int_equal(feed(&rs, 1, &p, &o), MYSQL_RESP_BAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_with_schema),
		cmocka_unit_test(test_result_sets),
		cmocka_unit_test(test_err_after_rows),
		cmocka_unit_test(test_prepare_optional_eof),
		cmocka_unit_test(test_auth_infile_and_violations),
	};

	return cmocka_run_group_tests_name("mysql_resp", tests, NULL, NULL);
}
