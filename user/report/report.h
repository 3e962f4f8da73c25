/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A period's report as JSON (schema version 2, docs/REPORT.md), and reading one back. */
#ifndef MP_REPORT_H
#define MP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "report/agg.h"
#include "lib/jbuf.h"
#include "report/template_seen.h"

#define REPORT_VERSION 2

/* Capture-side counters of the period, filled by the lead. */
struct report_capture {
	uint64_t packets;
	uint64_t bytes;
	uint64_t dropped;
	uint64_t gaps;
	uint64_t resyncs;
	uint64_t tls_conns;
	uint64_t decode_errors;
	uint64_t unknown_stmt;
	uint64_t keys_overflow; /* written as given: set it from agg_keys_overflow() */
	uint64_t devices_detached; /* capture devices gone at the period's end (not capturing) */
	uint64_t late;		   /* statements that completed before the period started */
	uint64_t stalled_ms;	   /* time within the period the capture loop did not run */
	uint64_t unanswered;	   /* requests closed before their response (docs/REPORT.md) */
};

/* One kind of output of the report bus (stdout, collector, ...), as of the report's close. */
#define REPORT_MAX_OUTPUTS 8
struct report_output {
	char kind[16];
	uint64_t readers; /* outputs of this kind now (e.g. connected /collector clients) */
	uint64_t dropped; /* reports they lost since the previous report */
};

/* A master's report: what one expected slave contributed to the period (docs/REPORT.md). */
enum report_node_status {
	REPORT_NODE_OK = 0, /* delivered before the period was emitted */
	REPORT_NODE_MISSING = 1, /* had not delivered when the period was emitted */
	REPORT_NODE_LATE = 2, /* in a late report: delivered after the period was emitted */
};

struct report_node {
	char name[256]; /* the slave's address as the master knows it ("host:port") */
	uint64_t seq; /* its last report merged into this one; 0 when missing */
	uint64_t reports; /* its reports merged into this one (2 across a restart) */
	enum report_node_status status;
	struct report_capture c; /* its capture counters (summed over those reports) */
};

/* "ok", "missing" or "late". */
const char *report_node_status_name(enum report_node_status s);

struct report_header {
	uint64_t version;
	char node[256]; /* "host:port" */
	char role[16]; /* "slave", "master", "standby" */
	uint64_t seq; /* per node, +1 for every report it closes, 1 for the first of a run */
	uint64_t term; /* cluster term of the producer; 0 on a lone slave */
	uint64_t period_start_ms;
	uint64_t period_end_ms;
	/*
	 * When the producing process started (ms since the epoch): seq starts over at 1 with every
	 * start, so (node, started_ms, seq) names a report for good. 0 = not given.
	 */
	uint64_t started_ms;
	int late; /* a master's late report: contributions that came after the period was emitted */
	size_t nnodes; /* a master's report: the expected slaves; 0 on a slave */
	const struct report_node *nodes; /* owned by whoever owns the header */
	/* Read only: "lost" of a /collector message (reports the client will never get). */
	uint64_t lost;
	size_t noutputs;
	struct report_output outputs[REPORT_MAX_OUTPUTS];
};

/*
 * Appends one report to b. Templates: with seen == NULL every template text of the period is
 * included; otherwise only ids not in seen, which are then added to seen. If writing fails,
 * seen is cleared (it may name texts the client never got). Returns 0 or -ENOMEM.
 */
int report_write(struct jbuf *b, const struct report_header *h, const struct report_capture *c,
		 const struct agg *a, struct template_seen *seen);

/*
 * As report_write() with every template text, and *t_start, *t_end: where the members of the
 * "templates" object start and end in b->out, so the text before and after them can be shared
 * by messages that carry different texts (report/report_wire.h). Returns 0 or -ENOMEM.
 */
int report_write_split(struct jbuf *b, const struct report_header *h,
		       const struct report_capture *c, const struct agg *a, size_t *t_start,
		       size_t *t_end);

/*
 * Appends one JSON object: template id -> text for the templates of a not in skip (NULL: every
 * one), as report_write() writes them. Returns 0 or -ENOMEM.
 */
int report_write_templates(struct jbuf *b, const struct agg *a, const struct template_seen *skip);

/* Appends one stats row as the report's "stats" array holds it (a sink's message, say). */
void report_write_stat(struct jbuf *b, const struct agg_stat *s, unsigned int keys);

/* The capture counters by position, as the report names them: i < REPORT_CAPTURE_FIELDS; the
 * first REPORT_CAPTURE_REQUIRED must be present in a report read back, later ones read as 0. */
#define REPORT_CAPTURE_FIELDS 13
#define REPORT_CAPTURE_REQUIRED 12
const char *report_capture_name(size_t i);
uint64_t *report_capture_at(struct report_capture *c, size_t i);

/* Adds every counter of src to dst. */
void report_capture_add(struct report_capture *dst, const struct report_capture *src);

/*
 * Reads a report (report_msg_parse) and merges its rows and slow samples into a (templates the
 * report carries are attached to their rows). h and c may be NULL; a master's "nodes" are not
 * read back (h->nnodes is 0): a master pulling from a master treats it as one node. Returns 0,
 * -EINVAL on a malformed report or unknown version (a is then untouched), or -ENOMEM.
 */
int report_parse(struct agg *a, struct report_header *h, struct report_capture *c,
		 const char *json, size_t len);

#endif /* MP_REPORT_H */
