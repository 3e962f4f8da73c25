/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A report rendered once for every /collector client: the pieces each client's message is made of. */
#ifndef MP_REPORT_WIRE_H
#define MP_REPORT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report/agg.h"
#include "report/report.h"
#include "report/template_seen.h"

/*
 * Rendering a report (JSON text, then snappy) costs time in proportion to its rows; done per
 * client in the thread that answers HTTP, it made that thread a report's size times the number
 * of clients late, and every client held a copy. So the thread that closes a period renders it
 * once, into immutable pieces, and a client's message is spliced from them:
 *
 *   "{" ["lost":N,]  |  members before the texts  |  texts  |  members after the texts
 *   per client (tiny)   shared                       shared    shared
 *
 * Two shared text pieces exist: every text of the report, and the texts of templates not in
 * the report published just before it. A client that was sent that previous report whole gets
 * the second (it holds every other text: by induction, each message carries the texts of all
 * its rows that the client's previous message did not), any other client the first. A client
 * may thus receive a text again, never miss one.
 *
 * Snappy: a raw snappy block is a varint of the uncompressed length followed by elements
 * (literals, and copies that reach back into output already produced). Each piece is
 * compressed alone, so its copies never reach outside it, and a block whose varint is the sum
 * of the pieces' lengths followed by their elements in order is a valid block of their
 * concatenation (snappy's format_description.txt). Only the per-client head is compressed per
 * client, a few bytes.
 *
 * Threads: built by one thread, then read-only: any number of threads may compose at once.
 */
struct report_wire;

/*
 * Renders the report. prev: the template ids of the report published just before (prev_seq),
 * or NULL; cur, if not NULL, is emptied and receives this report's ids (the next report's prev).
 * Returns NULL with errno set (ENOMEM).
 */
struct report_wire *report_wire_new(const struct report_header *h, const struct report_capture *c,
				    const struct agg *a, const struct template_seen *prev,
				    uint64_t prev_seq, struct template_seen *cur);
/*
 * The same from text already written: json is one object whose template members are at
 * [t_start, t_end) (as report_write_split() says), fresh one object with the new texts against
 * report prev_seq (0: none). Copies both. Returns NULL with errno set (EINVAL, ENOMEM).
 */
struct report_wire *report_wire_from_json(const char *json, size_t len, size_t t_start,
					  size_t t_end, const char *fresh, size_t fresh_len,
					  uint64_t prev_seq);
/* Accepts NULL. */
void report_wire_free(struct report_wire *w);
/* Memory the pieces hold. */
size_t report_wire_bytes(const struct report_wire *w);

#define REPORT_WIRE_PIECES 3
#define REPORT_WIRE_HEAD 64

/* One client's message: head (its own bytes) then the pieces (pointers into the wire). */
struct report_wire_msg {
	unsigned char head[REPORT_WIRE_HEAD];
	size_t head_len;
	const unsigned char *piece[REPORT_WIRE_PIECES];
	size_t piece_len[REPORT_WIRE_PIECES];
	size_t len; /* head_len plus every piece_len: the message's bytes */
};

/*
 * The message for a client: snappy or JSON text. client_last: seq of the last report this
 * client was sent whole, 0 for none; lost: reports it will never get before this one (> 0 also
 * means every text). The pieces stay valid as long as w. Returns 0 or -EINVAL.
 */
int report_wire_compose(const struct report_wire *w, bool snappy, uint64_t client_last,
			uint64_t lost, struct report_wire_msg *m);

/* Copies len bytes of m from offset off into dst (a fragment to write). */
void report_wire_copy(const struct report_wire_msg *m, size_t off, size_t len, void *dst);

#endif /* MP_REPORT_WIRE_H */
