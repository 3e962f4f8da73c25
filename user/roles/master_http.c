// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The master's side of the server: reports, cluster calls, /metrics, /status, /healthz. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/version.h"
#include "roles/master_int.h"

void master_fill_outputs(struct master *m, struct report_header *h)
{
	struct bus_stats st;
	size_t i;

	bus_get_stats(m->bus, &st);
	for (i = 0; i < st.nkinds && i < REPORT_MAX_OUTPUTS; i++) {
		struct report_output *o = &h->outputs[i];

		snprintf(o->kind, sizeof(o->kind), "%s", st.kinds[i].kind);
		o->readers = st.kinds[i].readers;
		o->dropped = st.kinds[i].dropped - m->kind_dropped[i];
		m->kind_dropped[i] = st.kinds[i].dropped;
	}
	h->noutputs = i;
}

/* Rendered once when the report was emitted (role_report_render()). */
static const struct report_wire *wire(void *ctx, const void *report)
{
	(void)ctx;
	return ((const struct slave_report *)report)->wire;
}

static const char *slave_state(const struct mslave *s)
{
	if (s->pushed) /* from its last push: its connection is open or not */
		return s->up ? "pushing" : "down";
	if (s->up)
		return "connected";
	return s->connects || s->http_status || strcmp(s->why, "connecting") ? "down"
									    : "connecting";
}

/* /cluster/listnodes: the master itself, then every slave. */
static int list_nodes(struct master *m, struct buf *body)
{
	uint64_t now = master_now_ms();
	struct merge_node_info info;
	struct jbuf j;
	int err;

	jbuf_init(&j);
	jbuf_arr_open(&j);
	jbuf_obj_open(&j);
	jbuf_key(&j, "addr");
	jbuf_str(&j, m->node);
	jbuf_key(&j, "role");
	jbuf_str(&j, "master");
	jbuf_key(&j, "state");
	jbuf_str(&j, "leader");
	jbuf_key(&j, "last_seq");
	jbuf_u64(&j, m->seq);
	jbuf_key(&j, "term");
	jbuf_u64(&j, 0);
	jbuf_obj_close(&j);
	for (size_t i = 0; i < merge_node_count(m->merge); i++) {
		const struct mslave *s;

		if (merge_node_at(m->merge, i, &info))
			continue;
		s = NULL;
		for (size_t k = 0; k < m->nslaves; k++)
			if (!strcmp(m->slaves[k]->addr, info.name))
				s = m->slaves[k];
		jbuf_obj_open(&j);
		jbuf_key(&j, "addr");
		jbuf_str(&j, info.name);
		jbuf_key(&j, "role");
		jbuf_str(&j, "slave");
		jbuf_key(&j, "state");
		jbuf_str(&j, s ? slave_state(s) : "left");
		jbuf_key(&j, "last_seq");
		jbuf_u64(&j, info.merged_seq);
		jbuf_key(&j, "last_period_end_ms");
		jbuf_u64(&j, info.last_period_end_ms);
		jbuf_key(&j, "lag_ms");
		if (info.last_period_end_ms)
			jbuf_u64(&j, now > info.last_period_end_ms ? now - info.last_period_end_ms : 0);
		else
			jbuf_null(&j);
		jbuf_key(&j, "term");
		jbuf_u64(&j, 0);
		jbuf_key(&j, "reports");
		jbuf_obj_open(&j);
		jbuf_key(&j, "merged");
		jbuf_u64(&j, info.merged);
		jbuf_key(&j, "late");
		jbuf_u64(&j, info.late);
		jbuf_key(&j, "duplicate");
		jbuf_u64(&j, info.duplicates);
		jbuf_key(&j, "missing");
		jbuf_u64(&j, info.missing);
		jbuf_obj_close(&j);
		if (s && !s->up) {
			jbuf_key(&j, "why");
			jbuf_str(&j, s->http_status == 401 ? "401: cluster.token missing or wrong"
							   : s->why);
		}
		jbuf_obj_close(&j);
	}
	jbuf_arr_close(&j);
	err = jbuf_error(&j) ?: buf_append(body, j.out.data, j.out.len);
	jbuf_free(&j);
	return err ?: buf_puts(body, "\n");
}

