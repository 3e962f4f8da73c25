/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The response parser: a connection's to-client packets in, what each one meant out. */
#ifndef MP_MYSQL_RESP_H
#define MP_MYSQL_RESP_H

#include <stddef.h>
#include <stdint.h>

#include "mysql/mysql_packet.h"

/*
 * A leaf: it keeps only where it is inside the response it was told to expect, and returns
 * what each packet said. It emits nothing and changes nothing outside its struct; the decoder
 * (the state machine) decides which events and which connection changes follow. Like the
 * framer it is incremental (one packet at a time, any number of calls per response) and does
 * not allocate. Not thread-safe; one per connection.
 */

/* How the response to a command is shaped (the decoder's command table picks one). */
enum mysql_resp_mode {
	MYSQL_RM_NONE,	  /* no response: COM_QUIT, COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA */
	MYSQL_RM_ONE,	  /* one packet: OK, ERR, EOF or a string (COM_STATISTICS) */
	MYSQL_RM_RESULT,  /* OK | ERR | LOCAL INFILE | result sets; SERVER_MORE_RESULTS_EXISTS
			     loops */
	MYSQL_RM_PREPARE, /* COM_STMT_PREPARE_OK + definitions, or ERR */
	MYSQL_RM_ROWS,	  /* rows until a terminator: COM_STMT_FETCH, COM_FIELD_LIST */
	MYSQL_RM_AUTH,	  /* COM_CHANGE_USER: auth switch / more data until OK or ERR */
	MYSQL_RM_STREAM,  /* COM_BINLOG_DUMP: an endless stream, decoding stops */
};

/* Verdicts of mysql_resp_packet. */
#define MYSQL_RESP_MORE 0     /* packet consumed, more of this response follows */
#define MYSQL_RESP_DONE 1     /* packet consumed, the response is complete */
#define MYSQL_RESP_NOT_MINE 2 /* the response was complete before this packet (an optional EOF
				 did not come): the packet starts the next response */
#define MYSQL_RESP_BAD 3      /* protocol violation: the response cannot be followed */

/* What a consumed packet was (struct mysql_resp_out.what). */
enum mysql_resp_what {
	MYSQL_RW_PART,	   /* nothing to report: a definition, a row, an auth switch, a
			      progress report, or the last packet of a response that carries
			      no result */
	MYSQL_RW_OK,	   /* an OK (or an EOF) where a result was expected: one result ended */
	MYSQL_RW_ROWS_END, /* a result set ended: its terminator, or its definitions followed by
			      an EOF saying a cursor was opened (rows come by COM_STMT_FETCH) */
	MYSQL_RW_ERR,	   /* an ERR: the command failed, its response is complete */
	MYSQL_RW_INFILE,   /* LOCAL INFILE Request: the client sends the file, then an empty packet,
			      then the server answers as if this was the first packet */
	MYSQL_RW_PREPARED, /* COM_STMT_PREPARE_OK: the statement id and its definition counts */
};

/*
 * Fields are set only for the kinds named; pointers point into the packet and live only as
 * long as it does.
 */
struct mysql_resp_out {
	int what; /* enum mysql_resp_what */
	/* OK, ROWS_END */
	uint16_t status;	/* server status flags (0 when the packet is too short) */
	uint64_t affected_rows; /* OK packets only: 0 for an EOF */
	const uint8_t *schema;	/* SESSION_TRACK_SCHEMA, the new current schema, or NULL */
	size_t schema_len;
	/* OK, ROWS_END, ERR: rows of the result set that ended (for an ERR: sent before it) */
	uint64_t rows;
	/* ERR */
	uint16_t err_code;
	const uint8_t *sqlstate; /* 5 characters after '#' (CLIENT_PROTOCOL_41), or NULL */
	const uint8_t *err_msg;
	size_t err_len;
	/* PREPARED */
	uint32_t stmt_id;
	uint16_t ncols, nparams;
};

struct mysql_resp {
	/* What the connection negotiated, kept across responses. */
	int8_t deprecate_eof; /* CLIENT_DEPRECATE_EOF: -1 unknown (mid-stream), then learned
				 from the first result set that shows it */
	int8_t session_track; /* CLIENT_SESSION_TRACK: -1 unknown (session state is parsed) */
	/* The response in progress. */
	uint8_t mode;	    /* enum mysql_resp_mode */
	uint8_t state;	    /* private to mysql_resp.c */
	uint8_t count_rows; /* rows are result rows (not COM_FIELD_LIST's definitions) */
	uint8_t next_seq;   /* sequence id the server's next packet should carry */
	uint16_t nparams, ncols;
	uint64_t left; /* definitions still to come */
	uint64_t rows; /* rows of the current result set */
};

/* Prepares rs for a new connection: nothing negotiated is known. */
void mysql_resp_init(struct mysql_resp *rs);
/* The effective capabilities of the connection (both sides), from its handshake. */
void mysql_resp_set_caps(struct mysql_resp *rs, uint32_t caps);
/*
 * Expects the response to a request shaped as mode (MYSQL_RM_*, not NONE or STREAM) whose
 * last packet had sequence id seq. count_rows 0: the rows are not result rows.
 */
void mysql_resp_start(struct mysql_resp *rs, int mode, uint8_t seq, int count_rows);
/*
 * Parses the next to-client packet of the expected response: returns a MYSQL_RESP_* verdict
 * and, unless NOT_MINE, says in out what the packet was.
 */
int mysql_resp_packet(struct mysql_resp *rs, const struct mysql_pkt *p, struct mysql_resp_out *out);
/*
 * Returns 1 when the response is complete but for an optional trailing EOF (prepare
 * definitions while CLIENT_DEPRECATE_EOF is unknown): at the connection's close, or when
 * the next packet turns out NOT_MINE, it counts as complete. 0 otherwise.
 */
int mysql_resp_complete_but_eof(const struct mysql_resp *rs);

/* The client sent packet seq inside the exchange (LOCAL INFILE data, auth data). */
static inline void mysql_resp_client_packet(struct mysql_resp *rs, uint8_t seq)
{
	rs->next_seq = seq + 1;
}

/* Sequence id the next packet of the response should carry (resync probes use it). */
static inline uint8_t mysql_resp_next_seq(const struct mysql_resp *rs)
{
	return rs->next_seq;
}

#endif /* MP_MYSQL_RESP_H */
