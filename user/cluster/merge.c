// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A master's per-period merge of its slaves' reports: exact, deduplicated, on time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/merge.h"

#define MERGE_NAME_MAX 256

struct mnode {
	char name[MERGE_NAME_MAX];
	bool up;
	uint64_t started_ms, last_seq, last_end;
	/* Of the reports in periods already emitted: where a restarted master resumes. */
	uint64_t emitted_started_ms, emitted_seq;
	uint64_t merged, late, duplicates, missing;
};

/* One node's share of an open period. */
struct contrib {
	char name[MERGE_NAME_MAX];
	uint64_t started_ms, seq, reports;
	struct report_capture c;
};

struct mperiod {
	struct mperiod *next; /* by end, ascending */
	uint64_t end, deadline;
	struct agg *a;
	struct report_capture c;
	struct contrib *contrib;
	size_t ncontrib;
};

struct late_out {
	struct late_out *next;
	struct merge_out out;
	char name[MERGE_NAME_MAX];
	uint64_t started_ms, seq;
};

struct merge {
	struct merge_config cfg;
	struct mnode *nodes;
	size_t nnodes;
	struct mperiod *periods;
	struct late_out *late_head, *late_tail;
	uint64_t emitted_end; /* end of the last period emitted */
	uint64_t clock_end; /* end of the newest period the clock created */
	uint64_t hold_until; /* merge_hold() */
};

struct merge *merge_new(const struct merge_config *cfg)
{
	struct merge *m;

	if (!cfg || !cfg->period_ms) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->cfg = *cfg;
	return m;
}

static void period_free(struct mperiod *p)
{
	if (!p)
		return;
	agg_free(p->a);
	free(p->contrib);
	free(p);
}

void merge_out_free(struct merge_out *out)
{
	agg_free(out->a);
	free(out->nodes);
	memset(out, 0, sizeof(*out));
}

void merge_free(struct merge *m)
{
	if (!m)
		return;
	while (m->periods) {
		struct mperiod *p = m->periods;

		m->periods = p->next;
		period_free(p);
	}
	while (m->late_head) {
		struct late_out *l = m->late_head;

		m->late_head = l->next;
		merge_out_free(&l->out);
		free(l);
	}
	free(m->nodes);
	free(m);
}

static struct mnode *node_find(const struct merge *m, const char *name)
{
	for (size_t i = 0; i < m->nnodes; i++)
		if (!strcmp(m->nodes[i].name, name))
			return &m->nodes[i];
	return NULL;
}

