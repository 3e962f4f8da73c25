// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What `mysqlprobe top` shows: the last reports, ranked per template and command (no I/O). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cluster/template_store.h"
#include "top/top_model.h"

/* Template texts kept across reports: each arrives once per connection. */
#define TOP_TEXT_BYTES (16u << 20)
#define TOP_MAX_KEYS 20000

struct top_period {
	struct agg *a;
	struct report_header h; /* nodes dropped: top shows a master's report as one node's */
	struct report_capture c;
};

struct top_model {
	struct agg_config acfg;
	struct top_period p[TOP_KEEP];
	size_t n, head; /* ring: p[head] is the oldest when n == TOP_KEEP */
	struct template_store *texts;
	uint64_t lost;
	struct agg *view;
	struct top_row *rows;
	size_t nrows, cap;
};

struct top_model *top_model_new(void)
{
	struct top_model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	/*
	 * Rows per report: a node's own bound is max_keys (10,000 by default), and an aggregator
	 * allocates its table for its bound up front, once per kept report: more rows than this
	 * are counted in the "other" row of their command, never lost.
	 */
	m->acfg = (struct agg_config){
		.max_keys = TOP_MAX_KEYS,
		.max_slow = 100,
		.template_max_len = 1u << 20,
		.sql_max_len = 1u << 20,
	};
	m->texts = template_store_new(TOP_TEXT_BYTES);
	m->view = agg_new(&m->acfg);
	if (!m->texts || !m->view) {
		top_model_free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

void top_model_free(struct top_model *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < TOP_KEEP; i++)
		agg_free(m->p[i].a);
	template_store_free(m->texts);
	agg_free(m->view);
	free(m->rows);
	free(m);
}

static struct top_period *period_at(const struct top_model *m, size_t i)
{
	return (struct top_period *)&m->p[(m->head + i) % TOP_KEEP];
}

int top_model_add(struct top_model *m, const struct report_header *h,
		  const struct report_capture *c, const struct agg *a)
{
	struct top_period *p;
	const char *text;
	uint64_t id;
	size_t i, len;

	for (i = 0; i < agg_template_count(a); i++)
		if (!agg_template_at(a, i, &id, &text, &len))
			template_store_put(m->texts, id, text, len); /* full: shown by id */
	if (m->n == TOP_KEEP) {
		p = &m->p[m->head];
		m->head = (m->head + 1) % TOP_KEEP;
	} else {
		p = &m->p[(m->head + m->n) % TOP_KEEP];
		m->n++;
	}
	if (!p->a) {
		p->a = agg_new(&m->acfg);
		if (!p->a)
			return -ENOMEM;
	}
	agg_reset(p->a);
	p->h = *h;
	p->h.nodes = NULL;
	p->h.nnodes = 0;
	p->c = c ? *c : (struct report_capture){ 0 };
	m->lost += h->lost;
	return agg_merge(p->a, a);
}

static void client_str(const struct agg_key *k, char *out, size_t len)
{
	out[0] = '\0';
	if (k->family == AF_INET || k->family == AF_INET6)
		inet_ntop(k->family, k->addr, out, (socklen_t)len);
}

static int row_matches(const struct top_model *m, const struct agg_stat *s, const char *filter)
{
	const struct agg_key *k = &s->key;
	char client[INET6_ADDRSTRLEN];
	const char *text;
	size_t len;

	if (!filter || !*filter)
		return 1;
	text = template_store_get(m->texts, k->template_id, &len);
	if (text && strstr(text, filter))
		return 1;
	if (memmem(agg_key_db(k), k->db_len, filter, strlen(filter)) ||
	    memmem(agg_key_user(k), k->user_len, filter, strlen(filter)))
		return 1;
	client_str(k, client, sizeof(client));
	return strstr(client, filter) != NULL;
}

/* Adds one row to the view under its (template, command) alone. */
static int view_add(struct top_model *m, const struct agg_stat *s)
{
	struct agg_stat t = *s; /* shares s's histogram groups: merge only reads them */
	const char *text;
	size_t len = 0;

	memset(t.key.addr, 0, sizeof(t.key.addr));
	t.key.family = 0;
	t.key.db_len = 0;
	t.key.user_len = 0;
	t.key.app_len = 0;
	t.key.server_len = 0;
	text = t.is_other ? NULL : template_store_get(m->texts, t.key.template_id, &len);
	return agg_merge_stat(m->view, &t, text, len);
}

static int view_merge(struct top_model *m, const char *filter)
{
	size_t i, j;
	int c, err;

	agg_reset(m->view);
	for (i = 0; i < m->n; i++) {
		const struct agg *a = period_at(m, i)->a;

		for (j = 0; j < agg_stat_count(a); j++) {
			const struct agg_stat *s = agg_stat_at(a, j);

			if (row_matches(m, s, filter) && (err = view_add(m, s)))
				return err;
		}
		for (c = 0; c < AGG_CMD_COUNT; c++) {
			const struct agg_stat *o = agg_other(a, (enum agg_cmd)c);

			if (o && (!filter || !*filter) && (err = view_add(m, o)))
				return err;
		}
	}
	return 0;
}

static double row_key(const struct top_row *r, enum top_sort sort)
{
	switch (sort) {
	case TOP_SORT_COUNT:
		return (double)r->s->count;
	case TOP_SORT_P99:
		return (double)r->p99_us;
	case TOP_SORT_ERRORS:
		return (double)r->s->errors;
	default:
		return r->load;
	}
}

static int row_cmp(const void *x, const void *y, void *arg)
{
	const struct top_row *a = x, *b = y;
	enum top_sort sort = *(enum top_sort *)arg;
	double ka = row_key(a, sort), kb = row_key(b, sort);

	if (ka != kb)
		return ka > kb ? -1 : 1;
	if (a->s->count != b->s->count)
		return a->s->count > b->s->count ? -1 : 1;
	if (a->s->key.template_id != b->s->key.template_id)
		return a->s->key.template_id < b->s->key.template_id ? -1 : 1;
	return (int)a->s->key.command - (int)b->s->key.command;
}

static int rows_push(struct top_model *m, const struct agg_stat *s, double secs)
{
	struct top_row *r;
	size_t len;

	if (m->nrows == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		struct top_row *n = realloc(m->rows, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		m->rows = n;
		m->cap = cap;
	}
	r = &m->rows[m->nrows++];
	r->s = s;
	r->text = s->is_other ? "(other: keys over max_keys)"
			      : template_store_get(m->texts, s->key.template_id, &len);
	r->load = (double)s->lat.sum / 1e6 / secs;
	r->rate = (double)s->count / secs;
	r->mean_us = s->count ? (double)s->lat.sum / (double)s->count : 0;
	r->p99_us = hist_percentile(&s->lat, 0.99);
	r->rows = s->rows_sent + s->rows_affected;
	return 0;
}

int top_model_view(struct top_model *m, enum top_sort sort, const char *filter)
{
	double secs = top_model_seconds(m);
	size_t i;
	int c, err;

	m->nrows = 0;
	err = view_merge(m, filter);
	if (err)
		return err;
	if (secs <= 0)
		secs = 1;
	for (i = 0; i < agg_stat_count(m->view); i++)
		if ((err = rows_push(m, agg_stat_at(m->view, i), secs)))
			return err;
	for (c = 0; c < AGG_CMD_COUNT; c++) {
		const struct agg_stat *o = agg_other(m->view, (enum agg_cmd)c);

		if (o && (err = rows_push(m, o, secs)))
			return err;
	}
	/* An empty view has no array yet: qsort's base must not be NULL even for 0 items. */
	if (m->nrows)
		qsort_r(m->rows, m->nrows, sizeof(*m->rows), row_cmp, &sort);
	return 0;
}

size_t top_model_rows(const struct top_model *m)
{
	return m->nrows;
}

const struct top_row *top_model_row(const struct top_model *m, size_t i)
{
	return i < m->nrows ? &m->rows[i] : NULL;
}

static int slow_cmp(const void *x, const void *y)
{
	const struct agg_slow *a = *(const struct agg_slow *const *)x;
	const struct agg_slow *b = *(const struct agg_slow *const *)y;

	return a->ts_us < b->ts_us ? -1 : a->ts_us > b->ts_us;
}

size_t top_model_slow(const struct top_model *m, uint64_t template_id,
		      const struct agg_slow **out, size_t max)
{
	size_t i, j, n = 0;

	for (i = 0; i < m->n; i++) {
		const struct agg *a = period_at(m, i)->a;

		for (j = 0; j < agg_slow_count(a) && n < max; j++) {
			const struct agg_slow *s = agg_slow_at(a, j);

			if (s->template_id == template_id)
				out[n++] = s;
		}
	}
	qsort(out, n, sizeof(*out), slow_cmp);
	return n;
}

void top_model_health(const struct top_model *m, struct top_health *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	out->periods = m->n;
	out->lost = m->lost;
	for (i = 0; i < m->n; i++) {
		const struct report_capture *c = &period_at(m, i)->c;

		report_capture_add(&out->c, c);
		if (!c->dropped && !c->gaps && !c->stalled_ms && !c->devices_detached)
			out->complete++;
	}
}

const struct report_header *top_model_last(const struct top_model *m)
{
	return m->n ? &period_at(m, m->n - 1)->h : NULL;
}

double top_model_seconds(const struct top_model *m)
{
	uint64_t ms = 0;
	size_t i;

	for (i = 0; i < m->n; i++) {
		const struct report_header *h = &period_at(m, i)->h;

		if (h->period_end_ms > h->period_start_ms)
			ms += h->period_end_ms - h->period_start_ms;
	}
	return (double)ms / 1000.0;
}
