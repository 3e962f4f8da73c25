/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A connection's prepared statements: statement id -> prepared text. */
#ifndef MP_MYSQL_STMT_H
#define MP_MYSQL_STMT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct mysql_stmt {
	uint32_t id;
	int used;
	int truncated;	 /* text was cut at the decoder's cap */
	struct buf text; /* kept across reuse of the slot */
};

/* Open addressing with linear probing; slots keep their text buffers so a
 * prepare/close churn does not allocate in the steady state. */
struct mysql_stmt_table {
	struct mysql_stmt *slots;
	size_t cap;  /* power of two, or 0 */
	size_t used;
	size_t max;  /* hard cap on live statements */
};

void mysql_stmt_table_init(struct mysql_stmt_table *t, size_t max);
/* Adds or replaces id. Returns 0, -ENOSPC when max statements live, -ENOMEM. */
int mysql_stmt_put(struct mysql_stmt_table *t, uint32_t id, const char *text, size_t len,
		   int truncated);
/* Returns the statement or NULL. */
const struct mysql_stmt *mysql_stmt_get(const struct mysql_stmt_table *t, uint32_t id);
/* Removes id if present. */
void mysql_stmt_del(struct mysql_stmt_table *t, uint32_t id);
/* Removes every statement (COM_CHANGE_USER, COM_RESET_CONNECTION). */
void mysql_stmt_clear(struct mysql_stmt_table *t);
void mysql_stmt_free(struct mysql_stmt_table *t);

#endif /* MP_MYSQL_STMT_H */
