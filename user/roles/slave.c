// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The slave's reporting side: per-worker aggregators, report periods, reports out. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/log.h"
#include "mysql/mysql_proto.h"
#include "roles/slave_int.h"

/* Statement text kept per slow sample. */
#define SLOW_SQL_MAX 4096

uint64_t slave_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void slave_report_free(struct slave_report *r)
{
	if (!r)
		return;
	agg_free(r->a);
	report_wire_free(r->wire);
	free(r);
}

static void bus_free_report(void *obj)
{
	slave_report_free(obj);
}

/* The bus and, with -o report, the stdout output reading it. Returns 0 or -errno. */
static int slave_outputs_new(struct slave *s)
{
	const struct mp_config *c = s->sc.cfg;
	struct bus_config bc = {
		.history = (size_t)c->cluster_buffer_periods,
		.history_bytes = (size_t)c->cluster_buffer_mb << 20,
		.free_obj = bus_free_report,
	};

	s->bus = bus_new(&bc);
	if (!s->bus)
		return -errno;
	if (s->sc.report_out) {
		/* Offline, nothing live can be delayed: stdout then gets every report. */
		s->out = stdout_out_new(s->bus, s->sc.report_out, s->sc.replay,
				       s->sc.report_table);
		if (!s->out)
			return -errno;
	}
	/* Live only: a replay's reports describe a past that a sink would take for now. */
	if (!s->sc.replay) {
		s->sinks = sink_outs_new(c, s->bus, s->sc.workers);
		if (!s->sinks)
			return -errno;
	}
	return 0;
}

struct slave *slave_new(const struct slave_config *sc)
{
	const struct mp_config *c = sc->cfg;
	struct slave *s = calloc(1, sizeof(*s));
	char host[200] = "localhost";
	int err = -ENOMEM;

	if (!s)
		return NULL;
	s->sc = *sc;
	s->acfg = (struct agg_config){
		.max_keys = (uint32_t)c->max_keys,
		.max_slow = (uint32_t)c->max_slow,
		.slow_threshold_us = (uint64_t)c->slowthresholdms * 1000,
		.template_max_len = (uint32_t)c->template_max_len,
		.sql_max_len = SLOW_SQL_MAX,
	};
	gethostname(host, sizeof(host) - 1);
	snprintf(s->node, sizeof(s->node), "%s:%lld", host, (long long)c->serverport);
	s->period_ms = config_report_period_ms(c);
	s->keys = config_report_keys(c);
	atomic_init(&s->next_period_ms, (unsigned)s->period_ms);
	pthread_mutex_init(&s->snap_lock, NULL);
	s->started_ms = slave_now_ms();
	s->incarnation_ms = s->started_ms;
	s->cur = calloc(sc->workers, sizeof(*s->cur));
	s->spare = calloc(sc->workers, sizeof(*s->spare));
	s->w = calloc(sc->workers, sizeof(*s->w));
	if (!s->cur || !s->spare || !s->w)
		goto fail;
	err = slave_outputs_new(s);
	if (err)
		goto fail;
	err = -ENOMEM;
	/* Live, a server serves the reports: each is rendered once for all its clients. */
	if (!sc->replay && role_wire_init(&s->wire, (size_t)c->max_keys))
		goto fail;
	for (int i = 0; i < sc->workers; i++) {
		s->cur[i] = agg_new(&s->acfg);
		s->spare[i] = agg_new(&s->acfg);
		if (!s->cur[i] || !s->spare[i])
			goto fail;
	}
	if (!sc->replay) {
		/* Periods end on multiples of the period, so hosts' periods line up for merging. */
		uint64_t now = slave_now_ms();

		s->start_ms = now;
		s->end_ms = (now / s->period_ms + 1) * s->period_ms;
		for (int i = 0; i < sc->workers; i++)
			s->w[i].start_ms = now;
	}
	return s;
fail:
	slave_free(s);
	errno = -err;
	return NULL;
}

int slave_flush(struct slave *s, unsigned timeout_ms)
{
	int err = sink_outs_flush(s->sinks, timeout_ms);

	return (s->out ? stdout_out_flush(s->out, timeout_ms) : 0) ?: err;
}

