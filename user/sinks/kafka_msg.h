/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A stats row as a Kafka message: key, JSON value with the report's identity, term header. */
#ifndef MP_KAFKA_MSG_H
#define MP_KAFKA_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/jbuf.h"
#include "report/agg.h"
#include "report/report.h"

/* "0000000000000abc" (16 hex digits), or "other" for an overflow row; NUL-terminated. */
#define KAFKA_KEY_MAX 17
size_t kafka_msg_key(char *out, const struct agg_stat *s);

/* A template id as a key: 16 lower-case hex digits and a NUL (as "%016llx" writes it, without
 * printf: the events stream writes one per statement). Returns 16. */
size_t kafka_msg_key_id(char *out, uint64_t template_id);

/*
 * Replaces value with one JSON object: node, seq, term, period_start_ms, period_end_ms,
 * started_ms, then the row's members exactly as the report writes them (template_id,
 * command, db, user, client, count, errors, error_codes, latency_us, ...), then "template"
 * (the text; "" when the period has none). row is a scratch buffer. Returns 0 or -ENOMEM.
 * Pure: no I/O.
 */
int kafka_msg_value(struct jbuf *value, struct jbuf *row, const struct report_header *h,
		    const struct agg *a, const struct agg_stat *s);

#endif /* MP_KAFKA_MSG_H */
