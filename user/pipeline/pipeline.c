// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Wires workers, per-worker flow tables, per-connection decoders and the templater together. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "mysql/event_json.h"
#include "lib/log.h"
#include "pipeline/pipeline.h"
#include "sql/sql_split.h"
#include "sql/template.h"
#include "sql/template_cache.h"
#include "pipeline/worker.h"

/* Event lines a worker buffers before taking the output lock. */
#define OUT_FLUSH_BYTES (64 * 1024)
/* Per-worker template cache: slots, and the longest text it keeps. */
#define TCACHE_SLOTS 1024
#define TCACHE_MAX_TEXT 2048
/* Segment time between two idle-expiry passes of a worker's flow table. */
#define EXPIRE_EVERY_NS 1000000000ULL

struct pipeline;

/* One worker's state: everything a connection touches lives here, single-threaded. */
struct wstate {
	struct pipeline *p;
	int idx;
	struct flow_table *flows;
	struct mysql_counters mysql;
	uint64_t identified, snap_identified;
	struct buf out;
	struct template_cache *tmpl;
	uint64_t last_expire_ns;
	/* Copies taken inside a barrier, so the capture thread can read them. */
	struct flow_counters snap_flow;
	struct mysql_counters snap_mysql;
};

/* One connection: its decoder and the addresses events need. */
struct conn {
	struct wstate *w;
	struct mysql_conn *dec;
	struct flow_key key;
	uint64_t procs_gen; /* the watcher's snapshot this connection last looked at */
	int self;	    /* the watcher's own connection */
};

struct pipeline {
	struct pipeline_config cfg;
	struct worker_pool *pool;
	struct wstate **ws; /* indexed by worker; filled by init in each worker */
	int nworkers;
	pthread_mutex_t out_lock;
	struct pipeline_counters totals;
	/* Counters of workers already stopped (added under out_lock by each worker's fini). */
	struct pipeline_counters closed;
	int is_closed;
};

/* Both counter structs hold only uint64_t: add them field by field. */
static void add_u64s(void *dst, const void *src, size_t size)
{
	const uint64_t *s = src;
	uint64_t *d = dst;

	for (size_t k = 0; k < size / sizeof(uint64_t); k++)
		d[k] += s[k];
}

static void out_flush(struct wstate *w)
{
	struct pipeline *p = w->p;

	if (!w->out.len || !p->cfg.events_out)
		return;
	pthread_mutex_lock(&p->out_lock);
	fwrite(w->out.data, 1, w->out.len, p->cfg.events_out);
	pthread_mutex_unlock(&p->out_lock);
	buf_reset(&w->out);
}

static void addr_from_key(struct qe_addr *a, const __u8 *addr, uint16_t port, uint8_t family)
{
	memcpy(a->addr, addr, sizeof(a->addr));
	a->port = port;
	a->family = family;
}

/* Fills what the decoder cannot know: the addresses and the template. */
static void event_finish(struct conn *c, struct query_event *ev)
{
	struct template_info ti;
	const char *t;

	addr_from_key(&ev->client, c->key.client_addr, c->key.client_port, c->key.family);
	addr_from_key(&ev->server, c->key.server_addr, c->key.server_port, c->key.family);
	if (ev->sql && (t = template_cache_make(c->w->tmpl, ev->sql, ev->sql_len, &ti))) {
		ev->template = t;
		ev->template_len = ti.len;
		ev->template_id = ti.id;
		ev->has_template = 1;
		if (ti.truncated)
			ev->flags |= QE_F_TEMPLATE_TRUNCATED;
	}
}

