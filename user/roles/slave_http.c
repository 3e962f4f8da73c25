// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The slave's side of the server: the rendered reports, /metrics, /status, /healthz. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "roles/slave_int.h"
#include "lib/version.h"

/* Rendered once when the period closed (role_report_render()), on the capture thread. */
static const struct report_wire *wire(void *ctx, const void *report)
{
	(void)ctx;
	return ((const struct slave_report *)report)->wire;
}

static int set_report_period_ms(void *ctx, unsigned ms)
{
	struct slave *s = ctx;

	atomic_store(&s->next_period_ms, ms);
	return 0;
}

/* /healthz: not healthy while a capture device is gone (the agent would see nothing there). */
static int health(void *ctx, struct buf *why)
{
	struct slave *s = ctx;
	struct slave_totals t;
	int bad = 0, err = 0;

	pthread_mutex_lock(&s->snap_lock);
	t = s->snap;
	pthread_mutex_unlock(&s->snap_lock);
	for (int i = 0; !err && i < t.ndevs; i++) {
		if (t.devs[i].attached)
			continue;
		err = buf_printf(why, "%scapture device %s is gone", bad ? "; " : "", t.devs[i].name);
		bad = 1;
	}
	return err ?: bad;
}

static const char *snap(struct slave *s, struct slave_totals *t)
{
	const char *mode;

	pthread_mutex_lock(&s->snap_lock);
	*t = s->snap;
	mode = s->mode_in_use;
	pthread_mutex_unlock(&s->snap_lock);
	return mode;
}

static int counter(struct buf *out, const char *name, const char *help, uint64_t v)
{
	return buf_printf(out,
			   "# HELP mysqlprobe_%s %s\n# TYPE mysqlprobe_%s counter\nmysqlprobe_%s %llu\n",
			   name, help, name, name, (unsigned long long)v);
}

static int metrics_capture(struct buf *out, const struct slave_totals *t)
{
	int err = buf_puts(out, "# HELP mysqlprobe_capture_segments_total Capture outcomes "
				 "per segment the source saw (kept, dropped = ring buffer full, ...).\n"
				 "# TYPE mysqlprobe_capture_segments_total counter\n");

	for (int i = 0; !err && i < MP_CNT_MAX; i++)
		err = buf_printf(out, "mysqlprobe_capture_segments_total{outcome=\"%s\"} %llu\n",
				  mp_counter_names[i], (unsigned long long)t->cap[i]);
	return err;
}

/* The report bus: per kind of output, what it took and what it lost; the replay buffer. */
static int metrics_bus(struct slave *s, struct buf *out)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} per_kind[] = {
		{ "output_reports_dropped_total",
		  "Reports an output lost (it lagged its queue or the buffer), per kind of output.",
		  offsetof(struct bus_kind_stats, dropped) },
		{ "output_reports_total", "Reports an output took from the bus, per kind of output.",
		  offsetof(struct bus_kind_stats, delivered) },
	};
	struct bus_stats st;
	int err = 0;

	slave_bus_stats(s, &st);
	for (size_t m = 0; !err && m < sizeof(per_kind) / sizeof(per_kind[0]); m++) {
		err = buf_printf(out, "# HELP mysqlprobe_%s %s\n# TYPE mysqlprobe_%s counter\n",
				  per_kind[m].name, per_kind[m].help, per_kind[m].name);
		for (size_t i = 0; !err && i < st.nkinds; i++)
			err = buf_printf(out, "mysqlprobe_%s{output=\"%s\"} %llu\n", per_kind[m].name,
					  st.kinds[i].kind,
					  (unsigned long long)*(const uint64_t *)((const char *)&st.kinds[i] +
										per_kind[m].off));
	}
	return err ?: buf_printf(out,
				  "# HELP mysqlprobe_report_seq Seq of the last report closed.\n"
				  "# TYPE mysqlprobe_report_seq gauge\n"
				  "mysqlprobe_report_seq %llu\n"
				  "# HELP mysqlprobe_report_buffer_reports Reports kept for replay.\n"
				  "# TYPE mysqlprobe_report_buffer_reports gauge\n"
				  "mysqlprobe_report_buffer_reports %zu\n"
				  "# HELP mysqlprobe_report_buffer_bytes Estimated memory of the kept "
				  "reports.\n"
				  "# TYPE mysqlprobe_report_buffer_bytes gauge\n"
				  "mysqlprobe_report_buffer_bytes %zu\n",
				  (unsigned long long)st.last_seq, st.held, st.held_bytes);
}

