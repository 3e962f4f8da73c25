// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The per-connection MySQL protocol decoder: handshake, commands, pipelining, events. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/compat.h"

#include "capture_abi.h"
#include "lib/buf.h"
#include "mysql/mysql_decoder.h"
#include "mysql/mysql_packet.h"
#include "mysql/mysql_proto.h"
#include "mysql/mysql_resp.h"
#include "mysql/mysql_stmt.h"

#define DEF_MAX_SQL (1u << 20)
#define DEF_MAX_PENDING 64
#define DEF_MAX_STMTS 4096
#define DEF_MAX_SPLIT 64
/* To-client packets are only parsed for their headers (OK, ERR, greeting): rows
 * and definitions are counted, so this much of a packet is plenty. */
#define CLIENT_KEEP 4096
/* What of a to-server packet is kept beyond the statement text: command byte
 * and a COM_QUERY's query attributes prefix (names and values are skipped). */
#define SERVER_KEEP_EXTRA 4096
/* Protocol::HandshakeResponse41 is 32 fixed bytes, user, auth data, db and plugin name
 * (each short) and connection attributes, which clients cap at 64 KiB. A longer "response"
 * is something else (an HTTP request reads as 5.5 MB). */
#define MAX_HANDSHAKE_RESPONSE (128 * 1024)
/* A request slot's text buffer grown past this by one long statement is
 * released when the slot is reused. */
#define TEXT_SHRINK (64 * 1024)
/* ERR_Packet messages are kept up to this many bytes (MySQL's own cap is 512). */
#define ERR_MSG_MAX 512

enum mysql_phase {
	PH_INIT,      /* nothing decided: greeting or a connection joined mid-stream */
	PH_GREETING,  /* the server greeting starts the to-client stream */
	PH_HANDSHAKE, /* greeting seen, waiting for the handshake response */
	PH_AUTH,      /* handshake response seen, until the server's OK or ERR */
	PH_COMMAND,   /* command phase */
};

struct mysql_req {
	uint8_t cmd;
	uint8_t mode; /* enum mysql_resp_mode */
	uint8_t seq;  /* last sequence id the client sent for this request */
	uint8_t cursor; /* COM_STMT_EXECUTE asked for a cursor */
	uint8_t truncated;
	uint32_t stmt_id;
	uint64_t ts_first; /* first byte of the request */
	uint64_t ts_last;  /* last byte of the request */
	uint64_t bytes_in;
	struct buf text; /* SQL (query, prepare), schema (init_db), user (change_user) */
	struct buf aux;	 /* change_user: schema */
	int aux_known;
};

/* What the response so far says about the statement being answered; its event is made
 * from this. */
struct stmt_tally {
	int started; /* a packet of this statement's response arrived */
	uint64_t ts_start; /* statement start: request's first byte, or previous statement's end */
	uint64_t ts_first_byte, ts_last;
	uint64_t bytes_out, rows_sent, rows_affected;
	uint32_t flags;
	int error;
	uint16_t err_code;
	char sqlstate[6];
	char err_msg[ERR_MSG_MAX];
	size_t err_len;
	/* SESSION_TRACK_SCHEMA of an OK: the current schema once the statement is done. A
	 * copy, since the statement may end packets later (another result set). */
	int schema_changed, schema_kept;
	struct buf schema;
};

struct mysql_conn {
	const struct mysql_callbacks *cb;
	void *ctx;
	struct mysql_limits lim;
	struct mysql_counters own_cnt;
	struct mysql_counters *cnt;
	struct mysql_framer fr[2];
	int phase;
	int opened; /* the capture saw the connection open: its first bytes are the greeting */
	int session_opened; /* MYSQL_SESSION_OPENED was sent */
	int login_done;	    /* the login's outcome was sent */
	int stopped;
	int tls;
	int compressed;
	int plain_seen; /* a request was read: the framing is known */
	int closed;
	int infile_active; /* LOCAL INFILE: to-server packets are file data until an empty one */
	uint32_t caps_server, caps_client, caps; /* caps = effective (both sides) */
	int caps_known;
	uint64_t conn_id;
	int conn_id_known;
	struct buf user, db, server_version;
	int user_known, db_known;
	uint64_t db_ts; /* when the wire last set db (0: never) */
	int learned;	/* conn_id and user came from the watcher, not the wire */
	/* pending requests, oldest first */
	struct mysql_req *q;
	size_t q_head, q_len;
	struct mysql_resp rs;	 /* the parser of the oldest request's response */
	struct stmt_tally tally; /* its statement so far */
	/* a multi-statement COM_QUERY at the head: its statements, the one being answered */
	int split_n, split_i;
	size_t *split_off, *split_len;
	int *split_call;
	struct mysql_stmt_table stmts;
};

struct cmd_info {
	const char *name;
	uint8_t mode;
};

/* Text Protocol and Prepared Statements command bytes 0x00..0x1f. */
static const struct cmd_info cmd_table[0x20] = {
	[COM_SLEEP] = { "sleep", MYSQL_RM_ONE },
	[COM_QUIT] = { "quit", MYSQL_RM_NONE },
	[COM_INIT_DB] = { "init_db", MYSQL_RM_ONE },
	[COM_QUERY] = { "query", MYSQL_RM_RESULT },
	[COM_FIELD_LIST] = { "field_list", MYSQL_RM_ROWS },
	[0x05] = { "create_db", MYSQL_RM_ONE },
	[0x06] = { "drop_db", MYSQL_RM_ONE },
	[0x07] = { "refresh", MYSQL_RM_ONE },
	[0x08] = { "shutdown", MYSQL_RM_ONE },
	[COM_STATISTICS] = { "statistics", MYSQL_RM_ONE },
	[COM_PROCESS_INFO] = { "process_info", MYSQL_RM_RESULT },
	[0x0b] = { "connect", MYSQL_RM_ONE },
	[0x0c] = { "process_kill", MYSQL_RM_ONE },
	[0x0d] = { "debug", MYSQL_RM_ONE },
	[COM_PING] = { "ping", MYSQL_RM_ONE },
	[0x0f] = { "time", MYSQL_RM_ONE },
	[0x10] = { "delayed_insert", MYSQL_RM_ONE },
	[COM_CHANGE_USER] = { "change_user", MYSQL_RM_AUTH },
	[COM_BINLOG_DUMP] = { "binlog_dump", MYSQL_RM_STREAM },
	[0x13] = { "table_dump", MYSQL_RM_ONE },
	[0x14] = { "connect_out", MYSQL_RM_ONE },
	[0x15] = { "register_slave", MYSQL_RM_ONE },
	[COM_STMT_PREPARE] = { "prepare", MYSQL_RM_PREPARE },
	[COM_STMT_EXECUTE] = { "execute", MYSQL_RM_RESULT },
	[COM_STMT_SEND_LONG_DATA] = { "send_long_data", MYSQL_RM_NONE },
	[COM_STMT_CLOSE] = { "stmt_close", MYSQL_RM_NONE },
	[COM_STMT_RESET] = { "stmt_reset", MYSQL_RM_ONE },
	[COM_SET_OPTION] = { "set_option", MYSQL_RM_ONE },
	[COM_STMT_FETCH] = { "stmt_fetch", MYSQL_RM_ROWS },
	[0x1d] = { "daemon", MYSQL_RM_ONE },
	[COM_BINLOG_DUMP_GTID] = { "binlog_dump_gtid", MYSQL_RM_STREAM },
	[COM_RESET_CONNECTION] = { "reset_connection", MYSQL_RM_ONE },
};

