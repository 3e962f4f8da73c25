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
};

/* One kind of output of the report bus (stdout, collector, ...), as of the report's close. */
#define REPORT_MAX_OUTPUTS 8
struct report_output {
	char kind[16];
	uint64_t readers; /* outputs of this kind now (e.g. connected /collector clients) */
	uint64_t dropped; /* reports they lost since the previous report */
};

struct report_header {
	uint64_t version;
	char node[256]; /* "host:port" */
	char role[16]; /* "slave", "master", "standby" */
	uint64_t seq; /* per node, +1 for every report it closes, 1 for the first of a run */
	uint64_t term; /* cluster term of the producer; 0 on a lone slave */
	uint64_t period_start_ms;
	uint64_t period_end_ms;
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
 * Reads a report and merges its rows and slow samples into a (templates the report carries
 * are attached to their rows). h and c may be NULL. Returns 0, -EINVAL on a malformed
 * report or unknown version (a may be partly merged), or -ENOMEM.
 */
int report_parse(struct agg *a, struct report_header *h, struct report_capture *c,
		 const char *json, size_t len);

#endif /* MP_REPORT_H */
