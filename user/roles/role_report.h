/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A role's report as the bus carries it (a slave's period, a master's merge of them). */
#ifndef MP_ROLE_REPORT_H
#define MP_ROLE_REPORT_H

#include <stddef.h>

#include "report/agg.h"
#include "report/report.h"
#include "report/report_wire.h"
#include "report/template_seen.h"

/*
 * Immutable once published on the bus, which frees it with the role's free function. A
 * master's report owns h.nodes too. Every output (stdout, /collector clients) reads this type.
 */
struct slave_report {
	struct report_header h;
	struct report_capture c;
	struct agg *a;
	/* Rendered once for the /collector clients before it is published; NULL offline (no
	 * server) or when rendering failed (the clients then skip it, counted). */
	struct report_wire *wire;
};

/*
 * What rendering the next report needs of the previous one: its seq and template ids. Owned
 * by the thread that publishes reports.
 */
struct role_wire {
	struct template_seen *ids[2]; /* [prev] the previous report's ids; the other is filled */
	int prev;
	uint64_t prev_seq; /* 0: no previous report rendered (every client gets every text) */
};

/* limit: template ids a report may hold (its max_keys). Returns 0 or -ENOMEM. */
int role_wire_init(struct role_wire *rw, size_t limit);
void role_wire_free(struct role_wire *rw);

/*
 * Renders r->wire for the /collector clients (on the thread that closes periods: never on the
 * server's). On failure r->wire stays NULL and the next report carries every text. Returns 0
 * or -errno.
 */
int role_report_render(struct slave_report *r, struct role_wire *rw);

/*
 * What a report costs in memory, for cluster.buffer_mb: rows with about two histogram groups
 * each, template texts, slow samples and nodes. An estimate, not an account.
 */
size_t slave_report_bytes(const struct slave_report *r);

#endif /* MP_ROLE_REPORT_H */