int merge_node_add(struct merge *m, const char *name, uint64_t started_ms, uint64_t last_seq)
{
	struct mnode *n;

	if (!name || !*name || strlen(name) >= MERGE_NAME_MAX)
		return -EINVAL;
	if (node_find(m, name))
		return -EEXIST;
	n = realloc(m->nodes, (m->nnodes + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	m->nodes = n;
	n = &m->nodes[m->nnodes++];
	memset(n, 0, sizeof(*n));
	strcpy(n->name, name);
	n->started_ms = n->emitted_started_ms = started_ms;
	n->last_seq = n->emitted_seq = last_seq;
	return 0;
}

int merge_node_remove(struct merge *m, const char *name)
{
	struct mnode *n = node_find(m, name);

	if (!n)
		return -ENOENT;
	*n = m->nodes[--m->nnodes];
	return 0;
}

int merge_node_set_up(struct merge *m, const char *name, bool up)
{
	struct mnode *n = node_find(m, name);

	if (!n)
		return -ENOENT;
	n->up = up;
	return 0;
}

size_t merge_node_count(const struct merge *m)
{
	return m->nnodes;
}

int merge_node_at(const struct merge *m, size_t i, struct merge_node_info *out)
{
	const struct mnode *n;

	if (i >= m->nnodes)
		return -EINVAL;
	n = &m->nodes[i];
	*out = (struct merge_node_info){
		.name = n->name,
		.up = n->up,
		.started_ms = n->emitted_started_ms,
		.last_seq = n->emitted_seq,
		.merged_seq = n->last_seq,
		.merged_started_ms = n->started_ms,
		.last_period_end_ms = n->last_end,
		.merged = n->merged,
		.late = n->late,
		.duplicates = n->duplicates,
		.missing = n->missing,
	};
	return 0;
}

uint64_t merge_emitted_end(const struct merge *m)
{
	return m->emitted_end;
}

static struct mperiod *period_get(struct merge *m, uint64_t end, uint64_t now_ms);

void merge_hold(struct merge *m, uint64_t until_ms)
{
	m->hold_until = until_ms;
}

int merge_resume_after(struct merge *m, uint64_t end_ms, uint64_t now_ms, uint64_t grace_ms)
{
	uint64_t p = m->cfg.period_ms;

	if (m->periods || m->late_head || m->clock_end || m->emitted_end)
		return -EBUSY;
	/* Rounded to the grid: a period end is a multiple of period_ms. */
	m->emitted_end = m->clock_end = end_ms / p * p;
	/* Created now, not by the clock, so that they wait from now rather than from their end. */
	while (m->clock_end + p <= now_ms) {
		if (!period_get(m, m->clock_end + p, now_ms + grace_ms))
			return -ENOMEM;
		m->clock_end += p;
	}
	return 0;
}

/* The period a report belongs to: its end rounded up to the period grid. */
static uint64_t period_key(const struct merge *m, const struct report_header *h)
{
	uint64_t p = m->cfg.period_ms;

	return (h->period_end_ms + p - 1) / p * p;
}

/* The open period ending at end, created (deadline from now) when missing; NULL: ENOMEM. */
static struct mperiod *period_get(struct merge *m, uint64_t end, uint64_t now_ms)
{
	struct mperiod **pp, *p;

	for (pp = &m->periods; *pp && (*pp)->end < end; pp = &(*pp)->next)
		;
	if (*pp && (*pp)->end == end)
		return *pp;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->a = agg_new(&m->cfg.acfg);
	if (!p->a) {
		free(p);
		return NULL;
	}
	p->end = end;
	/* A period created late (a replay after a reconnect) still waits for the others. */
	p->deadline = (end > now_ms ? end : now_ms) + m->cfg.wait_ms;
	p->next = *pp;
	*pp = p;
	return p;
}

static struct contrib *contrib_get(struct mperiod *p, const char *name)
{
	struct contrib *c;

	for (size_t i = 0; i < p->ncontrib; i++)
		if (!strcmp(p->contrib[i].name, name))
			return &p->contrib[i];
	c = realloc(p->contrib, (p->ncontrib + 1) * sizeof(*c));
	if (!c)
		return NULL;
	p->contrib = c;
	c = &p->contrib[p->ncontrib++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}

/* The message into dst (report_msg_merge). The merged rows are keyed by every dimension any
 * slave keyed its rows by (report.keys): a slave's rows carry its own app and server, so
 * equal keys add up exactly. Statements running on any slave at the period's end: the lists
 * are concatenated (the longest max_slow kept), each slave's are its own connections. */
static int merge_rows(struct agg *dst, const struct report_msg *msg, agg_text_fn text,
		      void *text_ctx)
{
	return report_msg_merge(dst, msg, text, text_ctx);
}

static int late_queue(struct merge *m, struct mnode *n, const struct report_msg *msg,
		      uint64_t key, agg_text_fn text, void *text_ctx)
{
	const struct report_header *h = &msg->h;
	const struct report_capture *c = &msg->c;
	struct late_out *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return -ENOMEM;
	l->out.a = agg_new(&m->cfg.acfg);
	l->out.nodes = calloc(1, sizeof(*l->out.nodes));
	if (!l->out.a || !l->out.nodes) {
		merge_out_free(&l->out);
		free(l);
		return -ENOMEM;
	}
	err = merge_rows(l->out.a, msg, text, text_ctx);
	l->out.c = *c;
	l->out.late = true;
	l->out.period_end_ms = key;
	l->out.period_start_ms = key - m->cfg.period_ms;
	l->out.nnodes = 1;
	snprintf(l->out.nodes[0].name, sizeof(l->out.nodes[0].name), "%s", n->name);
	l->out.nodes[0].seq = h->seq;
	l->out.nodes[0].reports = 1;
	l->out.nodes[0].status = REPORT_NODE_LATE;
	l->out.nodes[0].c = *c;
	snprintf(l->name, sizeof(l->name), "%s", n->name);
	l->started_ms = h->started_ms;
	l->seq = h->seq;
	if (m->late_tail)
		m->late_tail->next = l;
	else
		m->late_head = l;
	m->late_tail = l;
	n->late++;
	return err;
}

int merge_offer(struct merge *m, const char *name, const struct report_msg *msg,
		agg_text_fn text, void *text_ctx)
{
	const struct report_header *h = &msg->h;
	const struct report_capture *c = &msg->c;
	struct mnode *n = node_find(m, name);
	uint64_t key = period_key(m, h);
	struct mperiod *p;
	struct contrib *ct;
	int err;

	if (!n)
		return MERGE_UNKNOWN;
	/* An older run of the node, or a seq of this run already merged. */
	if (h->started_ms < n->started_ms ||
	    (h->started_ms == n->started_ms && h->seq <= n->last_seq)) {
		n->duplicates++;
		return MERGE_DUPLICATE;
	}
	n->started_ms = h->started_ms;
	n->last_seq = h->seq;
	if (h->period_end_ms > n->last_end)
		n->last_end = h->period_end_ms;
	if (key <= m->emitted_end) {
		err = late_queue(m, n, msg, key, text, text_ctx);
		return err < 0 ? err : MERGE_LATE;
	}
	p = period_get(m, key, h->period_end_ms);
	ct = p ? contrib_get(p, name) : NULL;
	if (!ct)
		return -ENOMEM;
	err = merge_rows(p->a, msg, text, text_ctx);
	report_capture_add(&p->c, c);
	report_capture_add(&ct->c, c);
	ct->started_ms = h->started_ms;
	ct->seq = h->seq;
	ct->reports++;
	n->merged++;
	return err < 0 ? err : MERGE_MERGED;
}

/* Every expected node that is up has delivered p. */
static bool period_complete(const struct merge *m, const struct mperiod *p)
{
	for (size_t i = 0; i < m->nnodes; i++) {
		size_t j;

		if (!m->nodes[i].up)
			continue;
		for (j = 0; j < p->ncontrib; j++)
			if (!strcmp(p->contrib[j].name, m->nodes[i].name))
				break;
		if (j == p->ncontrib)
			return false;
	}
	return true;
}

/* The node list of an emitted period: every expected node, and whoever else contributed. */
static int period_nodes(struct merge *m, struct mperiod *p, struct merge_out *out)
{
	size_t n = 0, cap = m->nnodes + p->ncontrib;

	out->nodes = calloc(cap ? cap : 1, sizeof(*out->nodes));
	if (!out->nodes)
		return -ENOMEM;
	for (size_t i = 0; i < p->ncontrib; i++) {
		struct report_node *rn = &out->nodes[n++];
		struct mnode *mn = node_find(m, p->contrib[i].name);

		snprintf(rn->name, sizeof(rn->name), "%s", p->contrib[i].name);
		rn->seq = p->contrib[i].seq;
		rn->reports = p->contrib[i].reports;
		rn->c = p->contrib[i].c;
		rn->status = REPORT_NODE_OK;
		if (mn && (p->contrib[i].started_ms > mn->emitted_started_ms ||
			   p->contrib[i].seq > mn->emitted_seq)) {
			mn->emitted_started_ms = p->contrib[i].started_ms;
			mn->emitted_seq = p->contrib[i].seq;
		}
	}
	for (size_t i = 0; i < m->nnodes; i++) {
		size_t j;

		for (j = 0; j < p->ncontrib; j++)
			if (!strcmp(p->contrib[j].name, m->nodes[i].name))
				break;
		if (j < p->ncontrib)
			continue;
		snprintf(out->nodes[n].name, sizeof(out->nodes[n].name), "%s", m->nodes[i].name);
		out->nodes[n++].status = REPORT_NODE_MISSING;
		m->nodes[i].missing++;
	}
	out->nnodes = n;
	return 0;
}

/* Periods the clock has reached exist even if no node delivers them (all down, say). */
static int clock_periods(struct merge *m, uint64_t now_ms)
{
	uint64_t p = m->cfg.period_ms, end = now_ms / p * p + p;

	if (!m->clock_end)
		m->clock_end = end - p; /* the first period is the one now is in */
	while (m->clock_end < end) {
		m->clock_end += p;
		if (m->clock_end > m->emitted_end && !period_get(m, m->clock_end, m->clock_end - p))
			return -ENOMEM;
	}
	return 0;
}

static int emit_late(struct merge *m, struct merge_out *out)
{
	struct late_out *l = m->late_head;
	struct mnode *n = node_find(m, l->name);

	m->late_head = l->next;
	if (!m->late_head)
		m->late_tail = NULL;
	if (n && (l->started_ms > n->emitted_started_ms || l->seq > n->emitted_seq)) {
		n->emitted_started_ms = l->started_ms;
		n->emitted_seq = l->seq;
	}
	*out = l->out;
	free(l);
	return 1;
}

static int emit_period(struct merge *m, struct mperiod *p, struct merge_out *out)
{
	int err = period_nodes(m, p, out);

	if (err)
		return err;
	m->periods = p->next;
	out->a = p->a;
	p->a = NULL;
	out->c = p->c;
	out->period_end_ms = p->end;
	out->period_start_ms = p->end - m->cfg.period_ms;
	m->emitted_end = p->end;
	period_free(p);
	return 1;
}

int merge_poll(struct merge *m, uint64_t now_ms, struct merge_out *out)
{
	struct mperiod *p;
	int err;

	memset(out, 0, sizeof(*out));
	if (m->late_head)
		return emit_late(m, out);
	err = clock_periods(m, now_ms);
	if (err)
		return err;
	p = m->periods;
	if (!p)
		return 0;
	/* Before its end only when every node already delivered it (a period with no report yet
	 * is never complete early); after it, once complete or at the deadline. */
	if (now_ms < p->end ? !(p->ncontrib && period_complete(m, p))
			    : (now_ms < p->deadline || now_ms < m->hold_until) &&
				      !period_complete(m, p))
		return 0;
	return emit_period(m, p, out);
}

int merge_poll_open(struct merge *m, struct merge_out *out)
{
	memset(out, 0, sizeof(*out));
	if (m->late_head)
		return emit_late(m, out);
	return m->periods ? emit_period(m, m->periods, out) : 0;
}