static const struct cmd_info bulk_execute = { "bulk_execute", MYSQL_RM_RESULT };

static const struct cmd_info *cmd_info(uint8_t cmd)
{
	if (cmd < 0x20)
		return &cmd_table[cmd];
	return cmd == COM_STMT_BULK_EXECUTE ? &bulk_execute : NULL;
}

static const char *cmd_name(uint8_t cmd)
{
	const struct cmd_info *ci = cmd_info(cmd);

	return ci ? ci->name : "unknown";
}

static void stop(struct mysql_conn *c)
{
	c->stopped = 1;
	c->fr[0].stopped = c->fr[1].stopped = 1;
}

/* A protocol violation in dir: count it and look for the next packet boundary. */
static void violation(struct mysql_conn *c, int dir)
{
	c->cnt->decode_errors++;
	c->cnt->resyncs++;
	if (c->phase < PH_COMMAND)
		c->phase = PH_COMMAND; /* continue as a mid-stream connection */
	mysql_framer_resync(&c->fr[dir]);
	if (c->fr[dir].stopped)
		stop(c);
}

/* Replaces the connection's current schema (s NULL: unknown), as the wire showed at ts. */
static void set_db(struct mysql_conn *c, const void *s, size_t len, uint64_t ts)
{
	buf_reset(&c->db);
	c->db_known = s && !buf_append(&c->db, s, len);
	c->db_ts = ts;
}

static void set_user(struct mysql_conn *c, const void *s, size_t len)
{
	buf_reset(&c->user);
	c->user_known = !buf_append(&c->user, s, len);
}

static void session(struct mysql_conn *c, int kind, uint16_t code, uint64_t ts)
{
	struct mysql_session_event ev = { .kind = kind, .error_code = code, .ts_ns = ts };

	if (!c->cb->on_session)
		return;
	if (c->user_known) {
		ev.user = c->user.len ? c->user.data : "";
		ev.user_len = c->user.len;
	}
	c->cb->on_session(c->ctx, &ev);
}

/* A login's outcome, for a connection seen from its start (else there was no login to see). */
static void login(struct mysql_conn *c, const struct mysql_pkt *p, int ok)
{
	uint16_t code = !ok && p->kept >= 3 ? (uint16_t)(p->data[1] | p->data[2] << 8) : 0;

	if (!c->opened || c->login_done)
		return;
	c->login_done = 1;
	if (!c->session_opened) {
		c->session_opened = 1;
		session(c, MYSQL_SESSION_OPENED, 0, p->ts_last);
	}
	session(c, ok ? MYSQL_SESSION_LOGIN_OK : MYSQL_SESSION_LOGIN_FAILED, code, p->ts_last);
}

/* ---------------------------------------------------------------- queue */

static struct mysql_req *mysql_head(struct mysql_conn *c)
{
	return c->q_len ? &c->q[c->q_head] : NULL;
}

static void response_start(struct mysql_conn *c);
static void tally_reset(struct stmt_tally *t, uint64_t ts_start);
static void emit(struct mysql_conn *c, struct mysql_req *req, int idx);

static struct mysql_req *q_at(struct mysql_conn *c, size_t i)
{
	return &c->q[(c->q_head + i) % c->lim.max_pending];
}

static void q_pop(struct mysql_conn *c)
{
	c->q_head = (c->q_head + 1) % c->lim.max_pending;
	c->q_len--;
	response_start(c);
}

/* Requests without a response are reported when they reach the head, so
 * events and their side effects (a statement closed) keep wire order. */
static void drain_no_response(struct mysql_conn *c)
{
	struct mysql_req *req;

	while ((req = mysql_head(c)) &&
	       (req->mode == MYSQL_RM_NONE || req->mode == MYSQL_RM_STREAM)) {
		emit(c, req, -1);
		if (req->cmd == COM_STMT_CLOSE)
			mysql_stmt_del(&c->stmts, req->stmt_id);
		if (req->mode == MYSQL_RM_STREAM)
			stop(c); /* replication stream: nothing more to decode */
		q_pop(c);
	}
}

static void drop_pending(struct mysql_conn *c)
{
	c->cnt->dropped_requests += c->q_len;
	c->q_len = 0;
	c->infile_active = 0;
	response_start(c);
}

/* ---------------------------------------------------------------- events */

/* The statement text of req (statement idx of a split query, or -1); count: an execute whose
 * prepare was never seen is counted in unknown_stmt (once, when its event is emitted). */
static void event_sql(struct mysql_conn *c, struct mysql_req *req, int idx,
		      struct query_event *ev, int count)
{
	const struct mysql_stmt *st;

	switch (req->cmd) {
	case COM_QUERY:
		ev->sql = req->text.data;
		ev->sql_len = req->text.len;
		if (idx >= 0) {
			ev->sql += c->split_off[idx];
			ev->sql_len = c->split_len[idx];
			ev->flags |= QE_F_MULTI;
		}
		if (req->truncated && ev->sql + ev->sql_len == req->text.data + req->text.len)
			ev->flags |= QE_F_TRUNCATED;
		break;
	case COM_STMT_PREPARE:
		ev->sql = req->text.data;
		ev->sql_len = req->text.len;
		if (req->truncated)
			ev->flags |= QE_F_TRUNCATED;
		break;
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		st = mysql_stmt_get(&c->stmts, req->stmt_id);
		if (!st) {
			if (count)
				c->cnt->unknown_stmt++;
			break;
		}
		ev->sql = st->text.data;
		ev->sql_len = st->text.len;
		if (st->truncated)
			ev->flags |= QE_F_TRUNCATED;
		break;
	}
	if (ev->sql && !ev->sql_len)
		ev->sql = ""; /* an empty buffer has no storage yet */
}

/* bytes_in of statement idx of a split query: each statement its own text, the
 * first also the packet overhead, so the sum is the request's bytes. */
static uint64_t split_bytes_in(struct mysql_conn *c, struct mysql_req *req, int idx)
{
	uint64_t rest = 0;

	if (idx > 0)
		return c->split_len[idx];
	for (int i = 1; i < c->split_n; i++)
		rest += c->split_len[i];
	return req->bytes_in > rest ? req->bytes_in - rest : 0;
}