static void on_event(void *ctx, const struct query_event *in)
{
	struct conn *c = ctx;
	struct wstate *w = c->w;
	struct pipeline *p = w->p;
	struct query_event ev = *in;

	if (c->self) {
		/* The watcher's own statements are nobody's: the decoder counted them, uncount. */
		w->mysql.events--;
		if (in->status == QE_STATUS_UNANSWERED)
			w->mysql.unanswered--;
		return;
	}

	event_finish(c, &ev);
	if (p->cfg.on_event)
		p->cfg.on_event(p->cfg.on_event_ctx, w->idx, &ev);
	if (p->cfg.events_out) {
		if (event_json_append(&w->out, &ev))
			buf_reset(&w->out); /* out of memory: drop the partial line, not the process */
		if (w->out.len >= OUT_FLUSH_BYTES)
			out_flush(w);
	}
}

static int split_sql(void *ctx, const char *sql, size_t len, size_t *off, size_t *len_out,
		     int *is_call, int max)
{
	struct sql_span spans[64];
	int n;

	(void)ctx;
	/* Two statements need a ";" between them, and most texts have none: they skip a lexer
	 * pass (templating lexes them again anyway). 1 means "not split" to the decoder. */
	if (!memchr(sql, ';', len))
		return 1;
	if (max > 64)
		max = 64;
	n = sql_split(sql, len, spans, max);
	/* n counts every statement, also those past max that have no span (and no slot). */
	for (int i = 0; i < n && i < max; i++) {
		off[i] = spans[i].off;
		len_out[i] = spans[i].len;
		is_call[i] = sql_is_call(sql + spans[i].off, spans[i].len);
	}
	return n;
}

static void on_session(void *ctx, const struct mysql_session_event *ev)
{
	struct conn *c = ctx;
	struct pipeline *p = c->w->p;
	struct qe_addr client;

	if (c->self || !p->cfg.on_session)
		return;
	addr_from_key(&client, c->key.client_addr, c->key.client_port, c->key.family);
	p->cfg.on_session(p->cfg.on_event_ctx, c->w->idx, ev, &client);
}

static const struct mysql_callbacks dec_cb = {
	.on_event = on_event,
	.split_sql = split_sql,
	.on_session = on_session,
};

static void *flow_open(void *ctx, const struct flow_key *k, uint64_t ts_ns, int midstream)
{
	struct wstate *w = ctx;
	struct conn *c = calloc(1, sizeof(*c));

	(void)ts_ns;
	if (!c)
		return NULL;
	c->w = w;
	c->key = *k;
	c->dec = mysql_conn_new(&dec_cb, c, &w->p->cfg.limits, &w->mysql);
	if (!c->dec) {
		free(c);
		return NULL;
	}
	/* The capture saw the SYN: a first byte that is not MySQL is then a decode error. */
	if (!midstream)
		mysql_conn_opened(c->dec);
	return c;
}

/*
 * Asks the watcher's snapshot about c when it changed since c last asked: one atomic load per
 * segment otherwise. Before the bytes are fed, so the events they complete carry the answer.
 */
static void conn_watch(struct conn *c, struct procs *pr)
{
	const struct flow_key *k = &c->key;
	uint64_t gen = procs_gen(pr), taken;
	struct mysql_identity id;
	struct proc_entry e;

	if (gen == c->procs_gen)
		return;
	c->procs_gen = gen;
	/* Sticky: after the watcher reconnects, its old connection's last packets are still its. */
	c->self = c->self || procs_is_self(pr, k->client_addr, k->family, k->client_port);
	if (c->self || procs_lookup(pr, k->client_addr, k->family, k->client_port, &e, &taken))
		return;
	id = (struct mysql_identity){
		.conn_id = e.id,
		.user = e.user,
		.user_len = e.user_len,
		.db = e.db_null ? NULL : e.db,
		.db_len = e.db_len,
		.taken_ns = taken,
	};
	c->w->identified += mysql_conn_learn(c->dec, &id);
}

static void flow_data(void *ctx, void *user, int dir, const uint8_t *data, size_t len,
		      uint64_t ts_ns)
{
	struct conn *c = user;

	(void)ctx;
	if (!c)
		return;
	if (c->w->p->cfg.procs)
		conn_watch(c, c->w->p->cfg.procs);
	mysql_feed(c->dec, dir, data, len, ts_ns);
}

