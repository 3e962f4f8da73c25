/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Test helpers for the MySQL decoder: packet builders, a fixture runner replaying
 * conversations whole, split at every offset and byte by byte, and an event log. */
#ifndef MP_MYSQL_FX_H
#define MP_MYSQL_FX_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <linux/types.h>

#include "lib/buf.h"
#include "capture_abi.h"
#include "mysql/event_json.h"
#include "mysql/mysql_decoder.h"
#include "mysql/mysql_proto.h"

/* One step of a conversation: bytes in a direction, or a gap of len bytes. */
#define FX_GAP_SERVER 2
#define FX_GAP_CLIENT 3
struct fx_chunk {
	int dir; /* MP_DIR_*, or FX_GAP_* */
	size_t len;
	const char *data;
};

/* ------------------------------------------------------------ building */

struct fx {
	struct fx_chunk c[128];
	size_t n;
	struct buf cur; /* packets of the chunk being built */
	int cur_dir;
};

static inline void fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->cur_dir = -1;
}

/* Ends the chunk being built (one TCP segment). */
static inline void fx_flush(struct fx *f)
{
	char *d;

	if (f->cur_dir < 0 || !f->cur.len)
		return;
	d = malloc(f->cur.len);
	memcpy(d, f->cur.data, f->cur.len);
	f->c[f->n++] = (struct fx_chunk){ f->cur_dir, f->cur.len, d };
	buf_reset(&f->cur);
	f->cur_dir = -1;
}

/* Appends raw bytes to the current chunk of direction dir. */
static inline void fx_raw(struct fx *f, int dir, const void *p, size_t n)
{
	if (f->cur_dir != dir)
		fx_flush(f);
	f->cur_dir = dir;
	buf_append(&f->cur, p, n);
}

/* Appends a string literal's bytes (its length from the compiler). */
#define FX_RAW_LIT(f, dir, s) fx_raw(f, dir, s, sizeof(s) - 1)

static inline void fx_gap(struct fx *f, int dir, size_t missing)
{
	fx_flush(f);
	f->c[f->n++] = (struct fx_chunk){ dir == MP_DIR_TO_SERVER ? FX_GAP_SERVER : FX_GAP_CLIENT,
					  missing, NULL };
}

/* Appends one packet (header + payload) to direction dir. */
static inline void fx_pkt(struct fx *f, int dir, uint8_t seq, const void *p, size_t n)
{
	uint8_t h[4] = { n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, seq };

	fx_raw(f, dir, h, 4);
	fx_raw(f, dir, p, n);
}

static inline void fx_free(struct fx *f)
{
	for (size_t i = 0; i < f->n; i++)
		free((void *)f->c[i].data);
	buf_free(&f->cur);
}

/* Payload builder. */
struct fx_p {
	uint8_t b[8192];
	size_t n;
};

static inline struct fx_p *fp_u8(struct fx_p *p, uint8_t v)
{
	p->b[p->n++] = v;
	return p;
}

static inline struct fx_p *fp_u16(struct fx_p *p, uint16_t v)
{
	fp_u8(p, v & 0xff);
	return fp_u8(p, v >> 8);
}

static inline struct fx_p *fp_u32(struct fx_p *p, uint32_t v)
{
	fp_u16(p, v & 0xffff);
	return fp_u16(p, v >> 16);
}

static inline struct fx_p *fp_mem(struct fx_p *p, const void *s, size_t n)
{
	memcpy(p->b + p->n, s, n);
	p->n += n;
	return p;
}

static inline struct fx_p *fp_str(struct fx_p *p, const char *s)
{
	return fp_mem(p, s, strlen(s));
}

static inline struct fx_p *fp_cstr(struct fx_p *p, const char *s)
{
	return fp_mem(p, s, strlen(s) + 1);
}

static inline struct fx_p *fp_lenenc(struct fx_p *p, uint64_t v)
{
	if (v < 0xfb)
		return fp_u8(p, v);
	if (v < 0x10000)
		return fp_u16(fp_u8(p, 0xfc), v);
	fp_u8(p, 0xfe);
	fp_u32(p, v & 0xffffffff);
	return fp_u32(p, v >> 32);
}