/* What an event of req (statement idx, or -1) says about the connection and the request. */
static void event_base(struct mysql_conn *c, struct mysql_req *req, int idx,
		       struct query_event *ev, int count)
{
	memset(ev, 0, sizeof(*ev));
	ev->conn_id = c->conn_id;
	ev->conn_id_known = c->conn_id_known;
	if (c->user_known) {
		ev->user = c->user.len ? c->user.data : "";
		ev->user_len = c->user.len;
	}
	if (c->db_known) {
		ev->db = c->db.len ? c->db.data : "";
		ev->db_len = c->db.len;
	}
	ev->command = cmd_name(req->cmd);
	ev->cmd = req->cmd;
	event_sql(c, req, idx, ev, count);
	ev->bytes_in = idx >= 0 ? split_bytes_in(c, req, idx) : req->bytes_in;
	if (c->compressed)
		ev->flags |= QE_F_COMPRESSED;
}

static void deliver(struct mysql_conn *c, const struct query_event *ev)
{
	c->cnt->events++;
	if (c->cb->on_event)
		c->cb->on_event(c->ctx, ev);
}

/* Emits the event of statement idx of req (-1: the whole request) from c->tally. */
static void emit(struct mysql_conn *c, struct mysql_req *req, int idx)
{
	struct stmt_tally *t = &c->tally;
	struct query_event ev;

	event_base(c, req, idx, &ev, 1);
	ev.ts_us = t->ts_start / 1000;
	if (req->mode == MYSQL_RM_NONE || req->mode == MYSQL_RM_STREAM) {
		ev.ts_us = req->ts_first / 1000;
		ev.latency_us = (req->ts_last - req->ts_first) / 1000;
		ev.flags |= QE_F_NO_RESPONSE;
	} else {
		ev.latency_us = t->ts_last > t->ts_start ? (t->ts_last - t->ts_start) / 1000 : 0;
		ev.first_byte_us = t->ts_first_byte > t->ts_start ?
					   (t->ts_first_byte - t->ts_start) / 1000 : 0;
	}
	ev.status = t->error ? QE_STATUS_ERROR : QE_STATUS_OK;
	if (t->error) {
		ev.error_code = t->err_code;
		memcpy(ev.sqlstate, t->sqlstate, sizeof(ev.sqlstate));
		ev.error_msg = t->err_msg;
		ev.error_msg_len = t->err_len;
	}
	ev.rows_sent = t->rows_sent;
	ev.rows_affected = t->rows_affected;
	ev.bytes_out = t->bytes_out;
	ev.flags |= t->flags;
	deliver(c, &ev);
}

/*
 * Statement idx of req (-1: the whole request) got no answer before ts_ns. head: req is the
 * one being answered, so the tally holds its start and what of a response came.
 */
static void emit_unanswered(struct mysql_conn *c, struct mysql_req *req, int idx, int head,
			    uint64_t ts_ns, uint32_t flags)
{
	struct stmt_tally *t = &c->tally;
	uint64_t start = head ? t->ts_start : req->ts_first;
	struct query_event ev;

	event_base(c, req, idx, &ev, 1);
	ev.ts_us = start / 1000;
	ev.latency_us = ts_ns > start ? (ts_ns - start) / 1000 : 0;
	ev.status = QE_STATUS_UNANSWERED;
	ev.flags |= flags;
	if (head && t->started) {
		ev.first_byte_us = t->ts_first_byte > start ? (t->ts_first_byte - start) / 1000 : 0;
		ev.bytes_out = t->bytes_out;
		ev.rows_sent = t->rows_sent;
	}
	c->cnt->unanswered++;
	deliver(c, &ev);
}

/* Reports every pending request at close: those that expect no response as usual, the others
 * (and every statement of a multi-statement query not answered yet) as unanswered, with
 * flags (QE_F_RESPONSE_LOST when a capture gap took the responses). */
static void flush_pending(struct mysql_conn *c, uint64_t ts_ns, uint32_t flags)
{
	for (size_t i = 0; i < c->q_len; i++) {
		struct mysql_req *req = q_at(c, i);

		if (req->mode == MYSQL_RM_NONE || req->mode == MYSQL_RM_STREAM) {
			tally_reset(&c->tally, req->ts_first);
			emit(c, req, -1);
		} else if (i == 0 && c->split_n > 1) {
			for (int k = c->split_i; k < c->split_n; k++)
				emit_unanswered(c, req, k, 1, ts_ns, flags);
		} else {
			emit_unanswered(c, req, -1, i == 0, ts_ns, flags);
		}
	}
	c->q_len = 0;
	c->infile_active = 0;
	response_start(c);
}

int mysql_conn_running(struct mysql_conn *c, uint64_t now_ns, struct query_event *ev)
{
	struct mysql_req *req = mysql_head(c);
	int idx = c->split_n > 1 ? c->split_i : -1;
	uint64_t start = c->tally.ts_start;

	if (!req || c->stopped || c->closed || req->mode == MYSQL_RM_NONE ||
	    req->mode == MYSQL_RM_STREAM)
		return 0;
	event_base(c, req, idx, ev, 0);
	ev->ts_us = start / 1000;
	ev->latency_us = now_ns > start ? (now_ns - start) / 1000 : 0;
	ev->status = QE_STATUS_RUNNING;
	return 1;
}

/* ---------------------------------------------------------------- USE detection */

static size_t skip_space_comments(const char *s, size_t n, size_t i)
{
	while (i < n) {
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++;
		} else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
			const char *e = memmem(s + i + 2, n - i - 2, "*/", 2);

			if (!e)
				return n;
			i = e - s + 2;
		} else {
			break;
		}
	}
	return i;
}

/* Recognises `USE db` (comments, backquotes). Returns 0 and the schema, or -1. */
static int sql_use(const char *s, size_t n, const char **db, size_t *db_len)
{
	size_t i = skip_space_comments(s, n, 0), b;

	if (n - i < 4 || strncasecmp(s + i, "use", 3))
		return -1;
	i += 3;
	if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '`' &&
	    s[i] != '/')
		return -1;
	i = skip_space_comments(s, n, i);
	if (i >= n)
		return -1;
	if (s[i] == '`') {
		/* A doubled backquote inside stays doubled: rare enough not to copy. */
		for (b = ++i; i < n; i++) {
			if (s[i] == '`' && (i + 1 >= n || s[i + 1] != '`'))
				break;
			if (s[i] == '`')
				i++;
		}
		if (i >= n)
			return -1;
		*db = s + b;
		*db_len = i - b;
		return 0;
	}
	for (b = i; i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r' && s[i] != '/';
	     i++)
		;
	if (i == b)
		return -1;
	*db = s + b;
	*db_len = i - b;
	return 0;
}

/* ---------------------------------------------------------------- responses */

/*
 * The response parser (mysql_resp.c) only says what each packet was; what follows from it
 * is decided here: statement tallies, events, the current schema and user, the prepared
 * statements, LOCAL INFILE, and where a multi-statement query's statements end.
 */

static void tally_reset(struct stmt_tally *t, uint64_t ts_start)
{
	t->started = 0;
	t->ts_start = ts_start;
	t->ts_first_byte = t->ts_last = ts_start;
	t->bytes_out = t->rows_sent = t->rows_affected = 0;
	t->flags = 0;
	t->error = 0;
	t->err_code = 0;
	t->sqlstate[0] = 0;
	t->err_len = 0;
	t->schema_changed = 0;
}

