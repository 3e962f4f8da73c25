// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The response parser: OK/ERR/EOF, result sets, prepare and auth replies, one packet at a time. */
#include <string.h>

#include "mysql/mysql_proto.h"
#include "mysql/mysql_resp.h"

enum resp_state {
	RS_FIRST,	   /* first packet of a result (or of the next result set) */
	RS_COLDEFS,	   /* column definitions */
	RS_META_EOF,	   /* after definitions: EOF unless CLIENT_DEPRECATE_EOF */
	RS_ROWS,	   /* rows until EOF / OK(0xfe) / ERR */
	RS_PREP_PARAMS,	   /* prepare: parameter definitions */
	RS_PREP_PARAM_EOF, /* prepare: EOF after them unless CLIENT_DEPRECATE_EOF */
	RS_PREP_COLS,	   /* prepare: column definitions */
	RS_PREP_COL_EOF,   /* prepare: EOF after them unless CLIENT_DEPRECATE_EOF */
};

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

static void learn_deprecate_eof(struct mysql_resp *rs, int v)
{
	if (rs->deprecate_eof < 0)
		rs->deprecate_eof = v;
}

void mysql_resp_init(struct mysql_resp *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->deprecate_eof = -1;
	rs->session_track = -1;
}

void mysql_resp_set_caps(struct mysql_resp *rs, uint32_t caps)
{
	rs->deprecate_eof = !!(caps & CLIENT_DEPRECATE_EOF);
	rs->session_track = !!(caps & CLIENT_SESSION_TRACK);
}

void mysql_resp_start(struct mysql_resp *rs, int mode, uint8_t seq, int count_rows)
{
	rs->mode = mode;
	rs->state = mode == MYSQL_RM_ROWS ? RS_ROWS : RS_FIRST;
	rs->count_rows = !!count_rows;
	rs->next_seq = seq + 1;
	rs->left = 0;
	rs->rows = 0;
}

/* An OK, ROWS_END or ERR hands over the rows of the result set that ended. */
static void take_rows(struct mysql_resp *rs, struct mysql_resp_out *out)
{
	out->rows = rs->rows;
	rs->rows = 0;
}

/* The session state changes of an OK_Packet (at d[off], n bytes): SESSION_TRACK_SCHEMA. */
static void parse_session_state(const uint8_t *d, size_t n, size_t off, struct mysql_resp_out *out)
{
	uint64_t v;

	/* With CLIENT_SESSION_TRACK, info is a lenenc string followed by the session state
	 * changes when SERVER_SESSION_STATE_CHANGED is set. */
	if (mp_lenenc(d, n, &off, &v) || v > n - off)
		return;
	off += v;
	if (mp_lenenc(d, n, &off, &v) || v > n - off)
		return;
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
			out->schema = d + s;
			out->schema_len = l;
		}
		off = end;
	}
}

/* An EOF (warnings then status) or an OK_Packet: what=what, status, affected rows, schema. */
static void parse_ok(struct mysql_resp *rs, const struct mysql_pkt *p, int what,
		     struct mysql_resp_out *out)
{
	const uint8_t *d = p->data;
	size_t n = p->kept, off = 1;
	uint64_t affected, insert_id;

	out->what = what;
	out->status = 0;
	out->affected_rows = 0;
	out->schema = NULL;
	out->schema_len = 0;
	take_rows(rs, out);
	if (is_eof(p)) {
		out->status = n >= 5 ? mp_u16(d + 3) : 0;
		return;
	}
	if (mp_lenenc(d, n, &off, &affected) || mp_lenenc(d, n, &off, &insert_id) || n - off < 4)
		return;
	out->status = mp_u16(d + off);
	out->affected_rows = affected;
	off += 4; /* status flags, warnings */
	if ((out->status & SERVER_SESSION_STATE_CHANGED) && rs->session_track != 0)
		parse_session_state(d, n, off, out);
}

static int parse_err(struct mysql_resp *rs, const struct mysql_pkt *p, struct mysql_resp_out *out)
{
	const uint8_t *d = p->data;
	size_t n = p->kept, off = 3;

	out->what = MYSQL_RW_ERR;
	out->err_code = n >= 3 ? mp_u16(d + 1) : 0;
	out->sqlstate = NULL;
	/* ERR_Packet: '#' and a 5-character SQL state with CLIENT_PROTOCOL_41. */
	if (n >= 9 && d[3] == '#') {
		out->sqlstate = d + 4;
		off = 9;
	}
	out->err_msg = d + (n > off ? off : n);
	out->err_len = n > off ? n - off : 0;
	take_rows(rs, out);
	return MYSQL_RESP_DONE;
}

