/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* One node-to-node message read back into a report: snappy or JSON, strictly (report_parse). */
#ifndef MP_REPORT_READ_H
#define MP_REPORT_READ_H

#include <stddef.h>

#include "lib/buf.h"
#include "report/agg.h"
#include "report/report.h"
#include "report/report_msg.h"

/*
 * The one reader of reports that arrive from other nodes, pulled (cluster/puller) or pushed
 * (a master's /push): a binary message is a raw snappy block of a report's JSON, a text
 * message the JSON itself. The message is read whole and checked (report_msg_parse) before
 * anything of it is merged; its rows stay as read, for the merge to add them straight into
 * a period (report_msg_merge).
 *
 * Threads: one thread uses a report_read.
 */
struct report_read {
	struct report_msg msg; /* the last message read */
	struct buf plain; /* a decompressed message */
	size_t max_message; /* bound on the decompressed size */
};

/* max_message 0 = 256 MiB. Returns 0 or -ENOMEM. */
int report_read_init(struct report_read *r, const struct agg_config *acfg, size_t max_message);
void report_read_free(struct report_read *r);

/*
 * Reads one message: 0 with *msg (valid until the next call; header msg->h, capture msg->c),
 * or -EINVAL / -ENOMEM with *why a static reason (the message is not merged).
 */
int report_read_msg(struct report_read *r, const void *data, size_t len, int binary,
		    const struct report_msg **msg, const char **why);

#endif /* MP_REPORT_READ_H */