static int cluster(void *ctx, enum http_cluster_op op, const char *addr, struct buf *body)
{
	struct master *m = ctx;
	char host[ADDR_HOST_MAX];
	const char *why;
	int port, err;

	if (op == HTTP_CLUSTER_LIST) {
		pthread_mutex_lock(&m->lock);
		err = list_nodes(m, body);
		pthread_mutex_unlock(&m->lock);
		return err ?: 200;
	}
	if (op == HTTP_CLUSTER_LEAVE) {
		err = master_leave(m);
		return err ?: buf_puts(body, "{\"left\":true}\n") ?: 200;
	}
	if (addr_parse(addr, host, &port, &why)) {
		body->len = 0;
		err = buf_puts(body, "{\"error\":\"addr: ");
		err = err ?: buf_puts(body, why);
		return err ?: buf_puts(body, "\"}\n") ?: 400;
	}
	err = op == HTTP_CLUSTER_JOIN ? master_join(m, addr) : master_remove(m, addr);
	if (err == -EEXIST)
		return buf_puts(body, "{\"error\":\"addr: already a slave of this master\"}\n") ?: 409;
	if (err == -ENOENT)
		return buf_puts(body, "{\"error\":\"addr: not a slave of this master\"}\n") ?: 404;
	if (err)
		return err;
	return buf_printf(body, "{\"%s\":true}\n", op == HTTP_CLUSTER_JOIN ? "joined" : "removed")
		       ?: 200;
}

static int gauge(struct buf *out, const char *name, const char *help)
{
	return buf_printf(out, "# HELP mysqlprobe_%s %s\n# TYPE mysqlprobe_%s gauge\n", name, help,
			  name);
}

static int metrics(void *ctx, struct buf *out)
{
	struct master *m = ctx;
	struct master_counters n;
	struct merge_node_info info;
	struct template_store_stats ts;
	size_t up = 0, down = 0;
	uint64_t now = master_now_ms();
	int err;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	for (size_t i = 0; i < m->nslaves; i++)
		m->slaves[i]->up ? up++ : down++;
	template_store_get_stats(m->store, &ts);
	err = gauge(out, "master_slaves", "Slaves by link state.") ?:
	      buf_printf(out, "mysqlprobe_master_slaves{state=\"connected\"} %zu\n"
			      "mysqlprobe_master_slaves{state=\"down\"} %zu\n", up, down);
	err = err ?: gauge(out, "master_slave_lag_seconds",
			   "Wall clock minus the end of the slave's last period merged.");
	for (size_t i = 0; !err && i < merge_node_count(m->merge); i++)
		if (!merge_node_at(m->merge, i, &info) && info.last_period_end_ms)
			err = buf_printf(out, "mysqlprobe_master_slave_lag_seconds{slave=\"%s\"} %.3f\n",
					 info.name,
					 now > info.last_period_end_ms
						 ? (now - info.last_period_end_ms) / 1000.0 : 0.0);
	pthread_mutex_unlock(&m->lock);
	err = err ?: buf_printf(
		out,
		"# HELP mysqlprobe_master_slave_reports_total Slave reports received, by outcome.\n"
		"# TYPE mysqlprobe_master_slave_reports_total counter\n"
		"mysqlprobe_master_slave_reports_total{outcome=\"merged\"} %llu\n"
		"mysqlprobe_master_slave_reports_total{outcome=\"late\"} %llu\n"
		"mysqlprobe_master_slave_reports_total{outcome=\"duplicate\"} %llu\n"
		"mysqlprobe_master_slave_reports_total{outcome=\"error\"} %llu\n"
		"# HELP mysqlprobe_master_reports_refused_total Messages from slaves that were not "
		"valid reports (never merged).\n"
		"# TYPE mysqlprobe_master_reports_refused_total counter\n"
		"mysqlprobe_master_reports_refused_total %llu\n"
		"# HELP mysqlprobe_master_slave_reports_lost_total Reports slaves no longer held "
		"when the master asked for them.\n"
		"# TYPE mysqlprobe_master_slave_reports_lost_total counter\n"
		"mysqlprobe_master_slave_reports_lost_total %llu\n"
		"# HELP mysqlprobe_master_reports_total Merged reports published (late ones "
		"included).\n"
		"# TYPE mysqlprobe_master_reports_total counter\n"
		"mysqlprobe_master_reports_total %llu\n"
		"# HELP mysqlprobe_master_late_reports_total Late reports published.\n"
		"# TYPE mysqlprobe_master_late_reports_total counter\n"
		"mysqlprobe_master_late_reports_total %llu\n"
		"# HELP mysqlprobe_master_missing_total Periods emitted without a slave's report, "
		"summed over slaves.\n"
		"# TYPE mysqlprobe_master_missing_total counter\n"
		"mysqlprobe_master_missing_total %llu\n"
		"# HELP mysqlprobe_master_templates Template texts kept for forwarding.\n"
		"# TYPE mysqlprobe_master_templates gauge\n"
		"mysqlprobe_master_templates %zu\n"
		"# HELP mysqlprobe_master_pushed_reports_total Reports received on /push (valid "
		"ones; each also counted by outcome above).\n"
		"# TYPE mysqlprobe_master_pushed_reports_total counter\n"
		"mysqlprobe_master_pushed_reports_total %llu\n",
		(unsigned long long)n.merged, (unsigned long long)n.late,
		(unsigned long long)n.duplicates, (unsigned long long)n.merge_errors,
		(unsigned long long)n.garbage, (unsigned long long)n.lost,
		(unsigned long long)n.reports, (unsigned long long)n.late_reports,
		(unsigned long long)n.missing, ts.count, (unsigned long long)n.pushed);
	return err ?: sink_outs_metrics(m->sinks, out);
}