/* Prepares the parser and the tally for the current head request. */
static void response_start(struct mysql_conn *c)
{
	struct mysql_req *req = mysql_head(c);

	c->split_n = c->split_i = 0;
	if (!req)
		return;
	tally_reset(&c->tally, req->ts_first);
	/* COM_FIELD_LIST's "rows" are column definitions. */
	mysql_resp_start(&c->rs, req->mode, req->seq, req->cmd != COM_FIELD_LIST);
	if (req->cmd == COM_QUERY && c->cb->split_sql && req->text.len) {
		int n = c->cb->split_sql(c->ctx, req->text.data, req->text.len, c->split_off,
					 c->split_len, c->split_call, c->lim.max_split);

		if (n > 1 && n <= c->lim.max_split)
			c->split_n = n;
	}
}

/* Emits statement idx (or the whole request), then applies what its success changed. */
static void stmt_done(struct mysql_conn *c, struct mysql_req *req, int idx)
{
	struct stmt_tally *t = &c->tally;

	emit(c, req, idx);
	if (t->error)
		return;
	if (t->schema_changed) {
		set_db(c, !t->schema_kept ? NULL : t->schema.len ? t->schema.data : "",
		       t->schema.len, t->ts_last);
	} else if (req->cmd == COM_INIT_DB) {
		set_db(c, req->text.data, req->text.len, t->ts_last);
	} else if (req->cmd == COM_QUERY) {
		const char *sql = req->text.data, *db;
		size_t len = req->text.len, db_len;

		if (idx >= 0) {
			sql += c->split_off[idx];
			len = c->split_len[idx];
		}
		if (!sql_use(sql, len, &db, &db_len))
			set_db(c, db, db_len, t->ts_last);
	}
	tally_reset(t, t->ts_last);
}

static uint32_t index_flags(uint16_t status)
{
	return (status & SERVER_QUERY_NO_INDEX_USED ? QE_F_NO_INDEX_USED : 0) |
	       (status & SERVER_QUERY_NO_GOOD_INDEX_USED ? QE_F_NO_GOOD_INDEX_USED : 0);
}

/* One result of a command ended (an OK, or a result set's terminator); more: another
 * result follows (SERVER_MORE_RESULTS_EXISTS). Says which statement it completes. */
static void result_end(struct mysql_conn *c, struct mysql_req *req,
		       const struct mysql_resp_out *o, int more)
{
	struct stmt_tally *t = &c->tally;

	t->rows_sent += o->rows;
	t->rows_affected += o->affected_rows;
	if (o->schema) {
		buf_reset(&t->schema);
		t->schema_changed = 1;
		t->schema_kept = !buf_append(&t->schema, o->schema, o->schema_len);
	}
	t->flags |= index_flags(o->status);
	if (o->status & SERVER_STATUS_CURSOR_EXISTS && req->cmd == COM_STMT_EXECUTE)
		t->flags |= QE_F_CURSOR;
	if (c->split_n > 1) {
		int i = c->split_i;

		/* A CALL returns its result sets and then its own OK: it ends at the OK. */
		if (!more && i < c->split_n - 1) {
			/* The server saw fewer statements than the splitter (a ';' inside
			 * BEGIN ... END): this one runs to the end of the text. */
			if (i == 0) {
				stmt_done(c, req, -1);
			} else {
				c->split_len[i] = req->text.len - c->split_off[i];
				stmt_done(c, req, i);
			}
		} else if (i < c->split_n - 1 && (!c->split_call[i] || o->what == MYSQL_RW_OK)) {
			stmt_done(c, req, i);
			c->split_i++;
		} else if (!more) {
			stmt_done(c, req, i);
		}
	} else if (!more) {
		stmt_done(c, req, -1);
	}
}

static void result_error(struct mysql_conn *c, struct mysql_req *req,
			 const struct mysql_resp_out *o)
{
	struct stmt_tally *t = &c->tally;
	size_t l = o->err_len < sizeof(t->err_msg) ? o->err_len : sizeof(t->err_msg);

	t->rows_sent += o->rows;
	t->error = 1;
	t->err_code = o->err_code;
	t->sqlstate[0] = 0;
	if (o->sqlstate) {
		memcpy(t->sqlstate, o->sqlstate, 5);
		t->sqlstate[5] = 0;
	}
	memcpy(t->err_msg, o->err_msg, l);
	t->err_len = l;
	/* An ERR ends a multi-statement batch: the server runs nothing after it. */
	stmt_done(c, req, c->split_n > 1 ? c->split_i : -1);
}

static void prepared(struct mysql_conn *c, struct mysql_req *req, const struct mysql_resp_out *o)
{
	req->stmt_id = o->stmt_id;
	if (mysql_stmt_put(&c->stmts, req->stmt_id, req->text.data, req->text.len,
			   req->truncated) == -ENOSPC)
		c->cnt->stmt_table_full++;
}

/* COM_CHANGE_USER succeeded: new user and schema, prepared statements are gone. */
static void user_changed(struct mysql_conn *c, struct mysql_req *req)
{
	set_user(c, req->text.data, req->text.len);
	if (req->aux_known && req->aux.len)
		set_db(c, req->aux.data, req->aux.len, c->tally.ts_last);
	else
		set_db(c, NULL, 0, c->tally.ts_last);
	c->learned = 0; /* the wire knows the user now */
	mysql_stmt_clear(&c->stmts);
}

/* Feeds one to-client packet to the head request: returns the parser's MYSQL_RESP_*. */
static int response_packet(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	struct stmt_tally *t = &c->tally;
	struct mysql_resp_out o;
	int r = mysql_resp_packet(&c->rs, p, &o);

	if (r == MYSQL_RESP_NOT_MINE) {
		stmt_done(c, req, -1); /* it ended before p, which is not counted in it */
		return r;
	}
	if (!t->started) {
		t->started = 1;
		t->ts_first_byte = p->ts_first;
	}
	t->ts_last = p->ts_last;
	t->bytes_out += p->wire;
	if (r == MYSQL_RESP_BAD || (r == MYSQL_RESP_MORE && o.what == MYSQL_RW_PART))
		return r; /* most packets: a row or a definition */
	switch (o.what) {
	case MYSQL_RW_OK:
	case MYSQL_RW_ROWS_END:
		result_end(c, req, &o, r == MYSQL_RESP_MORE);
		break;
	case MYSQL_RW_ERR:
		result_error(c, req, &o);
		break;
	case MYSQL_RW_INFILE:
		c->infile_active = 1;
		break;
	case MYSQL_RW_PREPARED:
		prepared(c, req, &o);
		/* fallthrough */
	default:
		if (r == MYSQL_RESP_DONE)
			stmt_done(c, req, -1);
	}
	if (r == MYSQL_RESP_DONE && req->mode == MYSQL_RM_AUTH && !t->error)
		user_changed(c, req);
	return r;
}

/* ---------------------------------------------------------------- handshake */

