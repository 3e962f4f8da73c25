// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One node-to-node message read back into a report: snappy or JSON, strictly (report_parse). */
#include <errno.h>
#include <snappy-c.h>
#include <string.h>

#include "cluster/report_read.h"
#include "lib/jpull.h"

#define READ_KEEP_BYTES (8u << 20)

int report_read_init(struct report_read *r, const struct agg_config *acfg, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->max_message = max_message ? max_message : (256u << 20);
	return report_msg_init(&r->msg, acfg);
}

void report_read_free(struct report_read *r)
{
	report_msg_free(&r->msg);
	buf_free(&r->plain);
	memset(r, 0, sizeof(*r));
}

int report_read_msg(struct report_read *r, const void *data, size_t len, int binary,
		    const struct report_msg **msg, const char **why)
{
	const char *text = data;
	size_t n;
	int err;

	if (binary) {
		if (snappy_uncompressed_length(data, len, &n) != SNAPPY_OK || n > r->max_message) {
			*why = "not a snappy block of a sane size";
			return -EINVAL;
		}
		r->plain.len = 0;
		/* Room for the reader's padding: the text is read where it was uncompressed. */
		if (buf_reserve(&r->plain, n + JPULL_PADDING) ||
		    snappy_uncompress(data, len, r->plain.data, &n) != SNAPPY_OK) {
			*why = "snappy block does not decompress";
			return -EINVAL;
		}
		memset(r->plain.data + n, 0, JPULL_PADDING);
		r->plain.len = n;
		err = report_msg_parse_padded(&r->msg, r->plain.data, n, n + JPULL_PADDING);
	} else {
		err = report_msg_parse(&r->msg, text, len);
	}
	/* A large message leaves a large buffer: give it back rather than keep it (a slave's
	 * usual report, some MiB, is kept: mapping it afresh per message cost page faults). */
	if (r->plain.cap > READ_KEEP_BYTES)
		buf_free(&r->plain);
	if (err) {
		*why = err == -ENOMEM ? "out of memory reading it" : "not a valid report";
		return err == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	*msg = &r->msg;
	return 0;
}
