/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The per-connection MySQL protocol decoder: in-order bytes in, query events out. */
#ifndef MP_MYSQL_DECODER_H
#define MP_MYSQL_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "mysql/query_event.h"

struct mysql_conn;

/* What happened to the connection itself (not a statement). */
enum mysql_session_kind {
	MYSQL_SESSION_OPENED = 0,	/* seen from its start; sent once, with the login outcome */
	MYSQL_SESSION_LOGIN_OK = 1,	/* the server's OK to the handshake */
	MYSQL_SESSION_LOGIN_FAILED = 2, /* its ERR (before or after the handshake response) */
	MYSQL_SESSION_CLOSED = 3,	/* mysql_conn_close, for every connection */
};

struct mysql_session_event {
	int kind;	     /* enum mysql_session_kind */
	uint16_t error_code; /* LOGIN_FAILED: the ERR packet's code */
	const char *user;    /* the login user, NULL when unknown; user_len bytes */
	size_t user_len;
	uint64_t ts_ns;
};

struct mysql_callbacks {
	/* One call per completed statement; pointers in ev live only during the call. */
	void (*on_event)(void *ctx, const struct query_event *ev);
	/*
	 * Optional: splits a multi-statement COM_QUERY text. Fills off/len_out/is_call
	 * for up to max statements and returns how many; <= 1 means "not split" (the
	 * whole text is one statement, all its result sets one event). is_call[i] says
	 * statement i is a CALL (several result sets, then its own OK).
	 */
	int (*split_sql)(void *ctx, const char *sql, size_t len, size_t *off, size_t *len_out,
			 int *is_call, int max);
	/*
	 * Optional: logins and the connection's end. A connection seen from its start
	 * (mysql_conn_opened) gives OPENED once, then LOGIN_OK or LOGIN_FAILED (a TLS login
	 * gives neither: OPENED comes at the close); every connection ends with CLOSED.
	 */
	void (*on_session)(void *ctx, const struct mysql_session_event *ev);
};

/* Bounds; a zero field takes the default shown. */
struct mysql_limits {
	size_t max_sql;	    /* statement bytes kept (1 MiB); longer ones are flagged truncated */
	size_t max_pending; /* pipelined requests awaiting a response (64) */
	size_t max_stmts;   /* live prepared statements per connection (4096) */
	int max_split;	    /* statements of one multi-statement query split apart (64) */
};

/* Counters; mysql_conn_new can accumulate into a caller-owned struct shared by
 * the connections of one worker. */
struct mysql_counters {
	uint64_t events;	     /* query events emitted */
	uint64_t decode_errors;	     /* protocol violations (each leads to a resync) */
	uint64_t resyncs;	     /* gaps and errors after which a direction resynchronised */
	uint64_t skipped_bytes;	     /* bytes dropped while looking for a packet boundary */
	uint64_t skipped_responses;  /* responses whose request was not seen */
	uint64_t dropped_requests;   /* requests whose response was lost in a capture gap */
	uint64_t unanswered;	     /* requests reported unanswered: closed before a response */
	uint64_t tls_conns;	     /* connections that switched to TLS (not decoded) */
	uint64_t compressed_conns;   /* connections using the compressed protocol */
	uint64_t midstream_conns;    /* connections joined after their handshake */
	uint64_t compressed_midstream; /* of those, found compressed from the bytes */
	uint64_t framing_undecided;  /* joined mid-stream, closed before plain or compressed
				      * framing could be told (bytes skipped, no request read) */
	uint64_t unknown_stmt;	     /* executes whose prepare was never seen */
	uint64_t truncated;	     /* statements longer than max_sql */
	uint64_t pipeline_overflow;  /* connections abandoned: too many pending requests */
	uint64_t stmt_table_full;    /* prepares not remembered: max_stmts reached */
};

/*
 * Creates the decoder of one connection. cnt may be NULL (the connection keeps
 * its own counters) or a caller-owned struct the counters are added to; it
 * must outlive the connection. Returns NULL with errno set (ENOMEM, EINVAL).
 */
struct mysql_conn *mysql_conn_new(const struct mysql_callbacks *cb, void *ctx,
				  const struct mysql_limits *lim, struct mysql_counters *cnt);
/*
 * Says the connection was seen from its start (the capture saw the SYN), before any bytes
 * are fed: the first bytes of the server must then be its greeting and the client must not
 * speak before it. Bytes that break this are a protocol error, counted once (a greeting lost
 * by the capture while the client's reply was not counts too, unless the loss was reported
 * first with mysql_gap); decoding then continues as for a connection joined mid-stream.
 * Without this call the decoder cannot tell a connection that is not MySQL from one joined
 * mid-stream.
 */
void mysql_conn_opened(struct mysql_conn *c);
/*
 * Feeds bytes of direction dir (MP_DIR_TO_SERVER or MP_DIR_TO_CLIENT) in
 * stream order; ts_ns stamps all of them. Events come out through the
 * callbacks before it returns. Returns 0, or -EINVAL for a bad dir. Bad bytes
 * are counted and resynchronised, never an error.
 */
int mysql_feed(struct mysql_conn *c, int dir, const uint8_t *data, size_t len, uint64_t ts_ns);
/* Reports missing_bytes lost in dir: the decoder resynchronises, never guesses across. */
void mysql_gap(struct mysql_conn *c, int dir, uint64_t missing_bytes, uint64_t ts_ns);
/*
 * The connection ended (closed, expired, the capture or the agent stopped) at ts_ns: flushes
 * what can be reported (quit, a response complete but for an optional trailer), then reports
 * every request still waiting for its response as an event of status QE_STATUS_UNANSWERED
 * whose latency is the time it waited until ts_ns (counted in `unanswered`).
 */
void mysql_conn_close(struct mysql_conn *c, uint64_t ts_ns);
/*
 * The statement the server is working on now, if any: fills *ev (status QE_STATUS_RUNNING,
 * ts_us its start, latency_us the time it has run until now_ns) and returns 1; returns 0
 * when no request waits for a response. Pointers in ev live until the next call into c.
 * Changes nothing: for periodic "still running" listings.
 */
int mysql_conn_running(struct mysql_conn *c, uint64_t now_ns, struct query_event *ev);
/* Frees c; accepts NULL. Does not call mysql_conn_close. */
void mysql_conn_free(struct mysql_conn *c);
/* What the server says of a connection (the watcher's PROCESSLIST row). */
struct mysql_identity {
	uint64_t conn_id;
	const char *user; /* user_len bytes */
	size_t user_len;
	const char *db; /* NULL: no default database */
	size_t db_len;
	uint64_t taken_ns; /* when the server was asked, on the segments' clock */
};

/*
 * Fills in what the wire did not show: the id and user of a connection joined mid-stream
 * (a connection whose greeting was seen keeps its own, and ignores a row of another id), and
 * the current database unless the wire changed it after the row was read (taken_ns) — so a
 * USE the wire never showed (inside a procedure, before the capture) is followed too. Events
 * after the call carry it. Returns 1 if anything changed, else 0.
 */
int mysql_conn_learn(struct mysql_conn *c, const struct mysql_identity *id);

/* The counters this connection adds to. */
const struct mysql_counters *mysql_conn_counters(const struct mysql_conn *c);
/* Non-zero once the connection switched to TLS (decoding stopped). */
int mysql_conn_is_tls(const struct mysql_conn *c);

#endif /* MP_MYSQL_DECODER_H */