/* Whether a watcher runs, and its counters (under snap_lock: it may be stopping). */
static int watcher_snap(struct slave *s, struct watcher_stats *ws)
{
	int on;

	pthread_mutex_lock(&s->snap_lock);
	on = s->watcher != NULL;
	if (on)
		watcher_get_stats(s->watcher, ws);
	pthread_mutex_unlock(&s->snap_lock);
	return on;
}

static int metrics_watcher(struct slave *s, struct buf *out, const struct slave_totals *t)
{
	struct watcher_stats ws;
	int err;

	if (!watcher_snap(s, &ws))
		return 0;
	err = buf_printf(out,
			 "# HELP mysqlprobe_watcher_up Whether the watcher's connection to the "
			 "server is open.\n"
			 "# TYPE mysqlprobe_watcher_up gauge\nmysqlprobe_watcher_up %llu\n"
			 "# HELP mysqlprobe_watcher_polls_total PROCESSLIST reads by outcome.\n"
			 "# TYPE mysqlprobe_watcher_polls_total counter\n"
			 "mysqlprobe_watcher_polls_total{outcome=\"ok\"} %llu\n"
			 "mysqlprobe_watcher_polls_total{outcome=\"error\"} %llu\n"
			 "# HELP mysqlprobe_watcher_server_connections Server connections in the "
			 "last read.\n"
			 "# TYPE mysqlprobe_watcher_server_connections gauge\n"
			 "mysqlprobe_watcher_server_connections %llu\n",
			 (unsigned long long)ws.connected, (unsigned long long)ws.polls,
			 (unsigned long long)ws.poll_errors, (unsigned long long)ws.connections);
	err = err ?: counter(out, "watcher_connect_errors_total",
			     "Watcher connection attempts that failed (server down, password).",
			     ws.connect_errors);
	err = err ?: counter(out, "watcher_privilege_errors_total",
			     "Watcher reads without the PROCESS privilege (own connections only).",
			     ws.privilege_errors);
	return err ?: counter(out, "watcher_identified_total",
			      "Connections given their id, user or db by the watcher.",
			      t->pl.identified);
}

/* Connections and logins of closed periods; failed logins by error code. */
static int metrics_logins(struct buf *out, const struct slave_totals *t)
{
	const struct sess_row *l = &t->logins;
	int err;

	err = counter(out, "connections_opened_total",
		      "MySQL connections seen from their start (closed periods).", l->opened);
	err = err ?: counter(out, "connections_closed_total",
			     "MySQL connections that ended (closed periods).", l->closed);
	err = err ?: buf_printf(out,
				"# HELP mysqlprobe_logins_total Logins by outcome (closed periods).\n"
				"# TYPE mysqlprobe_logins_total counter\n"
				"mysqlprobe_logins_total{outcome=\"ok\"} %llu\n"
				"mysqlprobe_logins_total{outcome=\"failed\"} %llu\n"
				"# HELP mysqlprobe_login_failures_total Failed logins by MySQL error "
				"code (closed periods).\n"
				"# TYPE mysqlprobe_login_failures_total counter\n",
				(unsigned long long)l->logins, (unsigned long long)l->failed);
	for (unsigned i = 0; !err && i < l->err_n; i++)
		err = buf_printf(out, "mysqlprobe_login_failures_total{code=\"%u\"} %llu\n",
				 l->err_code[i], (unsigned long long)l->err_count[i]);
	if (!err && l->err_other)
		err = buf_printf(out, "mysqlprobe_login_failures_total{code=\"other\"} %llu\n",
				 (unsigned long long)l->err_other);
	return err;
}

static int enrich_update(void *ctx, const char *body, size_t len, struct buf *out)
{
	struct slave *s = ctx;

	if (!s->sc.enrich)
		return buf_puts(out, "enrichment is off") ?: -EINVAL;
	return enrich_watch_patch(s->sc.enrich, body, len, out);
}

/* The mapping in force and its changes. */
static int metrics_enrich(struct slave *s, struct buf *out)
{
	unsigned long long applied, refused;
	size_t prefixes;

	if (!s->sc.enrich)
		return 0;
	enrich_watch_stats(s->sc.enrich, &applied, &refused, &prefixes);
	return counter(out, "enrich_applied_total",
		       "IP -> application mappings put in force (load, reloads, POSTs).", applied) ?:
	       counter(out, "enrich_refused_total",
		       "Changed enrich.file contents refused (the previous mapping stayed).",
		       refused) ?:
	       buf_printf(out,
			  "# HELP mysqlprobe_enrich_prefixes Prefixes of the mapping in force.\n"
			  "# TYPE mysqlprobe_enrich_prefixes gauge\nmysqlprobe_enrich_prefixes %zu\n",
			  prefixes);
}