static void midstream(struct mysql_conn *c)
{
	c->phase = PH_COMMAND;
	if (!c->opened) {
		c->cnt->midstream_conns++;
		return;
	}
	/* Seen from its SYN, yet not opened by a greeting: not MySQL (HTTP, random bytes,
	 * a protocol where the client speaks first). */
	c->cnt->decode_errors++;
	c->cnt->resyncs++;
}

/* Protocol::HandshakeV10 (or an ERR when the server refuses the connection). */
static void parse_greeting(struct mysql_conn *c, const struct mysql_pkt *p)
{
	const uint8_t *d = p->data, *ver;
	size_t n = p->kept, off = 1, vlen;
	uint32_t caps;

	if (n && d[0] == 0xff) {
		login(c, p, 0); /* 1040 too many connections, 1129 host blocked, ... */
		stop(c);	/* nothing will follow */
		return;
	}
	if (!n || d[0] != 0x0a || mp_cstr(d, n, &off, &ver, &vlen) || n - off < 4 + 8 + 1 + 2) {
		violation(c, MP_DIR_TO_CLIENT);
		return;
	}
	buf_reset(&c->server_version);
	buf_append(&c->server_version, ver, vlen);
	c->conn_id = mp_u32(d + off);
	c->conn_id_known = 1;
	off += 4 + 8 + 1; /* connection id, auth-plugin-data-part-1, filler */
	caps = mp_u16(d + off);
	off += 2;
	if (n - off >= 5) /* character set, status flags, capability flags (upper 2 bytes) */
		caps |= mp_u16(d + off + 3) << 16;
	c->caps_server = caps;
	c->phase = PH_HANDSHAKE;
}

/* Protocol::HandshakeResponse41 / 320, or an SSLRequest. */
static void parse_handshake_response(struct mysql_conn *c, const struct mysql_pkt *p)
{
	const uint8_t *d = p->data, *s;
	size_t n = p->kept, off, l;
	uint64_t alen;
	uint32_t caps;

	if (n < 4) {
		violation(c, MP_DIR_TO_SERVER);
		return;
	}
	caps = mp_u32(d);
	c->phase = PH_AUTH;
	if (!(caps & CLIENT_PROTOCOL_41)) {
		caps &= 0xffff; /* HandshakeResponse320: caps(2), max packet(3), user */
		off = 5;
		if (n > off && !mp_cstr(d, n, &off, &s, &l))
			set_user(c, s, l);
		goto caps;
	}
	/* SSLRequest: the 32-byte prefix with CLIENT_SSL, then a TLS handshake. A
	 * plaintext response never carries CLIENT_SSL. */
	if (caps & CLIENT_SSL) {
		c->tls = 1;
		c->cnt->tls_conns++;
		stop(c);
		return;
	}
	off = 32; /* caps(4), max packet(4), charset(1), filler(23) */
	if (n <= off || mp_cstr(d, n, &off, &s, &l))
		goto caps;
	set_user(c, s, l);
	if (caps & CLIENT_PLUGIN_AUTH_LENENC) {
		if (mp_lenenc(d, n, &off, &alen) || alen > n - off)
			goto caps;
		off += alen;
	} else if (caps & CLIENT_SECURE_CONNECTION) {
		if (off >= n || d[off] > n - off - 1)
			goto caps;
		off += 1 + d[off];
	} else if (mp_cstr(d, n, &off, &s, &l)) {
		goto caps;
	}
	if (caps & CLIENT_CONNECT_WITH_DB && !mp_cstr(d, n, &off, &s, &l) && l)
		set_db(c, s, l, p->ts_last);
caps:
	c->caps_client = caps;
	c->caps = caps & c->caps_server;
	c->caps_known = 1;
	mysql_resp_set_caps(&c->rs, c->caps);
}

/* Server packets after the handshake response, until OK or ERR. */
static void auth_reply(struct mysql_conn *c, const struct mysql_pkt *p)
{
	uint8_t b0 = p->kept ? p->data[0] : 0xff;

	if (b0 == 0xff) {
		login(c, p, 0); /* 1045 access denied, 1044 no access to the db, 1049, ... */
		stop(c);	/* the server closes the connection */
		return;
	}
	if (b0 != 0x00)
		return; /* Auth Switch Request (0xfe), Auth More Data (0x01) */
	c->phase = PH_COMMAND;
	login(c, p, 1);
	if (c->caps & CLIENT_COMPRESS) {
		/* Compression starts with the first packet after the authentication OK. */
		c->compressed = 1;
		c->cnt->compressed_conns++;
		c->fr[0].compress = c->fr[1].compress = 1;
	}
}

/* ---------------------------------------------------------------- requests */

/* Size of one binary protocol value of type t at d (n bytes), or -1. */
static long binary_value_len(uint8_t t, const uint8_t *d, size_t n)
{
	uint64_t v;
	size_t off = 0;

	switch (t) {
	case 0x06: /* NULL */
		return 0;
	case 0x01: /* TINY */
		return 1;
	case 0x02: case 0x0d: /* SHORT, YEAR */
		return 2;
	case 0x03: case 0x09: case 0x04: /* LONG, INT24, FLOAT */
		return 4;
	case 0x08: case 0x05: /* LONGLONG, DOUBLE */
		return 8;
	case 0x0a: case 0x0b: case 0x0c: case 0x07: /* DATE, TIME, DATETIME, TIMESTAMP */
		return n ? 1 + (long)d[0] : -1;
	}
	if (mp_lenenc(d, n, &off, &v) || v > n - off)
		return -1;
	return (long)(off + v);
}

/*
 * COM_QUERY with CLIENT_QUERY_ATTRIBUTES: parameter count and set count, then
 * (count > 0) null bitmap, bind flag, types with names, values, then the text.
 * Returns the offset of the query text in d, or -1.
 */
static long query_attrs_len(const uint8_t *d, size_t n)
{
	uint64_t count, sets, v;
	size_t off = 0, nulls, nb, t;

	if (mp_lenenc(d, n, &off, &count) || mp_lenenc(d, n, &off, &sets) || count > 0xffff)
		return -1;
	if (!count)
		return off;
	nulls = off;
	nb = (count + 7) / 8;
	if (n - off < nb + 1 || d[off + nb] != 1)
		return -1;
	off += nb + 1;
	t = off; /* parameter types: type(2) and a lenenc name each */
	for (uint64_t i = 0; i < count; i++) {
		if (n - off < 2)
			return -1;
		off += 2;
		if (mp_lenenc(d, n, &off, &v) || v > n - off)
			return -1;
		off += v;
	}
	for (uint64_t i = 0; i < count; i++) {
		if (!(d[nulls + i / 8] & (1u << (i % 8)))) {
			long l = binary_value_len(d[t], d + off, n - off);

			if (l < 0 || (size_t)l > n - off)
				return -1;
			off += l;
		}
		t += 2;
		if (mp_lenenc(d, n, &t, &v))
			return -1;
		t += v;
	}
	return off;
}

static void store_text(struct mysql_conn *c, struct mysql_req *req, const uint8_t *s,
		       size_t have, uint64_t full)
{
	size_t n = have < c->lim.max_sql ? have : c->lim.max_sql;

	buf_reset_shrink(&req->text, TEXT_SHRINK);
	if (buf_append(&req->text, s, n))
		n = 0;
	if (full > n) {
		req->truncated = 1;
		c->cnt->truncated++;
	}
}