/* One result of a query ended (OK, or a result set's terminator): another follows
 * only with SERVER_MORE_RESULTS_EXISTS. */
static int result_end(struct mysql_resp *rs, const struct mysql_pkt *p, int what,
		      struct mysql_resp_out *out)
{
	parse_ok(rs, p, what, out);
	if (!(out->status & SERVER_MORE_RESULTS_EXISTS))
		return MYSQL_RESP_DONE;
	rs->state = RS_FIRST;
	return MYSQL_RESP_MORE;
}

static int result_first(struct mysql_resp *rs, const struct mysql_pkt *p,
			struct mysql_resp_out *out)
{
	const uint8_t *d = p->data;
	size_t off = 0;
	uint64_t cols;

	switch (d[0]) {
	case 0x00:
	case 0xfe:
		return result_end(rs, p, MYSQL_RW_OK, out);
	case 0xff:
		return parse_err(rs, p, out);
	case 0xfb:
		out->what = MYSQL_RW_INFILE;
		return MYSQL_RESP_MORE;
	}
	if (mp_lenenc(d, p->kept, &off, &cols) || !cols)
		return MYSQL_RESP_BAD;
	/* With CLIENT_OPTIONAL_RESULTSET_METADATA (MySQL) or MARIADB_CLIENT_CACHE_METADATA
	 * a metadata-follows byte comes after the count; 0 means no definitions. */
	rs->left = (p->kept > off && d[off] == 0) ? 0 : cols;
	rs->state = rs->left ? RS_COLDEFS : RS_META_EOF;
	return MYSQL_RESP_MORE;
}

static int result_packet(struct mysql_resp *rs, const struct mysql_pkt *p,
			 struct mysql_resp_out *out)
{
	uint8_t b0 = p->data[0];

	switch (rs->state) {
	case RS_FIRST:
		return result_first(rs, p, out);
	case RS_COLDEFS:
		if (b0 == 0xff)
			return parse_err(rs, p, out);
		if (--rs->left == 0)
			rs->state = RS_META_EOF;
		return MYSQL_RESP_MORE;
	case RS_META_EOF:
		if (is_eof(p)) {
			learn_deprecate_eof(rs, 0);
			/* A cursor: definitions then an EOF with SERVER_STATUS_CURSOR_EXISTS, rows
			 * come later through COM_STMT_FETCH. */
			if (p->kept >= 5 && mp_u16(p->data + 3) & SERVER_STATUS_CURSOR_EXISTS)
				return result_end(rs, p, MYSQL_RW_ROWS_END, out);
			rs->state = RS_ROWS;
			return MYSQL_RESP_MORE;
		}
		learn_deprecate_eof(rs, 1);
		rs->state = RS_ROWS;
		/* fallthrough */
	case RS_ROWS:
		if (is_terminator(p))
			return result_end(rs, p, MYSQL_RW_ROWS_END, out);
		if (b0 == 0xff)
			return parse_err(rs, p, out);
		if (rs->count_rows)
			rs->rows++;
		return MYSQL_RESP_MORE;
	}
	return MYSQL_RESP_BAD;
}

/* Parameter or column definitions ended; next_state expects the EOF that follows them
 * unless CLIENT_DEPRECATE_EOF. */
static int prepare_defs_done(struct mysql_resp *rs, int next_state)
{
	if (rs->deprecate_eof == 1) {
		if (next_state == RS_PREP_PARAM_EOF && rs->ncols) {
			rs->left = rs->ncols;
			rs->state = RS_PREP_COLS;
			return MYSQL_RESP_MORE;
		}
		return MYSQL_RESP_DONE;
	}
	rs->state = next_state;
	return MYSQL_RESP_MORE;
}

static int prepare_first(struct mysql_resp *rs, const struct mysql_pkt *p,
			 struct mysql_resp_out *out)
{
	const uint8_t *d = p->data;