static void flow_gap(void *ctx, void *user, int dir, uint64_t missing, uint64_t ts_ns)
{
	struct conn *c = user;

	(void)ctx;
	if (c)
		mysql_gap(c->dec, dir, missing, ts_ns);
}

static void flow_close(void *ctx, void *user, uint64_t ts_ns, int reason)
{
	struct conn *c = user;

	(void)ctx;
	(void)reason;
	if (!c)
		return;
	mysql_conn_close(c->dec, ts_ns);
	mysql_conn_free(c->dec);
	free(c);
}

static const struct flow_callbacks flow_cb = {
	.on_open = flow_open,
	.on_data = flow_data,
	.on_gap = flow_gap,
	.on_close = flow_close,
};

static void *w_init(void *arg, int idx)
{
	struct pipeline *p = arg;
	struct template_opts to = { .max_len = p->cfg.template_max_len };
	struct wstate *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->p = p;
	w->idx = idx;
	w->tmpl = template_cache_new(TCACHE_SLOTS, TCACHE_MAX_TEXT, &to);
	w->flows = flow_table_new(&p->cfg.flow, &flow_cb, w);
	if (!w->tmpl || !w->flows) {
		pr_warn("pipeline: failed to set up worker %d: %s\n", idx, strerror(ENOMEM));
		flow_table_free(w->flows);
		template_cache_free(w->tmpl);
		free(w);
		return NULL;
	}
	p->ws[idx] = w;
	return w;
}

static void w_segment(void *wstate, const struct mp_seg_hdr *h, const uint8_t *payload)
{
	struct wstate *w = wstate;

	if (!w)
		return;
	flow_table_feed(w->flows, h, payload);
	if (h->ts_ns - w->last_expire_ns >= EXPIRE_EVERY_NS) {
		flow_table_expire(w->flows, h->ts_ns);
		w->last_expire_ns = h->ts_ns;
	}
}

static void w_fini(void *wstate)
{
	struct wstate *w = wstate;

	if (!w)
		return;
	/* The table's counters die with it: keep what closing the connections adds. */
	flow_table_close_all(w->flows);
	w->snap_flow = *flow_table_counters(w->flows);
	flow_table_free(w->flows); /* closes every connection: their last events come out */
	out_flush(w);
	pthread_mutex_lock(&w->p->out_lock);
	add_u64s(&w->p->closed.flow, &w->snap_flow, sizeof(w->snap_flow));
	add_u64s(&w->p->closed.mysql, &w->mysql, sizeof(w->mysql));
	w->p->closed.identified += w->identified;
	pthread_mutex_unlock(&w->p->out_lock);
	buf_free(&w->out);
	template_cache_free(w->tmpl);
	w->p->ws[w->idx] = NULL;
	free(w);
}

static const struct worker_ops w_ops = {
	.init = w_init,
	.segment = w_segment,
	.fini = w_fini,
};

struct pipeline *pipeline_new(const struct pipeline_config *cfg)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	int n = cfg->workers > 0 ? cfg->workers : 1;

	if (!p)
		return NULL;
	p->cfg = *cfg;
	p->nworkers = n;
	pthread_mutex_init(&p->out_lock, NULL);
	p->ws = calloc(n, sizeof(*p->ws));
	if (!p->ws)
		goto fail;
	p->pool = worker_pool_new(cfg->workers, cfg->queue_bytes ? cfg->queue_bytes : 4u << 20,
				  &w_ops, p);
	if (!p->pool)
		goto fail;
	return p;
fail:
	free(p->ws);
	free(p);
	errno = ENOMEM;
	return NULL;
}

int pipeline_segment(struct pipeline *p, const struct mp_seg_hdr *h, const __u8 *payload)
{
	return worker_pool_route(p->pool, h, payload);
}

void pipeline_kick(struct pipeline *p)
{
	if (p->pool)
		worker_pool_kick(p->pool);
}