static void parse_change_user(struct mysql_conn *c, struct mysql_req *req,
			      const struct mysql_pkt *p)
{
	const uint8_t *d = p->data, *s;
	size_t n = p->kept, off = 1, l;

	if (mp_cstr(d, n, &off, &s, &l))
		return;
	store_text(c, req, s, l, l);
	/* auth-response: 1-byte length with CLIENT_SECURE_CONNECTION (every 4.1+ client) */
	if (!c->caps_known || c->caps & CLIENT_SECURE_CONNECTION) {
		if (off >= n || d[off] > n - off - 1)
			return;
		off += 1 + d[off];
	} else if (mp_cstr(d, n, &off, &s, &l)) {
		return;
	}
	if (mp_cstr(d, n, &off, &s, &l))
		return;
	buf_reset(&req->aux);
	req->aux_known = !buf_append(&req->aux, s, l);
}

static void parse_request(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p)
{
	const uint8_t *d = p->data;
	size_t n = p->kept;
	long off = 1;

	switch (req->cmd) {
	case COM_QUERY:
		if ((c->caps_known && c->caps & CLIENT_QUERY_ATTRIBUTES) ||
		    (!c->caps_known && n >= 3 && d[1] == 0 && d[2] == 1)) {
			long a = query_attrs_len(d + 1, n - 1);

			off = a < 0 ? 1 : 1 + a;
		}
		/* fallthrough */
	case COM_STMT_PREPARE:
	case COM_INIT_DB:
		store_text(c, req, d + off, n - off, p->len - off);
		break;
	case COM_STMT_EXECUTE:
		if (n >= 6)
			req->cursor = d[5] != 0;
		/* fallthrough */
	case COM_STMT_BULK_EXECUTE:
	case COM_STMT_CLOSE:
	case COM_STMT_RESET:
	case COM_STMT_FETCH:
	case COM_STMT_SEND_LONG_DATA:
		if (n >= 5)
			req->stmt_id = mp_u32(d + 1);
		break;
	case COM_CHANGE_USER:
		parse_change_user(c, req, p);
		break;
	}
}

static void on_request(struct mysql_conn *c, const struct mysql_pkt *p)
{
	const struct cmd_info *ci = p->kept ? cmd_info(p->data[0]) : NULL;
	struct mysql_req *req;

	if (!ci || !ci->name) {
		violation(c, MP_DIR_TO_SERVER);
		return;
	}
	if (c->q_len == c->lim.max_pending) {
		/* Deeper pipelines than this cannot be matched reliably any more. */
		c->cnt->pipeline_overflow++;
		drop_pending(c);
		stop(c);
		return;
	}
	req = q_at(c, c->q_len++);
	req->cmd = p->data[0];
	req->mode = ci->mode;
	req->seq = p->seq;
	req->cursor = req->truncated = 0;
	req->stmt_id = 0;
	req->ts_first = p->ts_first;
	req->ts_last = p->ts_last;
	req->bytes_in = p->wire;
	req->aux_known = 0;
	buf_reset_shrink(&req->text, TEXT_SHRINK);
	parse_request(c, req, p);
	if (c->q_len == 1) {
		response_start(c);
		drain_no_response(c);
	}
}

static void on_client_packet(struct mysql_conn *c, const struct mysql_pkt *p)
{
	struct mysql_req *head = mysql_head(c);

	switch (c->phase) {
	case PH_HANDSHAKE:
		parse_handshake_response(c, p);
		return;
	case PH_AUTH:
		return; /* auth switch response, more auth data */
	case PH_COMMAND:
		break;
	default:
		violation(c, MP_DIR_TO_SERVER);
		return;
	}
	/* LOCAL INFILE data, change-user auth data: part of the head's exchange. */
	if (head && (c->infile_active || p->seq != 0)) {
		head->bytes_in += p->wire;
		head->seq = p->seq;
		mysql_resp_client_packet(&c->rs, p->seq);
		if (c->infile_active && p->len == 0)
			c->infile_active = 0; /* the empty packet ends the file */
		return;
	}
	if (p->seq != 0) {
		violation(c, MP_DIR_TO_SERVER);
		return;
	}
	on_request(c, p);
}

static void on_response(struct mysql_conn *c, const struct mysql_pkt *p)
{
	for (;;) {
		struct mysql_req *req = mysql_head(c);
		int r;

		if (!req) {
			c->cnt->skipped_responses++;
			return;
		}
		r = response_packet(c, req, p);
		if (r == MYSQL_RESP_MORE)
			return;
		c->infile_active = 0;
		if (r == MYSQL_RESP_BAD)
			c->cnt->dropped_requests++;
		q_pop(c);
		drain_no_response(c);
		if (r == MYSQL_RESP_BAD)
			violation(c, MP_DIR_TO_CLIENT);
		if (r != MYSQL_RESP_NOT_MINE)
			return;
	}
}

static void on_server_packet(struct mysql_conn *c, const struct mysql_pkt *p)
{
	switch (c->phase) {
	case PH_INIT:
	case PH_GREETING:
		parse_greeting(c, p);
		return;
	case PH_HANDSHAKE:
		if (p->kept && p->data[0] == 0xff) {
			login(c, p, 0);
			stop(c);
		} else
			violation(c, MP_DIR_TO_CLIENT);
		return;
	case PH_AUTH:
		auth_reply(c, p);
		return;
	}
	on_response(c, p);
}

/* ---------------------------------------------------------------- framer hooks */

static void on_packet(void *ctx, int dir, const struct mysql_pkt *p)
{
	struct mysql_conn *c = ctx;

	if (c->stopped)
		return;
	if (dir == MP_DIR_TO_SERVER) {
		c->plain_seen = 1;
		on_client_packet(c, p);
	} else
		on_server_packet(c, p);
}

static int header_ok(void *ctx, int dir, uint8_t seq, uint32_t len)
{
	struct mysql_conn *c = ctx;
	struct mysql_req *head = mysql_head(c);

	if (c->phase == PH_HANDSHAKE && dir == MP_DIR_TO_SERVER) {
		/* The answer to the greeting (sequence id 0) has sequence id 1. Anything else
		 * is not a MySQL client (HTTP, random bytes): count it once and stop, the
		 * server refuses the connection. */
		if (seq == 1 && len <= MAX_HANDSHAKE_RESPONSE)
			return 1;
		c->cnt->decode_errors++;
		stop(c);
		return 0;
	}
	if (c->phase != PH_COMMAND)
		return 1;
	if (dir == MP_DIR_TO_SERVER) {
		if (seq == 0 || (head && (c->infile_active || head->mode == MYSQL_RM_AUTH)))
			return 1;
	} else if (head) {
		return 1;
	} else {
		c->cnt->skipped_responses++; /* a server packet nobody asked for */
	}
	c->cnt->decode_errors++;
	c->cnt->resyncs++;
	return 0;
}

