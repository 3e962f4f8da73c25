// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A stats row as a Kafka message: key, JSON value with the report's identity, term header. */
#include <stdio.h>
#include <string.h>

#include "sinks/kafka_msg.h"

size_t kafka_msg_key_id(char *out, uint64_t template_id)
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < 16; i++)
		out[i] = hex[(template_id >> (60 - 4 * i)) & 0xf];
	out[16] = '\0';
	return 16;
}

size_t kafka_msg_key(char *out, const struct agg_stat *s)
{
	if (s->is_other)
		return (size_t)snprintf(out, KAFKA_KEY_MAX, "other");
	return kafka_msg_key_id(out, s->key.template_id);
}

static void key_u64(struct jbuf *b, const char *k, uint64_t v)
{
	jbuf_key(b, k);
	jbuf_u64(b, v);
}

int kafka_msg_value(struct jbuf *value, struct jbuf *row, const struct report_header *h,
		    const struct agg *a, const struct agg_stat *s)
{
	const char *text = NULL;
	size_t len = 0;
	int err;

	/* The row as the report writes it, so the message never drifts from the report. */
	jbuf_reset(row);
	report_write_stat(row, s, agg_keys(a));
	err = jbuf_error(row);
	if (err)
		return err;
	jbuf_reset(value);
	jbuf_obj_open(value);
	jbuf_key(value, "node");
	jbuf_str(value, h->node);
	key_u64(value, "seq", h->seq);
	key_u64(value, "term", h->term);
	key_u64(value, "period_start_ms", h->period_start_ms);
	key_u64(value, "period_end_ms", h->period_end_ms);
	key_u64(value, "started_ms", h->started_ms);
	/* Splice the row's members in: drop its braces, keep the comma owed to them. */
	jbuf_raw(value, ",", 1);
	jbuf_raw(value, row->out.data + 1, row->out.len - 2);
	if (!s->is_other)
		text = agg_template(a, s->key.template_id, &len);
	jbuf_key(value, "template");
	jbuf_strn(value, text, text ? len : 0);
	jbuf_obj_close(value);
	return jbuf_error(value);
}