static inline struct fx_p *fp_lstr(struct fx_p *p, const char *s)
{
	return fp_str(fp_lenenc(p, strlen(s)), s);
}

#define FP(name) struct fx_p name = { .n = 0 }
#define FX_PKT(f, dir, seq, p) fx_pkt(f, dir, seq, (p)->b, (p)->n)

/* Server greeting (Protocol::HandshakeV10). */
static inline void fx_greeting(struct fx *f, uint32_t caps, uint32_t conn_id)
{
	FP(p);

	fp_cstr(fp_u8(&p, 0x0a), "8.0.36-test");
	fp_u32(&p, conn_id);
	fp_str(&p, "abcdefgh");
	fp_u8(&p, 0);
	fp_u16(&p, caps & 0xffff);
	fp_u8(&p, 0x21);
	fp_u16(&p, 2);
	fp_u16(&p, caps >> 16);
	fp_u8(&p, 21);
	fp_mem(&p, "\0\0\0\0\0\0\0\0\0\0", 10);
	fp_str(&p, "ijklmnopqrst");
	fp_u8(&p, 0);
	fp_cstr(&p, "mysql_native_password");
	FX_PKT(f, MP_DIR_TO_CLIENT, 0, &p);
}

/* Client Protocol::HandshakeResponse41. */
static inline void fx_login(struct fx *f, uint32_t caps, const char *user, const char *db)
{
	FP(p);

	caps |= CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	if (db)
		caps |= CLIENT_CONNECT_WITH_DB;
	fp_u32(&p, caps);
	fp_u32(&p, 1 << 24);
	fp_u8(&p, 0x21);
	fp_mem(&p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 23);
	fp_cstr(&p, user);
	fp_u8(&p, 20);
	fp_str(&p, "01234567890123456789");
	if (db)
		fp_cstr(&p, db);
	fp_cstr(&p, "mysql_native_password");
	FX_PKT(f, MP_DIR_TO_SERVER, 1, &p);
}

static inline void fx_ok(struct fx *f, uint8_t seq, uint64_t affected, uint16_t status)
{
	FP(p);

	fp_lenenc(fp_lenenc(fp_u8(&p, 0), affected), 0);
	fp_u16(fp_u16(&p, status), 0);
	FX_PKT(f, MP_DIR_TO_CLIENT, seq, &p);
}

/* OK with the 0xfe header: a result set's end under CLIENT_DEPRECATE_EOF. */
static inline void fx_ok_fe(struct fx *f, uint8_t seq, uint16_t status)
{
	FP(p);

	fp_u8(fp_u8(fp_u8(&p, 0xfe), 0), 0);
	fp_u16(fp_u16(&p, status), 0);
	FX_PKT(f, MP_DIR_TO_CLIENT, seq, &p);
}

static inline void fx_eof(struct fx *f, uint8_t seq, uint16_t status)
{
	FP(p);

	fp_u16(fp_u16(fp_u8(&p, 0xfe), 0), status);
	FX_PKT(f, MP_DIR_TO_CLIENT, seq, &p);
}

static inline void fx_err(struct fx *f, uint8_t seq, uint16_t code, const char *state,
			  const char *msg)
{
	FP(p);

	fp_u16(fp_u8(&p, 0xff), code);
	fp_str(fp_u8(&p, '#'), state);
	fp_str(&p, msg);
	FX_PKT(f, MP_DIR_TO_CLIENT, seq, &p);
}

static inline void fx_coldef(struct fx *f, uint8_t seq, const char *name)
{
	FP(p);

	fp_lstr(&p, "def");
	fp_lstr(&p, "db");
	fp_lstr(&p, "t");
	fp_lstr(&p, "t");
	fp_lstr(&p, name);
	fp_lstr(&p, name);
	fp_u8(&p, 0x0c);
	fp_u16(&p, 0x21);
	fp_u32(&p, 11);
	fp_u8(&p, 0x03);
	fp_u16(&p, 0);
	fp_u8(&p, 0);
	fp_u16(&p, 0);
	FX_PKT(f, MP_DIR_TO_CLIENT, seq, &p);
}