static int metrics(void *ctx, struct buf *out)
{
	struct slave *s = ctx;
	struct slave_totals t;
	const struct {
		const char *name, *help;
		uint64_t v;
	} rows[] = {
		{ "segments_total", "Segments delivered to the decoder.", 0 },
		{ "payload_bytes_total", "Payload bytes delivered to the decoder.", 0 },
		{ "connections_total", "TCP connections tracked.", 0 },
		{ "gaps_total", "Holes in TCP byte streams (the decoder resynchronised).", 0 },
		{ "retransmits_total", "Retransmitted segments ignored.", 0 },
		{ "connections_refused_total", "Segments of connections over max_connections.", 0 },
		{ "statements_total", "Statements decoded.", 0 },
		{ "decode_errors_total", "MySQL protocol violations.", 0 },
		{ "resyncs_total", "Decoder resynchronisations.", 0 },
		{ "tls_connections_total", "Connections that switched to TLS (not decoded).", 0 },
		{ "unknown_statements_total", "Executes whose prepare was never seen.", 0 },
		{ "reports_total", "Report periods closed.", 0 },
		{ "report_statements_total", "Statements counted in closed periods.", 0 },
		{ "keys_overflow_total", "Statements counted in the other row.", 0 },
		{ "slow_dropped_total", "Slow statements over max_slow, not sampled.", 0 },
		{ "unanswered_total", "Requests whose connection closed before a response.", 0 },
	};
	uint64_t v[sizeof(rows) / sizeof(rows[0])];
	int err;

	snap(s, &t);
	v[0] = t.packets, v[1] = t.bytes, v[2] = t.pl.flow.opened, v[3] = t.pl.flow.gaps;
	v[4] = t.pl.flow.retransmits, v[5] = t.pl.flow.table_full, v[6] = t.pl.mysql.events;
	v[7] = t.pl.mysql.decode_errors, v[8] = t.pl.mysql.resyncs, v[9] = t.pl.mysql.tls_conns;
	v[10] = t.pl.mysql.unknown_stmt, v[11] = t.reports, v[12] = t.statements;
	v[13] = t.keys_overflow, v[14] = t.slow_dropped, v[15] = t.pl.mysql.unanswered;
	err = metrics_capture(out, &t);
	for (size_t i = 0; !err && i < sizeof(rows) / sizeof(rows[0]); i++)
		err = counter(out, rows[i].name, rows[i].help, v[i]);
	err = err ?: metrics_bus(s, out);
	err = err ?: metrics_watcher(s, out, &t);
	err = err ?: metrics_logins(out, &t);
	err = err ?: sink_outs_metrics(s->sinks, out);
	err = err ?: metrics_enrich(s, out);
	return err ?: buf_printf(out,
				  "# HELP mysqlprobe_report_period_seconds Current report period.\n"
				  "# TYPE mysqlprobe_report_period_seconds gauge\n"
				  "mysqlprobe_report_period_seconds %.3f\n",
				  t.period_ms / 1000.0);
}

/* "watcher": null, or whether it is connected and its counters. */
static void status_watcher(struct slave *s, struct jbuf *j, const struct slave_totals *t)
{
	struct watcher_stats ws;

	jbuf_key(j, "watcher");
	if (!watcher_snap(s, &ws)) {
		jbuf_null(j);
		return;
	}
	jbuf_obj_open(j);
	jbuf_key(j, "connected");
	jbuf_bool(j, ws.connected);
	jbuf_key(j, "polls");
	jbuf_u64(j, ws.polls);
	jbuf_key(j, "poll_errors");
	jbuf_u64(j, ws.poll_errors);
	jbuf_key(j, "connect_errors");
	jbuf_u64(j, ws.connect_errors);
	jbuf_key(j, "privilege_errors");
	jbuf_u64(j, ws.privilege_errors);
	jbuf_key(j, "server_connections");
	jbuf_u64(j, ws.connections);
	jbuf_key(j, "identified");
	jbuf_u64(j, t->pl.identified);
	jbuf_obj_close(j);
}

/* /status members: what runs, where, since when, the counters and the settings (secrets
 * redacted). */
