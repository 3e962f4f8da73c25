/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Splitting a multi-statement COM_QUERY into its statements. */
#ifndef MP_SQL_SPLIT_H
#define MP_SQL_SPLIT_H

#include <stddef.h>

struct sql_span {
	size_t off; /* into the input */
	size_t len;
};

/*
 * Splits sql[0..len) at the ";" that end statements. Quotes, comments and the BEGIN ... END
 * bodies of CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT (and BEGIN NOT ATOMIC blocks) are never
 * split. Spans are trimmed of whitespace and the ";"; statements holding only comments are
 * skipped. Fills at most max_spans spans and returns how many statements there are (which
 * may exceed max_spans), or -EINVAL when spans is NULL with max_spans > 0 or sql is NULL
 * with len > 0.
 */
int sql_split(const char *sql, size_t len, struct sql_span *spans, int max_spans);

/* Whether the statement is a CALL (its first word after comments): returns 1 or 0. */
int sql_is_call(const char *stmt, size_t len);

#endif
