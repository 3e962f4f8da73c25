// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* libFuzzer target for the sinks' writers: any report a master accepts becomes ClickHouse rows
 * and Kafka messages that are each valid JSON, one per row. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/jread.h"
#include "report/report.h"
#include "sinks/ch_rows.h"
#include "sinks/kafka_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each line is one JSON object; returns the number of lines. */
static size_t json_lines(const struct jbuf *b)
{
	size_t n = 0;

	for (const char *p = b->out.data; p && *p; n++) {
		const char *nl = strchr(p, '\n');
		struct jread r;

		if (!nl || jread_load(&r, p, (size_t)(nl - p)) != 0)
			__builtin_trap();
		jread_free(&r);
		p = nl + 1;
	}
	return n;
}

static void check_kafka(const struct report_header *h, const struct agg *a,
			const struct agg_stat *s, struct jbuf *v, struct jbuf *row)
{
	char key[KAFKA_KEY_MAX];
	struct jread r;

	if (kafka_msg_key(key, s) >= KAFKA_KEY_MAX || kafka_msg_value(v, row, h, a, s) != 0)
		__builtin_trap();
	if (jread_load(&r, v->out.data, v->out.len) != 0)
		__builtin_trap();
	jread_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agg_config cfg = {
		.max_keys = 4, .max_slow = 2, .slow_threshold_us = 1,
		.template_max_len = 64, .sql_max_len = 64,
	};
	struct report_header h;
	struct agg *a = agg_new(&cfg);
	struct jbuf b, v, row;
	size_t n;

	if (!a)
		return 0;
	jbuf_init(&b);
	jbuf_init(&v);
	jbuf_init(&row);
	if (report_parse(a, &h, NULL, (const char *)data, size) == 0) {
		n = ch_rows_metrics(&b, &h, a);
		if (jbuf_error(&b) || json_lines(&b) != n)
			__builtin_trap();
		jbuf_reset(&b);
		n = ch_rows_slow(&b, &h, a);
		if (jbuf_error(&b) || json_lines(&b) != n || n != agg_slow_count(a))
			__builtin_trap();
		for (size_t i = 0; i < agg_stat_count(a); i++)
			check_kafka(&h, a, agg_stat_at(a, i), &v, &row);
		for (int c = 0; c < AGG_CMD_COUNT; c++)
			if (agg_other(a, c))
				check_kafka(&h, a, agg_other(a, c), &v, &row);
	}
	jbuf_free(&b);
	jbuf_free(&v);
	jbuf_free(&row);
	agg_free(a);
	return 0;
}