static int status(void *ctx, struct buf *out)
{
	struct slave *s = ctx;
	struct slave_totals t;
	struct bus_stats bs;
	const char *mode;
	struct jbuf j;
	int err;

	mode = snap(s, &t);
	slave_bus_stats(s, &bs);
	jbuf_init(&j);
	jbuf_obj_open(&j);
	jbuf_key(&j, "role");
	jbuf_str(&j, "slave");
	jbuf_key(&j, "version");
	jbuf_str(&j, MP_VERSION);
	jbuf_key(&j, "node");
	jbuf_str(&j, s->node);
	jbuf_key(&j, "uptime_s");
	jbuf_u64(&j, (slave_now_ms() - s->started_ms) / 1000);
	/* What captures, after any fallback ("pcap" when tc was asked for and BPF failed);
	 * null until the source is open. */
	jbuf_key(&j, "mode");
	if (mode)
		jbuf_str(&j, mode);
	else
		jbuf_null(&j);
	jbuf_key(&j, "requested_mode");
	jbuf_str(&j, s->sc.mode);
	if (t.ndevs >= 0) {
		/* Which capture devices are attached now: a deleted one is not until it is back. */
		jbuf_key(&j, "devices");
		jbuf_arr_open(&j);
		for (int i = 0; i < t.ndevs; i++) {
			jbuf_obj_open(&j);
			jbuf_key(&j, "name");
			jbuf_str(&j, t.devs[i].name);
			jbuf_key(&j, "attached");
			jbuf_bool(&j, t.devs[i].attached);
			jbuf_obj_close(&j);
		}
		jbuf_arr_close(&j);
	}
	jbuf_key(&j, "report_period_ms");
	jbuf_u64(&j, t.period_ms);
	jbuf_key(&j, "next_report_period_ms");
	jbuf_u64(&j, atomic_load(&s->next_period_ms));
	jbuf_key(&j, "seq");
	jbuf_u64(&j, bs.last_seq);
	jbuf_key(&j, "buffer");
	jbuf_obj_open(&j);
	jbuf_key(&j, "reports");
	jbuf_u64(&j, bs.held);
	jbuf_key(&j, "bytes");
	jbuf_u64(&j, bs.held_bytes);
	jbuf_key(&j, "oldest_seq");
	jbuf_u64(&j, bs.oldest_seq);
	jbuf_obj_close(&j);
	jbuf_key(&j, "counters");
	jbuf_obj_open(&j);
	for (int i = 0; i < MP_CNT_MAX; i++) {
		jbuf_key(&j, mp_counter_names[i]);
		jbuf_u64(&j, t.cap[i]);
	}
	jbuf_key(&j, "statements");
	jbuf_u64(&j, t.pl.mysql.events);
	jbuf_key(&j, "connections");
	jbuf_u64(&j, t.pl.flow.opened);
	jbuf_key(&j, "gaps");
	jbuf_u64(&j, t.pl.flow.gaps);
	jbuf_key(&j, "decode_errors");
	jbuf_u64(&j, t.pl.mysql.decode_errors);
	jbuf_key(&j, "reports");
	jbuf_u64(&j, t.reports);
	jbuf_key(&j, "unanswered");
	jbuf_u64(&j, t.pl.mysql.unanswered);
	jbuf_obj_close(&j);
	status_watcher(s, &j, &t);
	jbuf_key(&j, "config");
	config_to_json(s->sc.cfg, &j, true);
	jbuf_obj_close(&j);
	err = jbuf_error(&j);
	/* The server wants the members without the braces. */
	if (!err)
		err = buf_append(out, j.out.data + 1, j.out.len - 2);
	jbuf_free(&j);
	return err;
}

/* A slave takes no cluster call: its master keeps the list. */
static int cluster(void *ctx, enum http_cluster_op op, const char *addr, struct buf *body)
{
	(void)ctx, (void)op, (void)addr;
	return buf_puts(body, "{\"error\":\"this node is a slave (slave: true): cluster calls go "
			      "to its master\"}\n") ?: 409;
}

static uint64_t started_ms(void *ctx)
{
	const struct slave *s = ctx;

	/* A replay sets it at its first segment, on the capture thread. */
	return __atomic_load_n(&s->incarnation_ms, __ATOMIC_RELAXED);
}

const struct server_callbacks slave_server_callbacks = {
	.enrich_update = enrich_update,
	.wire = wire,
	.set_report_period_ms = set_report_period_ms,
	.metrics = metrics,
	.status = status,
	.health = health,
	.cluster = cluster,
	.started_ms = started_ms,
};
