/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Formats a query event as one JSON line (fields in README.md, "Query events"). */
#ifndef MP_EVENT_JSON_H
#define MP_EVENT_JSON_H

#include <stddef.h>

#include "lib/buf.h"
#include "mysql/query_event.h"

/*
 * Appends s (n bytes, any content) as a JSON string with quotes; control
 * characters are escaped and invalid UTF-8 bytes become \ufffd, so the result
 * is always valid JSON. s == NULL appends null. Returns 0 or -ENOMEM.
 */
int json_append_str(struct buf *b, const char *s, size_t n);

/*
 * Appends ev as one JSON object followed by '\n'. Unknown values are null.
 * Returns 0 or -ENOMEM (the buffer may then hold a partial line: reset it).
 */
int event_json_append(struct buf *b, const struct query_event *ev);

#endif /* MP_EVENT_JSON_H */