static int printable(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

/* Text commands are accepted only if their first bytes read as text: in binary
 * data a seq-0 header followed by 0x03 is otherwise too easy to find. */
static int probe_text(const uint8_t *b, size_t n, uint32_t len, size_t min_len)
{
	size_t want = len - 1 < 11 ? len - 1 : 11;

	if (len < min_len)
		return MP_PROBE_NO;
	if (n < 5 + want)
		return MP_PROBE_MORE;
	return printable(b + 5, want) ? MP_PROBE_YES : MP_PROBE_NO;
}

static int probe_server(struct mysql_conn *c, const uint8_t *b, size_t n)
{
	uint32_t len;

	if (c->phase == PH_INIT)
		midstream(c); /* the client spoke first: we missed the greeting */
	if (n < 5)
		return MP_PROBE_MORE;
	len = mp_u24(b);
	/* A TLS record (handshake or application data) where MySQL was expected:
	 * a connection that negotiated TLS before we joined. */
	if ((b[0] == 0x16 || b[0] == 0x17) && b[1] == 0x03 && b[2] <= 0x04 &&
	    ((uint32_t)b[3] << 8 | b[4]) <= 0x4800 && !(b[3] == 0 && b[4] == COM_QUERY)) {
		c->tls = 1;
		c->cnt->tls_conns++;
		stop(c);
		return MP_PROBE_NO;
	}
	if (b[3] != 0)
		return MP_PROBE_NO;
	switch (b[4]) {
	case COM_QUIT: case COM_PING: case COM_STATISTICS: case COM_RESET_CONNECTION:
	case COM_PROCESS_INFO: case 0x0d:
		return len == 1 ? MP_PROBE_YES : MP_PROBE_NO;
	case COM_STMT_CLOSE: case COM_STMT_RESET:
		return len == 5 ? MP_PROBE_YES : MP_PROBE_NO;
	case COM_STMT_FETCH:
		return len == 9 ? MP_PROBE_YES : MP_PROBE_NO;
	case COM_SET_OPTION:
		return len == 3 ? MP_PROBE_YES : MP_PROBE_NO;
	case COM_STMT_EXECUTE:
		/* flags (cursor type, parameter count available) and iteration count 1 */
		if (len < 10)
			return MP_PROBE_NO;
		if (n < 14)
			return MP_PROBE_MORE;
		return !(b[9] & 0xf0) && mp_u32(b + 10) == 1 ? MP_PROBE_YES : MP_PROBE_NO;
	case COM_QUERY:
		if (n >= 7 && b[5] == 0 && b[6] == 1) /* query attributes, none */
			return probe_text(b + 2, n - 2, len - 2, 2);
		return probe_text(b, n, len, 2);
	case COM_STMT_PREPARE: case COM_INIT_DB: case COM_FIELD_LIST:
		return probe_text(b, n, len, 2);
	}
	return MP_PROBE_NO;
}

static int probe_client_head(struct mysql_req *req, const uint8_t *b, uint32_t len)
{
	uint8_t b0 = b[4];

	if (len == 0)
		return 0;
	if (b0 == 0xff)
		return len >= 3;
	switch (req->mode) {
	case MYSQL_RM_RESULT:
		return (b0 == 0x00 && len >= 7) || b0 == 0xfb || (b0 >= 1 && b0 < 0xfb && len <= 2) ||
		       (b0 == 0xfc && len >= 3 && len <= 4);
	case MYSQL_RM_PREPARE:
		return b0 == 0x00 && len == 12;
	case MYSQL_RM_ONE:
		return (b0 == 0x00 && len >= 7) || (b0 == 0xfe && len <= 5) ||
		       req->cmd == COM_STATISTICS;
	case MYSQL_RM_ROWS:
		return b0 == 0xfe || (req->cmd == COM_STMT_FETCH ? b0 == 0x00 : b0 == 0x03);
	case MYSQL_RM_AUTH:
		return b0 == 0x00 || b0 == 0xfe || b0 == 0x01;
	}
	return 0;
}

static int probe_client(struct mysql_conn *c, const uint8_t *b, size_t n)
{
	struct mysql_req *req;

	if (c->phase == PH_INIT) {
		if (n < 5)
			return MP_PROBE_MORE;
		/* The stream starts with a greeting (or the ERR refusing the connection). */
		if (b[3] == 0 && mp_u24(b) < 1024 &&
		    ((b[4] == 0x0a && mp_u24(b) >= 20) || (b[4] == 0xff && mp_u24(b) >= 3))) {
			c->phase = PH_GREETING;
			c->fr[MP_DIR_TO_SERVER].resync = 0;
			return MP_PROBE_YES;
		}
		midstream(c);
	}
	req = mysql_head(c);
	/* Only the start of a response can be recognised, and only for a request
	 * we saw: anything before that is skipped. */
	if (!req || c->tally.started || c->phase != PH_COMMAND)
		return MP_PROBE_NO;
	if (n < 5)
		return MP_PROBE_MORE;
	if (b[3] != mysql_resp_next_seq(&c->rs))
		return MP_PROBE_NO;
	return probe_client_head(req, b, mp_u24(b)) ? MP_PROBE_YES : MP_PROBE_NO;
}

static int probe(void *ctx, int dir, const uint8_t *b, size_t n)
{
	struct mysql_conn *c = ctx;

	if (c->stopped)
		return MP_PROBE_NO;
	return dir == MP_DIR_TO_SERVER ? probe_server(c, b, n) : probe_client(c, b, n);
}

static const struct mysql_framer_ops framer_ops = {
	.packet = on_packet,
	.header_ok = header_ok,
	.probe = probe,
};

/* ---------------------------------------------------------------- public API */

struct mysql_conn *mysql_conn_new(const struct mysql_callbacks *cb, void *ctx,
				  const struct mysql_limits *lim, struct mysql_counters *cnt)
{
	struct mysql_conn *c;

	if (!cb) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto cleanup;
	c->cb = cb;
	c->ctx = ctx;
	if (lim)
		c->lim = *lim;
	c->lim.max_sql = c->lim.max_sql ?: DEF_MAX_SQL;
	c->lim.max_pending = c->lim.max_pending ?: DEF_MAX_PENDING;
	c->lim.max_stmts = c->lim.max_stmts ?: DEF_MAX_STMTS;
	c->lim.max_split = c->lim.max_split > 0 ? c->lim.max_split : DEF_MAX_SPLIT;
	c->cnt = cnt ?: &c->own_cnt;
	mysql_resp_init(&c->rs);
	c->q = calloc(c->lim.max_pending, sizeof(*c->q));
	c->split_off = calloc(c->lim.max_split, sizeof(*c->split_off));
	c->split_len = calloc(c->lim.max_split, sizeof(*c->split_len));
	c->split_call = calloc(c->lim.max_split, sizeof(*c->split_call));
	if (!c->q || !c->split_off || !c->split_len || !c->split_call)
		goto cleanup;
	mysql_framer_init(&c->fr[MP_DIR_TO_SERVER], &framer_ops, c, MP_DIR_TO_SERVER,
			  c->lim.max_sql + SERVER_KEEP_EXTRA);
	mysql_framer_init(&c->fr[MP_DIR_TO_CLIENT], &framer_ops, c, MP_DIR_TO_CLIENT, CLIENT_KEEP);
	mysql_stmt_table_init(&c->stmts, c->lim.max_stmts);
	return c;
cleanup:
	mysql_conn_free(c);
	errno = ENOMEM;
	return NULL;
}

void mysql_conn_opened(struct mysql_conn *c)
{
	if (c->phase == PH_INIT)
		c->opened = 1;
}

void mysql_conn_free(struct mysql_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->q && i < c->lim.max_pending; i++) {
		buf_free(&c->q[i].text);
		buf_free(&c->q[i].aux);
	}
	free(c->q);
	free(c->split_off);
	free(c->split_len);
	free(c->split_call);
	mysql_framer_free(&c->fr[0]);
	mysql_framer_free(&c->fr[1]);
	mysql_stmt_free(&c->stmts);
	buf_free(&c->user);
	buf_free(&c->db);
	buf_free(&c->server_version);
	buf_free(&c->tally.schema);
	free(c);
}

