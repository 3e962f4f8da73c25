/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The pusher (DESIGN §9): every closed report to one of pusher.servers over a websocket. */
#ifndef MP_PUSHER_H
#define MP_PUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "report/bus.h"
#include "report/report_wire.h"

/*
 * A bus reader (kind "pusher") drained by a thread of its own, with its own libwebsockets
 * client context (net/ws_client): a slow or dead target never slows capture nor another
 * output. Each report is sent as one binary message (the /collector snappy form, with every
 * template text: the receiver may have changed since the previous one) to the first server in
 * pusher.servers whose link is up, one report in flight at a time; the receiver answers
 * "ack SEQ" (text) once it took it, and only then is the report dropped from the queue. A link
 * that closes, or an ack that does not come within ack_ms, sends the report again, to the
 * next server in order: delivery is at-least-once and the receiver dedupes on (node, seq).
 * Every link keeps dialling with backoff (0.5 s doubling to 10 s), which is the probe that
 * brings the pusher back to an earlier server once it is up again.
 *
 * Waiting reports are held in memory (PUSHER_MEM_REPORTS), the older ones in a spool
 * (sinks/spool.c: spool_dir, or memory without one) bounded by spool_bytes; past the bound the
 * oldest are dropped and counted (in /metrics and, through the bus, in the next report).
 */
struct pusher;

/* Reports held in memory before the oldest go to the spool. */
#define PUSHER_MEM_REPORTS 16

struct pusher_config {
	const char *const *servers; /* "host:port", in order of preference */
	size_t nservers;
	const char *path; /* websocket path, e.g. "/push" */
	const char *token; /* cluster.token (Authorization: Bearer), NULL or "" = none */
	bool preconnect; /* dial at start, not at the first report */
	const char *spool_dir; /* NULL or "": the spool is in memory */
	uint64_t spool_bytes;
	unsigned queue; /* bus reader queue (reports) */
	unsigned ack_ms; /* 0 = 10 s */
	/* The rendered report of a bus object (NULL: it cannot be sent; counted as lost). */
	const struct report_wire *(*wire)(const void *obj);
};

/* Checks the servers (host:port) and starts the thread. NULL with errno set; the reason is
 * logged (a bad address names it). */
struct pusher *pusher_new(struct bus *b, const struct pusher_config *cfg);

/* Waits until every report published so far was acknowledged, or timeout_ms.
 * Returns 0 or -ETIMEDOUT. */
int pusher_flush(struct pusher *p, unsigned timeout_ms);

/* Call after bus_close() and pusher_flush(): ends the thread and frees. Returns the reports
 * not delivered (a spool_dir keeps them for the next start: not counted). Accepts NULL. */
uint64_t pusher_free(struct pusher *p);

/* Appends the pusher's Prometheus counters. Returns 0 or -ENOMEM. */
int pusher_metrics(struct pusher *p, struct buf *out);

/* A receiver's acknowledgement, "ack SEQ" (decimal, nothing else): 0 with *seq, or -EINVAL.
 * Pure: fuzzed. */
int pusher_parse_ack(const void *data, size_t len, uint64_t *seq);

/* Which server a report goes to: the first of nservers that is up (up[i]), -1 when none.
 * Pure: unit-tested. */
int pusher_pick(const bool *up, size_t nservers);

#endif /* MP_PUSHER_H */