static inline void fx_cmd(struct fx *f, uint8_t cmd, const char *text)
{
	FP(p);

	fp_u8(&p, cmd);
	if (text)
		fp_str(&p, text);
	FX_PKT(f, MP_DIR_TO_SERVER, 0, &p);
}

/*
 * A text result set of ncols columns and nrows rows ("r<i>" values) starting at
 * sequence id seq; deprecate_eof drops the EOF after the definitions and ends
 * with an OK(0xfe). Returns the next sequence id.
 */
static inline uint8_t fx_resultset(struct fx *f, uint8_t seq, int ncols, int nrows,
				   int deprecate_eof, uint16_t status)
{
	FP(p);

	fp_lenenc(&p, ncols);
	FX_PKT(f, MP_DIR_TO_CLIENT, seq++, &p);
	for (int i = 0; i < ncols; i++)
		fx_coldef(f, seq++, "c");
	if (!deprecate_eof)
		fx_eof(f, seq++, 0x0002);
	for (int r = 0; r < nrows; r++) {
		FP(row);
		char v[16];

		for (int i = 0; i < ncols; i++) {
			snprintf(v, sizeof(v), "r%d", r);
			fp_lstr(&row, v);
		}
		FX_PKT(f, MP_DIR_TO_CLIENT, seq++, &row);
	}
	if (deprecate_eof)
		fx_ok_fe(f, seq++, status);
	else
		fx_eof(f, seq++, status);
	return seq;
}

/* ------------------------------------------------------------ running */

struct fx_ev {
	char command[32];
	uint8_t cmd; /* the command byte, which command names */
	char sql[512];
	int sql_null;
	size_t sql_len;
	char user[64];
	int user_null;
	char db[64];
	int db_null;
	int status;
	unsigned error_code;
	char sqlstate[6];
	char error_msg[128];
	uint64_t rows_sent, rows_affected, bytes_in, bytes_out, latency_us, first_byte_us, ts_us;
	uint64_t conn_id;
	int conn_id_known;
	uint32_t flags;
};

struct fx_result {
	struct buf json; /* every event as JSON, in order */
	struct fx_ev ev[64];
	int n;
	struct mysql_counters cnt;
};