/*
 * A connection joined mid-stream may have negotiated the compressed protocol before we came:
 * its bytes are then Compressed Packets, which the plain resync accepts only for short
 * payloads sent as is (and then mistakes the compressed headers for garbage). A client chunk
 * that starts with a compressed packet holding a request the plain probe accepts (after
 * inflating it) settles it: both directions switch to compressed framing, the server's
 * realigning at its next chunk that starts with a compressed packet.
 */
static void compressed_joined(struct mysql_conn *c)
{
	if (c->phase == PH_INIT)
		midstream(c);
	c->compressed = 1;
	c->cnt->compressed_conns++;
	c->cnt->compressed_midstream++;
	mysql_framer_comp_start(&c->fr[MP_DIR_TO_SERVER]);
	c->fr[MP_DIR_TO_CLIENT].compress = 1;
	mysql_framer_resync(&c->fr[MP_DIR_TO_CLIENT]);
}

int mysql_feed(struct mysql_conn *c, int dir, const uint8_t *data, size_t len, uint64_t ts_ns)
{
	uint64_t skipped;

	if (dir != MP_DIR_TO_SERVER && dir != MP_DIR_TO_CLIENT)
		return -EINVAL;
	if (c->stopped || c->closed)
		return 0;
	/* Not only before the first request: a short request sent as is inside a compressed
	 * packet also reads as a plain one (7 bytes in), and the next compressed header then
	 * sends the plain framer back to resynchronising. */
	if (dir == MP_DIR_TO_SERVER && !c->opened && !c->compressed && c->fr[dir].resync &&
	    mysql_framer_comp_probe(&c->fr[dir], data, len, 1) && !c->stopped)
		compressed_joined(c);
	skipped = c->fr[dir].skipped_bytes;
	mysql_framer_feed(&c->fr[dir], data, len, ts_ns);
	c->cnt->skipped_bytes += c->fr[dir].skipped_bytes - skipped;
	if (c->fr[dir].stopped && !c->stopped) {
		c->cnt->decode_errors++; /* a broken compressed stream */
		stop(c);
	}
	return 0;
}

void mysql_gap(struct mysql_conn *c, int dir, uint64_t missing_bytes, uint64_t ts_ns)
{
	if (c->stopped || c->closed || (dir != MP_DIR_TO_SERVER && dir != MP_DIR_TO_CLIENT))
		return;
	c->cnt->resyncs++;
	if (c->phase == PH_INIT) {
		c->opened = 0; /* the greeting may be what was lost: nothing to hold against */
		midstream(c);
	} else if (c->phase < PH_COMMAND) {
		c->phase = PH_COMMAND;
	}
	mysql_framer_resync(&c->fr[dir]);
	if (c->fr[dir].stopped) {
		stop(c);
		return;
	}
	if (dir == MP_DIR_TO_CLIENT) {
		/*
		 * The response in progress, and maybe whole responses, are gone. The requests
		 * were seen whole and the server ran them: report them (unanswered, flagged
		 * response_lost) rather than lose them. The flow declares a gap as soon as the
		 * client acknowledges past it (flow.c, ack_holes), that is with the client's next
		 * request, so every request pending here was answered inside the hole.
		 */
		c->cnt->dropped_requests += c->q_len;
		flush_pending(c, ts_ns, QE_F_RESPONSE_LOST);
	} else {
		/* Requests queued before the gap still get their responses. */
		c->infile_active = 0;
	}
}

void mysql_conn_close(struct mysql_conn *c, uint64_t ts_ns)
{
	struct mysql_req *head;

	if (c->closed)
		return;
	c->closed = 1;
	/* A prepare whose optional EOF never came is complete. */
	if (!c->stopped && (head = mysql_head(c)) && mysql_resp_complete_but_eof(&c->rs)) {
		stmt_done(c, head, -1);
		q_pop(c);
		drain_no_response(c);
	}
	if (!c->opened && !c->compressed && !c->plain_seen && !c->stopped &&
	    (c->fr[0].skipped_bytes || c->fr[1].skipped_bytes))
		c->cnt->framing_undecided++;
	if (c->stopped)
		drop_pending(c); /* TLS, a replication stream, a broken stream: nothing to say */
	else
		flush_pending(c, ts_ns, 0);
	stop(c);
	if (c->opened && !c->session_opened) {
		c->session_opened = 1;
		session(c, MYSQL_SESSION_OPENED, 0, ts_ns);
	}
	session(c, MYSQL_SESSION_CLOSED, 0, ts_ns);
}

int mysql_conn_learn(struct mysql_conn *c, const struct mysql_identity *id)
{
	int changed = 0;

	if (c->conn_id_known && c->conn_id != id->conn_id) {
		if (!c->learned)
			return 0; /* the greeting named another connection: a stale row */
		/* The client port was reused by a new connection: forget the old one's. */
		c->db_known = 0;
		c->db_ts = 0;
	}
	if (!c->conn_id_known || c->learned) {
		changed |= !c->conn_id_known || c->conn_id != id->conn_id;
		c->conn_id = id->conn_id;
		c->conn_id_known = 1;
		c->learned = 1;
		if (!c->user_known || c->user.len != id->user_len ||
		    memcmp(c->user.data, id->user, id->user_len)) {
			set_user(c, id->user, id->user_len);
			changed = 1;
		}
	}
	/* A schema change the wire showed after the snapshot was read is newer than it. */
	if ((!c->db_known && id->db) || (c->db_ts < id->taken_ns &&
					(c->db_known != !!id->db ||
					 (id->db && (c->db.len != id->db_len ||
						     memcmp(c->db.data, id->db, id->db_len)))))) {
		buf_reset(&c->db);
		c->db_known = id->db && !buf_append(&c->db, id->db, id->db_len);
		changed = 1;
	}
	return changed;
}

const struct mysql_counters *mysql_conn_counters(const struct mysql_conn *c)
{
	return c->cnt;
}

int mysql_conn_is_tls(const struct mysql_conn *c)
{
	return c->tls;
}