static int status(void *ctx, struct buf *out)
{
	struct master *m = ctx;
	struct bus_stats bs;
	size_t up = 0;
	struct jbuf j;
	int err;

	bus_get_stats(m->bus, &bs);
	jbuf_init(&j);
	jbuf_obj_open(&j);
	jbuf_key(&j, "role");
	jbuf_str(&j, "master");
	jbuf_key(&j, "version");
	jbuf_str(&j, MP_VERSION);
	jbuf_key(&j, "node");
	jbuf_str(&j, m->node);
	jbuf_key(&j, "uptime_s");
	jbuf_u64(&j, (master_now_ms() - m->started_ms) / 1000);
	jbuf_key(&j, "report_period_ms");
	jbuf_u64(&j, config_report_period_ms(m->cfg));
	jbuf_key(&j, "seq");
	jbuf_u64(&j, bs.last_seq);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nslaves; i++)
		up += m->slaves[i]->up;
	jbuf_key(&j, "slaves");
	jbuf_obj_open(&j);
	jbuf_key(&j, "total");
	jbuf_u64(&j, m->nslaves);
	jbuf_key(&j, "connected");
	jbuf_u64(&j, up);
	jbuf_obj_close(&j);
	jbuf_key(&j, "counters");
	jbuf_obj_open(&j);
	jbuf_key(&j, "merged");
	jbuf_u64(&j, m->n.merged);
	jbuf_key(&j, "late");
	jbuf_u64(&j, m->n.late);
	jbuf_key(&j, "duplicates");
	jbuf_u64(&j, m->n.duplicates);
	jbuf_key(&j, "refused");
	jbuf_u64(&j, m->n.garbage);
	jbuf_key(&j, "missing");
	jbuf_u64(&j, m->n.missing);
	jbuf_key(&j, "reports");
	jbuf_u64(&j, m->n.reports);
	jbuf_obj_close(&j);
	pthread_mutex_unlock(&m->lock);
	jbuf_key(&j, "buffer");
	jbuf_obj_open(&j);
	jbuf_key(&j, "reports");
	jbuf_u64(&j, bs.held);
	jbuf_key(&j, "bytes");
	jbuf_u64(&j, bs.held_bytes);
	jbuf_key(&j, "oldest_seq");
	jbuf_u64(&j, bs.oldest_seq);
	jbuf_obj_close(&j);
	jbuf_key(&j, "config");
	config_to_json(m->cfg, &j, true);
	jbuf_obj_close(&j);
	err = jbuf_error(&j);
	if (!err)
		err = buf_append(out, j.out.data + 1, j.out.len - 2);
	jbuf_free(&j);
	return err;
}

/* Not healthy while it has slaves and reaches none of them: its reports would be empty. */
static int health(void *ctx, struct buf *why)
{
	struct master *m = ctx;
	size_t up = 0, n;

	pthread_mutex_lock(&m->lock);
	n = m->nslaves;
	for (size_t i = 0; i < n; i++)
		up += m->slaves[i]->up;
	pthread_mutex_unlock(&m->lock);
	if (n && !up)
		return buf_printf(why, "no slave connected (0 of %zu)", n) ?: 1;
	return 0;
}

static uint64_t started_ms(void *ctx)
{
	const struct master *m = ctx;

	return m->started_ms;
}

const struct server_callbacks master_server_callbacks = {
	.wire = wire,
	.metrics = metrics,
	.status = status,
	.health = health,
	.cluster = cluster,
	.started_ms = started_ms,
	.push = master_push,
	.push_closed = master_push_closed,
	.push_busy = master_push_busy,
};