static inline void fx_copy(char *dst, size_t cap, const char *s, size_t n, int *null)
{
	if (null)
		*null = !s;
	if (!s) {
		dst[0] = 0;
		return;
	}
	n = n < cap - 1 ? n : cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static inline void fx_on_event(void *ctx, const struct query_event *ev)
{
	struct fx_result *r = ctx;
	struct fx_ev *e;

	event_json_append(&r->json, ev);
	if (r->n >= 64)
		return;
	e = &r->ev[r->n++];
	fx_copy(e->command, sizeof(e->command), ev->command, strlen(ev->command), NULL);
	e->cmd = ev->cmd;
	fx_copy(e->sql, sizeof(e->sql), ev->sql, ev->sql_len, &e->sql_null);
	e->sql_len = ev->sql_len;
	fx_copy(e->user, sizeof(e->user), ev->user, ev->user_len, &e->user_null);
	fx_copy(e->db, sizeof(e->db), ev->db, ev->db_len, &e->db_null);
	e->status = ev->status;
	e->error_code = ev->error_code;
	memcpy(e->sqlstate, ev->sqlstate, sizeof(e->sqlstate));
	fx_copy(e->error_msg, sizeof(e->error_msg), ev->error_msg, ev->error_msg_len, NULL);
	e->rows_sent = ev->rows_sent;
	e->rows_affected = ev->rows_affected;
	e->bytes_in = ev->bytes_in;
	e->bytes_out = ev->bytes_out;
	e->latency_us = ev->latency_us;
	e->first_byte_us = ev->first_byte_us;
	e->ts_us = ev->ts_us;
	e->conn_id = ev->conn_id;
	e->conn_id_known = ev->conn_id_known;
	e->flags = ev->flags;
}

/* A minimal splitter: ';' outside quotes ends a statement; CALL is recognised. */
static inline int fx_split(void *ctx, const char *s, size_t n, size_t *off, size_t *len,
			   int *is_call, int max)
{
	int k = 0;
	size_t i = 0;

	while (i < n && k < max) {
		size_t b, e;
		char q = 0;

		while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t'))
			i++;
		if (i >= n)
			break;
		for (b = i; i < n; i++) {
			if (q) {
				if (s[i] == q)
					q = 0;
			} else if (s[i] == '\'' || s[i] == '"' || s[i] == '`') {
				q = s[i];
			} else if (s[i] == ';') {
				break;
			}
		}
		e = i;
		if (i < n)
			i++; /* the ';' */
		if (k == max - 1)
			e = n; /* the last slot takes the rest */
		off[k] = b;
		len[k] = e - b;
		is_call[k] = e - b >= 5 && !strncasecmp(s + b, "call ", 5);
		k++;
		if (e == n)
			break;
	}
	return k;
}

static const struct mysql_callbacks fx_cb = { .on_event = fx_on_event, .split_sql = fx_split };

#define FX_WHOLE 0
#define FX_BYTES ((size_t)-1)

/* Replays chunks; split: FX_WHOLE, FX_BYTES (one byte per call) or k (each
 * chunk fed as [0,k) then [k,len)). Chunk i is stamped 1 s + i ms. */
static inline void fx_run(const struct fx_chunk *c, size_t n, size_t split,
			  const struct mysql_limits *lim, struct fx_result *r)
{
	struct mysql_conn *conn;

	memset(r, 0, sizeof(*r));
	conn = mysql_conn_new(&fx_cb, r, lim, &r->cnt);
	if (!conn)
		abort();
	for (size_t i = 0; i < n; i++) {
		const uint8_t *d = (const uint8_t *)c[i].data;
		uint64_t ts = 1000000000ull + i * 1000000ull;
		size_t len = c[i].len;

		if (c[i].dir == FX_GAP_SERVER || c[i].dir == FX_GAP_CLIENT) {
			mysql_gap(conn, c[i].dir - FX_GAP_SERVER, len, ts);
			continue;
		}
		if (split == FX_BYTES) {
			for (size_t j = 0; j < len; j++)
				mysql_feed(conn, c[i].dir, d + j, 1, ts);
		} else if (split && split < len) {
			mysql_feed(conn, c[i].dir, d, split, ts);
			mysql_feed(conn, c[i].dir, d + split, len - split, ts);
		} else {
			mysql_feed(conn, c[i].dir, d, len, ts);
		}
	}
	mysql_conn_close(conn, 1000000000ull + n * 1000000ull);
	mysql_conn_free(conn);
}

static inline void fx_result_free(struct fx_result *r)
{
	buf_free(&r->json);
}

/*
 * Runs the fixture whole into ref, then split at every offset and byte by byte;
 * returns 0 when every replay produced the same events, else the failing split
 * (FX_BYTES for the byte-by-byte replay) after printing both event logs.
 */
static inline size_t fx_run_all(const struct fx_chunk *c, size_t n,
				const struct mysql_limits *lim, struct fx_result *ref)
{
	size_t maxlen = 0;
	struct fx_result r;

	fx_run(c, n, FX_WHOLE, lim, ref);
	for (size_t i = 0; i < n; i++)
		maxlen = c[i].len > maxlen && c[i].data ? c[i].len : maxlen;
	for (size_t k = 1; k <= maxlen + 1; k++) {
		size_t split = k <= maxlen ? k : FX_BYTES;

		fx_run(c, n, split, lim, &r);
		if (r.json.len != ref->json.len ||
		    (r.json.len && memcmp(r.json.data, ref->json.data, r.json.len)) ||
		    r.cnt.events != ref->cnt.events) {
			fprintf(stderr, "# split %zu differs:\n# ref: %.*s\n# got: %.*s\n", split,
				(int)ref->json.len, ref->json.data, (int)r.json.len, r.json.data);
			fx_result_free(&r);
			return split;
		}
		fx_result_free(&r);
	}
	return 0;
}

#endif /* MP_MYSQL_FX_H */
