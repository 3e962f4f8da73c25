// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Response side of the MySQL decoder: OK/ERR/EOF, result sets, prepare and auth replies. */
#include <errno.h>
#include <string.h>

#include "mysql/mysql_decoder_int.h"
#include "mysql/mysql_proto.h"

static int is_eof(const struct mysql_pkt *p)
{
	/* EOF_Packet is 0xfe plus warnings and status: 5 bytes (1 before 4.1). */
	return p->kept && p->data[0] == 0xfe && p->len <= 5;
}

static int is_terminator(const struct mysql_pkt *p)
{
	/* An EOF, or under CLIENT_DEPRECATE_EOF an OK with a 0xfe header. A row can
	 * start with 0xfe only as an 8-byte length, which needs a >= 16 MiB packet. */
	return p->kept && p->data[0] == 0xfe && p->len < MYSQL_MAX_PACKET;
}

static void learn_deprecate_eof(struct mysql_conn *c, int v)
{
	if (c->deprecate_eof < 0)
		c->deprecate_eof = v;
}

static void reset_stmt(struct mysql_resp *rs, uint64_t ts_start)
{
	rs->started = 0;
	rs->ts_start = ts_start;
	rs->ts_first_byte = rs->ts_last = ts_start;
	rs->bytes_out = rs->rows_sent = rs->rows_affected = 0;
	rs->flags = 0;
	rs->error = 0;
	rs->err_code = 0;
	rs->sqlstate[0] = 0;
	rs->err_len = 0;
	rs->new_db = NULL;
	rs->new_db_len = 0;
}

void mysql_resp_start(struct mysql_conn *c)
{
	struct mysql_req *req = mysql_head(c);
	struct mysql_resp *rs = &c->rs;

	rs->split_n = rs->split_i = 0;
	rs->left = 0;
	rs->count_rows = 1;
	if (!req)
		return;
	reset_stmt(rs, req->ts_first);
	rs->next_seq = req->seq + 1;
	rs->state = req->mode == RM_ROWS ? RS_ROWS : RS_FIRST;
	if (req->cmd == COM_FIELD_LIST)
		rs->count_rows = 0;
	if (req->cmd == COM_QUERY && c->cb->split_sql && req->text.len) {
		int n = c->cb->split_sql(c->ctx, req->text.data, req->text.len, c->split_off,
					 c->split_len, c->split_call, c->lim.max_split);

		if (n > 1 && n <= c->lim.max_split)
			rs->split_n = n;
	}
}

/* Status flags of an EOF (warnings then status) or OK packet; parses the OK's
 * session state for SESSION_TRACK_SCHEMA. */
static uint16_t parse_ok(struct mysql_conn *c, struct mysql_resp *rs, const struct mysql_pkt *p)
{
	const uint8_t *d = p->data;
	size_t n = p->kept, off = 1;
	uint64_t affected, insert_id, v;
	uint16_t status;

	if (is_eof(p))
		return n >= 5 ? mp_u16(d + 3) : 0;
	if (mp_lenenc(d, n, &off, &affected) || mp_lenenc(d, n, &off, &insert_id) || n - off < 4)
		return 0;
	status = mp_u16(d + off);
	off += 4;
	rs->rows_affected += affected;
	/* OK_Packet: with CLIENT_SESSION_TRACK, info is a lenenc string followed by the
	 * session state changes when SERVER_SESSION_STATE_CHANGED is set. */
	if (!(status & SERVER_SESSION_STATE_CHANGED) ||
	    (c->caps_known && !(c->caps & CLIENT_SESSION_TRACK)))
		return status;
	if (mp_lenenc(d, n, &off, &v) || v > n - off)
		return status;
	off += v;
	if (mp_lenenc(d, n, &off, &v) || v > n - off)
		return status;
	n = off + v;
	while (off < n) {
		uint8_t type = d[off++];
		size_t end, s;
		uint64_t l;

		if (mp_lenenc(d, n, &off, &v) || v > n - off)
			break;
		end = off + v;
		s = off;
		if (type == SESSION_TRACK_SCHEMA && !mp_lenenc(d, end, &s, &l) && l <= end - s) {
			rs->new_db = d + s;
			rs->new_db_len = l;
		}
		off = end;
	}
	return status;
}