struct bus *slave_bus(struct slave *s)
{
	return s->bus;
}

void slave_bus_stats(struct slave *s, struct bus_stats *out)
{
	bus_get_stats(s->bus, out);
}

void slave_free(struct slave *s)
{
	bool stuck = false;

	if (!s)
		return;
	if (s->bus)
		bus_close(s->bus);
	if (stdout_out_free(s->out)) {
		pr_warn("report: stdout is stuck; leaving its last reports behind\n");
		stuck = true;
	}
	sink_outs_free(s->sinks);
	/* A stuck writer still holds a report: the bus stays (the process is exiting). */
	if (!stuck)
		bus_free(s->bus);
	for (int i = 0; i < s->sc.workers; i++) {
		if (s->cur)
			agg_free(s->cur[i]);
		if (s->spare)
			agg_free(s->spare[i]);
	}
	agg_free(s->merge);
	free(s->cur);
	free(s->spare);
	free(s->w);
	role_wire_free(&s->wire);
	pthread_mutex_destroy(&s->snap_lock);
	free(s);
}

void slave_attach(struct slave *s, struct pipeline *pl, struct source *src)
{
	s->pl = pl;
	s->src = src;
	/* The server thread may already answer /status. */
	pthread_mutex_lock(&s->snap_lock);
	s->mode_in_use = src ? source_name(src) : NULL;
	pthread_mutex_unlock(&s->snap_lock);
}

void slave_set_watcher(struct slave *s, struct watcher *w)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->snap_lock);
	s->watcher = w;
	pthread_mutex_unlock(&s->snap_lock);
}

/* ---------------------------------------------------------------- workers */

static uint8_t af_of(uint8_t family)
{
	return family == 4 ? AF_INET : family == 6 ? AF_INET6 : 0;
}

/*
 * The row's command: what the server counts as Com_stmt_execute and Com_stmt_prepare
 * (a bulk execute runs a prepared statement too) and the text queries, apart from the rest.
 */
static enum agg_cmd cmd_class(uint8_t cmd)
{
	switch (cmd) {
	case COM_QUERY:
		return AGG_CMD_QUERY;
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		return AGG_CMD_EXECUTE;
	case COM_STMT_PREPARE:
		return AGG_CMD_PREPARE;
	default:
		return AGG_CMD_OTHER;
	}
}

/* The aggregator's view of ev; name holds the key of a command without text. */
static void agg_input_of(struct agg_input *out, const struct query_event *ev, char *name,
			 size_t name_size)
{
	struct agg_input *in = out;

	*out = (struct agg_input){
		.template_id = ev->template_id,
		.command = cmd_class(ev->cmd),
		.template_text = ev->template,
		.template_len = ev->template_len,
		.sql = ev->sql,
		.sql_len = ev->sql_len,
		.db = ev->db,
		.db_len = ev->db_len,
		.user = ev->user,
		.user_len = ev->user_len,
		.family = af_of(ev->client.family),
		.client_port = ev->client.port,
		.ts_us = ev->ts_us,
		.latency_us = ev->latency_us,
		.status = ev->status == QE_STATUS_ERROR ? AGG_STATUS_ERROR : AGG_STATUS_OK,
		.error_code = ev->error_code,
		.rows_sent = ev->rows_sent,
		.rows_affected = ev->rows_affected,
		.bytes_in = ev->bytes_in,
		.bytes_out = ev->bytes_out,
		.no_index_used = ev->flags & QE_F_NO_INDEX_USED,
	};

	/*
	 * A command without statement text (ping, quit, an execute whose prepare was never
	 * seen) is keyed by its name in angle brackets, which no SQL template can be.
	 */
	if (!ev->has_template) {
		int n = snprintf(name, name_size, "<%s>", ev->command ? ev->command : "?");

		in->template_text = name;
		in->template_len = (size_t)n < name_size ? (size_t)n : name_size - 1;
		in->template_id = XXH64(name, in->template_len, 0);
	}
	memcpy(in->client_addr, ev->client.addr, sizeof(in->client_addr));
}

