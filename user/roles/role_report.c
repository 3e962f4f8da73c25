// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A role's report as the bus carries it (a slave's period, a master's merge of them). */
#include <errno.h>
#include <string.h>

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
	return n + report_wire_bytes(r->wire);
}

int role_wire_init(struct role_wire *rw, size_t limit)
{
	memset(rw, 0, sizeof(*rw));
	for (int i = 0; i < 2; i++) {
		rw->ids[i] = template_seen_new(limit ? limit : 1);
		if (!rw->ids[i]) {
			role_wire_free(rw);
			return -ENOMEM;
		}
	}
	return 0;
}

void role_wire_free(struct role_wire *rw)
{
	template_seen_free(rw->ids[0]);
	template_seen_free(rw->ids[1]);
	memset(rw, 0, sizeof(*rw));
}

int role_report_render(struct slave_report *r, struct role_wire *rw)
{
	int next = !rw->prev;

	r->wire = report_wire_new(&r->h, &r->c, r->a, rw->prev_seq ? rw->ids[rw->prev] : NULL,
				  rw->prev_seq, rw->ids[next]);
	if (!r->wire) {
		rw->prev_seq = 0;
		return -errno;
	}
	rw->prev = next;
	rw->prev_seq = r->h.seq;
	return 0;
}