static void parse_err(struct mysql_resp *rs, const struct mysql_pkt *p)
{
	const uint8_t *d = p->data;
	size_t n = p->kept, off = 3, l;

	rs->error = 1;
	rs->err_code = n >= 3 ? mp_u16(d + 1) : 0;
	rs->sqlstate[0] = 0;
	/* ERR_Packet: '#' and a 5-character SQL state with CLIENT_PROTOCOL_41. */
	if (n >= 9 && d[3] == '#') {
		memcpy(rs->sqlstate, d + 4, 5);
		rs->sqlstate[5] = 0;
		off = 9;
	}
	l = n > off ? n - off : 0;
	l = l < sizeof(rs->err_msg) ? l : sizeof(rs->err_msg);
	memcpy(rs->err_msg, d + off, l);
	rs->err_len = l;
}

static uint32_t index_flags(uint16_t status)
{
	return (status & SERVER_QUERY_NO_INDEX_USED ? QE_F_NO_INDEX_USED : 0) |
	       (status & SERVER_QUERY_NO_GOOD_INDEX_USED ? QE_F_NO_GOOD_INDEX_USED : 0);
}

/* Emits statement idx (or the whole request), then applies what its success changed. */
static void stmt_done(struct mysql_conn *c, struct mysql_req *req, int idx)
{
	struct mysql_resp *rs = &c->rs;

	mysql_emit(c, req, idx);
	if (rs->error)
		return;
	if (rs->new_db) {
		mysql_set_db(c, rs->new_db, rs->new_db_len);
	} else if (req->cmd == COM_INIT_DB) {
		mysql_set_db(c, req->text.data, req->text.len);
	} else if (req->cmd == COM_QUERY) {
		const char *sql = req->text.data, *db;
		size_t len = req->text.len, db_len;

		if (idx >= 0) {
			sql += c->split_off[idx];
			len = c->split_len[idx];
		}
		if (!mysql_sql_use(sql, len, &db, &db_len))
			mysql_set_db(c, db, db_len);
	}
	reset_stmt(rs, rs->ts_last);
}

/* One result of a query ended (OK, or a result set's terminator). */
static int result_end(struct mysql_conn *c, struct mysql_req *req, uint16_t status, int is_ok)
{
	struct mysql_resp *rs = &c->rs;
	int more = !!(status & SERVER_MORE_RESULTS_EXISTS);

	rs->flags |= index_flags(status);
	if (status & SERVER_STATUS_CURSOR_EXISTS && req->cmd == COM_STMT_EXECUTE)
		rs->flags |= QE_F_CURSOR;
	if (rs->split_n > 1) {
		int i = rs->split_i;

		/* A CALL returns its result sets and then its own OK: it ends at the OK. */
		if (!more && i < rs->split_n - 1) {
			/* The server saw fewer statements than the splitter (a ';' inside
			 * BEGIN ... END): this one runs to the end of the text. */
			if (i == 0) {
				stmt_done(c, req, -1);
			} else {
				c->split_len[i] = req->text.len - c->split_off[i];
				stmt_done(c, req, i);
			}
		} else if (i < rs->split_n - 1 && (!c->split_call[i] || is_ok)) {
			stmt_done(c, req, i);
			rs->split_i++;
		} else if (!more) {
			stmt_done(c, req, i);
		}
	} else if (!more) {
		stmt_done(c, req, -1);
	}
	if (!more)
		return RESP_DONE;
	rs->state = RS_FIRST;
	return RESP_CONT;
}

static int result_error(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct mysql_resp *rs = &c->rs;

	parse_err(rs, p);
	/* An ERR ends a multi-statement batch: the server runs nothing after it. */
	stmt_done(c, req, rs->split_n > 1 ? rs->split_i : -1);
	return RESP_DONE;
}