void slave_on_event(void *ctx, int worker, const struct query_event *ev)
{
	struct slave *s = ctx;
	struct agg_input in;
	char name[48];

	/* A statement without a response has no latency, rows or outcome to count: it is in
	 * capture.unanswered (and in the events), not in a row. */
	if (ev->status != QE_STATUS_OK && ev->status != QE_STATUS_ERROR)
		return;
	agg_input_of(&in, ev, name, sizeof(name));
	/* Periods close by capture time, so this is rare: a statement that completed before its
	 * aggregator's period began still counts, here, and says so (capture.late). */
	if ((ev->ts_us + ev->latency_us) / 1000 < s->w[worker].start_ms)
		s->w[worker].late++;
	agg_add(s->cur[worker], &in); /* -ENOMEM still counts the statement in "other" */
	if (s->sinks)
		sink_outs_event(s->sinks, worker, ev);
}

/* ---------------------------------------------------------------- periods */

static void totals_read(struct slave *s, struct slave_totals *t)
{
	source_counters(s->src, t->cap);
	t->ndevs = source_devices(s->src, t->devs, SRC_MAX_DEVICES);
	pipeline_counters(s->pl, &t->pl);
	t->packets = s->packets;
	t->bytes = s->bytes;
	t->period_ms = s->period_ms;
}

/* Hands t to the server thread (/metrics, /status). */
static void snap_store(struct slave *s, const struct slave_totals *t)
{
	pthread_mutex_lock(&s->snap_lock);
	s->snap = *t;
	pthread_mutex_unlock(&s->snap_lock);
}

void slave_snapshot(struct slave *s)
{
	struct slave_totals t = s->now;

	totals_read(s, &t);
	snap_store(s, &t);
}

void slave_on_session(void *ctx, int worker, const struct mysql_session_event *ev,
		      const struct qe_addr *client)
{
	static const enum sess_kind kinds[] = {
		[MYSQL_SESSION_OPENED] = SESS_OPENED,
		[MYSQL_SESSION_LOGIN_OK] = SESS_LOGIN_OK,
		[MYSQL_SESSION_LOGIN_FAILED] = SESS_LOGIN_FAILED,
		[MYSQL_SESSION_CLOSED] = SESS_CLOSED,
	};
	struct slave *s = ctx;

	if (ev->kind < 0 || ev->kind > MYSQL_SESSION_CLOSED)
		return;
	/* -ENOMEM still counts it, in the "other" row. */
	sess_add(agg_sessions(s->cur[worker]), kinds[ev->kind], ev->error_code, ev->user,
		 ev->user_len, client->addr, af_of(client->family));
}

/* A statement of this worker still running at the period's end (pipeline_running). */
static void on_running(void *ctx, int worker, const struct query_event *ev)
{
	struct slave *s = ctx;
	struct agg_input in;
	char name[48];

	if (ev->latency_us < s->acfg.slow_threshold_us)
		return;
	agg_input_of(&in, ev, name, sizeof(name));
	agg_add_running(s->spare[worker], &in);
}

/*
 * Runs in each worker inside the period-end barrier: the worker starts a fresh aggregator,
 * and the one of the period ending lists what has been running longer than slowthresholdms.
 */
static void swap_agg(void *ctx, int worker)
{
	struct slave *s = ctx;
	struct agg *t = s->cur[worker];

	s->cur[worker] = s->spare[worker];
	s->spare[worker] = t;
	pipeline_running(s->pl, worker, s->end_ms * 1000000ULL, on_running, s);
	/* The barrier runs while the capture thread closes the period ending at end_ms. */
	s->w[worker].start_ms = s->end_ms;
}

/* Merges aggs into dst and empties them. Returns 0 or -ENOMEM. */
static int merge_all(struct agg *dst, struct agg **aggs, int n)
{
	int err = 0;

	for (int i = 0; i < n; i++) {
		err = err ?: agg_merge(dst, aggs[i]);
		agg_reset(aggs[i]);
	}
	return err;
}