	if (d[0] == 0xff)
		return parse_err(rs, p, out);
	/* COM_STMT_PREPARE_OK: 0x00, id(4), columns(2), params(2), filler, warnings(2). */
	if (d[0] != 0x00 || p->kept < 9)
		return MYSQL_RESP_BAD;
	out->what = MYSQL_RW_PREPARED;
	out->stmt_id = mp_u32(d + 1);
	out->ncols = rs->ncols = mp_u16(d + 5);
	out->nparams = rs->nparams = mp_u16(d + 7);
	if (rs->nparams) {
		rs->left = rs->nparams;
		rs->state = RS_PREP_PARAMS;
	} else if (rs->ncols) {
		rs->left = rs->ncols;
		rs->state = RS_PREP_COLS;
	} else {
		return MYSQL_RESP_DONE;
	}
	return MYSQL_RESP_MORE;
}

static int prepare_packet(struct mysql_resp *rs, const struct mysql_pkt *p,
			  struct mysql_resp_out *out)
{
	switch (rs->state) {
	case RS_FIRST:
		return prepare_first(rs, p, out);
	case RS_PREP_PARAMS:
		if (--rs->left)
			return MYSQL_RESP_MORE;
		return prepare_defs_done(rs, RS_PREP_PARAM_EOF);
	case RS_PREP_PARAM_EOF:
		/* mysql_resp_packet checked the optional EOF: had it been absent with no
		 * columns, the packet was NOT_MINE; so here it is an EOF or the first column. */
		if (!rs->ncols)
			return MYSQL_RESP_DONE;
		rs->left = rs->ncols;
		rs->state = RS_PREP_COLS;
		if (is_eof(p)) {
			learn_deprecate_eof(rs, 0);
			return MYSQL_RESP_MORE;
		}
		learn_deprecate_eof(rs, 1);
		/* fallthrough */
	case RS_PREP_COLS:
		if (--rs->left)
			return MYSQL_RESP_MORE;
		return prepare_defs_done(rs, RS_PREP_COL_EOF);
	case RS_PREP_COL_EOF:
		return MYSQL_RESP_DONE;
	}
	return MYSQL_RESP_BAD;
}

static int one_packet(struct mysql_resp *rs, const struct mysql_pkt *p, struct mysql_resp_out *out)
{
	uint8_t b0 = p->data[0];

	if (b0 == 0xff)
		return parse_err(rs, p, out);
	/* During authentication 0xfe is an Auth Switch Request, not an OK. */
	if (b0 == 0x00 || (b0 == 0xfe && rs->mode != MYSQL_RM_AUTH)) {
		parse_ok(rs, p, MYSQL_RW_OK, out);
		return MYSQL_RESP_DONE;
	}
	if (rs->mode == MYSQL_RM_AUTH)
		return MYSQL_RESP_MORE; /* Auth Switch Request (0xfe) or More Data (0x01) */
	return MYSQL_RESP_DONE; /* a string: COM_STATISTICS */
}

int mysql_resp_complete_but_eof(const struct mysql_resp *rs)
{
	return rs->state == RS_PREP_COL_EOF || (rs->state == RS_PREP_PARAM_EOF && !rs->ncols);
}

/* An optional EOF after definitions (absent under CLIENT_DEPRECATE_EOF): the
 * packet belongs to this response only if it is an EOF continuing the sequence. */
static int optional_eof(struct mysql_resp *rs, const struct mysql_pkt *p)
{
	if (is_eof(p) && p->seq == rs->next_seq) {
		learn_deprecate_eof(rs, 0);
		return 1;
	}
	learn_deprecate_eof(rs, 1);
	return 0;
}

int mysql_resp_packet(struct mysql_resp *rs, const struct mysql_pkt *p, struct mysql_resp_out *out)
{
	if (mysql_resp_complete_but_eof(rs) && !optional_eof(rs, p))
		return MYSQL_RESP_NOT_MINE;
	rs->next_seq = p->seq + 1;
	out->what = MYSQL_RW_PART;
	if (!p->kept)
		return MYSQL_RESP_BAD; /* no response packet is empty */
	/* MariaDB progress report (CLIENT_PROGRESS): an ERR with code 0xffff sent
	 * while a long statement runs; the real response follows. */
	if (p->data[0] == 0xff && p->kept >= 3 && mp_u16(p->data + 1) == 0xffff)
		return MYSQL_RESP_MORE;
	switch (rs->mode) {
	case MYSQL_RM_RESULT:
	case MYSQL_RM_ROWS:
		return result_packet(rs, p, out);
	case MYSQL_RM_PREPARE:
		return prepare_packet(rs, p, out);
	case MYSQL_RM_ONE:
	case MYSQL_RM_AUTH:
		return one_packet(rs, p, out);
	}
	return MYSQL_RESP_BAD;
}
