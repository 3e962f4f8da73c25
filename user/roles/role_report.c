// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A role's report as the bus carries it (a slave's period, a master's merge of them). */
#include "roles/role_report.h"

size_t slave_report_bytes(const struct slave_report *r)
{
	size_t n = sizeof(*r), i, len;
	const char *text;
	uint64_t id;

	n += (agg_stat_count(r->a) + 1) * (sizeof(struct agg_stat) + 2 * HIST_SUB * 4);
	for (i = 0; i < agg_template_count(r->a); i++)
		if (!agg_template_at(r->a, i, &id, &text, &len))
			n += len + 32;
	for (i = 0; i < agg_slow_count(r->a); i++)
		n += sizeof(struct agg_slow) + agg_slow_at(r->a, i)->sql_len;
	for (i = 0; i < agg_running_count(r->a); i++)
		n += sizeof(struct agg_slow) + agg_running_at(r->a, i)->sql_len +
		     agg_running_at(r->a, i)->tmpl_len;
	n += sess_count(agg_sessions(r->a)) * sizeof(struct sess_row);
	n += r->h.nnodes * sizeof(struct report_node);
	return n;
}