static const char *app_of(const void *ctx, uint8_t family, const uint8_t *addr, size_t *len)
{
	return enrich_lookup(ctx, family, addr, len);
}

/*
 * a += the workers' rows: as they are, or re-keyed to report.keys with the mapping in force
 * now (a change to it applies from the period being closed on).
 */
static int report_rows(struct slave *s, struct agg *a, const struct agg *from)
{
	struct enrich *e;
	int err;

	if (s->keys == AGG_KEYS_DEFAULT)
		return agg_merge(a, from);
	e = (s->keys & AGG_DIM_APP) ? enrich_watch_get(s->sc.enrich) : NULL;
	err = agg_merge_keyed(a, from,
			      &(struct agg_project){ .keys = s->keys, .app = app_of, .app_ctx = e,
						     .server = s->node });
	enrich_put(e);
	return err;
}

/*
 * The period's rows in an aggregator sized to them. The bus keeps up to
 * cluster.buffer_periods reports, and a full-size aggregator reserves max_keys slots and
 * max_slow statement buffers whatever it holds, so the workers merge into the reused s->merge
 * and the report gets a copy of just its rows and samples. *err: a merge that ran out of
 * memory (the report then lacks rows, counted in "other" where possible). NULL: no report.
 */
static struct agg *report_agg(struct slave *s, struct agg **aggs, int *err)
{
	struct agg_config c = s->acfg;
	struct agg *a;

	if (!s->merge)
		s->merge = agg_new(&s->acfg);
	if (!s->merge) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = merge_all(s->merge, aggs, s->sc.workers);
	/* Rows and connection rows share the bound: room for the larger of the two. */
	c.max_keys = (uint32_t)(agg_stat_count(s->merge) > sess_count(agg_sessions(s->merge)) ?
					agg_stat_count(s->merge) :
					sess_count(agg_sessions(s->merge)));
	c.max_keys = c.max_keys ? c.max_keys : 1;
	/* Slow and running samples share the bound: room for the larger of the two. */
	c.max_slow = (uint32_t)(agg_slow_count(s->merge) > agg_running_count(s->merge) ?
					agg_slow_count(s->merge) : agg_running_count(s->merge));
	a = agg_new(&c);
	if (a) {
		*err = report_rows(s, a, s->merge) ?: *err;
		agg_reset(s->merge);
		return a;
	}
	/* No memory for the copy: the full-size one becomes the report. */
	a = s->merge;
	s->merge = NULL;
	return a;
}

void slave_stalled(struct slave *s, uint64_t from_ms, uint64_t to_ms)
{
	if (to_ms <= from_ms)
		return;
	if (s->nstalls == SLAVE_MAX_STALLS) {
		/* Keep the total: fold the oldest two into one span. */
		s->stalls[1].from_ms = s->stalls[0].from_ms;
		memmove(&s->stalls[0], &s->stalls[1], sizeof(s->stalls[0]) * --s->nstalls);
	}
	s->stalls[s->nstalls].from_ms = from_ms;
	s->stalls[s->nstalls].to_ms = to_ms;
	s->nstalls++;
}

/* Milliseconds of the known stalls inside [start, end); forgets those that end by end. */
static uint64_t stalled_within(struct slave *s, uint64_t start, uint64_t end)
{
	uint64_t sum = 0;
	int i, k = 0;

	for (i = 0; i < s->nstalls; i++) {
		uint64_t a = s->stalls[i].from_ms > start ? s->stalls[i].from_ms : start;
		uint64_t b = s->stalls[i].to_ms < end ? s->stalls[i].to_ms : end;

		if (b > a)
			sum += b - a;
		if (s->stalls[i].to_ms > end)
			s->stalls[k++] = s->stalls[i];
	}
	s->nstalls = k;
	return sum;
}