struct sync_arg {
	uint64_t now_ns;
	void (*fn)(void *ctx, int worker);
	void *ctx;
};

/* Runs in each worker, in stream order, during a barrier. */
static void w_sync(void *wstate, void *arg)
{
	struct wstate *w = wstate;
	struct sync_arg *a = arg;

	if (!w)
		return;
	if (a->now_ns)
		flow_table_expire(w->flows, a->now_ns);
	out_flush(w);
	w->snap_flow = *flow_table_counters(w->flows);
	w->snap_mysql = w->mysql;
	w->snap_identified = w->identified;
	if (a->fn)
		a->fn(a->ctx, w->idx);
}

static void sum_counters(struct pipeline *p)
{
	struct pipeline_counters t = {};

	for (int i = 0; i < p->nworkers; i++) {
		struct wstate *w = p->ws[i];
		struct worker_stats st;

		if (!w)
			continue;
		add_u64s(&t.flow, &w->snap_flow, sizeof(t.flow));
		add_u64s(&t.mysql, &w->snap_mysql, sizeof(t.mysql));
		t.identified += w->snap_identified;
		worker_pool_stats(p->pool, i, &st);
		t.worker_waits += st.waits;
	}
	p->totals = t;
}

int pipeline_sync(struct pipeline *p, uint64_t now_ns)
{
	return pipeline_sync_each(p, now_ns, NULL, NULL);
}

int pipeline_sync_each(struct pipeline *p, uint64_t now_ns, void (*fn)(void *ctx, int worker),
		       void *ctx)
{
	struct sync_arg a = { .now_ns = now_ns, .fn = fn, .ctx = ctx };
	int err;

	if (p->is_closed)
		return -ESHUTDOWN;
	err = worker_pool_barrier(p->pool, w_sync, &a);
	sum_counters(p);
	if (p->cfg.events_out)
		fflush(p->cfg.events_out);
	return err;
}

struct running_arg {
	uint64_t now_ns;
	int worker;
	pipeline_event_fn fn;
	void *ctx;
};

static void conn_running(void *arg, void *user)
{
	struct running_arg *a = arg;
	struct conn *c = user;
	struct query_event ev;

	if (c && !c->self && mysql_conn_running(c->dec, a->now_ns, &ev)) {
		event_finish(c, &ev);
		a->fn(a->ctx, a->worker, &ev);
	}
}

void pipeline_running(struct pipeline *p, int worker, uint64_t now_ns, pipeline_event_fn fn,
		      void *ctx)
{
	struct running_arg a = { .now_ns = now_ns, .worker = worker, .fn = fn, .ctx = ctx };
	struct wstate *w = worker >= 0 && worker < p->nworkers ? p->ws[worker] : NULL;

	if (w)
		flow_table_each(w->flows, conn_running, &a);
}

void pipeline_counters(const struct pipeline *p, struct pipeline_counters *out)
{
	*out = p->totals;
}

void pipeline_close(struct pipeline *p)
{
	pipeline_close_at(p, 0);
}

void pipeline_close_at(struct pipeline *p, uint64_t now_ns)
{
	struct worker_stats st;
	uint64_t waits = 0;

	if (p->is_closed)
		return;
	/* The flow tables learn the time; idle flows expire as they would have anyway. */
	pipeline_sync(p, now_ns);
	for (int i = 0; i < p->nworkers; i++) {
		worker_pool_stats(p->pool, i, &st);
		waits += st.waits;
	}
	worker_pool_free(p->pool); /* fini per worker: closes flows, flushes output */
	p->pool = NULL;
	p->is_closed = 1;
	p->totals = p->closed;
	p->totals.worker_waits = waits;
	if (p->cfg.events_out)
		fflush(p->cfg.events_out);
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	pipeline_close(p);
	pthread_mutex_destroy(&p->out_lock);
	free(p->ws);
	free(p);
}