static int result_first(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct mysql_resp *rs = &c->rs;
	const uint8_t *d = p->data;
	size_t off = 0;
	uint64_t cols;

	switch (d[0]) {
	case 0x00:
		return result_end(c, req, parse_ok(c, rs, p), 1);
	case 0xff:
		return result_error(c, req, p);
	case 0xfb:
		/* LOCAL INFILE Request: the client sends the file, an empty packet, then
		 * the server answers OK or ERR as if this was the first packet. */
		c->infile_active = 1;
		return RESP_CONT;
	case 0xfe:
		return result_end(c, req, parse_ok(c, rs, p), 1);
	}
	if (mp_lenenc(d, p->kept, &off, &cols) || !cols)
		return RESP_ERROR;
	/* With CLIENT_OPTIONAL_RESULTSET_METADATA (MySQL) or MARIADB_CLIENT_CACHE_METADATA
	 * a metadata-follows byte comes after the count; 0 means no definitions. */
	rs->left = (p->kept > off && d[off] == 0) ? 0 : cols;
	rs->state = rs->left ? RS_COLDEFS : RS_META_EOF;
	return RESP_CONT;
}

static int result_packet(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct mysql_resp *rs = &c->rs;
	uint8_t b0 = p->data[0];

	switch (rs->state) {
	case RS_FIRST:
		return result_first(c, req, p);
	case RS_COLDEFS:
		if (b0 == 0xff)
			return result_error(c, req, p);
		if (--rs->left == 0)
			rs->state = RS_META_EOF;
		return RESP_CONT;
	case RS_META_EOF:
		if (is_eof(p)) {
			uint16_t status = parse_ok(c, rs, p);

			learn_deprecate_eof(c, 0);
			/* A cursor: definitions then an EOF with SERVER_STATUS_CURSOR_EXISTS, rows
			 * come later through COM_STMT_FETCH. */
			if (status & SERVER_STATUS_CURSOR_EXISTS)
				return result_end(c, req, status, 0);
			rs->state = RS_ROWS;
			return RESP_CONT;
		}
		learn_deprecate_eof(c, 1);
		rs->state = RS_ROWS;
		/* fallthrough */
	case RS_ROWS:
		if (is_terminator(p))
			return result_end(c, req, parse_ok(c, rs, p), 0);
		if (b0 == 0xff)
			return result_error(c, req, p);
		if (rs->count_rows)
			rs->rows_sent++;
		return RESP_CONT;
	}
	return RESP_ERROR;
}

static int prepare_defs_done(struct mysql_conn *c, struct mysql_req *req, int next_state)
{
	struct mysql_resp *rs = &c->rs;

	if (c->deprecate_eof == 1) {
		if (next_state == RS_PREP_PARAM_EOF && rs->ncols) {
			rs->left = rs->ncols;
			rs->state = RS_PREP_COLS;
			return RESP_CONT;
		}
		stmt_done(c, req, -1);
		return RESP_DONE;
	}
	rs->state = next_state;
	return RESP_CONT;
}

static int prepare_first(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct mysql_resp *rs = &c->rs;
	const uint8_t *d = p->data;
	int err;

	if (d[0] == 0xff) {
		parse_err(rs, p);
		stmt_done(c, req, -1);
		return RESP_DONE;
	}
	/* COM_STMT_PREPARE_OK: 0x00, id(4), columns(2), params(2), filler, warnings(2). */
	if (d[0] != 0x00 || p->kept < 9)
		return RESP_ERROR;
	req->stmt_id = mp_u32(d + 1);
	rs->ncols = mp_u16(d + 5);
	rs->nparams = mp_u16(d + 7);
	err = mysql_stmt_put(&c->stmts, req->stmt_id, req->text.data, req->text.len,
			     req->truncated);
	if (err == -ENOSPC)
		c->cnt->stmt_table_full++;
	if (rs->nparams) {
		rs->left = rs->nparams;
		rs->state = RS_PREP_PARAMS;
	} else if (rs->ncols) {
		rs->left = rs->ncols;
		rs->state = RS_PREP_COLS;
	} else {
		stmt_done(c, req, -1);
		return RESP_DONE;
	}
	return RESP_CONT;
}

/* An optional EOF after definitions (absent under CLIENT_DEPRECATE_EOF): the
 * packet belongs to this response only if it is an EOF continuing the sequence. */
