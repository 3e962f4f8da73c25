/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A role's report as the bus carries it (a slave's period, a master's merge of them). */
#ifndef MP_ROLE_REPORT_H
#define MP_ROLE_REPORT_H

#include <stddef.h>

#include "report/agg.h"
#include "report/report.h"

/*
 * Immutable once published on the bus, which frees it with the role's free function. A
 * master's report owns h.nodes too. Every output (stdout, /collector clients) reads this type.
 */
struct slave_report {
	struct report_header h;
	struct report_capture c;
	struct agg *a;
};

/*
 * What a report costs in memory, for cluster.buffer_mb: rows with about two histogram groups
 * each, template texts, slow samples and nodes. An estimate, not an account.
 */
size_t slave_report_bytes(const struct slave_report *r);

#endif /* MP_ROLE_REPORT_H */
