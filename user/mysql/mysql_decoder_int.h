/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Internal state shared by the MySQL decoder's request side and response side. */
#ifndef MP_MYSQL_DECODER_INT_H
#define MP_MYSQL_DECODER_INT_H

#include <stdint.h>

#include "lib/buf.h"
#include "mysql/mysql_decoder.h"
#include "mysql/mysql_packet.h"
#include "mysql/mysql_stmt.h"

enum mysql_phase {
	PH_INIT,      /* nothing decided: greeting or a connection joined mid-stream */
	PH_GREETING,  /* the server greeting starts the to-client stream */
	PH_HANDSHAKE, /* greeting seen, waiting for the handshake response */
	PH_AUTH,      /* handshake response seen, until the server's OK or ERR */
	PH_COMMAND,   /* command phase */
};

/* How the response to a command is shaped. */
enum mysql_resp_mode {
	RM_NONE,       /* no response: COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA */
	RM_ONE,	       /* one packet: OK, ERR, EOF or a string (COM_STATISTICS) */
	RM_RESULT,     /* OK | ERR | LOCAL INFILE | result sets, SERVER_MORE_RESULTS_EXISTS loops */
	RM_PREPARE,    /* COM_STMT_PREPARE_OK + definitions, or ERR */
	RM_ROWS,       /* rows until a terminator: COM_STMT_FETCH, COM_FIELD_LIST */
	RM_AUTH,       /* COM_CHANGE_USER: auth switch / more data until OK or ERR */
	RM_STREAM,     /* COM_BINLOG_DUMP: an endless stream, decoding stops */
};

enum mysql_resp_state {
	RS_FIRST,	   /* first packet of a result (or of the next result set) */
	RS_COLDEFS,	   /* column definitions */
	RS_META_EOF,	   /* after definitions: EOF unless CLIENT_DEPRECATE_EOF */
	RS_ROWS,	   /* rows until EOF / OK(0xfe) / ERR */
	RS_PREP_PARAMS,	   /* prepare: parameter definitions */
	RS_PREP_PARAM_EOF, /* prepare: EOF after them unless CLIENT_DEPRECATE_EOF */
	RS_PREP_COLS,	   /* prepare: column definitions */
	RS_PREP_COL_EOF,   /* prepare: EOF after them unless CLIENT_DEPRECATE_EOF */
	RS_AUTH,	   /* change user exchange */
};

/* Results of mysql_resp_packet. */
#define RESP_CONT 0	/* packet consumed, more of this response follows */
#define RESP_DONE 1	/* packet consumed, response complete (events emitted) */
#define RESP_NOT_MINE 2 /* response was complete before this packet (events emitted) */
#define RESP_ERROR 3	/* protocol violation */

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

struct mysql_resp {
	int state; /* enum mysql_resp_state */
	int started;
	int count_rows;
	uint8_t next_seq;
	uint64_t left; /* definitions still to come */
	uint16_t nparams, ncols;
	uint64_t ts_start; /* statement start: request's first byte, or previous statement's end */
	uint64_t ts_first_byte, ts_last;
	uint64_t bytes_out, rows_sent, rows_affected;
	uint32_t flags;
	int error;
	uint16_t err_code;
	char sqlstate[6];
	char err_msg[512];
	size_t err_len;
	const uint8_t *new_db; /* SESSION_TRACK_SCHEMA of the last OK, valid during its packet */
	size_t new_db_len;
	int split_n, split_i;
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
	int stopped;
	int tls;
	int compressed;
	int closed;
	int infile_active; /* LOCAL INFILE: to-server packets are file data until an empty one */
	int deprecate_eof; /* -1 unknown (mid-stream), learned from the first result set */
	uint32_t caps_server, caps_client, caps; /* caps = effective (both sides) */
	int caps_known;
	uint64_t conn_id;
	int conn_id_known;
	struct buf user, db, server_version;
	int user_known, db_known;
	/* pending requests, oldest first */
	struct mysql_req *q;
	size_t q_head, q_len;
	struct mysql_resp rs; /* progress of the oldest request's response */
	size_t *split_off, *split_len;
	int *split_call;
	struct mysql_stmt_table stmts;
};

static inline struct mysql_req *mysql_head(struct mysql_conn *c)
{
	return c->q_len ? &c->q[c->q_head] : NULL;
}

/* mysql_resp.c */
/* Prepares c->rs for the current head request. */
void mysql_resp_start(struct mysql_conn *c);
/* Feeds one to-client packet to the head request; returns RESP_*. */
int mysql_resp_packet(struct mysql_conn *c, struct mysql_req *req, const struct mysql_pkt *p);
/* At close: emits a response complete but for an optional trailing EOF. Returns 1 if emitted. */
int mysql_resp_flush(struct mysql_conn *c, struct mysql_req *req);

/* mysql_decoder.c */
/* Emits the event of statement idx of req (-1: the whole request) from c->rs. */
void mysql_emit(struct mysql_conn *c, struct mysql_req *req, int idx);
/* Replaces the connection's current schema (len 0 with s NULL: unknown). */
void mysql_set_db(struct mysql_conn *c, const void *s, size_t len);
/* Recognises `USE db` (comments, backquotes). Returns 0 and the schema, or -1. */
int mysql_sql_use(const char *sql, size_t len, const char **db, size_t *db_len);
/* Command name for cmd, lower-case. */
const char *mysql_cmd_name(uint8_t cmd);

#endif /* MP_MYSQL_DECODER_INT_H */
