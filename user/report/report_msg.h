/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A report read back from another node, held as read until it is merged (report_msg.c). */
#ifndef MP_REPORT_MSG_H
#define MP_REPORT_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "report/agg.h"
#include "report/report.h"

/*
 * How a master takes in a slave's report: report_msg_parse reads and checks the whole message
 * first (nothing of a bad message is merged), keeping its rows as they were read — flat
 * records with their names, error codes and histogram buckets in shared arrays, no hash table,
 * no histogram — and report_msg_merge then adds each row straight into the period's
 * aggregator (agg_merge_row). What is small per message (slow and running samples,
 * connections, keys, dropped counts) goes into an aggregator of its own, `rest`, reset per
 * message.
 *
 * Strings point into the message's own buffer: a report_msg stays valid until the next
 * report_msg_parse on it. One thread uses a report_msg.
 */
struct report_msg_row;
struct report_msg_tmpl;

struct report_msg {
	struct report_header h;
	struct report_capture c;
	struct agg *rest; /* samples, connections, keys: agg_merge()d with the rows */
	uint32_t template_max_len;

	struct report_msg_row *rows;
	size_t nrows, rows_cap;
	struct hist_cell *cells;
	size_t ncells, cells_cap;
	uint16_t *codes;
	uint64_t *code_counts;
	size_t ncodes, codes_cap;
	char *strs; /* names and template texts */
	size_t strs_len, strs_cap;
	struct report_msg_tmpl *tmpls;
	size_t ntmpls, tmpls_cap;
	uint32_t *tindex; /* 1 + index into tmpls by id, 0 = empty; tmask + 1 slots */
	size_t tmask;
};

/* acfg bounds the samples and connections kept per message. Returns 0 or -ENOMEM. */
int report_msg_init(struct report_msg *m, const struct agg_config *acfg);
/* Accepts a zeroed one. */
void report_msg_free(struct report_msg *m);

/*
 * Reads one report (docs/REPORT.md), strictly: 0, or -EINVAL (malformed, unknown version) or
 * -ENOMEM, and then the message holds nothing to merge.
 */
int report_msg_parse(struct report_msg *m, const char *json, size_t len);
/*
 * The same, reading json where it is when cap (the bytes readable from json) leaves the
 * JPULL_PADDING zero bytes jpull_load_in_place needs after it (no copy of a large message).
 */
int report_msg_parse_padded(struct report_msg *m, const char *json, size_t len, size_t cap);

/* Rows read (the "other" rows included). */
size_t report_msg_rows(const struct report_msg *m);
/* The template texts the message carried (cut at template_max_len). */
size_t report_msg_template_count(const struct report_msg *m);
int report_msg_template_at(const struct report_msg *m, size_t i, uint64_t *id, const char **text,
			   size_t *len);
/* Text of id in the message, or NULL. */
const char *report_msg_template(const struct report_msg *m, uint64_t id, size_t *len);

/*
 * dst += the message: every row (agg_merge_row; a new row's text from the message, else from
 * text(ctx), which may be NULL), then rest. Returns 0 or -ENOMEM.
 */
int report_msg_merge(struct agg *dst, const struct report_msg *m, agg_text_fn text, void *ctx);

#endif /* MP_REPORT_MSG_H */
