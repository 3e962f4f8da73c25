/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Per-period connection and login counts per (user, client address): the report's "connections". */
#ifndef MP_SESSIONS_H
#define MP_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* User bytes kept per row (MySQL user names are at most 80 characters). */
#define SESS_USER_MAX 256
/* Login error codes counted one by one per row; larger ones summed (the rule of agg.h). */
#define SESS_ERR_CODES 16

enum sess_kind {
	SESS_OPENED = 0,       /* a connection the capture saw open (its SYN) */
	SESS_LOGIN_OK = 1,     /* the server accepted the handshake */
	SESS_LOGIN_FAILED = 2, /* the server refused it with an ERR packet (code) */
	SESS_CLOSED = 3,       /* a connection ended (also one joined mid-stream) */
};

struct sess_row {
	uint64_t opened, logins, failed, closed;
	uint64_t err_count[SESS_ERR_CODES]; /* count of err_code[i] */
	uint64_t err_other;		    /* failures whose code is above every err_code[] */
	uint16_t err_code[SESS_ERR_CODES];  /* ascending */
	uint8_t err_n;
	bool is_other; /* rows beyond max_rows: user and client empty */
	uint8_t addr[16]; /* AF_INET: the first 4 bytes, the rest zero */
	uint8_t family;	  /* AF_INET, AF_INET6 or 0 (unknown) */
	uint16_t user_len;
	char user[SESS_USER_MAX];
};

struct sess_table;

/* Returns NULL with errno set (ENOMEM, EINVAL for max_rows 0). max_rows: rows per period,
 * further keys go to one "other" row. */
struct sess_table *sess_new(uint32_t max_rows);
void sess_free(struct sess_table *t);
void sess_reset(struct sess_table *t);

/* Counts one session event of (user, client). user NULL: unknown (""). Returns 0 or -ENOMEM
 * (then counted in the "other" row). */
int sess_add(struct sess_table *t, enum sess_kind kind, uint16_t code, const char *user,
	     size_t user_len, const uint8_t *addr, uint8_t family);
/* dst row += src row (another table's, a parsed report's). Returns 0 or -ENOMEM. */
int sess_merge_row(struct sess_table *t, const struct sess_row *r);
/* Every row of src into dst. Returns 0 or -ENOMEM. */
int sess_merge(struct sess_table *dst, const struct sess_table *src);

/* Rows in insertion order, the "other" row (if any) last. */
size_t sess_count(const struct sess_table *t);
const struct sess_row *sess_at(const struct sess_table *t, size_t i);

/* Adds n of code to a bounded code table: the `max` smallest codes exactly, the rest in
 * *other (merging stays exact whatever the order; agg.h says why). */
void codes_add(uint16_t *code, uint64_t *count, uint8_t *n, uint64_t *other, unsigned max,
	       uint16_t c, uint64_t k);

#endif /* MP_SESSIONS_H */