static void fill_capture(struct slave *s, struct slave_report *r)
{
	const struct slave_totals *a = &s->prev, *b = &s->now;

	r->c = (struct report_capture){
		.packets = b->packets - a->packets,
		.bytes = b->bytes - a->bytes,
		.dropped = b->cap[MP_CNT_RB_FULL] - a->cap[MP_CNT_RB_FULL],
		.gaps = b->pl.flow.gaps - a->pl.flow.gaps,
		.resyncs = b->pl.mysql.resyncs - a->pl.mysql.resyncs,
		.tls_conns = b->pl.mysql.tls_conns - a->pl.mysql.tls_conns,
		.decode_errors = b->pl.mysql.decode_errors - a->pl.mysql.decode_errors,
		.unknown_stmt = b->pl.mysql.unknown_stmt - a->pl.mysql.unknown_stmt,
		.unanswered = b->pl.mysql.unanswered - a->pl.mysql.unanswered,
		.keys_overflow = agg_keys_overflow(r->a),
	};
	uint64_t late = 0;

	/* Workers are parked (barrier) or gone (finish): their counters are stable. */
	for (int i = 0; i < s->sc.workers; i++)
		late += s->w[i].late;
	r->c.late = late - s->late_reported;
	s->late_reported = late;
	r->c.stalled_ms = stalled_within(s, r->h.period_start_ms, r->h.period_end_ms);
	/* A deleted capture device leaves the agent blind: say so in every report until it is
	 * back, or an idle database and a blind agent look the same. */
	for (int i = 0; i < b->ndevs; i++)
		r->c.devices_detached += !b->devs[i].attached;
}

/* Each kind of output and what it lost since the previous report (DESIGN: "in the next
 * report"). */
static void fill_outputs(struct slave *s, struct report_header *h)
{
	struct bus_stats st;
	size_t i;

	bus_get_stats(s->bus, &st);
	for (i = 0; i < st.nkinds && i < REPORT_MAX_OUTPUTS; i++) {
		struct report_output *o = &h->outputs[i];

		snprintf(o->kind, sizeof(o->kind), "%s", st.kinds[i].kind);
		o->readers = st.kinds[i].readers;
		o->dropped = st.kinds[i].dropped - s->kind_dropped[i];
		s->kind_dropped[i] = st.kinds[i].dropped;
	}
	h->noutputs = i;
}

/* Adds every connection row of t into one total (codes kept by the same bounded rule). */
static void sessions_total(struct sess_row *tot, const struct sess_table *t)
{
	for (size_t i = 0; i < sess_count(t); i++) {
		const struct sess_row *r = sess_at(t, i);

		tot->opened += r->opened;
		tot->logins += r->logins;
		tot->failed += r->failed;
		tot->closed += r->closed;
		for (unsigned k = 0; k < r->err_n; k++)
			codes_add(tot->err_code, tot->err_count, &tot->err_n, &tot->err_other,
				  SESS_ERR_CODES, r->err_code[k], r->err_count[k]);
		tot->err_other += r->err_other;
	}
}

/*
 * Builds and sends the report of [start_ms, end_ms) from aggs, then starts the next period.
 * The caller has already moved the period's statements into aggs.
 */
static int close_period(struct slave *s, struct agg **aggs, uint64_t end_ms)
{
	struct slave_report *r = calloc(1, sizeof(*r));
	unsigned next;
	int err;

	if (!r)
		return -ENOMEM;
	r->a = report_agg(s, aggs, &err);
	if (!r->a) {
		free(r);
		return err;
	}
	if (err)
		pr_warn("report: merging the workers' rows failed: %s\n", strerror(-err));
	totals_read(s, &s->now);
	s->now.reports++;
	s->now.statements += agg_statements(r->a);
	s->now.keys_overflow += agg_keys_overflow(r->a);
	s->now.slow_dropped += agg_slow_dropped(r->a);
	sessions_total(&s->now.logins, agg_sessions(r->a));
	r->h.version = REPORT_VERSION;
	snprintf(r->h.node, sizeof(r->h.node), "%s", s->node);
	snprintf(r->h.role, sizeof(r->h.role), "slave");
	r->h.seq = ++s->seq;
	r->h.started_ms = s->incarnation_ms;
	r->h.term = 0; /* no cluster yet */
	fill_outputs(s, &r->h);
	r->h.period_start_ms = s->start_ms;
	r->h.period_end_ms = end_ms;
	fill_capture(s, r);
	s->prev = s->now;
	next = atomic_load(&s->next_period_ms);
	s->period_ms = next;
	s->start_ms = end_ms;
	s->end_ms = end_ms + next;
	s->now.period_ms = next; /* the totals were just read: only the period changed */
	snap_store(s, &s->now);
	/* Once for every /collector client, here rather than on the thread answering HTTP. */
	if (s->wire.ids[0] && role_report_render(r, &s->wire))
		pr_warn("report: failed to render report %llu for clients: %s\n",
			(unsigned long long)r->h.seq, strerror(errno));
	/* Never waits for an output (live); frees r on error. */
	return bus_publish(s->bus, r->h.seq, r, slave_report_bytes(r)) ?: err;
}

