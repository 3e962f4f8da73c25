/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The query event: one completed statement as seen on the wire (JSON fields: README.md). */
#ifndef MP_QUERY_EVENT_H
#define MP_QUERY_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define QE_STATUS_OK 0
#define QE_STATUS_ERROR 1
/* No response came: the connection closed, the capture ended or the agent stopped first;
 * latency_us is the time it waited. */
#define QE_STATUS_UNANSWERED 2
/* Still waiting for its response (mysql_conn_running): latency_us is the time so far. */
#define QE_STATUS_RUNNING 3

/* Event flags (the JSON "flags" array, in this bit order). */
#define QE_F_NO_INDEX_USED (1u << 0)	  /* SERVER_QUERY_NO_INDEX_USED in a status */
#define QE_F_NO_GOOD_INDEX_USED (1u << 1) /* SERVER_QUERY_NO_GOOD_INDEX_USED */
#define QE_F_TRUNCATED (1u << 2)	  /* sql longer than the decoder keeps */
#define QE_F_TLS (1u << 3)		  /* connection switched to TLS */
#define QE_F_COMPRESSED (1u << 4)	  /* compressed protocol */
#define QE_F_CURSOR (1u << 5)		  /* execute opened a cursor */
#define QE_F_NO_RESPONSE (1u << 6)	  /* command without a response (quit, close) */
#define QE_F_MULTI (1u << 7)		  /* one statement of a multi-statement query */
#define QE_F_TEMPLATE_TRUNCATED (1u << 8) /* set by the templater */
#define QE_F_RESPONSE_LOST (1u << 9)	  /* unanswered: the response fell in a capture gap */

/* A peer address; family 0 means unknown (printed as null). */
struct qe_addr {
	uint8_t addr[16]; /* IPv4 uses the first 4 bytes */
	uint16_t port;	  /* host byte order */
	uint8_t family;	  /* 0, 4 or 6 */
};

/*
 * Pointers inside an event are valid only during the callback that delivers
 * it. Strings are not NUL-terminated: use the _len fields. A NULL pointer
 * means unknown (JSON null).
 */
struct query_event {
	uint64_t ts_us;		/* first byte of the request (source clock, µs) */
	uint64_t latency_us;	/* last byte of the response - first byte of the request */
	uint64_t first_byte_us; /* first byte of the response - first byte of the request */
	struct qe_addr client;	/* filled by the caller (flow table) */
	struct qe_addr server;
	uint64_t conn_id; /* server thread id from the handshake */
	int conn_id_known;
	const char *user;
	size_t user_len;
	const char *db;
	size_t db_len;
	const char *command; /* lower-case command name, NUL-terminated, static */
	uint8_t cmd;	     /* the request's command byte (COM_*), which command names */
	const char *sql;     /* statement text (prepared text for execute) */
	size_t sql_len;	     /* bytes at sql (<= the decoder's cap) */
	const char *template; /* filled by the caller (templater) */
	size_t template_len;
	uint64_t template_id;
	int has_template;
	int status; /* QE_STATUS_* */
	uint16_t error_code;
	char sqlstate[6]; /* NUL-terminated; empty when none */
	const char *error_msg;
	size_t error_msg_len;
	uint64_t rows_sent;
	uint64_t rows_affected;
	uint64_t bytes_in;  /* request bytes, packet headers included */
	uint64_t bytes_out; /* response bytes, packet headers included */
	uint32_t flags;	    /* QE_F_* */
};

#endif /* MP_QUERY_EVENT_H */