static int optional_eof(struct mysql_conn *c, const struct mysql_pkt *p)
{
	if (is_eof(p) && p->seq == c->rs.next_seq) {
		learn_deprecate_eof(c, 0);
		return 1;
	}
	learn_deprecate_eof(c, 1);
	return 0;
}

static int prepare_packet(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct mysql_resp *rs = &c->rs;

	switch (rs->state) {
	case RS_FIRST:
		return prepare_first(c, req, p);
	case RS_PREP_PARAMS:
		if (--rs->left)
			return RESP_CONT;
		return prepare_defs_done(c, req, RS_PREP_PARAM_EOF);
	case RS_PREP_PARAM_EOF:
		/* optional_eof was checked by the caller: an absent EOF with no columns
		 * returned RESP_NOT_MINE, so here it is an EOF or the first column. */
		if (!rs->ncols) {
			stmt_done(c, req, -1);
			return RESP_DONE;
		}
		rs->left = rs->ncols;
		rs->state = RS_PREP_COLS;
		if (is_eof(p)) {
			learn_deprecate_eof(c, 0);
			return RESP_CONT;
		}
		learn_deprecate_eof(c, 1);
		/* fallthrough */
	case RS_PREP_COLS:
		if (--rs->left)
			return RESP_CONT;
		return prepare_defs_done(c, req, RS_PREP_COL_EOF);
	case RS_PREP_COL_EOF:
		stmt_done(c, req, -1);
		return RESP_DONE;
	}
	return RESP_ERROR;
}

static int one_packet(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct mysql_resp *rs = &c->rs;
	uint8_t b0 = p->data[0];

	if (b0 == 0xff) {
		parse_err(rs, p);
	} else if (b0 == 0x00 || (b0 == 0xfe && req->mode != RM_AUTH)) {
		/* During authentication 0xfe is an Auth Switch Request, not an OK. */
		rs->flags |= index_flags(parse_ok(c, rs, p));
	}
	if (req->mode == RM_AUTH && b0 != 0x00 && b0 != 0xff)
		return RESP_CONT; /* Auth Switch Request (0xfe) or More Data (0x01) */
	stmt_done(c, req, -1);
	if (req->mode == RM_AUTH && !rs->error) {
		/* COM_CHANGE_USER succeeded: new user and schema, statements are gone. */
		buf_reset(&c->user);
		c->user_known = !buf_append(&c->user, req->text.data, req->text.len);
		if (req->aux_known && req->aux.len)
			mysql_set_db(c, req->aux.data, req->aux.len);
		else
			mysql_set_db(c, NULL, 0);
		mysql_stmt_clear(&c->stmts);
	}
	return RESP_DONE;
}

int mysql_resp_packet(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct mysql_resp *rs = &c->rs;

	if ((rs->state == RS_PREP_COL_EOF || (rs->state == RS_PREP_PARAM_EOF && !rs->ncols)) &&
	    !optional_eof(c, p)) {
		stmt_done(c, req, -1);
		return RESP_NOT_MINE;
	}
	if (!rs->started) {
		rs->started = 1;
		rs->ts_first_byte = p->ts_first;
	}
	rs->ts_last = p->ts_last;
	rs->bytes_out += p->wire;
	rs->next_seq = p->seq + 1;
	if (!p->kept)
		return RESP_ERROR; /* no response packet is empty */
	/* MariaDB progress report (CLIENT_PROGRESS): an ERR with code 0xffff sent
	 * while a long statement runs; the real response follows. */
	if (p->data[0] == 0xff && p->kept >= 3 && mp_u16(p->data + 1) == 0xffff)
		return RESP_CONT;
	switch (req->mode) {
	case RM_RESULT:
	case RM_ROWS:
		return result_packet(c, req, p);
	case RM_PREPARE:
		return prepare_packet(c, req, p);
	case RM_ONE:
	case RM_AUTH:
		return one_packet(c, req, p);
	}
	return RESP_ERROR;
}

int mysql_resp_flush(struct mysql_conn *c, struct mysql_req *req)
{
	struct mysql_resp *rs = &c->rs;

	if (rs->state == RS_PREP_COL_EOF || (rs->state == RS_PREP_PARAM_EOF && !rs->ncols)) {
		stmt_done(c, req, -1);
		return 1;
	}
	return 0;
}