/* Moves every worker's statements so far into the spares, then reports them. */
static int end_period(struct slave *s, uint64_t end_ms, uint64_t expire_ns)
{
	int err = pipeline_sync_each(s->pl, expire_ns, swap_agg, s);

	if (err)
		return err;
	return close_period(s, s->spare, end_ms);
}

unsigned slave_ms_to_period_end(const struct slave *s, uint64_t now_ms)
{
	return now_ms >= s->end_ms ? 0 : (unsigned)(s->end_ms - now_ms);
}

int slave_tick(struct slave *s, uint64_t now_ms)
{
	if (s->sc.replay || now_ms < s->end_ms)
		return 0;
	/* A period ends at its boundary even if this call comes late: spacing stays even. */
	return end_period(s, s->end_ms, now_ms * 1000000ULL);
}

int slave_sink(void *ctx, const struct mp_seg_hdr *h, const __u8 *payload)
{
	struct slave *s = ctx;
	uint64_t ms = h->ts_ns / 1000000;
	int err;

	if (s->sc.replay) {
		if (!s->end_ms) {
			s->start_ms = ms / s->period_ms * s->period_ms;
			s->end_ms = s->start_ms + s->period_ms;
			/* A replay's incarnation is its capture: the same file, the same reports. */
			__atomic_store_n(&s->incarnation_ms, ms, __ATOMIC_RELAXED);
		}
		/* Every period the capture passes through gets its report, empty ones too. */
		while (ms >= s->end_ms) {
			err = end_period(s, s->end_ms, 0);
			if (err)
				return err;
		}
		if (ms > s->last_seg_ms)
			s->last_seg_ms = ms;
	}
	/*
	 * Live too, a segment past the period's end closes it first: a statement belongs to the
	 * period it completed in by capture time. After a stall the backlog the kernel kept thus
	 * lands in the periods it happened in, not in one spike followed by "idle" periods. The
	 * wall clock (slave_tick) still closes periods on an idle link.
	 */
	while (!s->sc.replay && ms >= s->end_ms) {
		err = end_period(s, s->end_ms, h->ts_ns);
		if (err)
			return err;
	}
	s->packets++;
	s->bytes += h->caplen;
	return pipeline_segment(s->pl, h, payload);
}

int slave_finish(struct slave *s, uint64_t end_ms)
{
	if (s->sc.replay && !s->end_ms)
		return 0; /* an empty capture has no period */
	if (!end_ms)
		end_ms = s->sc.replay ? s->last_seg_ms + 1 : slave_now_ms();
	if (end_ms < s->start_ms)
		end_ms = s->start_ms;
	/*
	 * The period's boundary passed before the clock closed it. Any segment past it would
	 * have closed it (slave_sink), so what cur holds happened before the boundary: report
	 * the whole period, then the empty rest. One report across the boundary would put the
	 * period's statements into the next period on a master, which merges by period end.
	 */
	if (!s->sc.replay && end_ms > s->end_ms) {
		int err = close_period(s, s->cur, s->end_ms);

		if (err)
			return err;
	}
	/* The workers are gone: what they counted last is in cur (spare is empty). */
	return close_period(s, s->cur, end_ms);
}
